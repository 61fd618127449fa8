"""resolve_update: which samples of a feature are new, stale or orphaned.

expected = every upstream's latest rows under its current feature version, transformed by
lineage (aggregation hashes each group's member data versions, ordered by the upstream
ids, with a window function in SQLite) and joined; its provenance is hashed in polars.
current = the feature's latest rows under its current feature version. Every read is
planned first and run as one batch that sees one state of the store (store/reader.py);
then one full join of expected and current keys gives added, changed and removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from ..columns import DELETED_AT, PROVENANCE, PROVENANCE_BY_FIELD, ColumnType, dvbf_column, pbf_column
from ..errors import InputError, InputProblem
from ..frames import Increment, IncrementFrame
from ..graph import DepPlan, FeaturePlan, GraphPlan
from ..hashing import Hasher
from ..keys import FieldKey, quote, quote_all
from .codec import keys_in, polars_schema
from .reader import Query, split_by_rowid
from .schema import FV, SUPERSEDED

if TYPE_CHECKING:
    from .sqlite_store import SQLiteMetadataStore

MIXED = "\x00mixed"  # the provenance of an expansion key whose children disagree


def value_column(upstream: str, field: str) -> str:
    return f"__v:{upstream}.{field}"


def latest_condition(alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    return f"{a}{quote(FV)} = ? AND {a}{quote(SUPERSEDED)} IS NULL AND {a}{quote(DELETED_AT)} IS NULL"


@dataclass
class ReadPlan:
    """Queries to run together, and how to turn their results into frames."""

    queries: list[Query] = field(default_factory=list)
    builders: list[Callable[[list[pl.DataFrame]], pl.DataFrame]] = field(default_factory=list)

    def add(self, queries: list[Query], build: Callable[[list[pl.DataFrame]], pl.DataFrame]) -> int:
        start = len(self.queries)
        self.queries += queries
        n = len(queries)
        self.builders.append(lambda results, s=start, n=n: build(results[s:s + n]))
        return len(self.builders) - 1

    def add_empty(self, schema: dict[str, ColumnType | pl.DataType]) -> int:
        """A frame with no rows (nothing stored to read)."""
        empty = pl.DataFrame(schema=polars_schema(schema))
        return self.add([], lambda _r: empty)

    def run(self, store: "SQLiteMetadataStore") -> list[pl.DataFrame]:
        results = store._read_many(self.queries)
        return [b(results) for b in self.builders]


def _concat(parts: list[pl.DataFrame]) -> pl.DataFrame:
    return parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical", rechunk=False)


def _plan_dep(store: "SQLiteMetadataStore", gp: GraphPlan, d: DepPlan, hasher: Hasher, lean: bool,
              reads: ReadPlan) -> int:
    """Plan the rows one dep contributes: kept columns plus one value column per used field.

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
        return reads.add_empty(schema)
    kept = [f"{quote(src)} AS {quote(down)}" for down, src in columns.items()]
    values = [f"COALESCE({quote(dvbf_column(f))}, {quote(pbf_column(f))})" for f in d.fields]
    where = latest_condition()
    if d.kind != "aggregation":
        select = kept + [f"{v} AS {quote(value_column(d.upstream, f))}" for v, f in zip(values, d.fields)]
        sql = f"SELECT {', '.join(select)} FROM {quote(table)} WHERE {where}"
        return reads.add(split_by_rowid(sql, [fv_id], schema, n, quote(table)), _concat)

    on_src = [d.columns[c] for c in d.on]
    on_select = ", ".join(f"{quote(s)} AS {quote(c)}" for s, c in zip(on_src, d.on))
    group_schema = {c: schema[c] for c in d.on} | {value_column(d.upstream, f): pl.String for f in d.fields}
    if d.fields:
        order = [d.columns[c] for c in d.upstream_ids]
        window = (f"PARTITION BY {quote_all(on_src)} ORDER BY {quote_all(order)} "
                  "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING")
        # SQLite's window group_concat gives NULL, not '', for a group whose text is empty (one
        # member whose value is ''); the values themselves are never NULL, so NULL means ''
        concat = [f"COALESCE(group_concat({v}, '|') OVER w, '') AS {quote(value_column(d.upstream, f))}"
                  for v, f in zip(values, d.fields)]
        inner = (f"SELECT {on_select}, row_number() OVER w AS __rn, {', '.join(concat)} FROM {quote(table)} "
                 f"WHERE {where} WINDOW w AS ({window})")
        group_query = Query(f"SELECT {quote_all(group_schema)} FROM ({inner}) WHERE __rn = 1", [fv_id],
                            group_schema, n)
    else:
        group_query = Query(f"SELECT DISTINCT {on_select} FROM {quote(table)} WHERE {where}", [fv_id],
                            group_schema, n)

    def hashed(groups: pl.DataFrame) -> pl.DataFrame:
        # one hash per group, not per member
        return groups.with_columns([hasher.expr(pl.col(value_column(d.upstream, f)))
                                    .alias(value_column(d.upstream, f)) for f in d.fields])

    if lean:
        return reads.add([group_query], lambda r: hashed(r[0]))
    members_schema = {k: v for k, v in schema.items() if not k.startswith("__v:")}
    members_sql = f"SELECT {', '.join(kept)} FROM {quote(table)} WHERE {where}"
    member_queries = split_by_rowid(members_sql, [fv_id], members_schema, n, quote(table))

    def build(r: list[pl.DataFrame]) -> pl.DataFrame:
        return _concat(r[1:]).join(hashed(r[0]), on=list(d.on), how="left", nulls_equal=False)

    return reads.add([group_query, *member_queries], build)


