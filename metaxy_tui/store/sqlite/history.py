"""Reading what explanations need: the rows as they were, and what changed since.

Every write records `inputs_as_of`, the last write id its rows' upstream was read at, and
superseded rows stay as history. So for a stored sample computed "as of" write A, the
upstream rows it saw are those written at or before A and superseded after it (or never),
and the upstream rows that differ now are exactly:

- then: rows valid at A and superseded (rewritten, soft-deleted) after A;
- now: live rows written after A.

Both are read in bulk for the smallest A in play, through the `_mx_superseded` index and
the columnar copy's write ids: their size follows what changed since, not the store. Each
sample then keeps the rows of its own A (see explain.py).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import polars as pl

from ...columns import DELETED_AT, ColumnType, dvbf_column, pbf_column
from ...graph import DepPlan, FeaturePlan, GraphPlan
from ...keys import quote, quote_all
from ..records import AS_OF, THEN_UNTIL, THEN_WRITE
from .chunks import WRITE_ID
from .codec import Typed, keys_in
from .reader import CopyRead
from .schema import FV, SUPERSEDED, WRITE
from .upstream import copy_read, latest_condition

if TYPE_CHECKING:
    from .handle import StoreHandle


def _writes_as_of(store: "StoreHandle", feature: str) -> pl.DataFrame:
    """Each write of a feature and the upstream state its rows were computed from."""
    rows = store.conn.execute(
        "SELECT id, coalesce(inputs_as_of, id) FROM _metaxy_writes WHERE feature_key = ?", (feature,)
    ).fetchall()
    return pl.DataFrame(rows, schema={WRITE: pl.Int64, AS_OF: pl.Int64}, orient="row")


def with_as_of(store: "StoreHandle", plan: FeaturePlan, rows: pl.DataFrame) -> pl.DataFrame:
    """`rows` (key, provenance by field, WRITE) with AS_OF instead of WRITE: the upstream state each
    was computed from."""
    key = list(plan.key)
    fields = [pbf_column(f) for f in plan.definition.field_keys]
    return rows.join(_writes_as_of(store, plan.name), on=WRITE, how="left").select(key + fields + [AS_OF])


def current_rows(store: "StoreHandle", plan: FeaturePlan, keys: pl.DataFrame) -> pl.DataFrame:
    """The feature's latest rows for `keys` (key columns): key, provenance by field (one column per
    field), and AS_OF (the upstream state they were computed from); one row per key."""
    key = list(plan.key)
    fields = plan.definition.field_keys
    types: dict[str, Typed] = {c: plan.definition.columns[c] for c in key}
    table, fv_id, n = store._latest_location(plan.name, plan.feature_version)
    empty = pl.DataFrame(
        schema={c: plan.definition.columns[c].polars for c in key}
        | {pbf_column(f): pl.String for f in fields}
        | {AS_OF: pl.Int64}
    )
    if table is None or fv_id is None or not keys.height:
        return empty
    columns = {c: c for c in key} | {pbf_column(f): pbf_column(f) for f in fields}
    types |= {pbf_column(f): pl.String for f in fields}
    read = copy_read(table, fv_id, n, columns, types, extra={WRITE: (WRITE_ID, quote(WRITE))})
    rows = store._read_many([read])[0].join(keys.select(key).unique(), on=key, how="semi")
    if key != list(plan.definition.id_columns):
        rows = rows.unique(subset=key, keep="first", maintain_order=True)  # an expansion: once per parent
    return with_as_of(store, plan, rows)


def upstream_changes(
    store: "StoreHandle", gp: GraphPlan, d: DepPlan, since: int, fields: list[str], keys: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(then, now) rows of a dep's upstream that may differ from what was seen as of any write >= `since`.

    then: rows superseded after `since` (with THEN_WRITE, the write that stored them, and
    THEN_UNTIL, the one that replaced them);
    now: live rows written after `since` (with THEN_WRITE). Columns: the dep's `on` and
    upstream id columns (downstream names) and the data version of each of `fields`. `keys`
    (the `on` columns) keeps only those groups.
    """
    up = gp[d.upstream]
    ident = list(dict.fromkeys([*d.on, *d.upstream_ids]))
    types: dict[str, ColumnType] = {c: up.definition.columns[d.columns[c]] for c in ident}
    value_of = {f"__v:{f}": f for f in fields}
    schema = {c: t.polars for c, t in types.items()} | {v: pl.String for v in value_of} | {THEN_WRITE: pl.Int64}
    table, fv_id, n = store._latest_location(d.upstream, up.feature_version)
    if table is None or fv_id is None:
        empty = pl.DataFrame(schema=schema)
        return empty.with_columns(pl.lit(None, pl.Int64).alias(THEN_UNTIL)), empty
    columns = {c: d.columns[c] for c in ident}
    select = [f"{quote(src)} AS {quote(c)}" for c, src in columns.items()]
    select += [f"COALESCE({quote(dvbf_column(f))}, {quote(pbf_column(f))}) AS {quote(v)}" for v, f in value_of.items()]
    select += [f"{quote(WRITE)} AS {quote(THEN_WRITE)}", f"{quote(SUPERSEDED)} AS {quote(THEN_UNTIL)}"]
    # through the (_mx_superseded, _mx_fv) index: only rows replaced after `since`
    sql = (
        f"SELECT {', '.join(select)} FROM {quote(table)} WHERE {quote(SUPERSEDED)} > ? AND {quote(FV)} = ? "
        f"AND {quote(DELETED_AT)} IS NULL"
    )
    then_types = types | {v: pl.String for v in value_of} | {THEN_WRITE: pl.Int64, THEN_UNTIL: pl.Int64}
    now = copy_read(
        table,
        fv_id,
        n,
        columns,
        types,
        value_of,
        where=f" AND {quote(WRITE)} > ?",
        where_params=(since,),
        extra={THEN_WRITE: (WRITE_ID, quote(WRITE))},
    )
    now.written_after = since
    then = store._read(sql, [since, fv_id], then_types, expected_rows=n)
    now_rows = store._read_many([now])[0]
    if keys is not None:
        on = list(d.on)
        wanted = keys.select(on).unique()
        then = then.join(wanted, on=on, how="semi")
        now_rows = now_rows.join(wanted, on=on, how="semi")
    return then, now_rows


