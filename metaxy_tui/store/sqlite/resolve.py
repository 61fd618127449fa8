"""resolve_update: which samples of a feature are new, stale or orphaned.

Each dep gives its values by key (store/sqlite/upstream.py): identity and expansion rows, or an
aggregation's groups, whose values are the stored group digests. They are joined on the key
and hashed once per key; the feature's current rows (key and provenance) are then matched
against them, giving added, changed and removed keys. Only then are an aggregation's member
rows attached, one per member, to the added and changed groups. Every read is planned first
and runs as one batch that sees one state of the store (store/sqlite/reader.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

import polars as pl

from ...columns import PROVENANCE, PROVENANCE_BY_FIELD
from ...errors import InputError, InputProblem
from ...frames import Increment, IncrementFrame
from ...graph import FeaturePlan, GraphPlan
from ...hashing import Hasher
from ...keys import FieldKey
from . import upstream
from .handle import ReadPlan, StoreHandle
from .matching import ADDED, CHANGED, UNCHANGED, PendingByChunk
from .matching import states as _states
from .reader import FrameFn
from .upstream import (
    latest_condition as latest_condition,
    value_column as value_column,
)  # (re-exported: for explain and the service layer)
from ...vocabulary import LineageKind

MIXED = "\x00mixed"  # the provenance of an expansion key whose children disagree
# resolve_update's reader of the rows a resolve found removed (by key; None: the whole feature)
ReadRemoved: TypeAlias = Callable[[pl.DataFrame | None], pl.DataFrame]


def _keyed(plan: FeaturePlan, dep_frames: list[pl.DataFrame], hasher: Hasher) -> pl.DataFrame:
    """The deps' values by key, joined, with every field's and the row's provenance hashed once per key."""
    if len(dep_frames) == 1 and PROVENANCE in dep_frames[0].columns:
        return dep_frames[0]  # hashed chunk by chunk as it was read (see _hashing_as_read)
    frame = _joined(plan, dep_frames)
    field_hashes: dict[str, pl.Expr] = {}
    for spec in plan.definition.spec.fields:
        fk = spec.key.to_string()
        parts: list[pl.Expr] = [pl.lit(fk), pl.lit(spec.code_version)]
        for up, uf in plan.field_parents[fk]:
            value = pl.col(value_column(up, FieldKey(uf).struct_name)).fill_null("")
            parts += [pl.lit(f"{up}.{uf}"), value]
        field_hashes[spec.key.struct_name] = hasher.join_expr(parts).alias(spec.key.struct_name)
    fields = sorted(field_hashes)
    values = [c for c in frame.columns if c.startswith("__v:")]
    # lazily, so the per-row concatenations are freed as soon as they are hashed
    return (
        frame.lazy()
        .with_columns(pl.struct([field_hashes[f] for f in fields]).alias(PROVENANCE_BY_FIELD))
        .with_columns(hasher.join_expr([pl.col(PROVENANCE_BY_FIELD).struct.field(f) for f in fields]).alias(PROVENANCE))
        .drop(values)
        .collect()
    )


def _expected(plan: FeaturePlan, dep_frames: list[pl.DataFrame], hasher: Hasher, lean: bool) -> pl.DataFrame:
    """The deps' values by key, joined and hashed (store/sqlite/lookups.py); `lean`: one row per key."""
    keyed = _keyed(plan, dep_frames, hasher)
    return (
        keyed.unique(subset=list(plan.key), keep="first", maintain_order=True) if lean and len(plan.deps) > 1 else keyed
    )


def _columns(plan: FeaturePlan) -> list[str]:
    """The increment's columns: the deps' kept columns, then the provenance."""
    return list(dict.fromkeys(c for d in plan.deps for c in d.columns)) + [PROVENANCE_BY_FIELD, PROVENANCE]


def _with_members(plan: FeaturePlan, keyed: pl.DataFrame, members: dict[int, pl.DataFrame]) -> pl.DataFrame:
    """One row per member of each aggregation dep, carrying its group's columns and provenance."""
    rows = keyed
    all_optional = all(d.optional for d in plan.deps)
    for i, d in enumerate(plan.deps):
        m = members.get(i)
        if m is None:
            continue
        on = list(d.on)
        if d.optional or all_optional:
            rows = rows.join(m, on=on, how="left", coalesce=True)
        else:
            rows = m.join(rows, on=on, how="inner", coalesce=True)
    extra = [c for c in rows.columns if c.startswith("__")]
    return rows.select(_columns(plan) + extra)


def _hashing_as_read(plan: FeaturePlan, hasher: Hasher) -> FrameFn | None:
    """For a feature with one identity or expansion dep, hash each chunk of upstream rows as it is
    read: the raw values of 1,000,000 rows and their hashes are then never all in memory at once."""
    if len(plan.deps) != 1 or plan.deps[0].kind == LineageKind.AGGREGATION:
        return None
    return lambda piece: _keyed(plan, [piece], hasher) if PROVENANCE not in piece.columns else piece


