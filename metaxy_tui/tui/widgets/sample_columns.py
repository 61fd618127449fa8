"""How the samples table lays out its columns: widths (from the headers and one page of rows,
capped by kind), the id columns pinned on the left while they take at most half the width,
which column a position falls in, and how far to scroll sideways to show a column whole.
Functions of the widths and the view; no Textual."""

from __future__ import annotations

from ...service.samples import SampleView

WIDTH_CAPS = {
    "id": 32,
    "user": 32,
    "provenance": 20,
    "field_provenance": 20,
    "data_version": 20,
    "feature_version": 8,
    "created": 19,
    "updated": 19,
}
MIN_WIDTH = 4
GAP = 1


def measure(view: SampleView, rows: list[tuple]) -> list[int]:
    """Column widths from the headers and `rows`, capped by kind."""
    widths = []
    for i, c in enumerate(view.columns):
        longest = max((len(view.cell_text(r, i)) for r in rows), default=0)
        cap = WIDTH_CAPS.get(c.kind, 24)
        widths.append(max(MIN_WIDTH, len(c.name) + 2, min(longest, cap)))
    return widths


def pinned_columns(view: SampleView, widths: list[int], width: int) -> int:
    """How many leading columns (the ids) stay put when scrolling sideways in `width` cells."""
    n = sum(1 for c in view.columns if c.kind == "id")
    pinned = sum(widths[:n]) + GAP * n + 1
    return n if pinned <= width // 2 else 0


def pinned_width(widths: list[int], pinned: int) -> int:
    """The cells the pinned columns take, with the "│" after them."""
    return sum(w + GAP for w in widths[:pinned]) + (1 if pinned else 0)


def total_width(widths: list[int], pinned: int) -> int:
    return sum(widths) + GAP * len(widths) + (1 if pinned else 0)


def column_at(widths: list[int], pinned: int, x: int, scroll_x: int) -> int | None:
    """The column under `x` (a position on the screen line), scrolled by `scroll_x`."""
    fixed = pinned_width(widths, pinned)
    position = x if x < fixed else x - fixed + scroll_x
    columns = range(pinned) if x < fixed else range(pinned, len(widths))
    start = 0
    for i in columns:
        end = start + widths[i] + GAP
        if start <= position < end:
            return i
        start = end
    return None


def scroll_x_for(widths: list[int], pinned: int, column: int, scroll_x: int, width: int) -> int:
    """The sideways scroll that shows `column` whole, moving by whole columns so that no header is
    cut on the left; `scroll_x` when it shows already (or the column is pinned)."""
    if column < pinned or not widths:
        return scroll_x
    starts = [0]
    for w in widths[pinned:]:
        starts.append(starts[-1] + w + GAP)
    start = starts[column - pinned]
    end = starts[column - pinned + 1]
    visible = width - pinned_width(widths, pinned)
    if start < scroll_x:
        return start
    if end > scroll_x + visible:
        return next((s for s in starts if s >= end - visible), start)
    return scroll_x
