"""What explanations read (store/history.py's functions, same names and results) on PostgreSQL.

Rows as they were and what changed since: every write records `inputs_as_of`, superseded
rows stay as history, so the upstream rows that differ from what a sample was computed from
are read through the `_mx_superseded` index (then) and by write id (now). Values are bound.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import polars as pl

from ...columns import DELETED_AT, ColumnType, PolarsType, dvbf_column, pbf_column
from ...graph import DepPlan, FeaturePlan, GraphPlan
from ..records import AS_OF, THEN_UNTIL, THEN_WRITE
from .codec import column_expr, text_expr
from .layout import FV, SUPERSEDED, WRITE, q

if TYPE_CHECKING:
    from .handle import PgHandle

ARRAY = {
    "str": "text[]",
    "int": "bigint[]",
    "float": "float8[]",
    "bool": "boolean[]",
    "datetime": "timestamp[]",
    "date": "date[]",
    "bytes": "bytea[]",
}


def keys_in(exprs: list[str], keys: pl.DataFrame, types: list[ColumnType]) -> tuple[str, list[Any]]:
    """`(exprs) IN (the rows of keys)`, the rows bound as one array per column."""
    arrays = ", ".join(f"%s::{ARRAY[t.name]}" for t in types)
    return (
        f"({', '.join(exprs)}) IN (SELECT * FROM unnest({arrays}))",
        [keys.get_column(c).to_list() for c in keys.columns],
    )


def _frame(store: "PgHandle", sql: str, params: list[Any], schema: dict[str, PolarsType]) -> pl.DataFrame:
    rows = store._query(sql, params)
    return pl.DataFrame(rows, schema=schema, orient="row")


def _writes_as_of(store: "PgHandle", feature: str) -> pl.DataFrame:
    return _frame(
        store,
        "SELECT id, coalesce(inputs_as_of, id) FROM _metaxy_writes WHERE feature_key = %s",
        [feature],
        {WRITE: pl.Int64, AS_OF: pl.Int64},
    )


def with_as_of(store: "PgHandle", plan: FeaturePlan, rows: pl.DataFrame) -> pl.DataFrame:
    key = list(plan.key)
    fields = [pbf_column(f) for f in plan.definition.field_keys]
    return rows.join(_writes_as_of(store, plan.name), on=WRITE, how="left").select(key + fields + [AS_OF])


def _location(store: "PgHandle", feature: str, feature_version: str) -> tuple[str | None, int | None, dict[str, str]]:
    table = store._table(feature)
    if table is None:
        return None, None, {}
    return table, store._fv_id(feature, feature_version), store._stored_columns(table)


def current_rows(store: "PgHandle", plan: FeaturePlan, keys: pl.DataFrame) -> pl.DataFrame:
    key = list(plan.key)
    d = plan.definition
    fields = d.field_keys
    schema = {c: d.columns[c].polars for c in key} | {pbf_column(f): pl.String for f in fields}
    table, fv_id, stored = _location(store, plan.name, plan.feature_version)
    if table is None or fv_id is None or not keys.height:
        return pl.DataFrame(schema=schema | {AS_OF: pl.Int64})
    exprs = [column_expr(c, d.columns[c], stored) for c in key]
    cond, params = keys_in(exprs, keys.select(key).unique(), [d.columns[c] for c in key])
    select = exprs + [text_expr(pbf_column(f), stored) for f in fields] + [q(WRITE)]
    rows = _frame(
        store,
        f"SELECT {', '.join(select)} FROM {q(table)} WHERE {q(FV)} = %s AND {q(SUPERSEDED)} IS NULL "
        f"AND {q(DELETED_AT)} IS NULL AND {cond} ORDER BY {q(WRITE)}, _mx_row",
        [fv_id, *params],
        schema | {WRITE: pl.Int64},
    )
    if key != list(d.id_columns):
        rows = rows.unique(subset=key, keep="first", maintain_order=True)
    return with_as_of(store, plan, rows)


def upstream_changes(
    store: "PgHandle", gp: GraphPlan, d: DepPlan, since: int, fields: list[str], keys: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    up = gp[d.upstream]
    ident = list(dict.fromkeys([*d.on, *d.upstream_ids]))
    types = {c: up.definition.columns[d.columns[c]] for c in ident}
    value_of = {f"__v:{f}": f for f in fields}
    schema = {c: t.polars for c, t in types.items()} | {v: pl.String for v in value_of} | {THEN_WRITE: pl.Int64}
    table, fv_id, stored = _location(store, d.upstream, up.feature_version)
    if table is None or fv_id is None:
        empty = pl.DataFrame(schema=schema)
        return empty.with_columns(pl.lit(None, pl.Int64).alias(THEN_UNTIL)), empty
    select = [column_expr(d.columns[c], types[c], stored) for c in ident]
    select += [
        f"COALESCE({text_expr(dvbf_column(f), stored)}, {text_expr(pbf_column(f), stored)})" for f in value_of.values()
    ]
    cond = ""
    params: list[Any] = []
    if keys is not None:
        on = list(d.on)
        cond, params = keys_in(
            [column_expr(d.columns[c], types[c], stored) for c in on], keys.select(on).unique(), [types[c] for c in on]
        )
        cond = " AND " + cond
    then = _frame(
        store,
        f"SELECT {', '.join(select)}, {q(WRITE)}, {q(SUPERSEDED)} FROM {q(table)} "
        f"WHERE {q(SUPERSEDED)} > %s AND {q(FV)} = %s AND {q(DELETED_AT)} IS NULL{cond}",
        [since, fv_id, *params],
        schema | {THEN_UNTIL: pl.Int64},
    )
    now = _frame(
        store,
        f"SELECT {', '.join(select)}, {q(WRITE)} FROM {q(table)} WHERE {q(FV)} = %s AND "
        f"{q(SUPERSEDED)} IS NULL AND {q(DELETED_AT)} IS NULL AND {q(WRITE)} > %s{cond} "
        f"ORDER BY {q(WRITE)}, _mx_row",
        [fv_id, since, *params],
        schema,
    )
    return then, now


def first_as_of(store: "PgHandle", feature: str) -> int | None:
    rows = store._query(
        "SELECT coalesce(inputs_as_of, id) FROM _metaxy_writes WHERE feature_key = %s "
        "AND kind = 'write' ORDER BY id LIMIT 1",
        (feature,),
    )
    return rows[0][0] if rows else None


def latest_any_version(store: "PgHandle", plan: FeaturePlan, keys: pl.DataFrame) -> pl.DataFrame:
    key = list(plan.key)
    d = plan.definition
    schema = {c: d.columns[c].polars for c in key} | {FV: pl.Int64, DELETED_AT: pl.Int64, WRITE: pl.Int64}
    table = store._table(plan.name)
    if table is None or not keys.height:
        return pl.DataFrame(schema=schema)
    stored = store._stored_columns(table)
    exprs = [column_expr(c, d.columns[c], stored) for c in key]
    cond, params = keys_in(exprs, keys.select(key).unique(), [d.columns[c] for c in key])
    return _frame(
        store,
        f"SELECT {', '.join(exprs)}, {q(FV)}, {q(DELETED_AT)}, {q(WRITE)} FROM {q(table)} "
        f"WHERE {q(SUPERSEDED)} IS NULL AND {cond}",
        params,
        schema,
    )


def fv_id(store: "PgHandle", feature: str, feature_version: str) -> int | None:
    return store._fv_id(feature, feature_version) if store._table(feature) else None


def alive_in_other_versions(store: "PgHandle", gp: GraphPlan, d: DepPlan, keys: pl.DataFrame) -> pl.DataFrame:
    up = gp[d.upstream]
    on = list(d.on)
    types = {c: up.definition.columns[d.columns[c]] for c in on}
    table = store._table(d.upstream)
    if table is None or not keys.height:
        return pl.DataFrame(schema={c: t.polars for c, t in types.items()})
    now = store._fv_id(d.upstream, up.feature_version)
    stored = store._stored_columns(table)
    exprs = [column_expr(d.columns[c], types[c], stored) for c in on]
    cond, params = keys_in(exprs, keys.select(on).unique(), [types[c] for c in on])
    return _frame(
        store,
        f"SELECT DISTINCT {', '.join(exprs)} FROM {q(table)} WHERE {q(SUPERSEDED)} IS NULL AND "
        f"{q(DELETED_AT)} IS NULL AND {q(FV)} != %s AND {cond}",
        [now if now is not None else -1, *params],
        {c: t.polars for c, t in types.items()},
    )


def null_on_rows(store: "PgHandle", gp: GraphPlan, d: DepPlan) -> int:
    up = gp[d.upstream]
    table, fv, stored = _location(store, d.upstream, up.feature_version)
    if table is None or fv is None:
        return 0
    nulls = " OR ".join(
        f"{column_expr(d.columns[c], up.definition.columns[d.columns[c]], stored)} IS NULL" for c in d.on
    )
    n: int = store._query(
        f"SELECT count(*) FROM {q(table)} WHERE {q(FV)} = %s AND {q(SUPERSEDED)} IS NULL AND "
        f"{q(DELETED_AT)} IS NULL AND ({nulls})",
        (fv,),
    )[0][0]
    return n


def snapshot_of_version(store: "PgHandle", fv_id: int) -> dict[str, Any] | None:
    rows = store._query(
        "SELECT s.graph FROM _metaxy_feature_versions fv JOIN _metaxy_snapshots s "
        "ON s.id = fv.snapshot_id WHERE fv.id = %s",
        (fv_id,),
    )
    return json.loads(rows[0][0]) if rows else None


class PostgresHistory:
    """The store interface's HistoryReads on a PostgreSQL store (the functions above)."""

    def __init__(self, store: "PgHandle"):
        self.store = store

    def writes_as_of(self, feature: str) -> pl.DataFrame:
        return _writes_as_of(self.store, feature)

    def with_as_of(self, plan: FeaturePlan, rows: pl.DataFrame) -> pl.DataFrame:
        return with_as_of(self.store, plan, rows)

    def current_rows(self, plan: FeaturePlan, keys: pl.DataFrame) -> pl.DataFrame:
        return current_rows(self.store, plan, keys)

    def upstream_changes(
        self, gp: GraphPlan, d: DepPlan, since: int, fields: list[str], keys: pl.DataFrame | None
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        return upstream_changes(self.store, gp, d, since, fields, keys)

    def first_as_of(self, feature: str) -> int | None:
        return first_as_of(self.store, feature)

    def latest_any_version(self, plan: FeaturePlan, keys: pl.DataFrame) -> pl.DataFrame:
        return latest_any_version(self.store, plan, keys)

    def feature_version_id(self, feature: str, feature_version: str) -> int | None:
        return fv_id(self.store, feature, feature_version)

    def alive_in_other_versions(self, gp: GraphPlan, d: DepPlan, keys: pl.DataFrame) -> pl.DataFrame:
        return alive_in_other_versions(self.store, gp, d, keys)

    def null_on_rows(self, gp: GraphPlan, d: DepPlan) -> int:
        return null_on_rows(self.store, gp, d)

    def snapshot_of_version(self, feature_version_id: int) -> dict[str, Any] | None:
        return snapshot_of_version(self.store, feature_version_id)