def first_as_of(store: "StoreHandle", feature: str) -> int | None:
    """The upstream state the feature's first write was computed from (None: never written)."""
    row = store.conn.execute(
        "SELECT coalesce(inputs_as_of, id) FROM _metaxy_writes WHERE feature_key = ? "
        "AND kind = 'write' ORDER BY id LIMIT 1",
        (feature,),
    ).fetchone()
    return row[0] if row else None


def latest_any_version(store: "StoreHandle", plan: FeaturePlan, keys: pl.DataFrame) -> pl.DataFrame:
    """For `keys` (id columns), each latest row (any feature version): key, FV, DELETED_AT, WRITE."""
    key = list(plan.key)
    types = {c: plan.definition.columns[c] for c in key} | {FV: pl.Int64, DELETED_AT: pl.Int64, WRITE: pl.Int64}
    table = store._table(plan.name)
    if table is None or not keys.height:
        return pl.DataFrame(
            schema={c: plan.definition.columns[c].polars for c in key}
            | {FV: pl.Int64, DELETED_AT: pl.Int64, WRITE: pl.Int64}
        )
    cond, encoded = keys_in(key, keys.select(key).unique(), {c: plan.definition.columns[c] for c in key})
    return store._read(
        f"SELECT {quote_all(key)}, {quote(FV)}, {quote(DELETED_AT)}, {quote(WRITE)} FROM {quote(table)} "
        f"WHERE {quote(SUPERSEDED)} IS NULL AND {cond}",
        [encoded],
        types,
        expected_rows=keys.height,
    )


def fv_id(store: "StoreHandle", feature: str, feature_version: str) -> int | None:
    return store._fv_id(feature, feature_version) if store._table(feature) else None


