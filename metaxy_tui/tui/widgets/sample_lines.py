"""Drawing one line of the samples table: its cells (the header, a row, a placeholder for a row
whose page is still being fetched) and the line made of them, the pinned columns, a "│", then the
others scrolled sideways, cut to the width; the styles it names, resolved from the table's."""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from ...service.samples import SampleView
from .sample_columns import GAP

Cell = tuple[str, str]  # (text, kind): kind "" or a style name (sorted, null, placeholder)


def line_styles(base: Style, component: Callable[[str], Style]) -> dict[str, Style]:
    """Every style a line names, from the table's style and its component classes' (`component`)."""
    row = base + component("sample-table--cursor-row")
    return {
        "base": base,
        "cursor_row": row,
        "null": base + component("sample-table--null"),
        "placeholder": base + component("sample-table--placeholder"),
        "cursor_row_null": row + component("sample-table--null"),
        "cursor_row_placeholder": row + component("sample-table--placeholder"),
        "sorted": base + component("sample-table--header-sorted"),
        "header": base + component("sample-table--header"),
        "cursor": base + component("sample-table--cursor"),
        "pinned": base + component("sample-table--pinned"),
        "cursor_row_pinned": row + component("sample-table--pinned"),
        "note": base + component("sample-table--note"),
    }


def header_cells(view: SampleView) -> list[Cell]:
    """The column names, the sorted one with its direction."""
    spec = view.spec
    cells = []
    for c in view.columns:
        if spec.sort == c.name:
            cells.append((f"{c.name} {'▼' if spec.descending else '▲'}", "sorted"))
        else:
            cells.append((c.name, ""))
    return cells


def row_cells(view: SampleView, values: tuple) -> list[Cell]:
    """A row's cells: a missing id or user value reads "null"."""
    cells = []
    for i, c in enumerate(view.columns):
        raw = values[1 + i]
        cells.append(("null", "null") if raw is None and c.kind in ("id", "user") else (view.cell_text(values, i), ""))
    return cells


def placeholder_cells(view: SampleView) -> list[Cell]:
    return [("…", "placeholder")] + [("", "placeholder")] * (len(view.columns) - 1)


def draw_line(
    cells: list[Cell],
    widths: list[int],
    pinned: int,
    styles: dict[str, Style],
    width: int,
    scroll_x: int,
    *,
    header: bool = False,
    cursor_row: bool = False,
    cursor_column: int = 0,
) -> Strip:
    """One line: the pinned columns, then the others scrolled sideways by `scroll_x`. On the cursor's
    row (`cursor_row`), the cell of `cursor_column` takes the cursor's style."""
    is_cursor_row = cursor_row and not header
    prefix = "cursor_row_" if is_cursor_row else ""
    row_style = styles["cursor_row"] if is_cursor_row else styles["base"]
    header_style = styles["header"]
    cursor_style = styles["cursor"]

    def segments(indices: range) -> list[Segment]:
        out: list[Segment] = []
        for i in indices:
            text, kind = cells[i]
            w = widths[i]
            shown = text if len(text) <= w else text[: max(w - 1, 0)] + "…"
            if header:
                style = styles["sorted"] if kind == "sorted" else header_style
            elif is_cursor_row and i == cursor_column:
                style = cursor_style
            elif kind:
                style = styles[prefix + kind]
            elif i < pinned:
                style = styles[prefix + "pinned"]
            else:
                style = row_style
            out.append(Segment(" " * GAP, header_style if header else row_style))
            out.append(Segment(shown.ljust(w), style))
        return out

    n = len(cells)
    left = Strip(segments(range(pinned)))
    if pinned:
        left = Strip.join([left, Strip([Segment("│", header_style if header else row_style)])])
    rest = Strip(segments(range(pinned, n)))
    visible = max(width - left.cell_length, 0)
    rest = rest.crop(scroll_x, scroll_x + visible)
    return Strip.join([left, rest]).extend_cell_length(width, header_style if header else row_style).crop(0, width)
