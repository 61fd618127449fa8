"""Reviewing one feature's pending work: why each sample is pending, and approving it.

Left, the reasons (groups) with counts; right, the samples of the highlighted reason and
the full explanation of the highlighted sample. Actions (recompute, accept, delete removed,
approve all pending) ask for confirmation, then run in a worker through the review service
with a progress overlay and Cancel (review_approval.py, mixed in). Every explanation, count
and action runs off the UI thread. Dismissed with True when anything was written, so the
browser refreshes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header
from textual.worker import get_current_worker

from ...service import review
from ...service.project import Project
from ...service.review import DEFAULT_BATCH, ActionResult
from ..widgets.action_progress import ActionProgress
from ..widgets.review_detail import ReviewDetail
from ..widgets.review_groups import ReviewGroups
from ..widgets.review_model import ReasonGroup, ReviewModel
from ..widgets.review_samples import ReviewSamples
from ..widgets.review_selection import Selection, Targets
from ..widgets.review_summary import ReviewSummary
from ..widgets.key_footer import KeyFooter
from ..fit import fit_titles
from .audit import AuditScreen
from .review_approval import ReviewApproval
from .review_actions import ActionRequest


class ReviewScreen(ReviewApproval, Screen[bool]):
    """Dismissed with True when something was written. The actions are review_approval.py's."""

    CSS_PATH = "review.tcss"
    AUTO_FOCUS = "#groups"
    BINDINGS = [
        Binding("escape", "cancel_action", "Cancel", tooltip="Stop the running action after its current batch"),
        Binding("escape", "close", "Back", tooltip="Back to the browser"),
        Binding("r", "recompute", "Recompute", tooltip="Run the compute function on the selected samples"),
        Binding("c", "accept", "Accept", tooltip="Carry stored outputs forward without recomputing"),
        Binding("x", "delete_removed", "Delete", tooltip="Soft-delete the selected removed samples"),
        Binding(
            "P",
            "approve_all",
            "Approve all",
            key_display="P",
            tooltip="Recompute and delete removed for every feature, upstream first",
        ),
        Binding("space", "toggle", "Select", tooltip="Select the highlighted sample (or group, in the reasons list)"),
        Binding("g", "toggle_group", "Group", tooltip="Select every sample of the highlighted reason"),
        Binding("A", "toggle_all", "All", key_display="A", tooltip="Select every pending sample"),
        Binding("a", "audit", "Audit", show=False),
        Binding("R", "reload", "Reload", key_display="R", show=False),
    ]

    # ----- messages from the workers --------------------------------------------------
    @dataclass
    class Explained(Message):
        model: ReviewModel

    @dataclass
    class ExplainFailed(Message):
        error: str
        plain: bool = False  # a plain statement (a root feature: nothing to review), not a failure

    def __init__(
        self,
        project: Project,
        feature: str,
        *,
        batch_size: int = DEFAULT_BATCH,
        executor: str = "local",
        ray_address: str | None = None,
    ) -> None:
        super().__init__()
        self.project = project
        self.feature = feature
        self.batch_size = batch_size
        self.executor = executor  # the recompute dialog's last choice
        self.ray_address = os.environ.get("RAY_ADDRESS", "") if ray_address is None else ray_address
        self.model: ReviewModel | None = None
        self.selection = Selection()
        self.wrote = False
        self.results: list[ActionResult] = []  # every action's results, oldest first
        self.unavailable: str | None = None  # why there is nothing to review (a root feature), in plain words
        self._cancel = threading.Event()
        self._current: ActionRequest | None = None
        self._shown: tuple[ReviewModel, ReasonGroup | None] | None = None  # what the samples pane shows

    # ----- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield ReviewSummary(id="summary")
        with Horizontal(id="review-main"):
            yield ReviewGroups(id="groups")
            with Vertical(id="review-right"):
                yield ReviewSamples(id="samples")
                yield ReviewDetail(id="detail")
        yield ActionProgress(id="progress")
        yield KeyFooter()

    def _fit_titles(self) -> None:
        self.title, self.sub_title = fit_titles(
            f"Review · {self.feature}", "why samples are pending", self.app.size.width, path=False
        )

    def on_resize(self) -> None:
        self._fit_titles()

    def on_mount(self) -> None:
        self._fit_titles()
        self._show_summary()
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_action":
            return self.running
        return not self.running

    # ----- explaining -----------------------------------------------------------------
    def reload(self) -> None:
        self.unavailable = None
        self.query_one("#review-main").loading = True
        self.explain()

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="review-explain", name="review-explain")
    def explain(self) -> None:
        worker = get_current_worker()
        reason = review.not_reviewable(self.project, self.feature)
        if reason is not None:
            self.post_message(self.ExplainFailed(reason, plain=True))
            return
        try:
            model = ReviewModel.load(self.project, self.feature)
        except Exception as e:  # a store or definition error: show it, keep the screen usable
            if not worker.is_cancelled:
                self.post_message(self.ExplainFailed(review.error_text(e)))
            return
        if not worker.is_cancelled:
            self.post_message(self.Explained(model))

    def on_review_screen_explained(self, message: Explained) -> None:
        groups = self.query_one(ReviewGroups)
        keep = groups.highlighted_name
        self.model = message.model
        self.query_one("#review-main").loading = False
        groups.show(self.model, self.selection, keep)
        self._show_group()
        self._show_summary()

    def on_review_screen_explain_failed(self, message: ExplainFailed) -> None:
        self.query_one("#review-main").loading = False
        if message.plain:
            self.unavailable = message.error
            self.query_one(ReviewSummary).update(Text(message.error, style="bold"))
            self.query_one(ReviewDetail).show_note(Text(message.error))
            return
        self.unavailable = f"Could not explain {self.feature}: {message.error}"
        self.query_one(ReviewSummary).update(Text(self.unavailable, style="red"))
        self.notify(self.unavailable, severity="error", markup=False)

    # ----- what is shown --------------------------------------------------------------
    def _highlighted_group(self) -> ReasonGroup | None:
        if self.model is None:
            return None
        return self.model.group(self.query_one(ReviewGroups).highlighted_name)

    def _targets(self) -> Targets | None:
        if self.model is None:
            return None
        return self.selection.targets(self.model, self._highlighted_group())

    def _show_summary(self) -> None:
        if self.model is None:
            self.query_one(ReviewSummary).show(None, self.feature, "", 0)
            return
        applies_to = self.selection.describe(self.model, self._highlighted_group())
        self.query_one(ReviewSummary).show(self.model, self.feature, applies_to, self.selection.count(self.model))

    def _show_group(self) -> None:
        if self.model is None:
            return
        group = self._highlighted_group()
        if self._shown is not None and self._shown[0] is self.model and self._shown[1] is group:
            return  # ReviewGroups.show() announces the highlight it set: the pane already shows that group
        self._shown = (self.model, group)
        self.query_one(ReviewSamples).show(self.model, group, self.selection)
        if not self.model.groups:
            note = Text(review.nothing_pending(self.feature, self.model.pending_upstream, self.model.waiting_on))
            if self.model.pending_upstream:
                note.append("\n\nP approves everything, upstream first.")
            self.query_one(ReviewDetail).show_note(note)

    def on_review_groups_group_highlighted(self, message: ReviewGroups.GroupHighlighted) -> None:
        self._show_group()
        self._show_summary()

    def on_review_samples_sample_highlighted(self, message: ReviewSamples.SampleHighlighted) -> None:
        self.query_one(ReviewDetail).show(message.reason)

    # ----- selecting ------------------------------------------------------------------
    def _refresh_marks(self, single: bool = False) -> None:
        if self.model is None:
            return
        samples = self.query_one(ReviewSamples)
        if single:
            samples.refresh_highlighted_mark(self.selection)
        else:
            samples.refresh_marks(self.selection)
        self.query_one(ReviewGroups).refresh_marks(self.model, self.selection)
        self._show_summary()

    def _selectable(self) -> bool:
        """Whether there are samples to select; says why not when there is a reason to give."""
        if self.unavailable is not None:
            self.notify(self.unavailable, markup=False)
            return False
        return self.model is not None

    def action_toggle(self) -> None:
        if not self._selectable() or self.model is None:
            return
        if self.focused is self.query_one(ReviewGroups):
            self.action_toggle_group()
            return
        reason = self.query_one(ReviewSamples).highlighted_reason
        if reason is None:
            return
        self.selection.toggle(self.model.key_of(reason), self.model)
        self._refresh_marks(single=True)

    def action_toggle_group(self) -> None:
        group = self._highlighted_group()
        if not self._selectable() or self.model is None or group is None:
            return
        self.selection.toggle_group(group, self.model)
        self._refresh_marks()

    def action_toggle_all(self) -> None:
        if not self._selectable() or self.model is None:
            return
        self.selection.toggle_all(self.model)
        self._refresh_marks()

    # ----- leaving, and the palette ---------------------------------------------------
    def action_audit(self) -> None:
        self.app.push_screen(AuditScreen(self.project, self.feature))

    def action_close(self) -> None:
        if self.running:
            self._request_cancel()
            return
        self.dismiss(self.wrote)

    def get_system_commands(self) -> Iterable[SystemCommand]:
        """This screen's actions, for the command palette (the app yields them while it is active)."""
        yield SystemCommand(
            "Recompute selected", "Run the compute function on the selected samples", self.action_recompute
        )
        yield SystemCommand("Accept selected", "Carry stored outputs forward to the new provenance", self.action_accept)
        yield SystemCommand("Delete removed", "Soft-delete the selected removed samples", self.action_delete_removed)
        yield SystemCommand("Approve all pending", "Every feature, upstream first", self.action_approve_all)
        yield SystemCommand("Select sample", "Select or unselect the highlighted sample", self.action_toggle)
        yield SystemCommand(
            "Select group", "Select or unselect the highlighted reason's samples", self.action_toggle_group
        )
        yield SystemCommand("Select all", "Select or unselect every pending sample", self.action_toggle_all)
        yield SystemCommand("Reload explanation", "Explain the pending work again", self.action_reload)
        yield SystemCommand("Audit log of this feature", "Who approved what, when", self.action_audit)
        yield SystemCommand("Back", "Close the review", self.action_close)
