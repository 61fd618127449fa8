"""Between polars frames and PostgreSQL columns: rows to COPY in, column expressions to read out.

User columns keep their types in PostgreSQL (text, bigint, double precision, boolean,
timestamp, date, bytea); a column whose type changed between feature versions is text there
(layout.py) and is cast back to each version's type when read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

from ...columns import ColumnType, PolarsType
from ...definition import FeatureDefinition
from ...errors import InputError, InputProblem
from ..payload import version_exprs
from .layout import PG_TYPES, ident, q

if TYPE_CHECKING:
    from .connection import PgConnection

COPY_CHUNK = 1 << 20


def payload(rows: pl.DataFrame, definition: FeatureDefinition, fields: list[str]) -> pl.DataFrame:
    """The stored columns of validated rows (user columns, provenance and data version by field,
    provenance, data version, materialization id), as write_metadata stores them."""
    exprs: list[pl.Expr] = [pl.col(c) for c in definition.columns]
    exprs += version_exprs(rows, fields)
    return rows.select(exprs)


def check_text(frame: pl.DataFrame, feature: str) -> None:
    """PostgreSQL text cannot hold NUL characters: refuse them by column and row, before writing."""
    problems = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            bad = frame.get_column(name).str.contains("\x00", literal=True).fill_null(False)
            if bad.any():
                row = int(bad.arg_max() or 0)
                problems.append(InputProblem("text with a NUL character cannot be stored in PostgreSQL", name, row))
    if problems:
        raise InputError(feature, problems)


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as COPY ... (FORMAT csv) reads it: NULL unquoted empty, "" the empty string."""
    exprs = []
    for name, dtype in frame.schema.items():
        c = pl.col(name)
        if dtype == pl.Binary:
            exprs.append(pl.concat_str([pl.lit("\\x"), c.bin.encode("hex")]).alias(name))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(c.dt.strftime("%Y-%m-%d %H:%M:%S%.6f").alias(name))
        elif dtype == pl.Date:
            exprs.append(c.dt.strftime("%Y-%m-%d").alias(name))
        elif dtype.is_float():
            # polars writes the shortest text that reads back as the same double
            exprs.append(c)
        else:
            exprs.append(c)
    return frame.select(exprs).write_csv(include_header=False, null_value="", quote_style="necessary").encode()


def copy_in(
    conn: PgConnection,
    table: str,
    columns: list[str],
    frame: pl.DataFrame,
    progress: Callable[[int, int], None] | None = None,
    total: int = 0,
) -> None:
    """COPY `frame` (columns in the order of `columns`) into `table`, a megabyte at a time."""
    if frame.height == 0:
        return
    cols = ", ".join(q(c) for c in columns)
    step = max(1, min(frame.height, 100_000))
    with conn.cursor().copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)") as cp:
        for start in range(0, frame.height, step):
            data = csv_bytes(frame.slice(start, step))
            for pos in range(0, len(data), COPY_CHUNK):
                cp.write(data[pos : pos + COPY_CHUNK])
            if progress is not None:
                progress(min(start + step, frame.height), total or frame.height)


def column_expr(name: str, t: ColumnType | None, stored: dict[str, str], alias: str = "") -> str:
    """A user column as the definition types it: NULL when the table lacks it, cast back from text
    when a change of type made it text."""
    a = f"{alias}." if alias else ""
    pg = stored.get(ident(name))
    if pg is None:
        return f"NULL::{_bare(PG_TYPES[t.name]) if t else 'text'}"
    if t is None:
        return f"{a}{q(name)}"
    want = _bare(PG_TYPES[t.name])
    if _bare(pg) == "text" and want != "text":
        return f"({a}{q(name)})::{want}"
    return f"{a}{q(name)}"


def text_expr(name: str, stored: dict[str, str], alias: str = "") -> str:
    """A system text column (provenance, data version by field): NULL when the table lacks it."""
    a = f"{alias}." if alias else ""
    return f"{a}{q(name)}" if ident(name) in stored else "NULL::text"


def _bare(pg: str) -> str:
    base = pg.split(" COLLATE")[0].strip().lower()
    return {"timestamp without time zone": "timestamp"}.get(base, base)


def polars_type(t: ColumnType) -> PolarsType:
    return t.polars
