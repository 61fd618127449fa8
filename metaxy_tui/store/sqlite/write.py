"""Storing validated rows: the insert, and the superseding of earlier rows of the same ids.

Runs inside the store's write transaction. When the feature has no latest rows yet under
this feature version (the bulk first load) rows go straight into the table; otherwise they
are staged in a temporary table so that earlier rows can be marked superseded with one
set-based UPDATE over the latest-row index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from ...columns import CREATED_AT, DATA_VERSION, DELETED_AT, MATERIALIZATION_ID, ColumnType, UPDATED_AT
from ...definition import FeatureDefinition
from ...keys import quote, quote_all
from ..payload import version_exprs
from .codec import columns_as_lists, encode_expr
from .chunks import ROWID, WRITE_ID, next_rowid
from .schema import FV, SUPERSEDED, WRITE

STAGE = "_mx_stage"
BATCH = 50_000


def row_exprs(
    rows: pl.DataFrame, definition: FeatureDefinition, fields: list[str], *, fv_id: int, write_id: int, now: int
) -> list[pl.Expr]:
    """Expressions giving, in table column order, every stored value of `rows`."""
    exprs: list[pl.Expr] = []
    for col, t in definition.columns.items():
        exprs.append(encode_expr(col, t).alias(col))
    exprs += version_exprs(rows, fields)
    exprs += [
        pl.lit(now).alias(CREATED_AT),
        pl.lit(now).alias(UPDATED_AT),
        pl.lit(None, pl.Int64).alias(DELETED_AT),
        pl.lit(fv_id).alias(FV),
        pl.lit(write_id).alias(WRITE),
        pl.lit(None, pl.Int64).alias(SUPERSEDED),
    ]
    return exprs


SYSTEM_ONLY = (CREATED_AT, UPDATED_AT, DELETED_AT, FV, WRITE, SUPERSEDED, DATA_VERSION, MATERIALIZATION_ID)


@dataclass
class Inserted:
    """What insert_rows stored: the rows as the columnar copy keeps them, and whether they are all
    the feature version's live rows now (nothing was live before)."""

    rows: pl.DataFrame  # payload columns (user, provenance and data versions by field, provenance), rowid, write
    fresh: bool

    @property
    def height(self) -> int:
        return self.rows.height


def _literal(value: int | None) -> str:
    return "NULL" if value is None else str(int(value))  # only integers and NULL are inlined


def insert_rows(
    conn: sqlite3.Connection,
    table: str,
    definition: FeatureDefinition,
    fields: list[str],
    rows: pl.DataFrame,
    *,
    fv_id: int,
    write_id: int,
    now: int,
    progress: Callable[[int, int], None] | None = None,
) -> Inserted:
    """Insert `rows` as the latest rows of their ids; earlier latest rows become history.

    Rowids are given explicitly (above any the table or its columnar copy ever used), so the
    copy can name each row. Values that are the same on every row (times, feature version,
    write, and columns that are all NULL) are written into the statement instead of being
    bound once per row: a third fewer bound values made the 1,000,000-row insert ~40% faster.
    """
    stored = rows.select(row_exprs(rows, definition, fields, fv_id=fv_id, write_id=write_id, now=now))
    cols = stored.columns
    constants: dict[str, int | None] = {
        CREATED_AT: now,
        UPDATED_AT: now,
        DELETED_AT: None,
        FV: fv_id,
        WRITE: write_id,
        SUPERSEDED: None,
    }
    constants.update(
        {
            c: None
            for c in cols
            if c not in constants and stored.height and stored.get_column(c).null_count() == stored.height
        }
    )
    varying = [c for c in cols if c not in constants]
    latest = f"{quote(FV)} = ? AND {quote(SUPERSEDED)} IS NULL"
    has_latest = conn.execute(f"SELECT 1 FROM {quote(table)} WHERE {latest} LIMIT 1", (fv_id,)).fetchone() is not None
    fresh = (
        not has_latest
        or conn.execute(
            f"SELECT 1 FROM {quote(table)} WHERE {latest} AND {quote(DELETED_AT)} IS NULL LIMIT 1", (fv_id,)
        ).fetchone()
        is None
    )
    base = next_rowid(conn, table)
    target = quote(table)
    if has_latest:
        conn.execute(f"DROP TABLE IF EXISTS temp.{STAGE}")
        conn.execute(f"CREATE TEMP TABLE {STAGE} AS SELECT {quote_all(cols)} FROM {target} WHERE 0")
        target = f"temp.{STAGE}"
    values = ", ".join(["?"] * (1 + len(varying)) + [_literal(constants[c]) for c in cols if c in constants])
    sql = f"INSERT INTO {target} (rowid, {quote_all(varying + [c for c in cols if c in constants])}) VALUES ({values})"
    done = 0
    for start in range(0, stored.height, BATCH):
        chunk = stored.slice(start, BATCH).select(varying)
        conn.executemany(sql, zip(range(base + start, base + start + chunk.height), *columns_as_lists(chunk)))
        done += chunk.height
        if progress is not None:
            progress(done, stored.height)
    if progress is not None:
        progress(stored.height, stored.height)  # a last chance to cancel before superseding and commit
    if has_latest:
        ids = definition.id_columns
        match = " AND ".join(f"m.{quote(c)} = s.{quote(c)}" for c in ids)
        latest_m = f"m.{quote(FV)} = ? AND m.{quote(SUPERSEDED)} IS NULL"
        # an id keeps the time it was first stored under this feature version
        conn.execute(
            f"UPDATE temp.{STAGE} AS s SET {quote(CREATED_AT)} = m.{quote(CREATED_AT)} "
            f"FROM {quote(table)} AS m WHERE {latest_m} AND {match}",
            (fv_id,),
        )
        conn.execute(
            f"UPDATE {quote(table)} SET {quote(SUPERSEDED)} = ? WHERE rowid IN ("
            f"SELECT m.rowid FROM temp.{STAGE} AS s JOIN {quote(table)} AS m ON {latest_m} AND {match})",
            (write_id, fv_id),
        )
        conn.execute(
            f"INSERT INTO {quote(table)} (rowid, {quote_all(cols)}) SELECT rowid, {quote_all(cols)} FROM temp.{STAGE}"
        )
        conn.execute(f"DROP TABLE temp.{STAGE}")
    payload = [c for c in cols if c not in SYSTEM_ONLY]
    copy = stored.select(payload).with_columns(
        pl.int_range(base, base + stored.height, dtype=pl.Int64).alias(ROWID),
        pl.lit(write_id, pl.Int64).alias(WRITE_ID),
    )
    return Inserted(copy, fresh)


def stage_ids(conn: sqlite3.Connection, ids: pl.DataFrame, types: dict[str, ColumnType]) -> str:
    """Put id tuples (the columns of `types`, encoded as the table stores them) in a temporary
    table; returns its name."""
    name = "_mx_ids"
    columns = list(types)
    conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
    conn.execute(f"CREATE TEMP TABLE {name} ({quote_all(columns)})")
    encoded = ids.select([encode_expr(c, t).alias(c) for c, t in types.items()])
    conn.executemany(
        f"INSERT INTO temp.{name} VALUES ({', '.join('?' * len(columns))})", zip(*columns_as_lists(encoded))
    )
    return f"temp.{name}"


def match_ids(alias: str, staged: str, columns: tuple[str, ...]) -> str:
    cond = " AND ".join(f"i.{quote(c)} = {alias}.{quote(c)}" for c in columns)
    return f"EXISTS (SELECT 1 FROM {staged} AS i WHERE {cond})"
