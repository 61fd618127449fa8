"""Why each sample of an increment is added, changed or removed.

Every write records `inputs_as_of`: the last write id its rows' upstream was read at (from
the store's latest resolve_update of that feature). Superseded rows stay as history, so
the upstream a stored sample was computed from can be read back "as of" that write and
compared with the upstream now: which upstream samples (and which of their fields)
changed, appeared or disappeared. Definition changes come from the graph snapshots the
store records. Nothing extra is stored per row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from .columns import DELETED_AT, PROVENANCE, PROVENANCE_BY_FIELD, dvbf_column, pbf_column
from .frames import Increment
from .graph import DepPlan, FeatureGraph, FeaturePlan
from .keys import FieldKey, quote, quote_all
from .store.codec import polars_schema
from .store.resolve import latest_condition
from .store.schema import FV, SUPERSEDED, WRITE

if TYPE_CHECKING:
    from .store.sqlite_store import SQLiteMetadataStore

SHOWN = 12  # upstream samples named per reason; the rest are counted


@dataclass
class UpstreamChange:
    """One upstream sample that differs between when the sample was computed and now."""

    feature: str
    ids: dict[str, Any]
    change: str  # added | removed | changed
    fields: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # field -> (then, now)

    def describe(self) -> str:
        who = ", ".join(f"{v}" for v in self.ids.values())
        if self.change == "added":
            return f"{self.feature} {who} appeared"
        if self.change == "removed":
            return f"{self.feature} {who} is gone"
        parts = [f"{f} {short_value(a)} → {short_value(b)}" for f, (a, b) in sorted(self.fields.items())]
        return f"{self.feature} {who} changed ({'; '.join(parts)})"

    def to_dict(self) -> dict:
        return {"feature": self.feature, "ids": self.ids, "change": self.change,
                "fields": {f: {"then": a, "now": b} for f, (a, b) in self.fields.items()}}


@dataclass
class FieldMove:
    """A field of the sample whose provenance moved, and the upstream fields that moved it."""

    field: str
    then: str | None
    now: str | None
    because: list[str] = field(default_factory=list)  # "<upstream>.<field>"

    def to_dict(self) -> dict:
        return {"field": self.field, "then": self.then, "now": self.now, "because": list(self.because)}


@dataclass
class DefinitionChange:
    field: str
    old_code_version: str | None
    new_code_version: str | None
    old_version: str | None
    new_version: str | None
    cause: str

    def describe(self) -> str:
        return f"{self.field}: {self.cause}"

    def to_dict(self) -> dict:
        return {"field": self.field, "old_code_version": self.old_code_version,
                "new_code_version": self.new_code_version, "old_version": self.old_version,
                "new_version": self.new_version, "cause": self.cause}


@dataclass
class SampleReason:
    status: str  # added | changed | removed
    kind: str  # see KINDS
    key: dict[str, Any]
    summary: str
    group: str
    fields: list[FieldMove] = field(default_factory=list)
    upstream: list[UpstreamChange] = field(default_factory=list)
    definition: list[DefinitionChange] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"status": self.status, "kind": self.kind, "key": self.key, "summary": self.summary,
                "group": self.group, "fields": [f.to_dict() for f in self.fields],
                "upstream": [u.to_dict() for u in self.upstream],
                "definition": [d.to_dict() for d in self.definition]}


KINDS = {
    "never_computed": "never computed",
    "new_upstream": "a new upstream sample appeared",
    "feature_version": "the feature version changed",
    "deleted_here": "deleted here, but its upstream is still there",
    "upstream_changed": "upstream samples changed",
    "upstream_gone": "its upstream samples are gone",
    "upstream_version": "an upstream feature has a new version, not yet recomputed",
    "unknown_inputs": "its provenance moved; what it was computed from is no longer in the store",
}


@dataclass
class Explanation:
    feature: str
    increment: Increment
    reasons: list[SampleReason]

    def groups(self) -> dict[str, list[SampleReason]]:
        out: dict[str, list[SampleReason]] = {}
        for r in self.reasons:
            out.setdefault(r.group, []).append(r)
        return dict(sorted(out.items(), key=lambda kv: (_STATUS_ORDER[kv[1][0].status], -len(kv[1]), kv[0])))

    def counts(self) -> Counter:
        return Counter(r.status for r in self.reasons)

    def for_key(self, key: dict[str, Any]) -> SampleReason | None:
        wanted = tuple(key.get(c) for c in self.increment.key)
        for r in self.reasons:
            if tuple(r.key.get(c) for c in self.increment.key) == wanted:
                return r
        return None

    def to_dict(self) -> dict:
        return {"feature": self.feature, "key": list(self.increment.key),
                "counts": dict(self.counts()),
                "groups": [{"group": g, "count": len(rs)} for g, rs in self.groups().items()],
                "samples": [r.to_dict() for r in self.reasons]}


_STATUS_ORDER = {"added": 0, "changed": 1, "removed": 2}


def short_value(v: str | None) -> str:
    if v is None:
        return "∅"
    return v if len(v) <= 12 else v[:10] + "…"


def _listed(ups: list[UpstreamChange]) -> str:
    """The first SHOWN upstream changes described, the rest counted."""
    return "; ".join(u.describe() for u in ups[:SHOWN]) + (f"; and {len(ups) - SHOWN} more" if len(ups) > SHOWN else "")


def _key_of(row: dict, key: list[str]) -> tuple:
    return tuple(row[c] for c in key)


# ----- reading ------------------------------------------------------------------------------

def _current_rows(store: "SQLiteMetadataStore", plan: FeaturePlan) -> pl.DataFrame:
    """Key, provenance by field and the `as of` write of the feature's latest rows."""
    key = list(plan.key)
    fields = plan.definition.field_keys
    types: dict = {c: plan.definition.columns[c] for c in key}
    types.update({pbf_column(f): pl.String for f in fields})
    types.update({PROVENANCE: pl.String, "__as_of": pl.Int64})
    table, fv_id, n = store._latest_location(plan.name, plan.feature_version)
    if table is None or fv_id is None:
        return pl.DataFrame(schema=polars_schema(types))
    cols = ", ".join([f"t.{quote(c)}" for c in key + [pbf_column(f) for f in fields] + [PROVENANCE]])
    sql = (f"SELECT {cols}, coalesce(w.inputs_as_of, t.{quote(WRITE)}) AS __as_of FROM {quote(table)} t "
           f"LEFT JOIN _metaxy_writes w ON w.id = t.{quote(WRITE)} WHERE {latest_condition('t')}")
    return store._read(sql, [fv_id], types, expected_rows=n)


