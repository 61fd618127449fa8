"""The audit log: every recompute, accept and delete, newest first, filtered by feature and action."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Label, Select, Static
from textual.worker import get_current_worker

from ...service import review
from ...service.project import Project
from ...vocabulary import AuditAction
from ..widgets.review_audit_table import AuditTable, entry_text
from ..widgets.key_footer import KeyFooter
from ..fit import fit_titles
from .confirm import CLOSE, ConfirmScreen

ACTIONS = [
    ("recompute", AuditAction.RECOMPUTE),
    ("accept", AuditAction.ACCEPT),
    ("delete removed", AuditAction.DELETE_REMOVED),
]
LIMIT = 1000


class AuditScreen(Screen[None]):
    AUTO_FOCUS = "#audit-table"
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("enter", "show_entry", "Entry", tooltip="The highlighted entry in full (ids, detail, traceback)"),
        Binding("f", "focus_filter('feature')", "Feature filter"),
        Binding("t", "focus_filter('action')", "Action filter"),
        Binding("r", "reload", "Reload"),
    ]
    DEFAULT_CSS = """
    AuditScreen #audit-filters { height: auto; padding: 0 1; background: $boost; }
    AuditScreen #audit-filters Label { padding: 1 1 0 0; }
    AuditScreen #audit-filters Select { width: 1fr; max-width: 40; margin-right: 2; }
    AuditScreen #audit-filters #filter-action { max-width: 28; }
    AuditScreen #audit-count { padding: 0 1; color: $text-muted; height: 1; }
    """

    @dataclass
    class Loaded(Message):
        entries: list[dict]
        feature: str | None
        action: str | None

    @dataclass
    class LoadFailed(Message):
        error: str

    def __init__(self, project: Project, feature: str | None = None) -> None:
        super().__init__()
        self.project = project
        self.feature = feature
        self.action: str | None = None
        self.entries: list[dict] = []

    def compose(self) -> ComposeResult:
        yield Header()
        features = list(self.project.graph.keys)
        if self.feature is not None and self.feature not in features:
            features.append(self.feature)
        with Horizontal(id="audit-filters"):
            yield Label("feature")
            yield Select(
                [(Text(k), k) for k in features],
                prompt="all features",
                id="filter-feature",
                value=self.feature if self.feature is not None else Select.NULL,
            )
            yield Label("action")
            yield Select(ACTIONS, prompt="all actions", id="filter-action")
        yield Static("", id="audit-count")
        yield AuditTable(id="audit-table")
        yield KeyFooter()

    def _fit_titles(self) -> None:
        self.title, self.sub_title = fit_titles("Audit log", "who approved what, when", self.app.size.width, path=False)

    def on_resize(self) -> None:
        self._fit_titles()

    def on_mount(self) -> None:
        self._fit_titles()
        self.reload()

    # ----- loading --------------------------------------------------------------------
    def reload(self) -> None:
        self.query_one(AuditTable).loading = True
        self.load(self.feature, self.action)

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="audit-load", name="audit-load")
    def load(self, feature: str | None, action: str | None) -> None:
        worker = get_current_worker()
        try:
            entries = review.audit_log(self.project, feature=feature, action=action, limit=LIMIT).to_dicts()
        except Exception as e:
            if not worker.is_cancelled:
                self.post_message(self.LoadFailed(review.error_text(e)))
            return
        if not worker.is_cancelled:
            self.post_message(self.Loaded(entries, feature, action))

    def on_audit_screen_loaded(self, message: Loaded) -> None:
        self.entries = message.entries
        table = self.query_one(AuditTable)
        table.loading = False
        table.show(message.entries)
        n = len(message.entries)
        what = [f"feature {message.feature}"] if message.feature else []
        what += [f"action {message.action}"] if message.action else []
        text = Text(f"{n:,} entr{'ies' if n != 1 else 'y'}" if n < LIMIT else f"the newest {LIMIT:,} entries")
        if what:
            text.append(" · " + ", ".join(what))
        if not n:
            text.append(
                " · nothing recorded yet: recompute, accept and delete in the review (v) are recorded here"
                if not what
                else " · nothing matches: widen the filters"
            )
        else:
            text.append(" · newest first · enter shows an entry in full", style="dim")
        self.query_one("#audit-count", Static).update(text)

    def on_audit_screen_load_failed(self, message: LoadFailed) -> None:
        self.query_one(AuditTable).loading = False
        self.query_one("#audit-count", Static).update(
            Text(f"Could not read the audit log: {message.error}", style="red")
        )

    # ----- filters --------------------------------------------------------------------
    @on(Select.Changed, "#filter-feature")
    def _feature_changed(self, event: Select.Changed) -> None:
        self.feature = None if event.value is Select.NULL else str(event.value)
        self.reload()

    @on(Select.Changed, "#filter-action")
    def _action_changed(self, event: Select.Changed) -> None:
        self.action = None if event.value is Select.NULL else str(event.value)
        self.reload()

    def action_focus_filter(self, which: str) -> None:
        self.query_one(f"#filter-{which}", Select).focus()

    def set_filters(self, feature: str | None = None, action: str | None = None) -> None:
        """Set both filters (as if chosen in the selects); the table reloads."""
        self.query_one("#filter-feature", Select).value = feature if feature is not None else Select.NULL
        self.query_one("#filter-action", Select).value = action if action is not None else Select.NULL

    # ----- one entry ------------------------------------------------------------------
    def on_audit_table_entry_chosen(self, message: AuditTable.EntryChosen) -> None:
        self._show(message.entry)

    def action_show_entry(self) -> None:
        entry = self.query_one(AuditTable).highlighted_entry
        if entry is not None:
            self._show(entry)

    def _show(self, entry: dict) -> None:
        tone = "error" if entry.get("outcome") == "failed" else "normal"
        title = f"{entry.get('action')} · {entry.get('feature')} · {entry.get('outcome')}"
        self.app.push_screen(ConfirmScreen(title, entry_text(entry), CLOSE, tone=tone))

    def action_close(self) -> None:
        self.dismiss(None)

    def get_system_commands(self) -> Iterable[SystemCommand]:
        """This screen's actions, for the command palette (the app yields them while it is active)."""
        yield SystemCommand("Show audit entry", "The highlighted entry in full", self.action_show_entry)
        yield SystemCommand("Filter audit by feature", "Choose a feature", lambda: self.action_focus_filter("feature"))
        yield SystemCommand("Filter audit by action", "Choose an action", lambda: self.action_focus_filter("action"))
        yield SystemCommand("Clear audit filters", "Every feature and action", lambda: self.set_filters(None, None))
        yield SystemCommand("Reload audit log", "Read the log again", self.action_reload)
        yield SystemCommand("Back", "Close the audit log", self.action_close)
