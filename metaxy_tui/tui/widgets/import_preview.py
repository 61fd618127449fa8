"""The preview of a file being imported: its first rows (and the rows problems name), as the file has them.

Each header shows the file column over what it maps to; cells, rows and columns with a
problem are marked, and `show_problem` puts the cursor on one.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ...errors import InputProblem
from ...service.importer import ImportPlan

STATUS_STYLE = {"added": "green", "changed": "yellow", "unchanged": "dim"}
PROBLEM_STYLE = "bold white on dark_red"
MAX_CELL = 40
STATUS_KEY = "__import_status"


def short_target(target: str) -> str:
    return target.replace("metaxy_provenance_by_field", "provenance").replace(
        "metaxy_data_version_by_field", "data version"
    )


def header(column: str, plan: ImportPlan, bad: bool) -> Text:
    state = plan.column_states.get(column, "unknown")
    target = plan.mapping.get(column)
    text = Text(column, style="bold red" if bad else "bold")
    text.append("\n")
    if state == "unknown":
        text.append("✗ unknown", style="bold red")
    elif state == "ignored" or target is None:
        text.append("· not imported", style="dim")
    elif state == "extra":
        text.append("+ kept as is", style="yellow")
    else:
        text.append(f"→ {short_target(target)}", style="cyan" if state == "provenance" else "green")
    return text


def cell(value: str | None, bad: bool) -> Text:
    if value is None:
        return Text("∅", style=PROBLEM_STYLE if bad else "dim")
    shown = value if len(value) <= MAX_CELL else value[: MAX_CELL - 1] + "…"
    return Text(shown, style=PROBLEM_STYLE if bad else "", no_wrap=True)


class ImportPreview(DataTable):
    """At most PREVIEW_ROWS (+ problem rows) rows: Textual's DataTable is fine at this size."""

    DEFAULT_CSS = """
    ImportPreview { height: 1fr; border: round $panel; }
    ImportPreview:focus { border: round $accent; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=True, header_height=2, **kwargs)
        self._columns: list[str] = []
        self._rows: list[int] = []

    def show_plan(self, plan: ImportPlan) -> None:
        self.clear(columns=True)
        self._columns = list(plan.columns)
        self._rows = list(plan.preview_rows)
        bad_cells = {(p.row, p.column) for p in plan.problems if p.row is not None and p.column is not None}
        bad_rows = {p.row for p in plan.problems if p.row is not None and p.column is None}
        bad_columns = {p.column for p in plan.problems if p.row is None and p.column is not None}
        bad_columns |= {c for c in plan.columns if plan.column_states.get(c) == "unknown"}
        self.add_column(Text("import\n", style="bold"), key=STATUS_KEY)
        for col in plan.columns:
            self.add_column(header(col, plan, col in bad_columns), key=col)
        for r, values, status in zip(plan.preview_rows, plan.preview_cells, plan.preview_status):
            first = Text(status or "", style=STATUS_STYLE.get(status or "", ""))
            cells = [cell(v, (r, col) in bad_cells) for col, v in zip(plan.columns, values)]
            label = Text(str(r + 1), style="bold red" if r in bad_rows or any(k[0] == r for k in bad_cells) else "dim")
            self.add_row(first, *cells, key=str(r), label=label)
        if self._rows:
            self.move_cursor(row=0, column=1 if self._columns else 0, animate=False)

    # Textual moves a scrollbar's thumb only while the scrollbar is shown: scrolled before it
    # appears (the cursor put on a problem in a far column as the table is first laid out), the
    # thumb would start at 0 while the view is scrolled; place it when the scrollbar appears
    def watch_show_horizontal_scrollbar(self, shown: bool) -> None:
        if shown:
            self.horizontal_scrollbar.position = self.scroll_x

    def watch_show_vertical_scrollbar(self, shown: bool) -> None:
        if shown:
            self.vertical_scrollbar.position = self.scroll_y

    def show_problem(self, problem: InputProblem) -> bool:
        """Put the cursor on the problem's cell (or row, or column); False when it is not shown."""
        col = self._columns.index(problem.column) + 1 if problem.column in self._columns else None
        row = self._rows.index(problem.row) if problem.row in self._rows else None
        if col is None and row is None:
            return False
        self.move_cursor(
            row=row if row is not None else self.cursor_row, column=col if col is not None else self.cursor_column
        )
        return True

    @property
    def current_column(self) -> str | None:
        """The file column under the cursor."""
        i = self.cursor_column - 1
        return self._columns[i] if 0 <= i < len(self._columns) else None
