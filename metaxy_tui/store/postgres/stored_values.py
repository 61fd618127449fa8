"""How PostgreSQL's sample pages hand rows over: a row's handle (`write id << 32 | its position
in the write`: it stays the same when the row is superseded, a ctid would not), values as the
SQLite store holds them (datetimes as ISO text, dates as `YYYY-MM-DD`, booleans as 0/1), and
values bound to a column's type.
"""

from __future__ import annotations

from typing import Any

from ...columns import ColumnType
from .codec import _bare
from .layout import PG_TYPES, ROW, WRITE, q

HANDLE_SHIFT = 32


def handle_sql(alias: str = "t") -> str:
    return f"({alias}.{q(WRITE)} << {HANDLE_SHIFT}) | {alias}.{q(ROW)}"


def split_handle(handle: int) -> tuple[int, int]:
    return int(handle) >> HANDLE_SHIFT, int(handle) & ((1 << HANDLE_SHIFT) - 1)


def stored_value_sql(expr: str, type_name: str | None) -> str:
    """`expr` (of a definition type) as the SQLite store holds the value."""
    if type_name == "datetime":
        return f"to_char({expr}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    if type_name == "date":
        return f"to_char({expr}, 'YYYY-MM-DD')"
    if type_name == "bool":
        return f"CASE WHEN {expr} THEN 1 WHEN NOT {expr} THEN 0 END"
    return expr


def _pg_type_name(pg: str) -> str | None:
    """The definition type name a stored PostgreSQL column type reads as (None: as it is)."""
    return {"timestamp": "datetime", "date": "date", "boolean": "bool"}.get(_bare(pg))


def bind(value: Any, t: ColumnType | None) -> Any:
    """A value (as rows or callers give it) ready to bind as `%s::<the column's type>`."""
    if value is None or t is None:
        return value
    if t.name == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "t", "yes")
        return bool(value)
    if t.name == "bytes" and isinstance(value, memoryview):
        return bytes(value)
    return value


def cast(t: ColumnType | None) -> str:
    return f"%s::{_bare(PG_TYPES[t.name])}" if t is not None else "%s"
