"""The review's sample list: the samples of one reason group (key and summary), capped.

A DataTable measures every row, so only the first SHOWN_MAX samples of a group are shown;
selecting the group (g) or everything (A) still covers all of them.
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
        self._reasons: list[SampleReason] = []
        self._model: ReviewModel | None = None

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
        for i, r in enumerate(reasons):
            cells = [_mark(selection.is_selected(model.key_of(r)))]
            cells += [Text(k, style=style) for k in keys[i]]
            cells.append(Text(summaries[i]))
            self.add_row(*cells, key=str(i))
        if group is None:
            self.border_title, self.border_subtitle = "samples", ""
            return
        n = len(group.reasons)
        self.border_title = f"{group.status} · {n:,} sample{'s' if n != 1 else ''}"
        self.border_subtitle = f"showing first {SHOWN_MAX:,} of {n:,}" if n > SHOWN_MAX else ""
        if reasons:
            self.move_cursor(row=0)
        self.post_message(self.SampleHighlighted(self.highlighted_reason))

    def refresh_marks(self, selection: Selection) -> None:
        if self._model is None:
            return
        for i, r in enumerate(self._reasons):
            self.update_cell(str(i), "mark", _mark(selection.is_selected(self._model.key_of(r))))

    def refresh_highlighted_mark(self, selection: Selection) -> None:
        r = self.highlighted_reason
        if r is not None and self._model is not None:
            self.update_cell(str(self.cursor_row), "mark", _mark(selection.is_selected(self._model.key_of(r))))

    @property
    def highlighted_reason(self) -> SampleReason | None:
        row = self.cursor_row
        return self._reasons[row] if self._reasons and 0 <= row < len(self._reasons) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.SampleHighlighted(self.highlighted_reason))
