"""The review screen's actions as data and as work: what the user asked for (ActionRequest), the
titles actions are shown under, running a request through the review service (the body of the
screen's action worker: no Textual, it reports through the callbacks it is given) and the report
of an action that failed."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.text import Text

from ...errors import MetaxyError
from ...service import review
from ...service.project import Project
from ...service.recompute import Executor, executor_for
from ...service.review import ActionResult, ids_text
from ...vocabulary import AuditAction

ACTION_TITLES = {
    AuditAction.RECOMPUTE: "Recompute",
    AuditAction.ACCEPT: "Accept",
    AuditAction.DELETE_REMOVED: "Delete removed",
    "walk": "Delete removed downstream",
    "approve_all": "Approve all pending",
}

# what an action reports as it goes: (step or None, done, total)
Progressed = Callable[[str | None, int, int], object]


@dataclass
class ActionRequest:
    kind: str  # an AuditAction, or walk | approve_all (several actions in a row)
    keys: list[dict] | None = None  # samples (None: all pending of the kind)
    features: list[str] = field(default_factory=list)  # walk: the downstream features
    upstream_first: list[str] = field(default_factory=list)
    total: int = 0
    executor: str = "local"  # recompute: where the batches run (and the upstream-first recomputes)
    ray_address: str = ""  # executor ray: the cluster; empty: a local Ray started for the run


def progress_title(request: ActionRequest, feature: str) -> str:
    """The progress overlay's title: the action, the feature, where it runs, what goes first."""
    title = ACTION_TITLES[request.kind] + (f" · {feature}" if request.kind != "approve_all" else "")
    if request.executor != "local":
        title += f" on {request.executor}"
    if request.upstream_first:
        title += f" (upstream first: {', '.join(request.upstream_first)})"
    return title


def run_request(
    project: Project,
    feature: str,
    request: ActionRequest,
    *,
    batch_size: int,
    cancelled: Callable[[], bool],
    progressed: Progressed,
) -> tuple[list[ActionResult], str | None]:
    """Do what `request` asks: each action's result, and an error from outside the user's function
    (Ray gone missing: why; anything else: the traceback), or None."""
    results: list[ActionResult] = []
    try:
        executor = (
            executor_for(request.executor, request.ray_address) if request.kind == AuditAction.RECOMPUTE else None
        )
    except MetaxyError as e:  # Ray went missing since the dialog looked
        return results, str(e)

    def progress(done: int, total: int) -> None:
        on = f"on {executor.describe()}" if executor is not None and executor.name != "local" else None
        progressed(on, done, total)

    try:
        if executor is not None and executor.name != "local":
            where = f"the Ray cluster at {request.ray_address}" if request.ray_address else "a local Ray"
            progressed(f"on {executor.name}: starting {where}…", 0, request.total)
        with executor.held() if executor is not None else contextlib.nullcontext():
            _run(project, feature, request, batch_size, executor, cancelled, progressed, progress, results)
    except Exception:
        return results, traceback.format_exc()
    return results, None


def _run(
    p: Project,
    feature: str,
    request: ActionRequest,
    batch_size: int,
    executor: Executor | None,
    cancelled: Callable[[], bool],
    step_progress: Callable[[str, int, int], None],
    progress: Callable[[int, int], None],
    results: list[ActionResult],
) -> None:
    """Do what `request` asks, appending each action's result to `results` as it finishes."""
    if request.upstream_first:
        results += review.approve_all_pending(
            p,
            features=request.upstream_first,
            progress=step_progress,
            cancelled=cancelled,
            batch_size=batch_size,
            executor=executor,
        )
        if any(r.outcome in ("failed", "cancelled") for r in results) or cancelled():
            return
    if request.kind == AuditAction.RECOMPUTE:
        results.append(
            review.recompute(
                p,
                feature,
                request.keys,
                batch_size=batch_size,
                progress=progress,
                cancelled=cancelled,
                executor=executor,
            )
        )
    elif request.kind == AuditAction.ACCEPT:
        results.append(review.accept(p, feature, request.keys, progress=progress))
    elif request.kind == AuditAction.DELETE_REMOVED:
        results.append(review.delete_removed(p, feature, request.keys))
    elif request.kind == "walk":
        for i, key in enumerate(request.features):
            if cancelled():
                break
            r = review.delete_removed(p, key)
            results.append(r)
            step_progress(key, i + 1, len(request.features))
            if r.outcome == "failed":
                break
    elif request.kind == "approve_all":
        results += review.approve_all_pending(p, progress=step_progress, cancelled=cancelled, batch_size=batch_size)


def failure_report(result: ActionResult) -> tuple[str, Text]:
    """The title and body of the modal that shows a failed action: what was written, the failing
    samples, the traceback."""
    body = Text()
    body.append(result.error or "failed", style="bold red")
    batches = f"{result.batches} batch{'es' if result.batches != 1 else ''}"
    on = f" on {result.executor}" if result.executor not in (None, "local") else ""
    if result.failed_batches:  # the other batches ran and committed
        failed = f"{result.failed_batches} batch{'es' if result.failed_batches != 1 else ''}"
        body.append(
            f"\n\n{result.done:,} of {result.requested:,} samples were written in {batches}{on}; "
            f"{failed} failed and wrote nothing.\n"
        )
    elif result.done:
        body.append(
            f"\n\n{result.done:,} of {result.requested:,} samples were written in {batches}{on} "
            "before it failed; they stay written.\n"
        )
    else:
        body.append(f"\n\nNothing was written: the {result.requested:,} selected samples are still pending.\n")
    if result.failing:
        body.append(f"\nFailing samples ({len(result.failing):,}; still pending):\n", style="bold")
        body.append(ids_text(result.failing, 50) + "\n")
    if result.failed_batches > 1:
        body.append("The traceback is the first failing batch's.\n", style="dim")
    if result.traceback:
        body.append("\nTraceback\n", style="bold")
        body.append(result.traceback.rstrip())
    return f"{ACTION_TITLES.get(result.action, result.action)} of {result.feature} failed", body
