"""Keeping the columnar copy and the group digests in step with the rows.

Called by the store inside each write's and delete's own transaction, after the rows have
changed: whatever these derived tables hold is then exactly what the rows say, or (killed
mid-way) nothing changed at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import polars as pl

from ...columns import DELETED_AT, PROVENANCE, PolarsType
from ...definition import FeatureDefinition
from ...hashing import Hasher
from ...keys import quote, quote_all
from . import chunks, groups
from .codec import load_dtype
from .reader import Query, columnar_frame
from .schema import FV, SUPERSEDED
from .write import Inserted
from ...graph import GraphPlan

Orders = Sequence[tuple[Sequence[str], Sequence[str]]]  # (on columns, order columns) of the feature's table


def aggregation_orders(gp: GraphPlan, upstream: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """How the aggregations of downstream features group `upstream`: its `on` and id columns."""
    out = []
    for name in gp[upstream].downstream:
        d = gp[name].dep(upstream)
        if d.kind == "aggregation":
            pair = (tuple(d.columns[c] for c in d.on), tuple(d.columns[c] for c in d.upstream_ids))
            if pair not in out:
                out.append(pair)
    return out


def payload_types(conn: sqlite3.Connection, table: str, definition: FeatureDefinition) -> dict[str, PolarsType]:
    """The dtype of each column the copy keeps, as stored (dates as text, booleans as integers)."""
    out: dict[str, PolarsType] = {c: load_dtype(t) for c, t in definition.columns.items()}
    for c in copy_columns(conn, table):
        out.setdefault(c, pl.String)
    return out


def copy_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """Provenance and data-version columns of every field the table holds, and the provenance."""
    cols = [r[1] for r in conn.execute(f"PRAGMA table_info({quote(table)})")]
    return [c for c in cols if c.startswith(("metaxy_provenance_by_field.", "metaxy_data_version_by_field."))] + [
        PROVENANCE
    ]


def mirrorable(conn: sqlite3.Connection, table: str, definition: FeatureDefinition) -> bool:
    """False when a column was retyped (stored as BLOB, holding values of several types): such a
    table is read through SQL only."""
    declared = {r[1]: (r[2] or "").upper() for r in conn.execute(f"PRAGMA table_info({quote(table)})")}
    return not any(declared.get(c) == "BLOB" and t.name != "bytes" for c, t in definition.columns.items())


def _sql_live(conn: sqlite3.Connection, table: str, fv_id: int, types: dict[str, PolarsType]) -> pl.DataFrame:
    """The feature version's live rows read through SQL, with rowid and write id, as stored."""
    names = {chunks.ROWID: "rowid", chunks.WRITE_ID: "_mx_write"}
    select = ", ".join(f"{names.get(c, quote(c))} AS {quote(c)}" for c in types)
    sql = (
        f"SELECT {select} FROM {quote(table)} WHERE {quote(FV)} = ? AND {quote(SUPERSEDED)} IS NULL "
        f"AND {quote(DELETED_AT)} IS NULL ORDER BY rowid"
    )
    frame = columnar_frame(conn, Query(sql, [fv_id], types))
    # None only for a BLOB or a value not of the declared type, which a mirrorable table has not
    assert frame is not None, f"{table}: live rows not readable as their declared types"
    return frame


def after_insert(
    conn: sqlite3.Connection,
    table: str,
    definition: FeatureDefinition,
    fv_id: int,
    write_id: int,
    inserted: Inserted,
    hasher: Hasher,
    orders: Orders,
) -> None:
    """After a write inserted rows (and superseded earlier ones) under feature version `fv_id`."""
    for on, order in orders:
        groups.register(conn, table, on, order)
    if not mirrorable(conn, table, definition):
        chunks.drop(conn, table)
        groups.forget(conn, table)
        return
    types = payload_types(conn, table, definition) | {chunks.ROWID: pl.Int64, chunks.WRITE_ID: pl.Int64}
    all_live: pl.DataFrame | None = None  # when known here, every live row of the feature version
    if chunks.clean_as_of(conn, table, fv_id) is not None:
        chunks.append(conn, table, fv_id, inserted.rows)
        chunks.clean_if_needed(conn, table, fv_id, write_id)
    else:
        chunks.drop(conn, table, keep_fv=fv_id)
        chunks.start(conn, table, fv_id, write_id)
        # first rows of this feature version, or a store of an older layout: copy what is live
        all_live = inserted.rows if inserted.fresh else _sql_live(conn, table, fv_id, types)
        chunks.append(conn, table, fv_id, all_live)

    def members(columns: list[str]) -> pl.DataFrame:
        if all_live is not None:
            return all_live.select(columns)
        frame = chunks.read_live(conn, table, fv_id, columns, expected=types)
        return frame if frame is not None else _sql_live(conn, table, fv_id, {c: types[c] for c in columns})

    def touched(gset: groups.GroupSet) -> pl.DataFrame:
        on = list(gset.on)
        before = groups.superseded_groups(conn, table, fv_id, write_id, on)
        return pl.concat([inserted.rows.select(on), before], how="vertical_relaxed")

    groups.maintain(conn, table, fv_id, definition.field_keys, hasher, members, touched)


