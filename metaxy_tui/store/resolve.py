"""resolve_update: which samples of a feature are new, stale or orphaned.

expected = every upstream's latest rows under its current feature version, transformed by
lineage (aggregation hashes each group's member data versions, ordered by the upstream
ids, with a window function in SQLite) and joined; its provenance is hashed in polars.
current = the feature's latest rows under its current feature version. Then added,
changed and removed are two anti joins and one inner join on the key columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from ..columns import DELETED_AT, ColumnType, PROVENANCE, PROVENANCE_BY_FIELD, dvbf_column, pbf_column
from ..errors import InputError, InputProblem
from ..frames import Increment, IncrementFrame
from ..graph import DepPlan, FeaturePlan, GraphPlan
from ..hashing import Hasher
from ..keys import FieldKey, quote, quote_all
from .codec import polars_schema
from .schema import FV, SUPERSEDED

if TYPE_CHECKING:
    from .sqlite_store import SQLiteMetadataStore

MIXED = "\x00mixed"  # the provenance of an expansion key whose children disagree


def value_column(upstream: str, field: str) -> str:
    return f"__v:{upstream}.{field}"


def latest_condition(alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    return f"{a}{quote(FV)} = ? AND {a}{quote(SUPERSEDED)} IS NULL AND {a}{quote(DELETED_AT)} IS NULL"


def _dep_frame(store: "SQLiteMetadataStore", gp: GraphPlan, d: DepPlan, hasher: Hasher,
               lean: bool = False) -> pl.DataFrame:
    """The rows one dep contributes: its kept columns plus one value column per used field.

    `lean` keeps only the key columns (and one row per group for an aggregation): enough
    to count what is pending, at a fraction of the cost.
    """
    up = gp[d.upstream]
    updef = up.definition
    columns = {c: d.columns[c] for c in d.on} if lean else d.columns
    schema: dict[str, ColumnType | pl.DataType] = {down: updef.columns[src] for down, src in columns.items()}
    for f in d.fields:
        schema[value_column(d.upstream, f)] = pl.String
    table, fv_id, n = store._latest_location(d.upstream, up.feature_version)
    if table is None or fv_id is None:
        return pl.DataFrame(schema=polars_schema(schema))
    kept = [f"{quote(src)} AS {quote(down)}" for down, src in columns.items()]
    values = [f"COALESCE({quote(dvbf_column(f))}, {quote(pbf_column(f))})" for f in d.fields]
    where = latest_condition()
    if d.kind != "aggregation":
        select = kept + [f"{v} AS {quote(value_column(d.upstream, f))}" for v, f in zip(values, d.fields)]
        sql = f"SELECT {', '.join(select)} FROM {quote(table)} WHERE {where}"
        return store._read(sql, [fv_id], schema, expected_rows=n)

    on_src = [d.columns[c] for c in d.on]
    group_schema = {c: schema[c] for c in d.on} | {value_column(d.upstream, f): pl.String for f in d.fields}
    if d.fields:
        order = [d.columns[c] for c in d.upstream_ids]
        window = (f"PARTITION BY {quote_all(on_src)} ORDER BY {quote_all(order)} "
                  "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING")
        concat = [f"group_concat({v}, '|') OVER w AS {quote(value_column(d.upstream, f))}"
                  for v, f in zip(values, d.fields)]
        inner = (f"SELECT {', '.join(f'{quote(s)} AS {quote(c)}' for s, c in zip(on_src, d.on))}, "
                 f"row_number() OVER w AS __rn, {', '.join(concat)} FROM {quote(table)} WHERE {where} "
                 f"WINDOW w AS ({window})")
        groups = store._read(f"SELECT {quote_all(group_schema)} FROM ({inner}) WHERE __rn = 1", [fv_id],
                             group_schema, expected_rows=n // 4)
        # one hash per group, not per member
        groups = groups.with_columns([hasher.expr(pl.col(value_column(d.upstream, f)))
                                      .alias(value_column(d.upstream, f)) for f in d.fields])
    else:
        groups = store._read(f"SELECT DISTINCT {', '.join(f'{quote(s)} AS {quote(c)}' for s, c in zip(on_src, d.on))} "
                             f"FROM {quote(table)} WHERE {where}", [fv_id], group_schema, expected_rows=n // 4)
    if lean:
        return groups
    members_schema = {k: v for k, v in schema.items() if not k.startswith("__v:")}
    members = store._read(f"SELECT {', '.join(kept)} FROM {quote(table)} WHERE {where}", [fv_id],
                          members_schema, expected_rows=n)
    return members.join(groups, on=list(d.on), how="left", nulls_equal=False)


def expected_frame(store: "SQLiteMetadataStore", gp: GraphPlan, plan: FeaturePlan, hasher: Hasher,
                   lean: bool = False) -> pl.DataFrame:
    """Every sample the feature should have, with its provenance, from its upstream."""
    frame: pl.DataFrame | None = None
    key: list[str] = []
    all_optional = all(d.optional for d in plan.deps)
    for d in plan.deps:
        part = _dep_frame(store, gp, d, hasher, lean)
        if frame is None:
            frame = part
        else:
            shared = [c for c in d.on if c in key]
            how = "full" if all_optional else ("left" if d.optional else "inner")
            frame = frame.join(part, on=shared, how=how, coalesce=True)
        key += [c for c in d.on if c not in key]
    assert frame is not None
    field_hashes: dict[str, pl.Expr] = {}
    for spec in plan.definition.spec.fields:
        fk = spec.key.to_string()
        parts: list[pl.Expr] = [pl.lit(fk), pl.lit(spec.code_version)]
        for up, uf in plan.field_parents[fk]:
            value = pl.col(value_column(up, FieldKey(uf).struct_name)).fill_null("")
            parts += [pl.lit(f"{up}.{uf}"), value]
        field_hashes[spec.key.struct_name] = hasher.join_expr(parts).alias(spec.key.struct_name)
    fields = sorted(field_hashes)
    if lean:
        frame = frame.unique(subset=key) if plan.deps[0].kind == "aggregation" or len(plan.deps) > 1 else frame
    frame = frame.with_columns(pl.struct([field_hashes[f] for f in fields]).alias(PROVENANCE_BY_FIELD))
    frame = frame.with_columns(
        hasher.join_expr([pl.col(PROVENANCE_BY_FIELD).struct.field(f) for f in fields]).alias(PROVENANCE))
    return frame.drop([c for c in frame.columns if c.startswith("__v:")])


def current_provenance(store: "SQLiteMetadataStore", plan: FeaturePlan) -> pl.DataFrame:
    """Key columns and provenance of the feature's latest rows; one row per key."""
    key = list(plan.key)
    schema = {c: plan.definition.columns[c] for c in key} | {PROVENANCE: pl.String}
    table, fv_id, n = store._latest_location(plan.name, plan.feature_version)
    if table is None or fv_id is None:
        return pl.DataFrame(schema=polars_schema(schema))
    sql = f"SELECT {quote_all(key)}, {quote(PROVENANCE)} FROM {quote(table)} WHERE {latest_condition()}"
    cur = store._read(sql, [fv_id], schema, expected_rows=n)
    if list(plan.key) != list(plan.definition.id_columns):
        # expansion: many children share a parent key; they agree unless a write was partial
        cur = cur.group_by(key, maintain_order=True).agg(
            pl.when(pl.col(PROVENANCE).n_unique() == 1).then(pl.col(PROVENANCE).first())
            .otherwise(pl.lit(MIXED)).alias(PROVENANCE))
    return cur