def _upstream_history(store: "SQLiteMetadataStore", gp, d: DepPlan) -> pl.DataFrame | None:
    """Every stored row (history included) of a dep's upstream, in the downstream's column names."""
    up = gp[d.upstream]
    table = store._table(d.upstream)
    if table is None:
        return None
    fv_now = store._fv_id(d.upstream, up.feature_version)
    ids = list(dict.fromkeys(list(d.on) + list(d.upstream_ids)))
    fields = up.definition.field_keys
    types: dict = {c: up.definition.columns[d.columns[c]] for c in ids}
    select = [f"{quote(d.columns[c])} AS {quote(c)}" for c in ids]
    for f in fields:
        select.append(f"COALESCE({quote(dvbf_column(f))}, {quote(pbf_column(f))}) AS {quote('__v:' + f)}")
        types["__v:" + f] = pl.String
    select += [quote(WRITE), quote(SUPERSEDED), quote(DELETED_AT), quote(FV)]
    types.update({WRITE: pl.Int64, SUPERSEDED: pl.Int64, DELETED_AT: pl.Int64, FV: pl.Int64})
    n = store._row_bound(table)
    df = store._read(f"SELECT {', '.join(select)} FROM {quote(table)}", [], types, expected_rows=n)
    return df.with_columns(pl.lit(fv_now, pl.Int64).alias("__fv_now"))


# ----- the explanation ----------------------------------------------------------------------

def explain(store: "SQLiteMetadataStore", feature: Any, increment: Increment | None = None) -> Explanation:
    graph: FeatureGraph
    graph, plan = store._plan(feature)
    gp = graph.plan()
    inc = increment if increment is not None else store.resolve_update(plan.name)
    key = list(plan.key)
    reasons: list[SampleReason] = []
    added = _distinct_keys(inc.added.to_polars(), key)
    changed = _distinct_keys(inc.changed.to_polars(), key)
    removed = _distinct_keys(inc.removed.to_polars(), key)
    if plan.is_root:
        reasons += _root_reasons(store, plan, inc, key)
        return Explanation(plan.name, inc, reasons)

    histories = {d.upstream: _upstream_history(store, gp, d) for d in plan.deps}
    if added.height:
        reasons += _added_reasons(store, graph, plan, added, histories)
    if changed.height or removed.height:
        # an expansion stores many children per key: explain each key once
        current = _current_rows(store, plan).unique(subset=key, keep="first", maintain_order=True)
        expected = inc.changed.to_polars().unique(subset=key, keep="first")
        if changed.height:
            reasons += _changed_reasons(plan, current.join(changed, on=key, how="semi"), expected, histories)
        if removed.height:
            reasons += _removed_reasons(plan, current.join(removed, on=key, how="semi"), histories)
    return Explanation(plan.name, inc, reasons)