def alive_in_other_versions(store: "StoreHandle", gp: GraphPlan, d: DepPlan, keys: pl.DataFrame) -> pl.DataFrame:
    """The `on` values among `keys` that the dep's upstream still has live rows for, under another
    feature version than its current one."""
    up = gp[d.upstream]
    on = list(d.on)
    types = {c: up.definition.columns[d.columns[c]] for c in on}
    table = store._table(d.upstream)
    now = store._fv_id(d.upstream, up.feature_version) if table else None
    if table is None or not keys.height:
        return pl.DataFrame(schema={c: t.polars for c, t in types.items()})
    src = [d.columns[c] for c in on]
    cond, encoded = keys_in(src, keys.select(on).unique(), {s: types[c] for s, c in zip(src, on)})
    select = ", ".join(f"{quote(s)} AS {quote(c)}" for s, c in zip(src, on))
    return store._read(
        f"SELECT DISTINCT {select} FROM {quote(table)} WHERE {quote(SUPERSEDED)} IS NULL AND "
        f"{quote(DELETED_AT)} IS NULL AND {quote(FV)} != ? AND {cond}",
        [now if now is not None else -1, encoded],
        types,
    )


def null_on_rows(store: "StoreHandle", gp: GraphPlan, d: DepPlan) -> int:
    """How many live upstream rows of an aggregation have a null `on` value (they join no group)."""
    up = gp[d.upstream]
    table, fv, _n = store._latest_location(d.upstream, up.feature_version)
    if table is None or fv is None:
        return 0
    nulls = " OR ".join(f"{quote(d.columns[c])} IS NULL" for c in d.on)
    with store._lock:
        n: int = store.conn.execute(
            f"SELECT count(*) FROM {quote(table)} WHERE {latest_condition()} AND ({nulls})", (fv,)
        ).fetchone()[0]
        return n


def snapshot_of_version(store: "StoreHandle", fv_id: int) -> dict[str, Any] | None:
    """The recorded graph a feature version was first stored under."""
    row = store.conn.execute(
        "SELECT s.graph FROM _metaxy_feature_versions fv JOIN _metaxy_snapshots s "
        "ON s.id = fv.snapshot_id WHERE fv.id = ?",
        (fv_id,),
    ).fetchone()
    return json.loads(row[0]) if row else None


class SQLiteHistory:
    """The `HistoryReads` of an SQLite store (store/interface.py): the functions above, bound to it."""

    def __init__(self, store: "StoreHandle") -> None:
        self._store = store

    def writes_as_of(self, feature: str) -> pl.DataFrame:
        return _writes_as_of(self._store, feature)

    def with_as_of(self, plan: FeaturePlan, rows: pl.DataFrame) -> pl.DataFrame:
        return with_as_of(self._store, plan, rows)

    def current_rows(self, plan: FeaturePlan, keys: pl.DataFrame) -> pl.DataFrame:
        return current_rows(self._store, plan, keys)

    def upstream_changes(
        self, gp: GraphPlan, d: DepPlan, since: int, fields: list[str], keys: pl.DataFrame | None
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        return upstream_changes(self._store, gp, d, since, fields, keys)

    def first_as_of(self, feature: str) -> int | None:
        return first_as_of(self._store, feature)

    def latest_any_version(self, plan: FeaturePlan, keys: pl.DataFrame) -> pl.DataFrame:
        return latest_any_version(self._store, plan, keys)

    def feature_version_id(self, feature: str, feature_version: str) -> int | None:
        return fv_id(self._store, feature, feature_version)

    def alive_in_other_versions(self, gp: GraphPlan, d: DepPlan, keys: pl.DataFrame) -> pl.DataFrame:
        return alive_in_other_versions(self._store, gp, d, keys)

    def null_on_rows(self, gp: GraphPlan, d: DepPlan) -> int:
        return null_on_rows(self._store, gp, d)

    def snapshot_of_version(self, feature_version_id: int) -> dict[str, Any] | None:
        return snapshot_of_version(self._store, feature_version_id)


__all__ = [
    "SQLiteHistory",
    "current_rows",
    "upstream_changes",
    "first_as_of",
    "latest_any_version",
    "fv_id",
    "alive_in_other_versions",
    "null_on_rows",
    "snapshot_of_version",
    "CopyRead",
]