def compare(plan: FeaturePlan, expected: pl.DataFrame, current: pl.DataFrame, read_removed) -> Increment:
    """Split expected rows into added and changed, and find current keys gone from upstream.

    Joins run on (key, provenance) projections only and the wide expected frame is
    filtered once by a mask, so a 1,000,000-row resolve holds one copy of the wide rows.
    """
    key = list(plan.key)
    if current.height == 0:
        empty = expected.clear()
        return Increment(plan.name, tuple(key), IncrementFrame(expected), IncrementFrame(empty),
                         IncrementFrame(read_removed(None)))
    status = (expected.select(key + [PROVENANCE])
              .join(current.rename({PROVENANCE: "__current"}), on=key, how="left", maintain_order="left")
              .get_column("__current"))
    is_added = status.is_null()
    is_changed = ~is_added & (status != expected.get_column(PROVENANCE))
    added = expected.filter(is_added)
    changed = expected.filter(is_changed)
    del status
    gone = current.select(key).join(expected.select(key).unique(), on=key, how="anti")
    removed = read_removed(gone) if gone.height else read_removed(None)
    return Increment(plan.name, tuple(key), IncrementFrame(added), IncrementFrame(changed), IncrementFrame(removed))


def root_samples(plan: FeaturePlan, samples: pl.DataFrame | None) -> pl.DataFrame:
    if samples is None:
        raise InputError(plan.name, [InputProblem(
            "is a root feature: resolve_update needs samples=<frame with its id columns and "
            "metaxy_provenance_by_field>")])
    return samples
