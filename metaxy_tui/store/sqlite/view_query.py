"""SQLite's SQL of a samples view: the columns' expressions (values as stored, the text a filter
matches) and `SQLiteViewQuery`, the view's select list, WHERE and ORDER BY on a feature table
(store/view_query.py holds what the dialects share).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...columns import DATA_VERSION, PROVENANCE
from ...keys import quote
from ..pages import SampleColumn, ViewSpec
from ..view_query import ViewQuery, filter_sql, like_pattern, view_order
from .resolve import latest_condition


def column_sql(column: SampleColumn, present: set[str], alias: str = "") -> str:
    """The column's value (NULL when its table lacks it; a data version falls back to the provenance)."""
    a = f"{alias}." if alias else ""
    if column.source not in present:
        return "NULL"
    if column.kind == "data_version":
        return f"coalesce({a}{quote(DATA_VERSION)}, {a}{quote(PROVENANCE)})"
    return f"{a}{quote(column.source)}"


def match_sql(column: SampleColumn, present: set[str], alias: str = "") -> str:
    """The text a filter matches: times as shown (UTC), everything else as stored."""
    if column.is_time and column.source in present:
        return f"strftime('%Y-%m-%d %H:%M:%S', {column_sql(column, present, alias)} / 1000000, 'unixepoch')"
    return column_sql(column, present, alias)


class SQLiteViewQuery(ViewQuery):
    """A view's SQL on an SQLite feature table; rows start with the table's rowid."""

    def quoted_table(self) -> str:
        return quote(self.table)

    @classmethod
    def build(
        cls,
        spec: ViewSpec,
        columns: Sequence[SampleColumn],
        id_columns: Sequence[str],
        table: str,
        fv_id: int,
        present: set[str],
    ) -> "SQLiteViewQuery":
        select = ["t.rowid"] + [column_sql(c, present, "t") for c in columns]

        def like(c: SampleColumn) -> str | None:
            return f"{match_sql(c, present, 't')} LIKE ? ESCAPE '\\'" if c.source in present else None

        # current rows: one feature version (bound first), latest, not deleted
        matching, filter_params = filter_sql(spec, columns, like, like_pattern, " AND 0")
        where = latest_condition("t") + matching
        params: list[Any] = [fv_id, *filter_params]

        def sort_terms(name: str) -> tuple[str, str]:
            expr = column_sql(next(c for c in columns if c.name == name), present, "t")
            return f"{expr} ASC", f"{expr} DESC"

        ids = [f"t.{quote(c)}" for c in id_columns]
        order, reverse, descending = view_order(spec, id_columns, ids, sort_terms)
        return cls(table, select, where, params, order, reverse, descending)
