"""Storing validated rows: the insert, and the superseding of earlier rows of the same ids.

Runs inside the store's write transaction. When the feature has no latest rows yet under
this feature version (the bulk first load) rows go straight into the table; otherwise they
are staged in a temporary table so that earlier rows can be marked superseded with one
set-based UPDATE over the latest-row index.
"""

from __future__ import annotations

import sqlite3

import polars as pl

from ..columns import (CREATED_AT, DATA_VERSION, DATA_VERSION_BY_FIELD, DELETED_AT, MATERIALIZATION_ID,
                       ColumnType, PROVENANCE, PROVENANCE_BY_FIELD, UPDATED_AT, dvbf_column, pbf_column)
from ..definition import FeatureDefinition
from ..keys import quote, quote_all
from .codec import columns_as_lists, encode_expr
from .schema import FV, SUPERSEDED, WRITE

STAGE = "_mx_stage"
BATCH = 50_000


def row_exprs(rows: pl.DataFrame, definition: FeatureDefinition, fields: list[str], *, fv_id: int,
              write_id: int, now: int) -> list[pl.Expr]:
    """Expressions giving, in table column order, every stored value of `rows`."""
    exprs: list[pl.Expr] = []
    for col, t in definition.columns.items():
        exprs.append(encode_expr(col, t).alias(col))
    for f in fields:
        exprs.append(pl.col(PROVENANCE_BY_FIELD).struct.field(f).alias(pbf_column(f)))
    has_dvbf = DATA_VERSION_BY_FIELD in rows.columns
    for f in fields:
        if has_dvbf:
            dv = pl.col(DATA_VERSION_BY_FIELD).struct.field(f)
            pv = pl.col(PROVENANCE_BY_FIELD).struct.field(f)
            # stored only where it differs from the provenance: NULL means "the same"
            exprs.append(pl.when(dv != pv).then(dv).otherwise(None).alias(dvbf_column(f)))
        else:
            exprs.append(pl.lit(None, pl.String).alias(dvbf_column(f)))
    exprs.append(pl.col(PROVENANCE))
    if DATA_VERSION in rows.columns:
        exprs.append(pl.when(pl.col(DATA_VERSION) != pl.col(PROVENANCE)).then(pl.col(DATA_VERSION))
                     .otherwise(None).alias(DATA_VERSION))
    else:
        exprs.append(pl.lit(None, pl.String).alias(DATA_VERSION))
    exprs.append(pl.col(MATERIALIZATION_ID) if MATERIALIZATION_ID in rows.columns
                 else pl.lit(None, pl.String).alias(MATERIALIZATION_ID))
    exprs += [pl.lit(now).alias(CREATED_AT), pl.lit(now).alias(UPDATED_AT), pl.lit(None, pl.Int64).alias(DELETED_AT),
              pl.lit(fv_id).alias(FV), pl.lit(write_id).alias(WRITE), pl.lit(None, pl.Int64).alias(SUPERSEDED)]
    return exprs


def insert_rows(conn: sqlite3.Connection, table: str, definition: FeatureDefinition, fields: list[str],
                rows: pl.DataFrame, *, fv_id: int, write_id: int, now: int, progress=None) -> int:
    """Insert `rows` as the latest rows of their ids; earlier latest rows become history."""
    stored = rows.select(row_exprs(rows, definition, fields, fv_id=fv_id, write_id=write_id, now=now))
    cols = stored.columns
    has_latest = conn.execute(
        f"SELECT 1 FROM {quote(table)} WHERE {quote(FV)} = ? AND {quote(SUPERSEDED)} IS NULL LIMIT 1",
        (fv_id,)).fetchone() is not None
    target = quote(table)
    if has_latest:
        conn.execute(f"DROP TABLE IF EXISTS temp.{STAGE}")
        conn.execute(f"CREATE TEMP TABLE {STAGE} AS SELECT {quote_all(cols)} FROM {target} WHERE 0")
        target = f"temp.{STAGE}"
    sql = f"INSERT INTO {target} ({quote_all(cols)}) VALUES ({', '.join('?' * len(cols))})"
    done = 0
    for start in range(0, stored.height, BATCH):
        chunk = stored.slice(start, BATCH)
        conn.executemany(sql, zip(*columns_as_lists(chunk)))
        done += chunk.height
        if progress is not None:
            progress(done, stored.height)
    if progress is not None:
        progress(stored.height, stored.height)  # a last chance to cancel before superseding and commit
    if has_latest:
        ids = definition.id_columns
        match = " AND ".join(f"m.{quote(c)} = s.{quote(c)}" for c in ids)
        latest = f"m.{quote(FV)} = ? AND m.{quote(SUPERSEDED)} IS NULL"
        # an id keeps the time it was first stored under this feature version
        conn.execute(f"UPDATE temp.{STAGE} AS s SET {quote(CREATED_AT)} = m.{quote(CREATED_AT)} "
                     f"FROM {quote(table)} AS m WHERE {latest} AND {match}", (fv_id,))
        conn.execute(f"UPDATE {quote(table)} SET {quote(SUPERSEDED)} = ? WHERE rowid IN ("
                     f"SELECT m.rowid FROM temp.{STAGE} AS s JOIN {quote(table)} AS m ON {latest} AND {match})",
                     (write_id, fv_id))
        conn.execute(f"INSERT INTO {quote(table)} ({quote_all(cols)}) SELECT {quote_all(cols)} FROM temp.{STAGE}")
        conn.execute(f"DROP TABLE temp.{STAGE}")
    return stored.height


def stage_ids(conn: sqlite3.Connection, ids: pl.DataFrame, types: dict[str, ColumnType]) -> str:
    """Put id tuples (the columns of `types`, encoded as the table stores them) in a temporary
    table; returns its name."""
    name = "_mx_ids"
    columns = list(types)
    conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
    conn.execute(f"CREATE TEMP TABLE {name} ({quote_all(columns)})")
    encoded = ids.select([encode_expr(c, t).alias(c) for c, t in types.items()])
    conn.executemany(f"INSERT INTO temp.{name} VALUES ({', '.join('?' * len(columns))})",
                     zip(*columns_as_lists(encoded)))
    return f"temp.{name}"


def match_ids(alias: str, staged: str, columns: tuple[str, ...]) -> str:
    cond = " AND ".join(f"i.{quote(c)} = {alias}.{quote(c)}" for c in columns)
    return f"EXISTS (SELECT 1 FROM {staged} AS i WHERE {cond})"
