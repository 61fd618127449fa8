"""The main screen: the feature tree on the left; feature, samples and lineage on the right."""

from __future__ import annotations

import logging
import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from ...service import review
from ...service.graph_diff import diff_graphs
from ...service.project import Project
from ...service.status import iter_statuses
from ..messages import FeatureSelected, StatusComputed, StatusesDone, StoreChanged
from ..widgets.feature_hint import FeatureHint
from ..widgets.feature_tree import FeatureTree
from ..screens.audit import AuditScreen
from ..screens.graph_diff import GraphDiffScreen
from ..screens.import_screen import ImportScreen
from ..screens.review import ReviewScreen
from ..widgets.feature_view import FeatureView
from ..widgets.lineage_panel import LineagePanel
from ..widgets.samples_panel import SamplesPanel
from ..widgets.key_footer import KeyFooter
from ..fit import fit_titles

log = logging.getLogger(__name__)

# a feature highlighted this long (its status pending) is explained in the background, so that
# the review screen opens on the answer (service/explanations.py)
PREFETCH_DELAY = 0.4

EMPTY_HELP = """This store has no features yet.

metaxy-tui reads features from a project's code (a folder with a metaxy.toml whose
entrypoints define them) or from the graph recorded in a store file.

  • press d to build the demo store (videos, chunks, faces, transcripts, speakers) and open it
  • or run `metaxy-tui demo` in a shell
  • or start metaxy-tui in a project folder, then press i to import samples from a file
"""