def _plan_current(store: "SQLiteMetadataStore", plan: FeaturePlan, reads: ReadPlan) -> int:
    """Plan the key columns and provenance of the feature's latest rows; one row per key."""
    key = list(plan.key)
    schema = {c: plan.definition.columns[c] for c in key} | {PROVENANCE: pl.String}
    table, fv_id, n = store._latest_location(plan.name, plan.feature_version)
    if table is None or fv_id is None:
        return reads.add_empty(schema)
    sql = f"SELECT {quote_all(key)}, {quote(PROVENANCE)} FROM {quote(table)} WHERE {latest_condition()}"

    def build(parts: list[pl.DataFrame]) -> pl.DataFrame:
        cur = _concat(parts)
        if list(plan.key) != list(plan.definition.id_columns):
            # expansion: many children share a parent key; they agree unless a write was partial
            cur = cur.group_by(key, maintain_order=True).agg(
                pl.when(pl.col(PROVENANCE).n_unique() == 1).then(pl.col(PROVENANCE).first())
                .otherwise(pl.lit(MIXED)).alias(PROVENANCE))
        return cur

    return reads.add(split_by_rowid(sql, [fv_id], schema, n, quote(table)), build)


def _expected(plan: FeaturePlan, dep_frames: list[pl.DataFrame], hasher: Hasher, lean: bool) -> pl.DataFrame:
    """Join the deps' frames and hash every field's and the row's provenance."""
    frame = _joined(plan, dep_frames)
    key = list(plan.key)
    field_hashes: dict[str, pl.Expr] = {}
    for spec in plan.definition.spec.fields:
        fk = spec.key.to_string()
        parts: list[pl.Expr] = [pl.lit(fk), pl.lit(spec.code_version)]
        for up, uf in plan.field_parents[fk]:
            value = pl.col(value_column(up, FieldKey(uf).struct_name)).fill_null("")
            parts += [pl.lit(f"{up}.{uf}"), value]
        field_hashes[spec.key.struct_name] = hasher.join_expr(parts).alias(spec.key.struct_name)
    fields = sorted(field_hashes)
    if lean and (plan.deps[0].kind == "aggregation" or len(plan.deps) > 1):
        frame = frame.unique(subset=key)
    values = [c for c in frame.columns if c.startswith("__v:")]
    # lazily, so the per-row concatenations are freed as soon as they are hashed
    return (frame.lazy()
            .with_columns(pl.struct([field_hashes[f] for f in fields]).alias(PROVENANCE_BY_FIELD))
            .with_columns(hasher.join_expr([pl.col(PROVENANCE_BY_FIELD).struct.field(f) for f in fields])
                          .alias(PROVENANCE))
            .drop(values)
            .collect())


