"""The Samples tab: the selected feature's current samples, sorted, filtered and exported.

The table pages straight from SQLite (see SampleTable). Sorting and filtering rebuild the
view in SQL on a worker; the old rows stay on screen until the new view is ready. The
view loads when the tab is shown, so browsing features in the tree costs nothing here.
Exporting is two widgets' (the bar, SamplesExportBar; the running export, SamplesExportProgress).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import DOMQuery
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Static
from textual.worker import get_current_worker

from ...service.export import ExportJob, ExportProcess, ExportResult
from ...service.project import Project
from ...service.review import error_text
from ...service.samples import Interrupted, SampleView, StaleView, ViewSpec, parse_ids, open_pages
from ..screens.sample_detail import SampleDetailScreen
from ..screens.trace import TraceScreen
from .sample_table import SampleTable
from .samples_export_bar import SamplesExportBar
from .samples_export_progress import SamplesExportProgress
from .samples_text import NO_FEATURE, jump_hint, not_found_text, status_text

FILTER_DELAY_S = 0.35


class SamplesPanel(Vertical):
    """The samples of one feature. BrowserScreen calls `show_feature` and `reload`."""

    # widgets have no CSS_PATH: the stylesheet next to this file is read once, here
    DEFAULT_CSS = (Path(__file__).with_name("samples_panel.tcss")).read_text(encoding="utf-8")

    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Show rows containing a text"),
        Binding("o", "sort", "Sort", tooltip="Sort by the cursor's column (again: descending, again: off)"),
        Binding("g", "jump", "Go to id", tooltip="Move to the sample with given id values"),
        Binding("e", "export", "Export", tooltip="Write this view to a CSV or Parquet file"),
        Binding("x", "reset", "Reset view", show=False, tooltip="Clear the sort and the filter"),
        Binding("escape", "dismiss_bar", "Close", show=False),
    ]

    # ----- messages from workers ----------------------------------------------------------------
    @dataclass
    class ViewReady(Message):
        view: SampleView
        pages: dict[int, list[tuple]]
        cursor_row: int
        cursor_column: str | None
        seconds: float

    @dataclass
    class ViewCounted(Message):
        view: SampleView

    @dataclass
    class ViewFailed(Message):
        spec: ViewSpec
        error: str

    @dataclass
    class JumpDone(Message):
        generation: int
        ids: dict[str, Any]
        position: int | None

    def __init__(self, project: Project, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project = project
        self.pager = open_pages(project)
        self.spec: ViewSpec | None = None
        self.building: ViewSpec | None = None
        self.last_build_seconds: float | None = None
        self._stale = False  # show_feature or reload happened while the tab was hidden
        self._shown = False
        self._filter_timer = None
        self.table = SampleTable(self.pager, id="samples-table")

    def compose(self) -> ComposeResult:
        yield Static(Text(NO_FEATURE, style="dim"), id="samples-status")
        with Horizontal(id="samples-filter-bar", classes="samples-bar hidden"):
            yield Label("filter ")
            yield Input(placeholder="text in any id or user column; column: text for one column", id="samples-filter")
        with Horizontal(id="samples-jump-bar", classes="samples-bar hidden"):
            yield Label("go to ")
            yield Input(id="samples-jump")
        yield SamplesExportBar(id="samples-export-bar", classes="samples-bar hidden")
        yield SamplesExportProgress(id="samples-export-progress", classes="samples-bar hidden")
        yield self.table

    # ----- what BrowserScreen calls ---------------------------------------------------------------
    def show_feature(self, key: str | None) -> None:
        if key is None or key not in self.project.graph:
            self.spec = None
            self.table.clear_view(NO_FEATURE)
            self._set_status(Text(NO_FEATURE, style="dim"))
            return
        if self.spec is not None and self.spec.feature == key:
            return
        self.spec = ViewSpec(key)
        self._close_bars()
        self.query_one("#samples-filter", Input).value = ""
        self._load(cursor_row=0)

    def reload(self) -> None:
        """The store changed: read the view again, keeping the cursor's place."""
        if self.spec is not None:
            self._load(cursor_row=self.table.cursor_row, cursor_column=self.table.cursor_column_name)

    def focus(self, scroll_visible: bool = True) -> "SamplesPanel":
        """Focusing the tab (BrowserScreen does on `s`) focuses its table."""
        self.table.focus(scroll_visible)
        return self

    # ----- loading views --------------------------------------------------------------------------
    def on_show(self) -> None:
        self._shown = True
        if self._stale and self.spec is not None:
            self._load(cursor_row=self.table.cursor_row, cursor_column=self.table.cursor_column_name)

    def on_hide(self) -> None:
        self._shown = False

    def _load(self, *, cursor_row: int = 0, cursor_column: str | None = None, keep_rowid: int | None = None) -> None:
        if self.spec is None:
            return
        if not self._shown:
            self._stale = True
            return
        self._stale = False
        self.building = self.spec
        self.pager.interrupt()  # a sort or count of the previous view is no longer wanted
        self._update_status()
        self._build_view(self.spec, cursor_row, cursor_column, keep_rowid)

    @work(thread=True, exclusive=True, group="sample-view", name="sample view")
    def _build_view(self, spec: ViewSpec, cursor_row: int, cursor_column: str | None, keep_rowid: int | None) -> None:
        worker = get_current_worker()
        start = time.perf_counter()
        try:
            view = self.pager.open_view(spec, count=False)
            if keep_rowid is not None:
                found = self.pager.position_of_rowid(view, keep_rowid)
                cursor_row = found if found is not None else 0
            if view.count is not None:
                cursor_row = max(0, min(cursor_row, view.count - 1))
            page = cursor_row // self.pager.page_size
            pages = {page: self.pager.page(view, page)}
            if view.count is None and page > 0:  # the cursor's page is past what is known: count first
                view = self.pager.count(view)
            if worker.is_cancelled:
                return
            self.post_message(self.ViewReady(view, pages, cursor_row, cursor_column, time.perf_counter() - start))
            if view.count is None:
                view = self.pager.count(view)
                if not worker.is_cancelled:
                    self.post_message(self.ViewCounted(view))
        except (Interrupted, StaleView):
            return
        except Exception as e:  # shown to the user; the table keeps what it had
            self.post_message(self.ViewFailed(spec, error_text(e)))

    @on(ViewReady)
    def _view_ready(self, message: ViewReady) -> None:
        message.stop()
        if message.view.spec != self.spec:
            return
        self.building = None
        self.last_build_seconds = message.seconds
        self.table.set_view(
            message.view, message.pages, cursor_row=message.cursor_row, cursor_column=message.cursor_column
        )
        self._update_status()

    @on(ViewCounted)
    def _view_counted(self, message: ViewCounted) -> None:
        message.stop()
        self.table.update_count(message.view)
        self._update_status()

    @on(ViewFailed)
    def _view_failed(self, message: ViewFailed) -> None:
        message.stop()
        if message.spec == self.spec:
            self.building = None
            self._update_status()
        self.notify(message.error, title="Samples", severity="error", markup=False)

    # ----- status ---------------------------------------------------------------------------------
    def _set_status(self, text: Text) -> None:
        # one line, always: no layout pass (it costs ~50 ms on every cursor move)
        self.query_one("#samples-status", Static).update(text, layout=False)

    def status_text(self) -> Text:
        """ "N rows · sorted by X · filter 'y'", plus the cursor's place and any work running."""
        return status_text(self.spec, self.table.view, self.table.cursor_row, self.building)

    def _update_status(self) -> None:
        self._set_status(self.status_text())

    @on(SampleTable.CursorMoved)
    def _cursor_moved(self, message: SampleTable.CursorMoved) -> None:
        message.stop()
        self._update_status()

    # ----- sorting and filtering ------------------------------------------------------------------
    def _rebuild(self, spec: ViewSpec) -> None:
        if self.spec is None:
            return
        row = self.table.current_row()
        self.spec = spec
        self._load(
            cursor_row=0, cursor_column=self.table.cursor_column_name, keep_rowid=row[0] if row is not None else None
        )

    def action_sort(self) -> None:
        column = self.table.cursor_column_name
        if column is not None:
            self.sort_by(column)

    def sort_by(self, column: str) -> None:
        """Ascending, then descending, then back to the id order."""
        if self.spec is None:
            return
        if self.spec.sort != column:
            spec = replace(self.spec, sort=column, descending=False)
        elif not self.spec.descending:
            spec = replace(self.spec, descending=True)
        else:
            spec = replace(self.spec, sort=None, descending=False)
        self._rebuild(spec)

    @on(SampleTable.HeaderClicked)
    def _header_clicked(self, message: SampleTable.HeaderClicked) -> None:
        message.stop()
        self.sort_by(message.column)

    def action_filter(self) -> None:
        if self.spec is None:
            return
        self._show_bar("samples-filter-bar")
        box = self.query_one("#samples-filter", Input)
        box.value = self.spec.filter
        box.focus()

    @on(Input.Changed, "#samples-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY_S, lambda: self.apply_filter(event.value))

    @on(Input.Submitted, "#samples-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self.apply_filter(event.value)
        self._close_bars()

    def apply_filter(self, text: str) -> None:
        if self.spec is not None and self.spec.filter != text:
            self._rebuild(replace(self.spec, filter=text))

    def action_reset(self) -> None:
        if self.spec is not None and (self.spec.sort is not None or self.spec.filter):
            self.query_one("#samples-filter", Input).value = ""
            self._rebuild(ViewSpec(self.spec.feature))

    # ----- jumping to an id -----------------------------------------------------------------------
    def action_jump(self) -> None:
        if self.spec is None:
            return
        ids = self.project.graph.feature_plan(self.spec.feature).definition.id_columns
        box = self.query_one("#samples-jump", Input)
        box.placeholder = jump_hint(ids)
        box.value = ""
        self._show_bar("samples-jump-bar")
        box.focus()

    @on(Input.Submitted, "#samples-jump")
    def _jump_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        view = self.table.view
        if self.spec is None or view is None:
            return
        try:
            ids = parse_ids(self.project.graph.feature_plan(self.spec.feature), event.value)
        except ValueError as e:
            self.notify(str(e), title="Go to", severity="warning", markup=False)
            return
        self._close_bars()
        self._find(view, ids)

    @work(thread=True, exclusive=True, group="sample-jump", name="sample jump")
    def _find(self, view: SampleView, ids: dict[str, Any]) -> None:
        try:
            position = self.pager.position_of(view, ids)
        except (Interrupted, StaleView):
            return
        except Exception as e:
            self.post_message(self.ViewFailed(view.spec, error_text(e)))
            return
        self.post_message(self.JumpDone(view.generation, ids, position))

    @on(JumpDone)
    def _jump_done(self, message: JumpDone) -> None:
        message.stop()
        view = self.table.view
        if view is None or view.generation != message.generation:
            return
        if message.position is None:
            self.notify(not_found_text(message.ids, view), title="Go to", severity="warning", markup=False)
            return
        self.table.move_cursor(message.position, center=True)

    # ----- export ---------------------------------------------------------------------------------
    @property
    def exporting(self) -> bool:
        return self.query_one(SamplesExportProgress).running

    @property
    def last_export(self) -> ExportResult | None:
        return self.query_one(SamplesExportProgress).last_export

    def action_export(self) -> None:
        if self.spec is None or self.table.view is None:
            return
        if self.exporting:
            self.notify("An export is running (escape cancels it).", title="Export")
            return
        bar = self.query_one(SamplesExportBar)
        bar.prepare(self.spec.feature)
        self._show_bar("samples-export-bar")
        bar.path_input.focus()

    @on(Input.Submitted, "#samples-export-path")
    def _export_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        view = self.table.view
        if view is None:
            return
        chosen = self.query_one(SamplesExportBar).target(event.value)
        if chosen is None:
            return
        target, fmt = chosen
        try:
            exporter = ExportProcess(ExportJob.of(self.project.location, self.project.graph, view.spec, target, fmt))
        except ValueError as e:
            self.notify(str(e), title="Export", severity="error", markup=False)
            return
        self._close_bars()
        self.query_one(SamplesExportProgress).start(exporter, target.name, view.count)

    def cancel_export(self) -> None:
        self.query_one(SamplesExportProgress).cancel()

    # ----- the input bars -------------------------------------------------------------------------
    def _input_bars(self) -> DOMQuery[Widget]:
        """The filter, go-to and export bars (the export's progress row only shares their look)."""
        return self.query(".samples-bar").exclude("#samples-export-progress")

    def _show_bar(self, bar_id: str) -> None:
        for bar in self._input_bars():
            bar.set_class(bar.id != bar_id, "hidden")

    def _close_bars(self) -> None:
        bars = self._input_bars()
        refocus = any(bar.has_focus_within for bar in bars)
        bars.add_class("hidden")
        if refocus:
            self.table.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape is ours only while a bar is open or an export runs; otherwise it passes on."""
        if action == "dismiss_bar":
            return self._bar_open() or self.exporting
        return True

    def _bar_open(self) -> bool:
        return any(not bar.has_class("hidden") for bar in self._input_bars())

    def action_dismiss_bar(self) -> None:
        """Escape: close an open bar; else cancel a running export."""
        if self._bar_open():
            self._close_bars()
        elif self.exporting:
            self.cancel_export()

    # ----- detail ---------------------------------------------------------------------------------
    @on(SampleTable.OpenSample)
    def _open_sample(self, message: SampleTable.OpenSample) -> None:
        message.stop()
        self.app.push_screen(SampleDetailScreen(self.project, message.feature, message.ids))

    @on(SampleTable.TraceSample)
    def _trace_sample(self, message: SampleTable.TraceSample) -> None:
        message.stop()
        self.app.push_screen(TraceScreen(self.project, message.feature, message.ids))

    def on_unmount(self) -> None:
        # a running export cancels itself (SamplesExportProgress.on_unmount)
        # closing waits for a running query: never on the UI thread
        threading.Thread(target=self.pager.close, name="close sample pager", daemon=True).start()
