"""A table of any number of samples: lines drawn from pages fetched off the UI thread.

Textual's DataTable measures every row (320 s and 1.3 GB for 1,000,000 rows), so this is a
ScrollView whose `render_line` draws a row from an LRU cache of pages. A row whose page is
not cached yet is drawn as a placeholder and its page is requested from a worker; the
worker posts `PageLoaded` and the table repaints. `render_line` never waits on SQL.
The columns' layout is sample_columns.py's; a line is drawn by sample_lines.py.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events, work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from ...service.samples import Interrupted, PageReadError, SamplePages, SampleView, StaleView
from .sample_columns import column_at, measure, pinned_columns, scroll_x_for, total_width
from .sample_lines import Cell, draw_line, header_cells, line_styles, placeholder_cells, row_cells

CACHED_PAGES = 64


class SampleTable(ScrollView, can_focus=True):
    """Rows of a `SampleView`, with a cell cursor. Id columns stay pinned on the left."""

    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First row", show=False),
        Binding("end", "last", "Last row", show=False),
        Binding("enter", "open", "Detail", tooltip="The sample's provenance, history, upstream and downstream"),
        Binding("c", "copy", "Copy cell", tooltip="Copy the cell's full value to the clipboard"),
        Binding("t", "trace", "Trace", tooltip="The sample's lineage: what it was computed from, what it feeds"),
    ]

    COMPONENT_CLASSES = {
        "sample-table--header",
        "sample-table--header-sorted",
        "sample-table--cursor",
        "sample-table--cursor-row",
        "sample-table--placeholder",
        "sample-table--null",
        "sample-table--pinned",
        "sample-table--note",
    }

    # widgets have no CSS_PATH: the stylesheet next to this file is read once, here
    DEFAULT_CSS = (Path(__file__).with_name("sample_table.tcss")).read_text(encoding="utf-8")

    @dataclass
    class PageLoaded(Message):
        """A worker fetched one page of the current view."""

        generation: int
        index: int
        rows: list[tuple]

    @dataclass
    class PageFailed(Message):
        generation: int
        error: str

    @dataclass
    class OpenSample(Message):
        """Enter (or a double click) on a row: show that sample's detail."""

        feature: str
        ids: dict[str, Any]

    @dataclass
    class TraceSample(Message):
        """t on a row: trace that sample through the pipeline."""

        feature: str
        ids: dict[str, Any]

    @dataclass
    class CursorMoved(Message):
        row: int
        column: str | None

    @dataclass
    class HeaderClicked(Message):
        column: str

    def __init__(self, pager: SamplePages, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pager = pager
        self.view: SampleView | None = None
        self.cursor_row = 0
        self.cursor_column = 0
        self.note = ""
        self._cache: OrderedDict[int, list[tuple]] = OrderedDict()
        self._missing: set[int] = set()
        self._request_scheduled = False
        self._widths: list[int] = []
        self._pinned = 0  # how many leading columns stay put when scrolling sideways
        self._style_cache: tuple[bool, dict[str, Style]] | None = None

    # ----- the view -----------------------------------------------------------------------------
    @property
    def _page_size(self) -> int:
        return self.pager.page_size

    @property
    def row_count(self) -> int:
        """Rows that can be shown now: the count, or the first page's while counting."""
        if self.view is None:
            return 0
        if self.view.count is not None:
            return self.view.count
        return len(self._cache.get(0, ()))

    def set_view(
        self,
        view: SampleView,
        pages: dict[int, list[tuple]] | None = None,
        *,
        cursor_row: int = 0,
        cursor_column: int | str | None = None,
    ) -> None:
        """Show `view`, with pages already fetched (at least the cursor's, to paint at once)."""
        same_columns = self.view is not None and self.view.columns == view.columns
        self.view = view
        self.note = view.note
        self._cache.clear()
        for index, rows in (pages or {}).items():
            self._cache[index] = rows
        if not same_columns or not self._widths:
            self._widths = self._measure(view)
        if isinstance(cursor_column, str):
            names = [c.name for c in view.columns]
            cursor_column = names.index(cursor_column) if cursor_column in names else 0
        elif cursor_column is None:
            cursor_column = self.cursor_column if same_columns else 0
        self.cursor_column = max(0, min(cursor_column, len(view.columns) - 1))
        self.cursor_row = max(0, min(cursor_row, self.row_count - 1))
        self._update_virtual_size()
        self._scroll_to_cursor(center=True)
        self.refresh()
        self._announce()

    def update_count(self, view: SampleView) -> None:
        """The count of the view on show arrived (index-order views count after painting)."""
        if self.view is None or view.generation != self.view.generation:
            return
        self.view = view
        self.note = view.note
        self._update_virtual_size()
        self.refresh()
        self._announce()

    def clear_view(self, note: str = "") -> None:
        self.view = None
        self.note = note
        self._cache.clear()
        self.cursor_row = 0
        self._update_virtual_size()
        self.refresh()

    def _measure(self, view: SampleView) -> list[int]:
        """Column widths from the headers and the rows at hand (one page: the first one fetched, by
        position, whatever order the pages arrived in), capped by kind."""
        rows = [r for index in sorted(self._cache) for r in self._cache[index]][: self._page_size]
        return measure(view, rows)

    def _update_virtual_size(self) -> None:
        # pinned columns depend on the width: computed here, not taken from the last drawn line
        # (a view set before the first layout would keep a size one cell off until redrawn)
        self._pinned = self._pinned_columns()
        self.virtual_size = Size(total_width(self._widths, self._pinned), self.row_count + 1)

    def on_resize(self) -> None:
        self._update_virtual_size()

    @property
    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _pinned_columns(self) -> int:
        if self.view is None:
            return 0
        return pinned_columns(self.view, self._widths, self.scrollable_content_region.width)

    # ----- drawing ------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        styles = self._styles()
        base = styles["base"]
        if self.view is None:
            text = self.note if y == 1 else ""
            return Strip([Segment(text[:width], styles["note"])]).extend_cell_length(width, base)
        self._pinned = self._pinned_columns()
        if y == 0:
            return self._line(header_cells(self.view), width, header=True)
        row = int(self.scroll_y) + y - 1
        if row >= self.row_count:
            if row == 0 and self.note:
                return Strip([Segment(f" {self.note}"[:width], styles["note"])]).extend_cell_length(width, base)
            return Strip.blank(width, base)
        page = self._cache.get(row // self._page_size)
        if page is None:
            self._want(row // self._page_size)
            return self._line(placeholder_cells(self.view), width, row=row)
        self._cache.move_to_end(row // self._page_size)
        offset = row % self._page_size
        if offset >= len(page):  # the page came back short (the store changed meanwhile)
            return Strip.blank(width, base)
        return self._line(row_cells(self.view, page[offset]), width, row=row)

    def _styles(self) -> dict[str, Style]:
        """Every style a line needs, resolved once (resolving is slow) until the CSS or focus changes."""
        key = self.has_focus
        if self._style_cache is None or self._style_cache[0] != key:
            self._style_cache = (key, line_styles(self.rich_style, self.get_component_rich_style))
        return self._style_cache[1]

    def notify_style_update(self) -> None:
        self._style_cache = None
        super().notify_style_update()

    def _line(self, cells: list[Cell], width: int, *, header: bool = False, row: int = -1) -> Strip:
        """One line: the pinned columns, then the others scrolled sideways."""
        return draw_line(
            cells,
            self._widths,
            self._pinned,
            self._styles(),
            width,
            int(self.scroll_x),
            header=header,
            cursor_row=row == self.cursor_row,
            cursor_column=self.cursor_column,
        )

    # ----- fetching pages -----------------------------------------------------------------------
    def _want(self, index: int) -> None:
        self._missing.add(index)
        if not self._request_scheduled:
            self._request_scheduled = True
            self.call_later(self._request_pages)

    def _visible_pages(self) -> list[int]:
        top = int(self.scroll_y)
        bottom = min(top + self._body_height, self.row_count) - 1
        if bottom < top:
            return []
        return list(range(top // self._page_size, bottom // self._page_size + 1))

    def _request_pages(self) -> None:
        self._request_scheduled = False
        if self.view is None:
            return
        wanted = sorted((self._missing | set(self._visible_pages())) - set(self._cache))
        self._missing.clear()
        if wanted:
            self._load_pages(self.view, tuple(wanted))

    def _page_visible(self, index: int) -> bool:
        top = int(self.scroll_y)
        first, last = top // self._page_size, (top + self._body_height) // self._page_size
        return first - 1 <= index <= last + 1

    @work(thread=True, exclusive=True, group="sample-pages", name="sample pages")
    def _load_pages(self, view: SampleView, pages: tuple[int, ...]) -> None:
        worker = get_current_worker()
        for index in pages:
            if worker.is_cancelled:
                return
            if not self._page_visible(index):  # scrolled past meanwhile
                continue
            try:
                rows = self.pager.page(view, index)
            except (StaleView, Interrupted):
                return
            except PageReadError as e:
                self.post_message(self.PageFailed(view.generation, str(e)))
                return
            self.post_message(self.PageLoaded(view.generation, index, rows))

    def on_sample_table_page_loaded(self, message: PageLoaded) -> None:
        message.stop()
        if self.view is None or message.generation != self.view.generation:
            return
        self._cache[message.index] = message.rows
        while len(self._cache) > CACHED_PAGES:
            self._cache.popitem(last=False)
        if self.view.count is None:
            self._update_virtual_size()
        self.refresh()

    def on_sample_table_page_failed(self, message: PageFailed) -> None:
        message.stop()
        self.notify(f"Reading samples failed: {message.error}", severity="error", markup=False)

    # ----- the cursor ---------------------------------------------------------------------------
    def current_row(self) -> tuple | None:
        page = self._cache.get(self.cursor_row // self._page_size)
        if page is None or self.cursor_row % self._page_size >= len(page):
            return None
        return page[self.cursor_row % self._page_size]

    @property
    def cursor_column_name(self) -> str | None:
        if self.view is None or not self.view.columns:
            return None
        return self.view.columns[self.cursor_column].name

    def move_cursor(self, row: int | None = None, column: int | None = None, *, center: bool = False) -> None:
        if self.view is None:
            return
        before = (self.cursor_row, int(self.scroll_x), int(self.scroll_y))
        if row is not None:
            self.cursor_row = max(0, min(row, self.row_count - 1))
        if column is not None:
            self.cursor_column = max(0, min(column, len(self.view.columns) - 1))
        self._scroll_to_cursor(center=center)
        if (int(self.scroll_x), int(self.scroll_y)) == before[1:]:
            # only the two rows the cursor left and entered change (a full repaint is ~10x the work)
            self.refresh_line(before[0] + 1)
            self.refresh_line(self.cursor_row + 1)
        else:
            self.refresh()
        self._announce()

    def _announce(self) -> None:
        self.post_message(self.CursorMoved(self.cursor_row, self.cursor_column_name))

    def _scroll_to_cursor(self, *, center: bool = False) -> None:
        height = self._body_height
        top = int(self.scroll_y)
        target_y = top
        if center and not (top <= self.cursor_row < top + height):
            target_y = max(0, self.cursor_row - height // 2)
        elif self.cursor_row < top:
            target_y = self.cursor_row
        elif self.cursor_row >= top + height:
            target_y = self.cursor_row - height + 1
        target_x = int(self.scroll_x)
        if self.view is not None:
            target_x = scroll_x_for(
                self._widths,
                self._pinned_columns(),
                self.cursor_column,
                target_x,
                self.scrollable_content_region.width,
            )
        self.scroll_to(x=target_x, y=target_y, animate=False, force=True, immediate=True)

    def action_move(self, rows: int, columns: int) -> None:
        self.move_cursor(self.cursor_row + rows, self.cursor_column + columns)

    def action_page(self, direction: int) -> None:
        step = self._body_height
        self.move_cursor(self.cursor_row + direction * step)
        self.scroll_to(y=max(0, int(self.scroll_y) + direction * step), animate=False, immediate=True)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        if self.view is not None and self.view.count is None:
            self.notify("Still counting the rows…", timeout=2)
            return
        self.move_cursor(self.row_count - 1)

    def action_open(self) -> None:
        row = self.current_row()
        if self.view is None or row is None:
            return
        self.post_message(self.OpenSample(self.view.feature, self.view.ids_of(row)))

    def action_trace(self) -> None:
        row = self.current_row()
        if self.view is None or row is None:
            return
        self.post_message(self.TraceSample(self.view.feature, self.view.ids_of(row)))

    def action_copy(self) -> None:
        row = self.current_row()
        if self.view is None or row is None:
            return
        text = self.view.copy_text(row, self.cursor_column)
        self.app.copy_to_clipboard(text)
        shown = text if len(text) <= 60 else text[:59] + "…"
        self.notify(f"Copied {self.cursor_column_name}: {shown}", timeout=3, markup=False)

    # ----- the mouse ----------------------------------------------------------------------------
    def _column_at(self, x: int) -> int | None:
        if self.view is None:
            return None
        return column_at(self._widths, self._pinned_columns(), x, int(self.scroll_x))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or self.view is None:
            return
        column = self._column_at(offset.x)
        if offset.y == 0:
            if column is not None:
                self.post_message(self.HeaderClicked(self.view.columns[column].name))
            return
        row = int(self.scroll_y) + offset.y - 1
        if row < self.row_count:
            self.move_cursor(row, column)
            if event.chain >= 2:
                self.action_open()