def resolve_frames(store: "SQLiteMetadataStore", gp: GraphPlan, plan: FeaturePlan, hasher: Hasher, *,
                   lean: bool = False, expected: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(expected, current) for a feature, read in one consistent batch.

    `expected` given (a root's samples) skips the upstream reads.
    """
    reads = ReadPlan()
    if expected is None:
        for d in plan.deps:
            _plan_dep(store, gp, d, hasher, lean, reads)
    _plan_current(store, plan, reads)
    frames = reads.run(store)
    current = frames[-1]
    if expected is None:
        expected = _expected(plan, frames[:-1], hasher, lean)
    return expected, current


VERIFY_CHUNK = 131_072
GATHER_SHARE = 0.4  # above this share of samples, read every upstream row instead of picking by key


def _plan_rows(store: "SQLiteMetadataStore", gp: GraphPlan, d: DepPlan, keys: pl.DataFrame | None,
               reads: ReadPlan) -> int:
    """Plan a dep's kept columns (no values) for the rows whose `on` key is in `keys` (None: all)."""
    up = gp[d.upstream]
    schema: dict[str, ColumnType | pl.DataType] = {down: up.definition.columns[src] for down, src in d.columns.items()}
    table, fv_id, n = store._latest_location(d.upstream, up.feature_version)
    if table is None or fv_id is None:
        return reads.add_empty(schema)
    kept = ", ".join(f"{quote(src)} AS {quote(down)}" for down, src in d.columns.items())
    sql = f"SELECT {kept} FROM {quote(table)} WHERE {latest_condition()}"
    if keys is None:
        return reads.add(split_by_rowid(sql, [fv_id], schema, n, quote(table)), _concat)
    types = {c: up.definition.columns[d.columns[c]] for c in d.on}
    cond, encoded = keys_in([d.columns[c] for c in d.on], keys.select(list(d.on)).unique(), types)
    return reads.add([Query(f"{sql} AND {cond}", [fv_id, encoded], schema, keys.height)], _concat)


def resolve(store: "SQLiteMetadataStore", gp: GraphPlan, plan: FeaturePlan, hasher: Hasher, read_removed) -> Increment:
    """The increment of a derived feature.

    A feature with stored rows is first resolved on keys and values only (lean); the wide
    upstream rows are then read for the added and changed samples alone. A stale 10% of
    1,000,000 rows so holds one copy of the keys, not of every column. The two phases must
    see one state of the store: if a write lands in between, it starts over, and after three
    tries resolves everything in one batch.
    """
    key = list(plan.key)
    for _attempt in range(3):
        stamp = store._write_counter()
        table, fv_id, _n = store._latest_location(plan.name, plan.feature_version)
        if table is None or fv_id is None or not store._has_latest(table, fv_id):
            break  # nothing stored: everything is added, read it all at once
        lean, current = resolve_frames(store, gp, plan, hasher, lean=True)
        wanted, gone, n_keys = _lean_status(plan, lean, current)
        del lean, current
        pick_all = wanted.height > GATHER_SHARE * max(n_keys, 1)
        if pick_all and not any(d.kind == "aggregation" for d in plan.deps):
            break  # most samples are wanted: one wide read (hashing again) beats picking them by key
        # (an aggregation keeps its groups' provenance from the lean phase: its window runs once)
        reads = ReadPlan()
        for d in plan.deps:
            _plan_rows(store, gp, d, None if pick_all else wanted.select(key), reads)
        wide = reads.run(store)
        if store._write_counter() != stamp:
            continue
        rows = _joined(plan, wide).join(wanted, on=key, how="inner", maintain_order="left")
        added = rows.filter(pl.col("__state") == ADDED).drop("__state")
        changed = rows.filter(pl.col("__state") == CHANGED).drop("__state")
        removed = read_removed(gone if gone.height else None)
        return Increment(plan.name, tuple(key), IncrementFrame(added), IncrementFrame(changed),
                         IncrementFrame(removed))
    expected, current = resolve_frames(store, gp, plan, hasher)
    return compare(plan, expected, current, read_removed)


def _joined(plan: FeaturePlan, frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The deps' rows joined on the key columns they share (required deps inner, optional left;
    all optional: full)."""
    frame: pl.DataFrame | None = None
    key: list[str] = []
    all_optional = all(d.optional for d in plan.deps)
    for d, part in zip(plan.deps, frames):
        if frame is None:
            frame = part
        else:
            shared = [c for c in d.on if c in key]
            how = "full" if all_optional else ("left" if d.optional else "inner")
            frame = frame.join(part, on=shared, how=how, coalesce=True)
        key += [c for c in d.on if c not in key]
    assert frame is not None
    return frame


def _key_hash(key: list[str]) -> pl.Expr:
    return (pl.col(key[0]) if len(key) == 1 else pl.struct(key)).hash().alias("__h")


def match_keys(left: pl.DataFrame, right: pl.DataFrame, key: list[str]) -> tuple[pl.Series, pl.Series]:
    """For each left row, the index of the right row with the same key (null: none), and for
    each right row whether some left row has its key. Right keys are unique.

    Keys are joined through 64-bit hashes and row numbers (a join of 1,000,000 string keys
    themselves held 300 MB more); every pair is then checked against the real keys, in
    slices, so a hash collision can never pair two different samples.
    """
    lh = left.select(_key_hash(key), pl.int_range(pl.len(), dtype=pl.UInt32).alias("__l"))
    rh = right.select(_key_hash(key), pl.int_range(pl.len(), dtype=pl.UInt32).alias("__r"))
    pairs = lh.join(rh, on="__h", how="inner")
    del lh, rh
    li, ri = pairs.get_column("__l"), pairs.get_column("__r")
    del pairs
    checks = []
    for start in range(0, len(li), VERIFY_CHUNK):  # in slices: a few MB of gathered keys at a time
        a, b = li.slice(start, VERIFY_CHUNK), ri.slice(start, VERIFY_CHUNK)
        same = pl.repeat(True, len(a), eager=True)
        for c in key:
            same &= (left.get_column(c).gather(a) == right.get_column(c).gather(b)).fill_null(False)
        checks.append(same)
    if checks:
        same = pl.concat(checks)
        if not same.all():
            li, ri = li.filter(same), ri.filter(same)
    return _scatter_matches(left.height, right.height, li, ri)


def _scatter_matches(n_left: int, n_right: int, li: pl.Series, ri: pl.Series) -> tuple[pl.Series, pl.Series]:
    to_right = (pl.Series("__r", [None], dtype=pl.UInt32).extend_constant(None, n_left - 1).scatter(li, ri)
                if n_left else pl.Series("__r", [], dtype=pl.UInt32))
    right_matched = pl.repeat(False, n_right, eager=True).scatter(ri, True) if n_right \
        else pl.Series([], dtype=pl.Boolean)
    return to_right, right_matched


UNCHANGED, ADDED, CHANGED = 0, 1, 2


def _states(expected: pl.DataFrame, current: pl.DataFrame, key: list[str]) -> tuple[pl.Series, pl.Series]:
    """Per expected row ADDED / CHANGED / UNCHANGED (UInt8); per current row whether it is removed."""
    to_cur, matched = match_keys(expected, current, key)
    stored = current.get_column(PROVENANCE).gather(to_cur)
    del to_cur
    state = pl.select(pl.when(stored.is_null()).then(pl.lit(ADDED, pl.UInt8))
                      .when(stored != expected.get_column(PROVENANCE)).then(pl.lit(CHANGED, pl.UInt8))
                      .otherwise(pl.lit(UNCHANGED, pl.UInt8))).to_series()
    return state, ~matched


def _lean_status(plan: FeaturePlan, lean: pl.DataFrame, current: pl.DataFrame
                 ) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(added and changed keys with their provenance and state, removed keys, number of keys)."""
    key = list(plan.key)
    exp = lean.select(key + [PROVENANCE_BY_FIELD, PROVENANCE])  # one row per key: _expected made it so
    state, removed = _states(exp, current, key)
    wanted = exp.with_columns(state.alias("__state")).filter(pl.col("__state") != UNCHANGED)
    gone = current.filter(removed).select(key)
    return wanted, gone, exp.height


def compare(plan: FeaturePlan, expected: pl.DataFrame, current: pl.DataFrame, read_removed) -> Increment:
    """Split expected rows into added and changed, and find current keys gone from upstream.

    Keys are matched by hash and row number (match_keys); the wide expected frame is only
    filtered, so a 1,000,000-row resolve holds one copy of the wide rows.
    """
    key = list(plan.key)
    if current.height == 0:
        return Increment(plan.name, tuple(key), IncrementFrame(expected), IncrementFrame(expected.clear()),
                         IncrementFrame(read_removed(None)))
    state, removed = _states(expected, current, key)
    added = expected.filter(state == ADDED)
    changed = expected.filter(state == CHANGED)
    gone = current.filter(removed).select(key)
    del state, removed
    out_removed = read_removed(gone.unique(maintain_order=True) if gone.height else None)
    return Increment(plan.name, tuple(key), IncrementFrame(added), IncrementFrame(changed), IncrementFrame(out_removed))


def counts(plan: FeaturePlan, expected: pl.DataFrame, current: pl.DataFrame) -> dict[str, int]:
    """What compare() would count (distinct keys), without building the frames."""
    key = list(plan.key)
    state, removed = _states(expected.select(key + [PROVENANCE]).unique(subset=key), current, key)
    return {"added": int((state == ADDED).sum()), "changed": int((state == CHANGED).sum()),
            "removed": int(removed.sum())}


def root_samples(plan: FeaturePlan, samples: pl.DataFrame | None) -> pl.DataFrame:
    if samples is None:
        raise InputError(plan.name, [InputProblem(
            "is a root feature: resolve_update needs samples=<frame with its id columns and "
            "metaxy_provenance_by_field>")])
    return samples


def is_expansion(plan: FeaturePlan) -> bool:
    return any(d.kind == "expansion" for d in plan.deps)


def removed_frame(plan: FeaturePlan, rows: pl.DataFrame) -> pl.DataFrame:
    """The removed frame from the stored rows of the removed keys: for an expansion one row per
    parent, its `on` columns and provenance (as Metaxy 0.1.11; `delete_metadata` takes those
    columns and removes all of the parent's children), otherwise the rows themselves."""
    if not is_expansion(plan):
        return rows
    key = list(plan.key)
    keep = key + [c for c in (PROVENANCE_BY_FIELD, PROVENANCE) if c in rows.columns]
    return rows.select(keep).unique(subset=key, keep="first", maintain_order=True)


def with_data_versions(inc: Increment, plan: FeaturePlan, hasher: Hasher) -> Increment:
    """Added and changed rows carry `metaxy_data_version(_by_field)`, as Metaxy's increments do:
    equal to the provenance unless the samples supplied their own."""
    from .validate import with_data_versions as fill

    fields = plan.definition.field_keys
    out = []
    for frame in (inc.added, inc.changed):
        df = frame.to_polars()
        out.append(IncrementFrame(fill(df, fields, hasher)) if PROVENANCE in df.columns else frame)
    return Increment(inc.feature, inc.key, out[0], out[1], inc.removed)
