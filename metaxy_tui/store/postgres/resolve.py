"""resolve_update on PostgreSQL: the statements of sql.py run in one snapshot, in two phases.

1. Pending keys. With md5 or sha256 one statement hashes and compares in the database and
   returns only the pending keys (added, changed, removed) with their provenance, plus, for
   identity and expansion deps, the rows themselves. With xxhash (not in PostgreSQL) the
   same statement returns, per key, the value strings to hash (an identity's data versions,
   an aggregation's ordered member strings built by `string_agg`) and the stored provenance;
   the client hashes them with polars-hash and compares, a batch of the result at a time
   (`Reads.frames`), keeping only each batch's pending keys.
2. Rows. An aggregation's members (and, with client hashing, identity rows) are read for the
   pending keys only, sent back as one JSON literal; when nothing is stored yet every row is
   pending and they are read without a filter.

The increment is then assembled exactly as store/resolve.py assembles it (`_with_members`,
the same columns and data versions), so both stores give the same frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from ...columns import PROVENANCE, PROVENANCE_BY_FIELD, ColumnType, PolarsType
from ...frames import Increment, IncrementFrame
from ...graph import FeaturePlan, GraphPlan
from ...hashing import Hasher
from ...keys import FieldKey
from ..sqlite import resolve as common
from .sql import ADDED, CHANGED, REMOVED, ResolveSQL, value_column

if TYPE_CHECKING:
    from .handle import PgHandle

STATE = "__state"
READ_ALL_ABOVE = 5  # read every member when more than 1/5 of the groups are pending


def _dtype(t: ColumnType) -> PolarsType:
    return t.polars


class Phase1:
    """What phase 1 found: pending keyed rows (key, kept, provenance by field, provenance, state)
    and the removed keys."""

    def __init__(self, keyed: pl.DataFrame, removed: pl.DataFrame, all_pending: bool, expected_keys: int | None):
        self.keyed, self.removed, self.all_pending, self.expected_keys = keyed, removed, all_pending, expected_keys


def builder(store: "PgHandle", gp: GraphPlan, plan: FeaturePlan) -> ResolveSQL:
    places = {d.upstream: store._place(d.upstream, gp[d.upstream].feature_version) for d in plan.deps}
    return ResolveSQL(gp, plan, store.hasher, places, store._place(plan.name, plan.feature_version))


def phase1(
    store: "PgHandle",
    b: ResolveSQL,
    *,
    kept: bool,
    keys: pl.DataFrame | None = None,
    lean: bool = False,
    unchanged: bool = False,
    fresh: bool = False,
) -> Phase1:
    """Run phase 1 (inside the caller's snapshot). `unchanged` keeps unchanged keys too (state 0)."""
    plan = b.plan
    key = b.key
    kt = b.key_types()
    sql, kinds = b.pending(kept=kept, keys=keys, lean=lean, unchanged=unchanged, fresh=fresh)
    inv = {a: c for c, a in b.alias.items()}
    kept_types: dict[str, ColumnType] = {}
    for d in plan.deps:
        if d.kind != "aggregation":
            kept_types.update(b.kept_types(d))
    value_names = {}
    for i, d in enumerate(plan.deps):
        for name, a in b.values(i, d).items():
            value_names[a] = name
    schema: dict[str, PolarsType] = {}
    for k in kinds:
        if k in inv:
            c = inv[k]
            schema[c] = _dtype(kt[c] if c in kt else kept_types[c])
        elif k in value_names:
            schema[value_names[k]] = pl.String
        elif k.startswith("f:"):
            schema[k] = pl.String
        elif k in ("prov", "cprov"):
            schema[k] = pl.String
        elif k in ("w", "r"):
            schema[k] = pl.Int64
        else:
            schema[k] = pl.Int32
    if not b.in_sql:
        return _hashed_here(store, b, sql, schema, unchanged)
    raw = store._reads.frame(sql, schema)
    if "w" in raw.columns:  # insertion order, as the SQLite store reads rows (removed keys last)
        raw = raw.sort(["w", "r"], nulls_last=True, maintain_order=True).drop(["w", "r"])
    # hashed in SQL: only the pending keys travel
    fields = sorted(spec.key.struct_name for spec in plan.definition.spec.fields)
    state = raw.get_column("state")
    removed = raw.filter(state == REMOVED).select(key)
    keyed = raw.filter(state != REMOVED) if unchanged else raw.filter((state != REMOVED) & (state != 0))
    keyed = keyed.select(
        [c for c in keyed.columns if not c.startswith("f:") and c not in ("prov", "state")]
        + [
            pl.struct([pl.col(f"f:{f}").alias(f) for f in fields]).alias(PROVENANCE_BY_FIELD),
            pl.col("prov").alias(PROVENANCE),
            pl.col("state").cast(pl.UInt8).alias(STATE),
        ]
    )
    return Phase1(keyed, removed, False, None)


def _hashed_here(store: "PgHandle", b: ResolveSQL, sql: str, schema: dict[str, PolarsType], unchanged: bool) -> Phase1:
    """Phase 1 with client hashing (xxhash, not in PostgreSQL), a batch of the result at a time:
    each batch is hashed, compared and cut to its pending keys before the next is read, so the
    client holds the pending rows, not every expected row with its value strings (at 1,000,000
    identity rows, 10% changed: 567 MB peak read whole)."""
    plan, hasher, key = b.plan, b.hasher, b.key
    # aggregation values are the members' strings, hashed first
    agg_values = [value_column(d.upstream, f) for d in plan.deps if d.kind == "aggregation" for f in d.fields]
    order = ["w", "r"] if "w" in schema else []
    pending: list[pl.DataFrame] = []
    removed: list[pl.DataFrame] = []
    any_present, expected = False, 0
    for raw in store._reads.frames(sql, schema):
        epresent = raw.get_column("epresent").is_not_null()
        removed.append(raw.filter(~epresent).select(key + order))
        rows = raw.filter(epresent)
        del raw, epresent
        any_present = any_present or bool(rows.get_column("present").is_not_null().any())
        expected += rows.height
        if agg_values:
            rows = rows.with_columns([hasher.expr(pl.col(v)).alias(v) for v in agg_values])
        cur = rows.get_column("cprov")
        had = rows.get_column("present").is_not_null()
        keyed = common._keyed(plan, [rows.drop(["epresent", "present", "cprov"])], hasher)
        del rows
        prov = keyed.get_column(PROVENANCE)
        state = pl.select(
            pl.when(~had)
            .then(pl.lit(ADDED, pl.UInt8))
            .when(cur.is_null() | (cur != prov))
            .then(pl.lit(CHANGED, pl.UInt8))
            .otherwise(pl.lit(0, pl.UInt8))
        ).to_series()
        keyed = keyed.with_columns(state.alias(STATE))
        pending.append(keyed if unchanged else keyed.filter(pl.col(STATE) != 0))
    keyed_all = pl.concat(pending, how="vertical") if len(pending) > 1 else pending[0]
    removed_all = pl.concat(removed, how="vertical") if len(removed) > 1 else removed[0]
    if order:  # insertion order, as the SQLite store reads rows (removed keys last)
        keyed_all = _in_order(keyed_all, order)
        removed_all = _in_order(removed_all, order)
    return Phase1(keyed_all, removed_all, not any_present, expected)


def _in_order(frame: pl.DataFrame, order: list[str]) -> pl.DataFrame:
    """`frame` sorted by `order` (nulls last), without `order`; as it came when it already is
    sorted (a fresh feature's rows usually are): no second copy of a million pending rows."""
    w, r = (pl.col(c) for c in order)
    ordered = (
        frame.height < 2
        or frame.select(
            (w.null_count() == 0)
            & (r.null_count() == 0)
            & ((w.diff() > 0) | ((w.diff() == 0) & (r.diff() > 0))).slice(1).all()
        ).item()
    )
    return (frame if ordered else frame.sort(order, nulls_last=True, maintain_order=True)).drop(order)


def _keys_of(keyed: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    return keyed.select(cols).unique(maintain_order=True)


def resolve(store: "PgHandle", gp: GraphPlan, plan: FeaturePlan, read_removed: common.ReadRemoved) -> Increment:
    """The increment of a derived feature (SPEC 4)."""
    key = list(plan.key)
    with store._reads.snapshot():
        store._note_resolved(plan.name)
        b = builder(store, gp, plan)
        fresh = not b.own.stored or not store._has_live(b.own)
        # identity and expansion rows come with the keys: phase 1 reads them anyway (with client
        # hashing every expected row comes back), and a second read filtered by the pending keys
        # cost more than the extra columns (3.3 s against ~1 s for 100,000 of 1,000,000 keys)
        kept_now = True
        p1 = phase1(store, b, kept=kept_now, fresh=fresh)
        keyed = p1.keyed
        pending_all = fresh or p1.all_pending
        members: dict[int, pl.DataFrame] = {}
        for i, d in enumerate(plan.deps):
            needs = d.kind == "aggregation" or not kept_now
            if not needs:
                continue
            if not keyed.height:
                rows = pl.DataFrame(schema={c: t.polars for c, t in b.kept_types(d).items()})
            else:
                # many pending groups: every member, filtered by the join below, costs less than
                # a semi-join on the server against the keys sent as JSON (4.2 s -> ~2 s at 65,000 of
                # 100,000 groups); few: only theirs
                many = bool(p1.expected_keys and keyed.height * READ_ALL_ABOVE > p1.expected_keys)
                wanted = None if pending_all or many else _keys_of(keyed, list(d.on))
                sql, types = b.rows(i, d, wanted)
                schema = {c: t.polars for c, t in types.items()}
                if sql:
                    # read a batch at a time and, when every member is read, keep the pending
                    # groups' members of each batch only
                    keep = _keys_of(keyed, list(d.on)) if wanted is None and not pending_all else None
                    parts = [
                        part if keep is None else part.join(keep, on=list(d.on), how="semi")
                        for part in store._reads.frames(sql, schema | {"__w": pl.Int64, "__r": pl.Int64})
                    ]
                    rows = (
                        pl.concat(parts, how="vertical").sort(["__w", "__r"], maintain_order=True).drop(["__w", "__r"])
                    )
                    del parts
                else:
                    rows = pl.DataFrame(schema=schema)
            if d.kind == "aggregation":
                members[i] = rows
            else:
                extra = [c for c in rows.columns if c not in keyed.columns or c in d.on]
                keyed = (
                    keyed.join(rows.select(extra), on=list(d.on), how="left", maintain_order="left", nulls_equal=False)
                    if keyed.height
                    else keyed.with_columns(
                        [pl.lit(None, rows.schema[c]).alias(c) for c in extra if c not in keyed.columns]
                    )
                )
        removed_keys = p1.removed
        del p1
    rows = (
        common._with_members(plan, keyed, members)
        if members or keyed.height
        else keyed.select(common._columns(plan) + [STATE])
        if all(c in keyed.columns for c in common._columns(plan))
        else _empty_rows(plan, b)
    )
    state = rows.get_column(STATE)
    if not (state != ADDED).any():  # nothing stored yet: every row is added, kept without a copy
        added, changed = rows.drop(STATE), rows.clear().drop(STATE)
    else:
        added = rows.filter(state == ADDED).drop(STATE)
        changed = rows.filter(state == CHANGED).drop(STATE)
    del rows, state, keyed, members
    removed = read_removed(removed_keys.unique(maintain_order=True) if removed_keys.height else None)
    return Increment(plan.name, tuple(key), IncrementFrame(added), IncrementFrame(changed), IncrementFrame(removed))


def _empty_rows(plan: FeaturePlan, b: ResolveSQL) -> pl.DataFrame:
    schema: dict[str, PolarsType] = {}
    for d in plan.deps:
        for c, t in b.kept_types(d).items():
            schema.setdefault(c, t.polars)
    fields = sorted(spec.key.struct_name for spec in plan.definition.spec.fields)
    schema[PROVENANCE_BY_FIELD] = pl.Struct({f: pl.String for f in fields})
    schema[PROVENANCE] = pl.String
    schema[STATE] = pl.UInt8
    return pl.DataFrame(schema=schema).select(common._columns(plan) + [STATE])


def counts(store: "PgHandle", gp: GraphPlan, plan: FeaturePlan) -> dict[str, int]:
    """resolve_update's distinct added, changed and removed keys, reading keys only."""
    key = list(plan.key)
    with store._reads.snapshot():
        b = builder(store, gp, plan)
        p1 = phase1(store, b, kept=False, lean=True)
    k = p1.keyed.select(key + [STATE]).unique(subset=key, keep="first")
    st = k.get_column(STATE)
    return {
        "added": int((st == ADDED).sum()),
        "changed": int((st == CHANGED).sum()),
        "removed": p1.removed.unique().height,
    }


def resolve_keys(store: "PgHandle", gp: GraphPlan, plan: FeaturePlan) -> tuple[Increment, pl.DataFrame]:
    """The increment by key only (explanations): see store/resolve.py's resolve_keys."""
    key = list(plan.key)
    with store._reads.snapshot():
        store._note_resolved(plan.name)
        b = builder(store, gp, plan)
        p1 = phase1(store, b, kept=False, lean=True)
        current = store._current_rows(plan, with_fields=True)
    keyed = p1.keyed.unique(subset=key, keep="first", maintain_order=True)
    st = keyed.get_column(STATE)
    cols = key + [PROVENANCE_BY_FIELD, PROVENANCE]
    removed = current.join(p1.removed.unique(), on=key, how="semi").select(key + [PROVENANCE])
    inc = Increment(
        plan.name,
        tuple(key),
        IncrementFrame(keyed.filter(st == ADDED).select(cols)),
        IncrementFrame(keyed.filter(st == CHANGED).select(cols)),
        IncrementFrame(removed),
    )
    return inc, current


def expected_for_keys(store: "PgHandle", gp: GraphPlan, plan: FeaturePlan, keys: pl.DataFrame) -> pl.DataFrame:
    """Key, provenance by field and provenance that the live upstream gives `keys` now."""
    with store._reads.snapshot():
        b = builder(store, gp, plan)
        p1 = phase1(store, b, kept=False, keys=keys, lean=True, unchanged=True)
    return p1.keyed.unique(subset=list(plan.key), keep="first", maintain_order=True)


__all__ = ["resolve", "counts", "resolve_keys", "expected_for_keys", "FieldKey", "Hasher", "PROVENANCE"]
