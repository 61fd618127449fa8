"""What the review screen asks before it writes: the texts of its questions (pure functions of what
is selected and what it would touch), the blast radius appended to them, and which question each
action asks (or why it cannot be asked)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.text import Text

from ...service import impact, review
from ...service.impact import BlastRadius
from ...service.project import Project
from ...service.status import FeatureStatus
from ...vocabulary import AuditAction, IncrementStatus, ReasonKind
from ..widgets.review_model import ReviewModel
from ..widgets.review_selection import Targets
from .confirm import Choice
from .graph_diff import stale_text
from .review_actions import ActionRequest


@dataclass
class Refusal:
    """Why an action is not asked: said in a notification."""

    message: str
    severity: Literal["warning", "error"] = "warning"


@dataclass
class Question:
    """An action's question. With `reasons`, the blast radius of approving them is worked out (in a
    worker) and appended before it is asked; without, only the downstream features are named."""

    title: str
    body: Text
    go: str
    request: ActionRequest
    reasons: list | None = None
    downstream_word: str = "have pending work"  # "Downstream features that will then …"
    radius: BlastRadius | None = None
    error: str | None = None

    def work_out_radius(self, project: Project, feature: str) -> None:
        """The blast radius (the radius worker's body); when it cannot be worked out, why."""
        try:
            moves = impact.sample_moves(project, feature, self.reasons or [])
            self.radius = impact.approval_impact(project, feature, moves)
        except Exception as e:  # the question is still asked, without the radius
            self.error = review.error_text(e)


def count_text(n: int, word: str = "sample") -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def parts_text(**counts: int) -> str:
    return ", ".join(f"{n:,} {status}" for status, n in counts.items() if n)


def radius_text(text: Text, radius: BlastRadius | None, error: str | None = None) -> None:
    """The blast radius of an approval, appended to its question."""
    if radius is None:
        text.append(f"\n\nWhich downstream samples this makes stale could not be worked out: {error}", style="dim")
        return
    n = radius.total
    text.append("\n\nBlast radius: ", style="bold")
    if not n:
        text.append("no downstream sample would become stale.")
    else:
        text.append(f"{n:,} downstream sample{'s' if n != 1 else ''} would become stale:")
    for st in radius.stale:
        text.append("\n")
        text.append_text(stale_text(st, indent="  "))
    for u in radius.unaffected:
        text.append(f"\n  unaffected: {u}", style="green")


def upstream_warning(text: Text, pending_upstream: Sequence[str]) -> None:
    if pending_upstream:
        text.append("\n\n⚠ Upstream has pending work: ", style="bold yellow")
        text.append(", ".join(pending_upstream), style="yellow")
        text.append(
            ".\nDoing this now reads the upstream as it is stored; once the upstream is brought "
            'up to date these samples will be pending again. "Upstream first" approves the '
            "upstream (recompute and delete removed, in order), then does this."
        )


def impact_text(text: Text, downstream: Sequence[str], pending_upstream: Sequence[str], downstream_word: str) -> None:
    if downstream:
        text.append(f"\n\nDownstream features that will then {downstream_word}: ", style="bold")
        text.append(", ".join(downstream))
    else:
        text.append("\n\nNo downstream features are affected.", style="dim")
    upstream_warning(text, pending_upstream)


def recompute_question(feature: str, targets: Targets, todo: int, batch_size: int) -> Text:
    added, changed = targets.count("added"), targets.count("changed")
    body = Text()
    body.append(f"Recompute {count_text(todo)} of ")
    body.append(feature, style="bold")
    body.append(
        f" with its compute function ({parts_text(added=added, changed=changed)}), in batches of {batch_size:,}.\n"
    )
    body.append(f"Selected: {targets.description}.\n")
    body.append(
        "Each batch is one transaction: cancelling keeps the batches already written; a batch whose "
        "function fails writes nothing and is reported, the others still commit.",
        style="dim",
    )
    return body


def accept_question(feature: str, targets: Targets, stored: int, *, skipped: int) -> Text:
    body = Text()
    body.append(f"Accept {count_text(stored)} of ")
    body.append(feature, style="bold")
    body.append(
        ": their stored outputs are written again under the new provenance, without running the compute function.\n"
    )
    body.append(f"Selected: {targets.description}.\n")
    if skipped:
        body.append(
            f"{count_text(skipped)} never computed (nothing stored to carry forward) will be skipped.\n", style="yellow"
        )
    body.append("Use this when the upstream change does not change the output.", style="dim")
    return body


def delete_question(feature: str, targets: Targets, removed: int) -> Text:
    body = Text()
    body.append(f"Soft-delete {count_text(removed, 'removed sample')} of ")
    body.append(feature, style="bold")
    body.append(": their rows are hidden and kept as history; writing the same id again brings it back.\n")
    body.append(f"Selected: {targets.description}.\n")
    body.append("Afterwards you are offered to walk downstream and delete what becomes removed there.", style="dim")
    return body


def approve_all_question(statuses: Sequence[FeatureStatus], has_compute: Callable[[str], bool]) -> Text:
    body = Text(
        "Walk the feature graph upstream first; for each feature, recompute its added and changed "
        "samples with its compute function, then soft-delete its removed samples:\n\n"
    )
    width = max(len(s.key) for s in statuses)
    for i, s in enumerate(statuses, 1):
        body.append(f"{i:>2}. ")
        body.append(s.key.ljust(width), style="bold")
        body.append(f"  {s.counts_label}" if s.pending else "  nothing yet")
        if s.waiting_on:
            body.append(f"  (waits on {', '.join(s.waiting_on)}: more once it is recomputed)", style="dim")
        if not has_compute(s.key):
            body.append("  no compute function: removed deleted only", style="magenta")
        body.append("\n")
    body.append("\nStops at the first failure; cancelling keeps what finished batches wrote.", style="dim")
    return body


def walk_question(removals: dict[str, int]) -> Text:
    """After a delete: the downstream features that now report samples removed."""
    body = Text("After the delete, these downstream features report samples removed:\n\n")
    for key, n in removals.items():
        body.append(f"  {key}", style="bold")
        body.append(f"  {n:,} removed\n", style="red")
    body.append(
        "\nSoft-delete them too (in topological order)? You will be asked again for anything this removes further down."
    )
    return body


def choices(go: str, pending_upstream: Sequence[str]) -> list[Choice]:
    """The buttons of an action's question: with upstream pending, "Upstream first" comes first."""
    if pending_upstream:
        return [
            Choice("upstream", "Upstream first", "warning"),
            Choice("go", f"{go} only", "primary"),
            Choice("cancel", "Cancel"),
        ]
    return [Choice("go", go, "primary"), Choice("cancel", "Cancel")]


def ask_recompute(feature: str, model: ReviewModel, targets: Targets, batch_size: int) -> Question | Refusal:
    todo = targets.of("added", "changed")
    if not todo:
        return Refusal(f"Nothing to recompute in {targets.description}: only removed samples (x deletes them).")
    if not model.has_compute:
        return Refusal(
            f"No compute function is registered for {feature}: register one with "
            "@mx.compute, or accept (c) the stored outputs.",
            severity="error",
        )
    body = recompute_question(feature, targets, len(todo), batch_size)
    request = ActionRequest(AuditAction.RECOMPUTE, targets.keys("added", "changed"), total=len(todo))
    return Question(f"Recompute {feature}?", body, "Recompute", request, todo)


def ask_accept(feature: str, targets: Targets) -> Question | Refusal:
    todo = targets.of("added", "changed")
    if not todo:
        return Refusal(f"Nothing to accept in {targets.description}: only removed samples (x deletes them).")
    stored = [r for r in todo if r.status == IncrementStatus.CHANGED or r.kind == ReasonKind.FEATURE_VERSION]
    body = accept_question(feature, targets, len(stored), skipped=len(todo) - len(stored))
    request = ActionRequest(AuditAction.ACCEPT, targets.keys("added", "changed"), total=len(todo))
    return Question(f"Accept stored outputs of {feature}?", body, "Accept", request, stored)


def ask_delete(feature: str, targets: Targets) -> Question | Refusal:
    removed = targets.of("removed")
    if not removed:
        return Refusal(f"No removed samples in {targets.description}.")
    body = delete_question(feature, targets, len(removed))
    request = ActionRequest(AuditAction.DELETE_REMOVED, targets.keys("removed"), total=len(removed))
    return Question(
        f"Delete removed samples of {feature}?", body, "Delete", request, downstream_word="report samples removed"
    )
