"""Approving a feature's pending work on the review screen: mixed into ReviewScreen.

An action (recompute, accept, delete removed, approve all pending) first asks: the question of
review_questions.py, with the blast radius worked out in a worker, and for a recompute where its
batches run. A "go" runs it in a worker through the review service (review_actions.py) under the
progress overlay, whose Cancel (or escape) stops it after the current batch. Results are notified,
a failure shown in a modal; after a delete the screen offers to walk downstream.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from ...service import review
from ...service.project import Project
from ...service.review import ActionResult
from ...service.status import FeatureStatus, iter_statuses
from ...vocabulary import AuditAction
from ..widgets.action_progress import ActionProgress
from ..widgets.review_groups import ReviewGroups
from ..widgets.review_model import ReviewModel
from ..widgets.review_selection import Selection, Targets
from .confirm import CLOSE, Choice, ConfirmScreen
from .recompute_confirm import RecomputeConfirmScreen
from .review_actions import ACTION_TITLES, ActionRequest, failure_report, progress_title, run_request
from .review_questions import (
    Question,
    Refusal,
    approve_all_question,
    ask_accept,
    ask_delete,
    ask_recompute,
    choices,
    impact_text,
    radius_text,
    upstream_warning,
    walk_question,
)

if TYPE_CHECKING:
    from textual.screen import Screen

    _Screen = Screen[bool]
else:
    _Screen = object


class ReviewApproval(_Screen):
    """Mixed into ReviewScreen (for the type checker a Screen, at run time `object`): its actions,
    from the question to the results. The screen's bindings and palette name them."""

    # the screen's state this part reads and writes (set in ReviewScreen.__init__)
    project: Project
    feature: str
    batch_size: int
    executor: str  # the recompute dialog's last choice
    ray_address: str
    model: ReviewModel | None
    selection: Selection
    unavailable: str | None
    wrote: bool
    results: list[ActionResult]
    _cancel: threading.Event
    _current: ActionRequest | None

    if TYPE_CHECKING:  # ReviewScreen's

        def _targets(self) -> Targets | None: ...
        def reload(self) -> None: ...

    # ----- messages from the workers --------------------------------------------------
    @dataclass
    class Progressed(Message):
        step: str | None
        done: int
        total: int

    @dataclass
    class ActionFinished(Message):
        request: ActionRequest
        results: list[ActionResult]
        error: str | None = None  # a traceback from outside the user's function

    @dataclass
    class DownstreamChecked(Message):
        removals: dict[str, int]

    @dataclass
    class StatusesReady(Message):
        statuses: list[FeatureStatus]

    @dataclass
    class RadiusReady(Message):
        asked: Question

    @property
    def running(self) -> bool:
        return self._current is not None

    # ----- confirming -----------------------------------------------------------------
    def _ready_targets(self) -> Targets | None:
        if self.unavailable is not None:
            self.notify(self.unavailable, markup=False)
            return None
        if self.model is None:
            self.notify("Still explaining: wait a moment.", markup=False)
            return None
        if not self.model.total:
            extra = " P approves everything in order." if self.model.pending_upstream else ""
            said = review.nothing_pending(self.feature, self.model.pending_upstream, self.model.waiting_on)
            self.notify(said + extra, markup=False)
            return None
        return self._targets()

    def _ask_about(self, asked: Question | Refusal) -> None:
        """Say why not; or ask, with the blast radius worked out first (in a worker) when it asks for one."""
        assert self.model is not None
        if isinstance(asked, Refusal):
            self.notify(asked.message, severity=asked.severity, markup=False)
            return
        if asked.reasons is None or not self.model.downstream:
            impact_text(asked.body, self.model.downstream, self.model.pending_upstream, asked.downstream_word)
            self._confirm(asked.title, asked.body, asked.go, asked.request)
            return
        self.notify("Working out which downstream samples this would make stale…", timeout=2, markup=False)
        self.blast_radius(asked)

    @work(thread=True, exclusive=True, group="review-radius", name="review-radius")
    def blast_radius(self, asked: Question) -> None:
        asked.work_out_radius(self.project, self.feature)
        self.post_message(self.RadiusReady(asked))

    def on_review_approval_radius_ready(self, message: RadiusReady) -> None:
        assert self.model is not None
        asked = message.asked
        radius_text(asked.body, asked.radius, asked.error)
        upstream_warning(asked.body, self.model.pending_upstream)
        self._confirm(asked.title, asked.body, asked.go, asked.request)

    def _ask(
        self,
        title: str,
        body: Text,
        choices: list[Choice],
        request: ActionRequest,
        *,
        upstream: list[str] | None = None,
        tone: str = "normal",
        focus: str | None = None,
    ) -> None:
        """Ask; "go" starts `request`, "upstream" starts it after approving `upstream`."""

        def chosen(choice: str | None) -> None:
            if choice == "upstream":
                request.upstream_first = upstream or []
            if choice in ("go", "upstream"):
                self._start(request)

        self.app.push_screen(ConfirmScreen(title, body, choices, tone=tone, focus=focus), chosen)

    def _confirm(self, title: str, body: Text, go: str, request: ActionRequest) -> None:
        assert self.model is not None
        if request.kind == AuditAction.RECOMPUTE:  # the same question, with where the batches run
            self._confirm_recompute(title, body, request)
            return
        upstream = list(self.model.pending_upstream)
        self._ask(
            title,
            body,
            choices(go, upstream),
            request,
            upstream=upstream,
            tone="warning" if upstream else "normal",
            focus="go" if not upstream else "upstream",
        )

    def _confirm_recompute(self, title: str, body: Text, request: ActionRequest) -> None:
        """As _confirm, with the executor choice; the choice is remembered for the next recompute."""
        assert self.model is not None
        upstream = list(self.model.pending_upstream)
        screen = RecomputeConfirmScreen(
            title,
            body,
            choices("Recompute", upstream),
            executor=self.executor,
            address=self.ray_address,
            tone="warning" if upstream else "normal",
            focus="upstream" if upstream else "go",
        )

        def chosen(choice: str | None) -> None:
            self.executor, self.ray_address = screen.executor, screen.ray_address
            request.executor, request.ray_address = self.executor, self.ray_address
            if choice == "upstream":
                request.upstream_first = upstream
            if choice in ("go", "upstream"):
                self._start(request)

        self.app.push_screen(screen, chosen)

    def action_recompute(self) -> None:
        targets = self._ready_targets()
        if targets is not None and self.model is not None:
            self._ask_about(ask_recompute(self.feature, self.model, targets, self.batch_size))

    def action_accept(self) -> None:
        targets = self._ready_targets()
        if targets is not None and self.model is not None:
            self._ask_about(ask_accept(self.feature, targets))

    def action_delete_removed(self) -> None:
        targets = self._ready_targets()
        if targets is not None and self.model is not None:
            self._ask_about(ask_delete(self.feature, targets))

    def action_approve_all(self) -> None:
        self.plan_approve_all()

    @work(thread=True, exclusive=True, group="review-plan", name="review-plan-approve-all")
    def plan_approve_all(self) -> None:
        statuses = [s for s in iter_statuses(self.project) if s.kind not in ("root", "up_to_date")]
        self.post_message(self.StatusesReady(statuses))

    def on_review_approval_statuses_ready(self, message: StatusesReady) -> None:
        if not message.statuses:
            self.notify("Nothing is pending anywhere.", markup=False)
            return
        body = approve_all_question(message.statuses, lambda key: review.has_compute(self.project, key))
        self._ask(
            "Approve all pending work?",
            body,
            [Choice("go", "Approve all", "primary"), Choice("cancel", "Cancel")],
            ActionRequest("approve_all"),
        )

    # ----- running --------------------------------------------------------------------
    def _start(self, request: ActionRequest) -> None:
        self._cancel.clear()
        self._current = request
        unit = "features" if request.kind == "walk" else "samples"
        self.query_one(ActionProgress).start(progress_title(request, self.feature), request.total or None, unit=unit)
        self.query_one("#review-main").disabled = True
        self.refresh_bindings()
        self.run_action(request)

    @work(thread=True, exclusive=True, group="review-action", name="review-action")
    def run_action(self, request: ActionRequest) -> None:
        worker = get_current_worker()
        results, error = run_request(
            self.project,
            self.feature,
            request,
            batch_size=self.batch_size,
            cancelled=lambda: self._cancel.is_set() or worker.is_cancelled,
            progressed=lambda step, done, total: self.post_message(self.Progressed(step, done, total)),
        )
        self.post_message(self.ActionFinished(request, results, error))

    def on_review_approval_progressed(self, message: Progressed) -> None:
        self.query_one(ActionProgress).advance(message.done, message.total, message.step)

    def on_action_progress_cancel_requested(self, message: ActionProgress.CancelRequested) -> None:
        self._request_cancel()

    def _request_cancel(self) -> None:
        if self.running and not self._cancel.is_set():
            self._cancel.set()
            self.query_one(ActionProgress).cancelling()

    def on_review_approval_action_finished(self, message: ActionFinished) -> None:
        self._current = None
        self.query_one(ActionProgress).stop()
        self.query_one("#review-main").disabled = False
        self.refresh_bindings()
        self.results += message.results
        if any(r.done for r in message.results):
            self.wrote = True
        for r in message.results:
            severity = {"failed": "error", "cancelled": "warning"}.get(r.outcome, "information")
            self.notify(r.describe(), severity=severity, markup=False)  # type: ignore[arg-type]
        failed = next((r for r in message.results if r.outcome == "failed"), None)
        if message.error is not None:
            self.show_error(ACTION_TITLES[message.request.kind], message.error)
        elif failed is not None:
            self.show_failure(failed)
        self.selection.clear()
        self.query_one(ReviewGroups).focus()
        self.reload()
        last = message.results[-1] if message.results else None
        if (
            message.request.kind in (AuditAction.DELETE_REMOVED, "walk")
            and last is not None
            and last.outcome == "ok"
            and last.done
        ):
            self.check_downstream()

    def show_failure(self, result: ActionResult) -> None:
        title, body = failure_report(result)
        self.app.push_screen(ConfirmScreen(title, body, CLOSE, tone="error"))

    def show_error(self, what: str, error: str) -> None:
        self.app.push_screen(ConfirmScreen(f"{what} failed", Text(error), CLOSE, tone="error"))

    # ----- walking downstream after a delete ------------------------------------------
    @work(thread=True, exclusive=True, group="review-downstream", name="review-downstream")
    def check_downstream(self) -> None:
        self.post_message(self.DownstreamChecked(review.downstream_removals(self.project, self.feature)))

    def on_review_approval_downstream_checked(self, message: DownstreamChecked) -> None:
        if not message.removals:
            return
        self._ask(
            "Walk downstream?",
            walk_question(message.removals),
            [Choice("go", "Delete downstream too", "warning"), Choice("cancel", "Not now")],
            ActionRequest("walk", features=list(message.removals), total=len(message.removals)),
        )

    def action_cancel_action(self) -> None:
        self._request_cancel()