def _distinct_keys(df: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    if not df.height or not all(c in df.columns for c in key):
        return pl.DataFrame(schema={c: df.schema.get(c, pl.String) for c in key})
    return df.select(key).unique(maintain_order=True)


def _rows_for(history: pl.DataFrame | None, d: DepPlan, keys: pl.DataFrame, as_of: pl.DataFrame | None) -> pl.DataFrame | None:
    """Upstream rows of the keys' groups, with flags: valid now, and valid as of each key's write."""
    if history is None:
        return None
    on = list(d.on)
    rows = history.join(keys.select(on).unique(), on=on, how="semi")
    if as_of is not None:
        rows = rows.join(as_of, on=on, how="left")
    now = (pl.col(SUPERSEDED).is_null() & pl.col(DELETED_AT).is_null() & (pl.col(FV) == pl.col("__fv_now")))
    rows = rows.with_columns(now.fill_null(False).alias("__now"))
    if as_of is not None:
        then = ((pl.col(WRITE) <= pl.col("__as_of"))
                & (pl.col(SUPERSEDED).is_null() | (pl.col(SUPERSEDED) > pl.col("__as_of")))
                & pl.col(DELETED_AT).is_null() & (pl.col(FV) == pl.col("__fv_now")))
        rows = rows.with_columns(then.fill_null(False).alias("__then"))
    return rows


def _upstream_changes(d: DepPlan, rows: pl.DataFrame, fields: list[str]) -> dict[tuple, list[UpstreamChange]]:
    """Per key (the dep's `on` values): upstream samples that appeared, went or changed."""
    on = list(d.on)
    ids = list(d.upstream_ids)
    ident = list(dict.fromkeys(on + ids))
    then = rows.filter(pl.col("__then")).unique(subset=ident, keep="last")
    now = rows.filter(pl.col("__now")).unique(subset=ident, keep="last")
    vcols = [f"__v:{f}" for f in fields]
    both = then.select(ident + vcols).join(now.select(ident + vcols), on=ident, how="full",
                                           suffix="__now", coalesce=True, nulls_equal=True)
    out: dict[tuple, list[UpstreamChange]] = {}
    for r in both.iter_rows(named=True):
        k = tuple(r[c] for c in on)
        ident = {c: r[c] for c in ids}
        was = all(r[v] is None for v in vcols)
        gone = all(r[v + "__now"] is None for v in vcols)
        if was and not gone:
            out.setdefault(k, []).append(UpstreamChange(d.upstream, ident, "added"))
        elif gone and not was:
            out.setdefault(k, []).append(UpstreamChange(d.upstream, ident, "removed"))
        else:
            moved = {f: (r[f"__v:{f}"], r[f"__v:{f}__now"]) for f in fields if r[f"__v:{f}"] != r[f"__v:{f}__now"]}
            if moved:
                out.setdefault(k, []).append(UpstreamChange(d.upstream, ident, "changed", moved))
    return out


def _changed_reasons(plan: FeaturePlan, current: pl.DataFrame, expected: pl.DataFrame,
                     histories: dict[str, pl.DataFrame | None]) -> list[SampleReason]:
    key = list(plan.key)
    as_of = current.select(key + ["__as_of"])
    changes: dict[tuple, list[UpstreamChange]] = {}
    for d in plan.deps:
        up_fields = sorted(FieldKey(f).struct_name for f in _all_fields(plan, d))
        rows = _rows_for(histories[d.upstream], d, current,
                         as_of.select(list(d.on) + ["__as_of"]).unique(subset=list(d.on)))
        if rows is None:
            continue
        for k_on, ch in _upstream_changes(d, rows, up_fields).items():
            changes.setdefault((d.upstream, k_on), []).extend(ch)
    exp_by_key = {_key_of(r, key): r[PROVENANCE_BY_FIELD] for r in expected.select(key + [PROVENANCE_BY_FIELD]).iter_rows(named=True)}
    out = []
    for r in current.iter_rows(named=True):
        k = _key_of(r, key)
        keyd = {c: r[c] for c in key}
        now_pbf = exp_by_key.get(k) or {}
        ups: list[UpstreamChange] = []
        for d in plan.deps:
            ups += changes.get((d.upstream, tuple(r[c] for c in d.on)), [])
        moved_up = {f"{u.feature}.{f}" for u in ups for f in (u.fields or _field_names(plan, u.feature))}
        moves = []
        for spec in plan.definition.spec.fields:
            f = spec.key.struct_name
            then_v, now_v = r.get(pbf_column(f)), now_pbf.get(f)
            if then_v != now_v:
                parents = [f"{u}.{FieldKey(uf).struct_name}" for u, uf in plan.field_parents[spec.key.to_string()]]
                because = sorted(p for p in parents if p in moved_up)
                moves.append(FieldMove(spec.key.to_string(), then_v, now_v, because))
        if ups:
            kind = "upstream_changed"
            summary = (f"{', '.join(m.field for m in moves) or 'provenance'} moved: "
                       + _listed(ups))
            group = "changed · " + _change_group(plan, ups, moves)
        else:
            kind = "unknown_inputs"
            summary = (f"{', '.join(m.field for m in moves) or 'provenance'} moved; the upstream it was computed "
                       "from is no longer in the store")
            group = "changed · " + KINDS[kind]
        out.append(SampleReason("changed", kind, keyd, summary, group, moves, ups))
    return out


def _change_group(plan: FeaturePlan, ups: list[UpstreamChange], moves: list[FieldMove]) -> str:
    fields = ", ".join(m.field for m in moves) or "provenance"
    parts = []
    by_feature: dict[str, set[str]] = {}
    for u in ups:
        by_feature.setdefault(u.feature, set()).add(u.change)
    for feat in sorted(by_feature):
        kind = plan.dep(feat).kind
        kinds = by_feature[feat]
        if kind == "aggregation":
            words = ", ".join(f"members {c}" for c in sorted(kinds))
        else:
            words = ", ".join(sorted(kinds))
        upfields = sorted({f for u in ups if u.feature == feat for f in u.fields})
        parts.append(f"{feat}{('.' + '/'.join(upfields)) if upfields else ''} {words}")
    return f"{fields} ← {'; '.join(parts)}"


def _all_fields(plan: FeaturePlan, d: DepPlan) -> list[str]:
    return sorted({uf for ps in plan.field_parents.values() for u, uf in ps if u == d.upstream})


def _field_names(plan: FeaturePlan, upstream: str) -> list[str]:
    return [FieldKey(uf).struct_name for uf in _all_fields(plan, plan.dep(upstream))]


def _removed_reasons(plan: FeaturePlan, current: pl.DataFrame,
                     histories: dict[str, pl.DataFrame | None]) -> list[SampleReason]:
    key = list(plan.key)
    out = []
    gone: dict[tuple, list[UpstreamChange]] = {}
    other_version: dict[tuple, str] = {}
    for d in plan.deps:
        if d.optional:
            continue
        hist = histories[d.upstream]
        rows = _rows_for(hist, d, current, current.select(list(d.on) + ["__as_of"]).unique(subset=list(d.on)))
        if rows is None:
            continue
        up_fields = _field_names(plan, d.upstream)
        for k_on, ch in _upstream_changes(d, rows, up_fields).items():
            gone.setdefault((d.upstream, k_on), []).extend(c for c in ch if c.change == "removed")
        alive_elsewhere = rows.filter(pl.col(SUPERSEDED).is_null() & pl.col(DELETED_AT).is_null()
                                      & (pl.col(FV) != pl.col("__fv_now")))
        for r in alive_elsewhere.select(list(d.on)).unique().iter_rows():
            other_version[(d.upstream, tuple(r))] = d.upstream
    for r in current.iter_rows(named=True):
        keyd = {c: r[c] for c in key}
        ups = []
        versions = []
        for d in plan.deps:
            k_on = tuple(r[c] for c in d.on)
            ups += gone.get((d.upstream, k_on), [])
            if (d.upstream, k_on) in other_version:
                versions.append(d.upstream)
        if versions and not ups:
            kind = "upstream_version"
            summary = (f"{', '.join(versions)} has a new feature version and has not been recomputed for this "
                       "sample: it counts as missing until then")
            group = f"removed · {', '.join(versions)} has a new feature version"
        else:
            kind = "upstream_gone"
            summary = _listed(ups) or "its upstream samples are gone"
            feats = sorted({u.feature for u in ups}) or [d.upstream for d in plan.deps]
            group = f"removed · upstream sample gone from {', '.join(feats)}"
        out.append(SampleReason("removed", kind, keyd, summary, group, [], ups))
    return out


def _added_reasons(store: "SQLiteMetadataStore", graph: FeatureGraph, plan: FeaturePlan, added: pl.DataFrame,
                   histories: dict[str, pl.DataFrame | None]) -> list[SampleReason]:
    key = list(plan.key)
    table = store._table(plan.name)
    fv_now = store._fv_id(plan.name, plan.feature_version) if table else None
    stored = pl.DataFrame(schema={c: plan.definition.columns[c].polars for c in key}
                          | {FV: pl.Int64, DELETED_AT: pl.Int64, WRITE: pl.Int64})
    last_write = 0
    if table is not None:
        types = {c: plan.definition.columns[c] for c in key} | {FV: pl.Int64, DELETED_AT: pl.Int64, WRITE: pl.Int64}
        n = store._row_bound(table)
        stored = store._read(f"SELECT {quote_all(key)}, {quote(FV)}, {quote(DELETED_AT)}, {quote(WRITE)} "
                             f"FROM {quote(table)} WHERE {quote(SUPERSEDED)} IS NULL", [], types, expected_rows=n)
        last_write = store.conn.execute("SELECT coalesce(max(id), 0) FROM _metaxy_writes WHERE feature_key = ? "
                                        "AND kind = 'write'", (plan.name,)).fetchone()[0]
    stored = stored.join(added, on=key, how="semi")
    old_version = stored.filter((pl.col(FV) != fv_now) if fv_now is not None else pl.lit(True)).sort(WRITE)
    old_version = old_version.unique(subset=key, keep="last")
    deleted_here = stored.filter((pl.col(FV) == fv_now) & pl.col(DELETED_AT).is_not_null()) if fv_now else stored.clear()
    by_key_old = {_key_of(r, key): r[FV] for r in old_version.iter_rows(named=True)}
    deleted_keys = {_key_of(r, key) for r in deleted_here.iter_rows(named=True)}
    definition_cache: dict[int, list[DefinitionChange]] = {}

    # upstream samples first stored after this feature's last write are "new upstream samples"
    newer: dict[tuple, list[UpstreamChange]] = {}
    for d in plan.deps:
        hist = histories[d.upstream]
        if hist is None or not last_write:
            continue
        first = (hist.filter(pl.col(FV) == pl.col("__fv_now"))
                 .group_by(list(dict.fromkeys(list(d.on) + list(d.upstream_ids))))
                 .agg(pl.col(WRITE).min().alias("__first"), (pl.col(SUPERSEDED).is_null()
                      & pl.col(DELETED_AT).is_null()).any().alias("__alive")))
        fresh = first.filter((pl.col("__first") > last_write) & pl.col("__alive")).join(
            added.select(list(d.on)).unique(), on=list(d.on), how="semi")
        for r in fresh.iter_rows(named=True):
            newer.setdefault(tuple(r[c] for c in d.on), []).append(
                UpstreamChange(d.upstream, {c: r[c] for c in d.upstream_ids}, "added"))

    out = []
    for r in added.iter_rows(named=True):
        k = _key_of(r, key)
        keyd = {c: r[c] for c in key}
        if k in by_key_old:
            fv_old = by_key_old[k]
            if fv_old not in definition_cache:
                definition_cache[fv_old] = _definition_changes(store, graph, plan, fv_old)
            changes = definition_cache[fv_old]
            what = "; ".join(c.describe() for c in changes) or "the definition changed"
            out.append(SampleReason("added", "feature_version", keyd,
                                    f"stored under an older feature version: {what}",
                                    f"added · feature version changed ({what})", definition=changes))
        elif k in deleted_keys:
            out.append(SampleReason("added", "deleted_here", keyd, KINDS["deleted_here"],
                                    "added · " + KINDS["deleted_here"]))
        else:
            ups = []
            for d in plan.deps:
                ups += newer.get(tuple(r[c] for c in d.on), [])
            if ups:
                feats = sorted({u.feature for u in ups})
                summary = _listed(ups)
                out.append(SampleReason("added", "new_upstream", keyd, summary,
                                        f"added · new upstream sample in {', '.join(feats)}", upstream=ups))
            else:
                out.append(SampleReason("added", "never_computed", keyd, KINDS["never_computed"],
                                        "added · " + KINDS["never_computed"]))
    return out


def _definition_changes(store: "SQLiteMetadataStore", graph: FeatureGraph, plan: FeaturePlan,
                        fv_old_id: int) -> list[DefinitionChange]:
    row = store.conn.execute("SELECT fv.feature_version, s.graph FROM _metaxy_feature_versions fv JOIN "
                             "_metaxy_snapshots s ON s.id = fv.snapshot_id WHERE fv.id = ?", (fv_old_id,)).fetchone()
    if row is None:
        return []
    import json

    old_graph = FeatureGraph.from_snapshot(json.loads(row[1]))
    if plan.name not in old_graph:
        return []
    old = old_graph.feature_plan(plan.name)
    out = []
    old_fields = {f.key.to_string(): f for f in old.definition.spec.fields}
    for spec in plan.definition.spec.fields:
        fk = spec.key.to_string()
        o = old_fields.get(fk)
        new_v = plan.field_versions[fk]
        if o is None:
            out.append(DefinitionChange(fk, None, spec.code_version, None, new_v, "new field"))
            continue
        old_v = old.field_versions[fk]
        if old_v == new_v:
            continue
        if o.code_version != spec.code_version:
            cause = f"code_version {o.code_version} → {spec.code_version}"
        else:
            ups = _moved_parents(old_graph, graph, plan, old, fk)
            cause = "upstream field " + ", ".join(ups) + " changed version" if ups else "its dependencies changed"
        out.append(DefinitionChange(fk, o.code_version, spec.code_version, old_v, new_v, cause))
    for fk in old_fields:
        if fk not in {f.key.to_string() for f in plan.definition.spec.fields}:
            out.append(DefinitionChange(fk, old_fields[fk].code_version, None, old.field_versions[fk], None,
                                        "field removed"))
    return out


def _moved_parents(old_graph: FeatureGraph, graph: FeatureGraph, plan: FeaturePlan, old: FeaturePlan,
                   fk: str) -> list[str]:
    """Parent fields whose version differs, followed up to the field whose code_version changed."""
    out = []
    old_parents = set(old.field_parents.get(fk, ()))
    new_parents = set(plan.field_parents[fk])
    for up, uf in sorted(new_parents | old_parents):
        if (up, uf) not in old_parents:
            out.append(f"{up}.{uf} (new dependency)")
            continue
        if (up, uf) not in new_parents:
            out.append(f"{up}.{uf} (dependency dropped)")
            continue
        if up not in old_graph or up not in graph:
            continue
        o, n = old_graph.feature_plan(up), graph.feature_plan(up)
        if o.field_versions.get(uf) != n.field_versions.get(uf):
            o_spec = {f.key.to_string(): f for f in o.definition.spec.fields}.get(uf)
            n_spec = {f.key.to_string(): f for f in n.definition.spec.fields}.get(uf)
            if o_spec and n_spec and o_spec.code_version != n_spec.code_version:
                out.append(f"{up}.{uf} (code_version {o_spec.code_version} → {n_spec.code_version})")
            else:
                deeper = _moved_parents(old_graph, graph, n, o, uf)
                out.append(f"{up}.{uf}" + (f" (via {', '.join(deeper)})" if deeper else ""))
    return out


def _root_reasons(store: "SQLiteMetadataStore", plan: FeaturePlan, inc: Increment, key: list[str]) -> list[SampleReason]:
    out = []
    fields = plan.definition.field_keys
    current = store.read_metadata(plan.name).select(key + [PROVENANCE_BY_FIELD])
    cur = {_key_of(r, key): r[PROVENANCE_BY_FIELD] for r in current.iter_rows(named=True)}
    for r in inc.added.to_polars().select(key).iter_rows(named=True):
        out.append(SampleReason("added", "never_computed", r, "a new sample", "added · new sample"))
    for r in inc.changed.to_polars().select(key + [PROVENANCE_BY_FIELD]).iter_rows(named=True):
        old = cur.get(_key_of(r, key)) or {}
        new = r[PROVENANCE_BY_FIELD] or {}
        moves = [FieldMove(f, old.get(f), new.get(f)) for f in fields if old.get(f) != new.get(f)]
        keyd = {c: r[c] for c in key}
        what = "; ".join(f"{m.field} {short_value(m.then)} → {short_value(m.now)}" for m in moves)
        out.append(SampleReason("changed", "upstream_changed", keyd, f"provenance changed: {what}",
                                f"changed · {', '.join(m.field for m in moves)} provenance", moves))
    for r in inc.removed.to_polars().select(key).iter_rows(named=True):
        out.append(SampleReason("removed", "upstream_gone", r, "not in the samples given",
                                "removed · not in the samples given"))
    return out