def _plan(
    store: StoreHandle, gp: GraphPlan, plan: FeaturePlan, hasher: Hasher, lean: bool
) -> tuple[ReadPlan, list[int], dict[int, int], int]:
    reads = ReadPlan()
    each = _hashing_as_read(plan, hasher)
    values = [upstream.plan_values(store, gp, d, hasher, lean, reads, each) for d in plan.deps]
    members = (
        {}
        if lean
        else {
            i: upstream.plan_members(store, gp, d, reads)
            for i, d in enumerate(plan.deps)
            if d.kind == LineageKind.AGGREGATION
        }
    )
    current = upstream.plan_current(store, plan, reads, MIXED)
    return reads, values, members, current


def resolve_frames(
    store: StoreHandle,
    gp: GraphPlan,
    plan: FeaturePlan,
    hasher: Hasher,
    *,
    lean: bool = False,
    expected: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(expected, current) for a feature, read in one consistent batch.

    `expected` given (a root's samples) skips the upstream reads; `lean` gives expected by key
    (one row per key, no member rows): what the pending counts need.
    """
    if expected is not None:
        reads = ReadPlan()
        cur = upstream.plan_current(store, plan, reads, MIXED)
        return expected, reads.run(store)[cur]
    reads, values, members, cur = _plan(store, gp, plan, hasher, lean)
    frames = reads.run(store)
    keyed = _keyed(plan, [frames[i] for i in values], hasher)
    if not lean:
        keyed = _with_members(plan, keyed, {i: frames[j] for i, j in members.items()})
    return keyed, frames[cur]


def resolve(
    store: StoreHandle, gp: GraphPlan, plan: FeaturePlan, hasher: Hasher, read_removed: ReadRemoved
) -> Increment:
    """The increment of a derived feature: keys compared first, member rows attached after."""
    key = list(plan.key)
    rows = gone = None
    if len(plan.deps) == 1 and (plan.deps[0].kind == LineageKind.AGGREGATION or _has_rows(store, plan)):
        rows, gone = _rows_after_keys(store, gp, plan, hasher)
    if rows is None:
        reads, values, members, cur = _plan(store, gp, plan, hasher, lean=False)
        frames = reads.run(store)
        keyed, gone = _pending(plan, _keyed(plan, [frames[i] for i in values], hasher), frames[cur])
        rows = _with_members(plan, keyed, {i: frames[j] for i, j in members.items()})
        del frames, keyed
    state = rows.get_column("__state")
    if not (state != ADDED).any():
        added, changed = rows.drop("__state"), rows.clear().drop("__state")
    else:
        added = rows.filter(pl.col("__state") == ADDED).drop("__state")
        changed = rows.filter(pl.col("__state") == CHANGED).drop("__state")
    del rows, state
    removed = read_removed(gone.unique(maintain_order=True) if gone is not None and gone.height else None)
    return Increment(plan.name, tuple(key), IncrementFrame(added), IncrementFrame(changed), IncrementFrame(removed))


def _pending(plan: FeaturePlan, keyed: pl.DataFrame, current: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The added and changed keys (with `__state`), and the removed ones."""
    key = list(plan.key)
    if not current.height:
        return keyed.with_columns(pl.lit(ADDED, pl.UInt8).alias("__state")), None
    state, removed = _states(keyed, current, key)
    return (
        keyed.with_columns(state.alias("__state")).filter(pl.col("__state") != UNCHANGED),
        current.filter(removed).select(key),
    )


def _has_rows(store: StoreHandle, plan: FeaturePlan) -> bool:
    table, fv_id, _n = store._latest_location(plan.name, plan.feature_version)
    return table is not None and fv_id is not None and store._has_latest(table, fv_id)


def _rows_after_keys(
    store: StoreHandle, gp: GraphPlan, plan: FeaturePlan, hasher: Hasher
) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """A one-dep feature's pending rows, the feature's own rows read first.

    Identity, expansion: then the upstream rows, each chunk hashed and compared as it is read
    and cut to its pending rows (the wide rows of 1,000,000 keys are never all held, and read
    once). Aggregation: the groups' values (one row per group) first, then the members, each
    chunk joined to its pending group as it is read (the 1,000,000 members never held twice).
    A write landing between the reads makes it try again; after three tries it gives up (None)
    and the caller reads everything in one batch."""
    d = plan.deps[0]
    on = list(d.on)
    each = _hashing_as_read(plan, hasher)
    rows: pl.DataFrame
    gone: pl.DataFrame | None
    for _attempt in range(3):
        stamp = store._write_counter()
        reads = ReadPlan()
        if each is not None:
            cur = upstream.plan_current(store, plan, reads, MIXED)
            pending = PendingByChunk(reads.run(store)[cur], list(plan.key))
            reads = ReadPlan()

            def compared(
                piece: pl.DataFrame, pending: PendingByChunk = pending, hashed: FrameFn = each
            ) -> pl.DataFrame:
                return pending.take(hashed(piece))

            v = upstream.plan_values(store, gp, d, hasher, False, reads, compared)
            rows, gone = reads.run(store)[v], pending.gone()
            del pending
        else:
            v = upstream.plan_values(store, gp, d, hasher, True, reads)
            cur = upstream.plan_current(store, plan, reads, MIXED)
            frames = reads.run(store)
            keyed, gone = _pending(plan, _keyed(plan, [frames[v]], hasher), frames[cur])
            keyed = keyed.select(on + [PROVENANCE_BY_FIELD, PROVENANCE, "__state"])
            del frames
            reads = ReadPlan()

            def join_keyed(piece: pl.DataFrame, keyed: pl.DataFrame = keyed) -> pl.DataFrame:
                return piece.join(keyed, on=on, how="inner", maintain_order="left")

            m = upstream.plan_members(store, gp, d, reads, each=join_keyed)
            rows = reads.run(store)[m]
        if store._write_counter() == stamp:
            return rows.select(_columns(plan) + ["__state"]), gone
    return None, None


def resolve_keys(
    store: StoreHandle, gp: GraphPlan, plan: FeaturePlan, hasher: Hasher
) -> tuple[Increment, pl.DataFrame]:
    """The increment by key only: one row per sample (key, provenance by field, provenance), no
    member or kept columns; removed keys with their stored provenance. What explanations need,
    at the cost of the pending counts (an aggregation reads its groups, not its members).

    Also returns the feature's current rows with their provenance by field and write (see
    upstream.plan_current), read in the same batch.
    """
    key = list(plan.key)
    reads = ReadPlan()
    each = _hashing_as_read(plan, hasher)
    values = [upstream.plan_values(store, gp, d, hasher, True, reads, each) for d in plan.deps]
    cur = upstream.plan_current(store, plan, reads, MIXED, with_fields=True)
    frames = reads.run(store)
    keyed = _keyed(plan, [frames[i] for i in values], hasher).select(key + [PROVENANCE_BY_FIELD, PROVENANCE])
    keyed = keyed.unique(subset=key, keep="first", maintain_order=True) if len(plan.deps) > 1 else keyed
    current = frames[cur]
    if not current.height:
        inc = Increment(
            plan.name,
            tuple(key),
            IncrementFrame(keyed),
            IncrementFrame(keyed.clear()),
            IncrementFrame(current.select(key + [PROVENANCE])),
        )
        return inc, current
    state, removed = _states(keyed, current, key)
    inc = Increment(
        plan.name,
        tuple(key),
        IncrementFrame(keyed.filter(state == ADDED)),
        IncrementFrame(keyed.filter(state == CHANGED)),
        IncrementFrame(current.filter(removed).select(key + [PROVENANCE])),
    )
    return inc, current


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
            how: Literal["full", "left", "inner"]
            how = "full" if all_optional else ("left" if d.optional else "inner")
            frame = frame.join(part, on=shared, how=how, coalesce=True)
        key += [c for c in d.on if c not in key]
    assert frame is not None
    return frame


def compare(plan: FeaturePlan, expected: pl.DataFrame, current: pl.DataFrame, read_removed: ReadRemoved) -> Increment:
    """Split expected rows into added and changed, and find current keys gone from upstream.

    Keys are matched by hash and row number (match_keys); the wide expected frame is only
    filtered, so a 1,000,000-row resolve holds one copy of the wide rows.
    """
    key = list(plan.key)
    if current.height == 0:
        return Increment(
            plan.name,
            tuple(key),
            IncrementFrame(expected),
            IncrementFrame(expected.clear()),
            IncrementFrame(read_removed(None)),
        )
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
    exp = expected.select(key + [PROVENANCE])
    if len(plan.deps) != 1:  # one dep gives one row per key already; several may repeat keys
        exp = exp.unique(subset=key)
    state, removed = _states(exp, current, key)
    return {
        "added": int((state == ADDED).sum()),
        "changed": int((state == CHANGED).sum()),
        "removed": int(removed.sum()),
    }


def root_samples(plan: FeaturePlan, samples: pl.DataFrame | None) -> pl.DataFrame:
    if samples is None:
        raise InputError(
            plan.name,
            [
                InputProblem(
                    "is a root feature: resolve_update needs samples=<frame with its id columns and "
                    "metaxy_provenance_by_field>"
                )
            ],
        )
    return samples


def is_expansion(plan: FeaturePlan) -> bool:
    return any(d.kind == LineageKind.EXPANSION for d in plan.deps)


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
    from ..validate import with_data_versions as fill

    fields = plan.definition.field_keys
    out = []
    for frame in (inc.added, inc.changed):
        df = frame.to_polars()
        out.append(IncrementFrame(fill(df, fields, hasher)) if PROVENANCE in df.columns else frame)
    return Increment(inc.feature, inc.key, out[0], out[1], inc.removed)
