"""The review's sample list: the samples of one reason group (key and summary), capped.

A DataTable measures every row, so only the first SHOWN_MAX samples of a group are shown;
selecting the group (g) or everything (A) still covers all of them. They are added a PAGE at
a time: the first page shows at once (2,000 rows took 0.7 s to add and measure), the next when
the cursor (or the view, scrolled by the mouse) comes within PAGE_AHEAD rows of the last one
shown, and `end` adds them all first.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from ...service.review import SampleReason
from .review_model import STATUS_STYLE, ReasonGroup, ReviewModel
from .review_selection import Selection

SHOWN_MAX = 2000
PAGE = 200  # rows added at a time
PAGE_AHEAD = 50  # the next page is added when the cursor comes this close to the last row shown
SUMMARY_MAX = 200  # characters of a summary in the table; the detail pane has all of it


def _mark(selected: bool) -> Text:
    return Text("■" if selected else "·", style="bold cyan" if selected else "dim")


class ReviewSamples(DataTable):
    """Posts SampleHighlighted when the cursor moves to another sample."""

    BINDINGS = [  # rows, not columns: home and end go to the first and last row
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]
    DEFAULT_CSS = """
    ReviewSamples { height: 1fr; border: round $panel;
        border-title-color: $text; border-subtitle-color: $text-muted; }
    ReviewSamples:focus { border: round $accent; }
    """

    @dataclass
    class SampleHighlighted(Message):
        reason: SampleReason | None

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.border_title = "samples"
        self._reasons: list[SampleReason] = []  # the group's first SHOWN_MAX, shown or to be shown
        self._cells: list[list[Text]] = []  # their key and summary cells, shown as pages
        self._model: ReviewModel | None = None
        self._selection: Selection | None = None

    def show(self, model: ReviewModel, group: ReasonGroup | None, selection: Selection) -> None:
        self._model = model
        self.clear(columns=True)
        reasons = list(group.reasons[:SHOWN_MAX]) if group is not None else []
        self._reasons = reasons
        summaries = [
            r.summary if len(r.summary) <= SUMMARY_MAX else r.summary[: SUMMARY_MAX - 1] + "…" for r in reasons
        ]
        keys = [[str(r.key.get(c)) for c in model.key_columns] for r in reasons]
        # widths from the content, set up front: no re-measuring later, and the same every time
        self.add_column(Text(""), key="mark", width=1)
        for i, c in enumerate(model.key_columns):
            self.add_column(Text(c), key=f"key:{c}", width=max([cell_len(c)] + [cell_len(k[i]) for k in keys]))
        self.add_column(Text("why"), key="why", width=max([3] + [cell_len(t) for t in summaries]))
        style = STATUS_STYLE.get(group.status, "") if group is not None else ""
        self._cells = [[Text(k, style=style) for k in keys[i]] + [Text(summaries[i])] for i in range(len(reasons))]
        self._selection = selection
        self._add_rows(PAGE)
        if group is None:
            self.border_title, self.border_subtitle = "samples", ""
            return
        n = len(group.reasons)
        self.border_title = f"{group.status} · {n:,} sample{'s' if n != 1 else ''}"
        self.border_subtitle = f"showing first {SHOWN_MAX:,} of {n:,}" if n > SHOWN_MAX else ""
        if reasons:
            self.move_cursor(row=0)
        self.post_message(self.SampleHighlighted(self.highlighted_reason))

    def _add_rows(self, n: int) -> None:
        """The next `n` rows of the group (up to SHOWN_MAX), marked by the current selection."""
        if self._model is None or self._selection is None:
            return
        start = self.row_count
        for i in range(start, min(start + n, len(self._reasons))):
            selected = self._selection.is_selected(self._model.key_of(self._reasons[i]))
            self.add_row(_mark(selected), *self._cells[i], key=str(i))

    def _show_through(self, row: int) -> None:
        """Pages added until `row` is at least PAGE_AHEAD rows from the last one shown (the same
        row asked twice, by the cursor and by the scroll it causes, adds one page, not two)."""
        want = min(len(self._reasons), -(-(row + PAGE_AHEAD + 1) // PAGE) * PAGE)
        if want > self.row_count:
            self._add_rows(want - self.row_count)

    def refresh_marks(self, selection: Selection) -> None:
        self._selection = selection
        if self._model is None:
            return
        for i in range(self.row_count):
            self.update_cell(str(i), "mark", _mark(selection.is_selected(self._model.key_of(self._reasons[i]))))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # scrolled (by the mouse wheel, say) to near the last row shown: the next page
        if self.row_count < len(self._reasons):
            self.call_later(self._show_through, int(new_value) + self.size.height)

    def action_scroll_bottom(self) -> None:
        self._add_rows(len(self._reasons))  # the last row of the group, not of the page shown
        super().action_scroll_bottom()

    def refresh_highlighted_mark(self, selection: Selection) -> None:
        r = self.highlighted_reason
        if r is not None and self._model is not None:
            self.update_cell(str(self.cursor_row), "mark", _mark(selection.is_selected(self._model.key_of(r))))

    @property
    def highlighted_reason(self) -> SampleReason | None:
        row = self.cursor_row
        return self._reasons[row] if 0 <= row < min(self.row_count, len(self._reasons)) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_through(event.cursor_row)
        self.post_message(self.SampleHighlighted(self.highlighted_reason))
