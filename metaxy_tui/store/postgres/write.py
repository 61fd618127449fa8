"""Writing and deleting on PostgreSQL: one transaction each, serialized only where they must be.

A write
1. records the graph snapshot, the columns the frame brought and the feature's table (DDL,
   under its own lock, only when something is missing);
2. COPYs the rows into a temporary staging table (in parallel with other writers);
3. takes the commit lock (`pg_advisory_xact_lock`, held to commit), takes the next write id,
   marks the ids' earlier latest rows superseded and moves the staged rows in, set-based.

Step 3 runs one writer at a time, so write ids grow in commit order and two writers of the
same id never both leave a latest row: the later one supersedes the earlier's. Everything is
in one transaction: a writer killed at any point leaves nothing visible (PostgreSQL rolls its
transaction back when the connection drops).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import polars as pl

from ...columns import CREATED_AT, DELETED_AT, UPDATED_AT, ColumnType
from ...definition import FeatureDefinition
from ...graph import FeatureGraph, FeaturePlan, GraphPlan
from ..sqlite.codec import now_us
from . import layout, recorded
from .codec import check_text, copy_in, payload
from ...keys import quote
from .layout import COMMIT_LOCK, FV, ROW, SUPERSEDED, WRITE, q

if TYPE_CHECKING:
    from .connection import PgConnection
    from .handle import PgHandle

STAGE = "_mx_stage"
ANALYZE_AT = 1000  # rows
IDS = "_mx_ids"


def group_orders(gp: GraphPlan, upstream: str) -> list[tuple[str, ...]]:
    """How aggregation deps of downstream features read `upstream`: on columns, then ids."""
    out = []
    for name in gp[upstream].downstream:
        d = gp[name].dep(upstream)
        if d.kind == "aggregation":
            order = tuple(d.columns[c] for c in d.on) + tuple(d.columns[c] for c in d.upstream_ids)
            if order not in out:
                out.append(order)
    return out


def key_order(plan: FeaturePlan) -> tuple[str, ...]:
    """An index for lookups by the feature's key when the id index cannot serve them (an
    expansion's children by their parent)."""
    key, ids = tuple(plan.key), tuple(plan.definition.id_columns)
    if plan.is_root or ids[: len(key)] == key:
        return ()
    return key + tuple(c for c in ids if c not in key)


