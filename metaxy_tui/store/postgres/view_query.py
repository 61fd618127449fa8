"""PostgreSQL's SQL of a samples view: the columns' expressions (typed values that sort, values
as the SQLite store holds them, the text a filter matches as SQLite's LIKE sees it) and
`PostgresViewQuery`, the view's select list, WHERE and ORDER BY on a feature table
(store/view_query.py holds what the dialects share).

Sorts put NULLs first ascending and last descending, and a filter matches ASCII
case-insensitively, as on SQLite: the same pages on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...columns import DATA_VERSION, DELETED_AT, PROVENANCE
from ..pages import SampleColumn, ViewSpec
from ..view_query import ViewQuery, filter_sql, like_pattern, view_order
from .codec import column_expr
from .layout import FV, SUPERSEDED, ident, q
from .stored_values import handle_sql, stored_value_sql

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_LOWER = str.maketrans(_UPPER, _UPPER.lower())


def _present(column: SampleColumn, present: dict[str, str]) -> bool:
    return ident(column.source) in present


def sort_sql(column: SampleColumn, present: dict[str, str], alias: str = "t") -> str:
    """The column's typed value (what sorts): NULL when its table lacks it; a data version falls
    back to the provenance."""
    a = f"{alias}."
    if column.kind in ("id", "user"):
        return column_expr(column.source, column.type, present, alias)
    if not _present(column, present):
        return "NULL"
    if column.kind == "data_version":
        return f"coalesce({a}{q(DATA_VERSION)}, {a}{q(PROVENANCE)})"
    return f"{a}{q(column.source)}"


def column_sql(column: SampleColumn, present: dict[str, str], alias: str = "t") -> str:
    """The column's value as the SQLite store holds it (what rows carry)."""
    expr = sort_sql(column, present, alias)
    if column.kind in ("id", "user") and column.type is not None:
        return stored_value_sql(expr, column.type.name)
    return expr


def match_sql(column: SampleColumn, present: dict[str, str], alias: str = "t") -> str:
    """The text a filter matches, as SQLite's LIKE sees the stored value: times as shown (UTC),
    booleans 0/1, floats with a '.' (1.0, 1.0e+20), everything else as stored."""
    expr = sort_sql(column, present, alias)
    if expr == "NULL" or expr.startswith("NULL::"):
        return "NULL::text"
    if column.is_time:
        return f"to_char(to_timestamp({expr} / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
    name = column.type.name if column.kind in ("id", "user") and column.type is not None else None
    if name in ("datetime", "date"):
        return stored_value_sql(expr, name)
    if name == "bool":
        return f"CASE WHEN {expr} THEN '1' WHEN NOT {expr} THEN '0' END"
    if name == "float":
        # SQLite writes a float with a '.' in its mantissa (1.0, 1.0e+20); digits as PostgreSQL's
        # shortest text (SQLite keeps 15: 0.1 + 0.2 is 0.3 there, 0.30000000000000004 here)
        return f"regexp_replace(({expr})::text, '^(-?[0-9]+)(e.*)?$', '\\1.0\\2')"
    if name == "bytes":
        return f"encode({expr}, 'escape')"
    if name == "str":
        return expr
    return f"({expr})::text"


def _like_pattern(text: str) -> str:
    return like_pattern(text).translate(_ASCII_LOWER)


def _ascii_lower(expr: str) -> str:
    return f"translate({expr}, '{_UPPER}', '{_UPPER.lower()}')"


class PostgresViewQuery(ViewQuery):
    """A view's SQL on a PostgreSQL feature table; rows start with the row handle (stored_values.py)."""

    def quoted_table(self) -> str:
        return q(self.table)

    @classmethod
    def build(
        cls,
        spec: ViewSpec,
        columns: Sequence[SampleColumn],
        id_columns: Sequence[str],
        table: str,
        fv_id: int,
        present: dict[str, str],
    ) -> "PostgresViewQuery":
        select = [handle_sql("t")] + [column_sql(c, present, "t") for c in columns]

        def like(c: SampleColumn) -> str | None:
            if not _present(c, present):
                return None
            return f"{_ascii_lower(match_sql(c, present, 't'))} LIKE %s ESCAPE '\\'"

        matching, filter_params = filter_sql(spec, columns, like, _like_pattern, " AND false")
        where = f"t.{q(FV)} = %s AND t.{q(SUPERSEDED)} IS NULL AND t.{q(DELETED_AT)} IS NULL" + matching
        params: list[Any] = [fv_id, *filter_params]
        by_name = {c.name: c for c in columns}
        ids = [sort_sql(by_name[c], present, "t") if c in by_name else f"t.{q(c)}" for c in id_columns]

        def sort_terms(name: str) -> tuple[str, str]:
            expr = sort_sql(by_name[name], present, "t")
            # SQLite's NULL order: first ascending, last descending
            return f"{expr} ASC NULLS FIRST", f"{expr} DESC NULLS LAST"

        order, reverse, descending = view_order(spec, id_columns, ids, sort_terms)
        return cls(table, select, where, params, order, reverse, descending)