class BrowserScreen(Screen):
    BINDINGS = [
        Binding("r", "refresh", "Refresh", tooltip="Recompute every feature's status"),
        Binding("f", "show_tab('feature')", "Feature"),
        Binding("s", "show_tab('samples')", "Samples"),
        Binding("l", "show_tab('lineage')", "Lineage"),
        Binding("i", "import_samples", "Import"),
        Binding("v", "review", "Review", tooltip="Why the selected feature's samples are pending; approve"),
        Binding("a", "audit", "Audit log"),
        Binding("d", "demo", "Demo", show=False),
        Binding(
            "D",
            "graph_diff",
            "Definition changes",
            key_display="D",
            show=False,
            tooltip="The code's definitions against the store's, and the samples each change would make stale",
        ),
    ]

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        self.selected_feature: str | None = None
        self.statuses_seconds: float | None = None
        # the demo opens on a feature with pending work once statuses are in, unless the user moved
        self._opened_on: str | None = None
        self._go_to_pending = project.demo
        self._prefetch_timer = None

    # ----- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        notice = self._definition_notice()
        yield Static(notice or "", id="notice", classes="" if notice else "hidden")
        if self.project.is_empty:
            yield Static(Text(EMPTY_HELP), id="empty")
        else:
            yield FeatureHint(id="hint")
            with Horizontal(id="main"):
                with Vertical(id="sidebar"):
                    yield FeatureTree(self.project.graph, id="tree")
                with TabbedContent(id="tabs", initial="feature"):
                    with TabPane("Feature", id="feature"):
                        yield FeatureView(self.project.described_graph, id="feature-view")
                    with TabPane("Samples", id="samples"):
                        yield SamplesPanel(self.project, id="samples-panel")
                    with TabPane("Lineage", id="lineage"):
                        yield LineagePanel(self.project, id="lineage-panel")
        yield KeyFooter()

    def _fit_titles(self) -> None:
        notes = "".join(f" · {note}" for note in self.project.notes)
        self.title, self.sub_title = fit_titles("metaxy-tui", self.project.source + notes, self.app.size.width)

    def on_resize(self) -> None:
        self._fit_titles()

    def on_mount(self) -> None:
        self._fit_titles()
        if not self.project.is_empty:
            tree = self.query_one(FeatureTree)
            tree.focus()
            keys = tree.feature_keys
            if keys:
                self._opened_on = sorted(keys)[0]
                tree.select_feature(self._opened_on)
            self.action_refresh()

    def _definition_notice(self) -> Text | None:
        p = self.project
        if p.code_graph is None or len(p.stored_graph) == 0:
            return None
        changes = [c for c in diff_graphs(p.stored_graph, p.code_graph)]
        if not changes:
            return None
        text = Text("Definitions changed since the store's last snapshot:\n", style="bold yellow")
        for c in changes[:6]:
            text.append(f"  {c.describe()}", style="bold")
            for f in c.fields:
                text.append(f"\n     {f.describe()}")
            text.append(f"\n     → {c.consequence()}\n", style="italic")
        if len(changes) > 6:
            text.append(f"  … and {len(changes) - 6} more (metaxy-tui diff)\n")
        text.append("D shows how many samples each change would make stale, per feature and field.", style="dim")
        return text

    # ----- statuses -------------------------------------------------------------------
    def _has_features(self) -> bool:
        """Whether there is anything to show; on an empty store, says what to do instead."""
        if self.project.is_empty:
            self.notify(
                "This store has no features yet: press d to build the demo store, or start metaxy-tui in "
                "a project folder.",
                markup=False,
            )
            return False
        return True

    def action_refresh(self) -> None:
        if self._has_features():
            self.compute_statuses()

    @work(thread=True, exclusive=True, group="statuses", name="statuses")
    def compute_statuses(self) -> None:
        worker = get_current_worker()
        start = time.perf_counter()
        for status in iter_statuses(self.project, cancelled=lambda: worker.is_cancelled):
            self.post_message(StatusComputed(status))
        if not worker.is_cancelled:
            self.post_message(StatusesDone(time.perf_counter() - start))

    @on(StatusComputed)
    def _status_computed(self, message: StatusComputed) -> None:
        self.query_one(FeatureTree).set_status(message.status)
        self.query_one(FeatureView).update_status(message.status)
        self.query_one(LineagePanel).update_status(message.status)
        if message.status.key == self.selected_feature:
            self.query_one(FeatureHint).show(message.status.key, message.status)

    @on(LineagePanel.FeatureChosen)
    def _lineage_feature_chosen(self, message: LineagePanel.FeatureChosen) -> None:
        self.query_one(FeatureTree).select_feature(message.key)

    @on(StatusesDone)
    def _statuses_done(self, message: StatusesDone) -> None:
        # the lineage badges are in already: _status_computed passed each status on as it came
        self.statuses_seconds = message.seconds
        self._prefetch_soon()
        if self._go_to_pending:
            self._go_to_pending = False
            if self.selected_feature == self._opened_on:
                self.select_first_pending()

    # ----- explaining ahead of a review -------------------------------------------------
    def _prefetch_soon(self) -> None:
        """Explain the highlighted feature once it has stayed highlighted a moment (moving on
        through the tree starts no work)."""
        if self._prefetch_timer is not None:
            self._prefetch_timer.stop()
        self._prefetch_timer = self.set_timer(PREFETCH_DELAY, self._prefetch_selected)

    def _prefetch_selected(self) -> None:
        self._prefetch_timer = None
        key = self.selected_feature
        status = self.query_one(FeatureTree).status(key) if key is not None else None
        if key is not None and status is not None and status.kind == "pending" and status.pending:
            self.explain_ahead(key)

    @work(thread=True, exclusive=True, group="explain-ahead", name="explain-ahead")
    def explain_ahead(self, key: str) -> None:
        started = time.perf_counter()
        try:
            if review.prefetch(self.project, key):
                log.info("explained %s ahead of a review in %.2f s", key, time.perf_counter() - started)
        except Exception as e:  # the review screen explains again and shows the error, if it is opened
            log.info("explaining %s ahead of a review failed: %s", key, e)

    def select_first_pending(self) -> None:
        """Select the first feature (upstream first) with pending work, if there is one."""
        tree = self.query_one(FeatureTree)
        for key in self.project.graph.plan().order():
            status = tree.status(key)
            if status is not None and status.kind == "pending":
                tree.select_feature(key)
                return

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        """After any write: statuses, the samples table and lineage badges refresh."""
        if self.project.is_empty:
            return
        self.action_refresh()
        self.query_one(SamplesPanel).reload()

    # ----- selection and tabs ---------------------------------------------------------
    @on(FeatureSelected)
    def _feature_selected(self, message: FeatureSelected) -> None:
        self.selected_feature = message.key
        tree = self.query_one(FeatureTree)
        self.query_one(FeatureHint).show(message.key, tree.status(message.key))
        self.query_one(FeatureView).show(message.key, tree.status(message.key))
        self.query_one(SamplesPanel).show_feature(message.key)
        self._prefetch_soon()
        self.query_one(LineagePanel).show_feature(message.key)

    def action_show_tab(self, tab: str) -> None:
        if self._has_features():
            self.query_one(TabbedContent).active = tab
            target = {"samples": SamplesPanel, "lineage": LineagePanel}.get(tab)
            if target is not None:
                self.query_one(target).focus()

    def run_samples_action(self, action: str) -> None:
        """A Samples-tab action from the command palette: show the tab, then run it."""
        if not self._has_features():
            return
        self.action_show_tab("samples")
        panel = self.query_one(SamplesPanel)
        self.call_after_refresh(getattr(panel, f"action_{action}"))

    def action_import_samples(self) -> None:
        if self.project.is_empty:
            self.notify(
                "This store has no features to import into: open a project or the demo (d).", severity="warning"
            )
            return
        self.app.push_screen(ImportScreen(self.project, self.selected_feature), self._import_done)

    def _import_done(self, wrote: bool | None) -> None:
        if wrote:
            self.post_message(StoreChanged())

    def action_review(self) -> None:
        reason = review.not_reviewable(self.project, self.selected_feature)
        if reason is not None:
            self.notify(reason, markup=False)
            return
        assert self.selected_feature is not None
        self.app.push_screen(ReviewScreen(self.project, self.selected_feature), self._import_done)

    def action_audit(self) -> None:
        self.app.push_screen(AuditScreen(self.project, None))

    def action_graph_diff(self) -> None:
        if self.project.code_graph is None:
            self.notify(
                "This store was opened without its project's code: there is nothing to compare its "
                "definitions with (open the project folder, or use metaxy-tui diff A B).",
                markup=False,
            )
            return
        self.app.push_screen(GraphDiffScreen(self.project))

    def action_demo(self) -> None:
        self.app.action_open_demo()