def next_write(
    conn: PgConnection,
    feature: str,
    kind: str,
    fv_id: int | None,
    snap_id: int | None,
    now: int,
    n: int,
    materialization_id: str | None = None,
    inputs_as_of: int | None = None,
) -> int:
    """Take the commit lock and the next write id (in commit order: the lock is held to commit)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (COMMIT_LOCK,))
    row = conn.execute(
        "INSERT INTO _metaxy_writes (id, feature_key, kind, feature_version_id, snapshot_id, at, n_rows, "
        "materialization_id, inputs_as_of) SELECT coalesce(max(id), 0) + 1, %s, %s, %s, %s, %s, %s, %s, %s "
        "FROM _metaxy_writes RETURNING id",
        (feature, kind, fv_id, snap_id, now, n, materialization_id, inputs_as_of),
    ).fetchone()
    assert row is not None  # INSERT ... RETURNING: one row
    write_id: int = row[0]
    return write_id


def write(
    store: "PgHandle",
    gp: GraphPlan,
    plan: FeaturePlan,
    rows: pl.DataFrame,
    *,
    new_columns: dict[str, ColumnType],
    materialization_id: str | None,
    progress: Callable[[int, int], None] | None,
    inputs_as_of: int | None,
    doomed: pl.DataFrame | None,
    within: Callable[[Any], None] | None,
    snapshot_graph: FeatureGraph,
) -> int:
    definition = plan.definition
    fields = definition.field_keys
    stored = payload(rows, definition, fields)
    check_text(stored, plan.name)
    with store._transaction() as conn:
        now = now_us()
        snap_id = store._record_snapshot(conn, snapshot_graph)
        if new_columns:
            recorded.record(conn, plan.name, new_columns, now)
        fv_id = conn.execute(
            "SELECT id FROM _metaxy_feature_versions WHERE feature_key = %s AND feature_version = %s",
            (plan.name, plan.feature_version),
        ).fetchone()[0]
        table = layout.ensure_feature_table(
            conn, definition, fields, now, group_orders(gp, plan.name), key_order=key_order(plan)
        )
        cols = list(stored.columns)
        types = layout.feature_columns(definition, fields)
        conn.execute(
            f"CREATE TEMP TABLE {STAGE} ({', '.join(f'{q(c)} {types[c]}' for c in cols)}, "
            f"{q(ROW)} integer NOT NULL) ON COMMIT DROP"
        )
        staged = stored.with_row_index(ROW).select([*cols, ROW])
        copy_in(conn, STAGE, [*cols, ROW], staged, progress=progress, total=staged.height)
        if progress is not None:
            progress(staged.height, staged.height)  # a last chance to cancel before the commit section
        write_id = next_write(
            conn, plan.name, "write", fv_id, snap_id, now, rows.height, materialization_id, inputs_as_of
        )
        t = q(table)
        match = " AND ".join(f"m.{q(c)} = s.{q(c)}" for c in definition.id_columns)
        latest = f"m.{q(FV)} = %s AND m.{q(SUPERSEDED)} IS NULL"
        has_latest = conn.execute(f"SELECT 1 FROM {t} AS m WHERE {latest} LIMIT 1", (fv_id,)).fetchone() is not None
        created = "%s::bigint"
        if has_latest:
            # an id keeps the time it was first stored under this feature version
            conn.execute(f"ALTER TABLE {STAGE} ADD COLUMN {q(CREATED_AT)} bigint")
            conn.execute(
                f"UPDATE {STAGE} AS s SET {q(CREATED_AT)} = m.{q(CREATED_AT)} FROM {t} AS m WHERE {latest} AND {match}",
                (fv_id,),
            )
            conn.execute(
                f"UPDATE {t} AS m SET {q(SUPERSEDED)} = %s FROM {STAGE} AS s WHERE {latest} AND {match}",
                (write_id, fv_id),
            )
            created = f"coalesce(s.{q(CREATED_AT)}, %s::bigint)"
        moved = ", ".join(f"s.{q(c)}" for c in cols)
        conn.execute(
            f"INSERT INTO {t} ({', '.join(q(c) for c in cols)}, {q(ROW)}, {q(CREATED_AT)}, {q(UPDATED_AT)}, "
            f"{q(FV)}, {q(WRITE)}) SELECT {moved}, s.{q(ROW)}, {created}, %s, %s, %s FROM {STAGE} AS s",
            (now, now, fv_id, write_id),
        )
        conn.execute(f"DROP TABLE {STAGE}")
        if doomed is not None and doomed.height:
            delete_rows(store, conn, definition, table, fv_id, doomed, soft=True, now=now)
        if within is not None:
            within(conn)
    if rows.height >= ANALYZE_AT:
        # fresh statistics after a bulk write (autovacuum comes later): without them the planner
        # takes a new table for a few rows and joins the keys of a resolve by nested loop
        with store._lock:
            store.conn.execute(f"ANALYZE {q(table)}")
            store.conn.commit()
    return rows.height


def stage_ids(conn: PgConnection, ids: pl.DataFrame, definition: FeatureDefinition) -> str:
    """Id tuples in a temporary table (dropped at commit); returns its name."""
    cols = list(ids.columns)
    types = {c: layout.pg_type(definition.columns[c]) for c in cols}
    conn.execute(f"DROP TABLE IF EXISTS {IDS}")
    conn.execute(f"CREATE TEMP TABLE {IDS} ({', '.join(f'{q(c)} {types[c]}' for c in cols)}) ON COMMIT DROP")
    copy_in(conn, IDS, cols, ids)
    return IDS


def delete_rows(
    store: "PgHandle",
    conn: PgConnection,
    definition: FeatureDefinition,
    table: str,
    fv_id: int,
    target: pl.DataFrame,
    *,
    soft: bool,
    now: int,
) -> int:
    """Delete the samples in `target` (id columns) of feature version `fv_id`, inside the caller's
    transaction; how many visible samples went. A soft delete writes a tombstone row that
    supersedes the latest one, so history shows when it went."""
    id_cols = list(definition.id_columns)
    staged = stage_ids(conn, target.select(id_cols), definition)
    write_id = next_write(conn, definition.name, "soft_delete" if soft else "hard_delete", fv_id, None, now, 0)
    t = q(table)
    cond = "EXISTS (SELECT 1 FROM {s} AS i WHERE {m})".format(
        s=staged, m=" AND ".join(f"i.{q(c)} = m.{q(c)}" for c in id_cols)
    )
    live = f"m.{q(FV)} = %s AND m.{q(SUPERSEDED)} IS NULL AND m.{q(DELETED_AT)} IS NULL"
    n: int
    if soft:
        n = conn.execute(
            f"UPDATE {t} AS m SET {q(SUPERSEDED)} = %s WHERE {live} AND {cond}", (write_id, fv_id)
        ).rowcount
        cols = [c for c in layout.table_columns(conn, table) if c not in (DELETED_AT, UPDATED_AT, WRITE, SUPERSEDED)]
        names = ", ".join(quote(c) for c in cols)  # PostgreSQL's own names: already short
        conn.execute(
            f"INSERT INTO {t} ({names}, {q(DELETED_AT)}, {q(UPDATED_AT)}, {q(WRITE)}) "
            f"SELECT {names}, %s, %s, %s FROM {t} WHERE {q(SUPERSEDED)} = %s AND {q(FV)} = %s",
            (now, now, write_id, write_id, fv_id),
        )
    else:
        row = conn.execute(f"SELECT count(*) FROM {t} AS m WHERE {live} AND {cond}", (fv_id,)).fetchone()
        assert row is not None  # count(*): one row
        n = row[0]
        conn.execute(f"DELETE FROM {t} AS m WHERE m.{q(FV)} = %s AND {cond}", (fv_id,))
    conn.execute("UPDATE _metaxy_writes SET n_rows = %s WHERE id = %s", (n, write_id))
    conn.execute(f"DROP TABLE {staged}")
    return n