def before_delete(conn: sqlite3.Connection, table: str, condition: str) -> dict[int, pl.DataFrame]:
    """For a hard delete: per group set, the (feature version, `on`) of the live rows it removes."""
    out = {}
    for gset in groups.sets_of(conn, table):
        rows = conn.execute(
            f"SELECT DISTINCT {quote(FV)}, {quote_all(gset.on)} FROM {quote(table)} WHERE "
            f"{quote(SUPERSEDED)} IS NULL AND {quote(DELETED_AT)} IS NULL AND {condition}"
        ).fetchall()
        out[gset.id] = pl.DataFrame(rows, schema=[FV, *gset.on], orient="row", infer_schema_length=None)
    return out


def after_delete(
    conn: sqlite3.Connection,
    table: str,
    definition: FeatureDefinition,
    fv_id: int | None,
    write_id: int,
    hasher: Hasher,
    *,
    removed_rowids: pl.Series | None = None,
    removed_groups: dict[int, pl.DataFrame] | None = None,
) -> None:
    """After a soft delete (rows superseded by `write_id`) or a hard one (rows removed)."""
    if removed_rowids is not None:
        chunks.purge(conn, table, removed_rowids)
        touched_fvs: set[int] = set()
        for frame in (removed_groups or {}).values():
            touched_fvs |= set(frame.get_column(FV).to_list()) if frame.height else set()
    else:
        touched_fvs = {
            r[0]
            for r in conn.execute(
                f"SELECT DISTINCT {quote(FV)} FROM {quote(table)} WHERE {quote(SUPERSEDED)} = ?", (write_id,)
            )
        }
    others = [f for f in touched_fvs if f != fv_id]
    if others:
        groups.forget(conn, table, others)  # their definitions are not at hand: rebuilt by their next write
    if fv_id is None or fv_id not in touched_fvs:
        return
    if chunks.clean_as_of(conn, table, fv_id) is not None:
        chunks.clean_if_needed(conn, table, fv_id, write_id)
    types = payload_types(conn, table, definition) | {chunks.ROWID: pl.Int64, chunks.WRITE_ID: pl.Int64}

    def members(columns: list[str]) -> pl.DataFrame:
        frame = chunks.read_live(conn, table, fv_id, columns, expected=types)
        return frame if frame is not None else _sql_live(conn, table, fv_id, {c: types[c] for c in columns})

    def touched(gset: groups.GroupSet) -> pl.DataFrame:
        if removed_groups is not None:
            frame = removed_groups.get(gset.id)
            if frame is None or not frame.height:
                return pl.DataFrame(schema={c: pl.Null for c in gset.on})
            return frame.filter(pl.col(FV) == fv_id).drop(FV)
        return groups.superseded_groups(conn, table, fv_id, write_id, list(gset.on))

    groups.maintain(conn, table, fv_id, definition.field_keys, hasher, members, touched)


def check(conn: sqlite3.Connection, table: str, definition: FeatureDefinition, fv_id: int, hasher: Hasher) -> list[str]:
    """Differences between the derived tables and a recomputation from the rows (for tests)."""
    problems = []
    types = payload_types(conn, table, definition) | {chunks.ROWID: pl.Int64, chunks.WRITE_ID: pl.Int64}
    truth = _sql_live(conn, table, fv_id, types).sort(chunks.ROWID)
    copy = chunks.read_live(conn, table, fv_id, list(types), expected=types)
    if copy is not None:
        copy = copy.sort(chunks.ROWID)
        if not copy.equals(truth):
            problems.append(f"columnar copy of {table} (fv {fv_id}): {copy.height} rows, SQL has {truth.height}")
    fields = definition.field_keys
    for gset in groups.sets_of(conn, table):
        if not groups.is_complete(conn, gset, fv_id):
            continue
        names = [groups.digest_column(f) for f in fields]
        rows = truth.select(
            [pl.col(c) for c in dict.fromkeys([*gset.on, *gset.order])]
            + [groups.value_expr(f).alias(groups.digest_column(f)) for f in fields]
        )
        want = groups.hashed(groups.group_strings(rows, gset.on, gset.order, names), names, hasher)
        got_rows = conn.execute(
            groups.read_sql(gset, fields).replace("SELECT ", f"SELECT {quote(groups.MEMBERS)}, ", 1), (fv_id,)
        ).fetchall()
        got = pl.DataFrame(got_rows, schema=[groups.MEMBERS, *gset.on, *names], orient="row", infer_schema_length=None)
        key = list(gset.on)
        want = want.select([*key, groups.MEMBERS, *names]).sort(key)
        got = got.select([*key, groups.MEMBERS, *names]).cast(want.schema).sort(key)
        if not got.equals(want):
            problems.append(
                f"group digests of {table} on {', '.join(key)} (fv {fv_id}): {got.height} groups stored, "
                f"{want.height} recomputed"
            )
    return problems


__all__ = ["after_insert", "before_delete", "after_delete", "aggregation_orders", "check"]
