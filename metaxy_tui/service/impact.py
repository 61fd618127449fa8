"""A change's blast radius, before anything runs: which stored samples it would make stale.

Two kinds of change, one answer (per downstream feature and field: how many samples, and a
few of their ids), computed without writing anything:

- a definition change (the code against the store's snapshot, or two snapshots): a field
  whose version changes changes its feature's version, and every stored sample of that
  feature comes back as added (SPEC 4); downstream, exactly the fields whose parents
  (field-level lineage, `field_parents`) include a moved field move too, and their features'
  samples come back as well. A field whose version is unchanged does not move: a feature
  that reads only such fields keeps its samples. Graph arithmetic, then a count and a few
  ids per feature from the store (indexed: milliseconds on 1,000,000 rows).
- an approval (recompute or accept samples of one feature): the approved samples' moved
  fields reach the downstream samples linked to them (the same key, the group, the
  children) whose fields read them, and on down; read from the store by key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ..errors import MetaxyError
from ..explain import SampleReason
from ..graph import FeatureGraph, GraphPlan
from ..graph_diff import FeatureChange, diff_graphs
from ..vocabulary import IncrementStatus, ReasonKind
from .project import Project
from .samples import format_ids

SAMPLE_IDS = 5  # ids shown per stale feature


@dataclass
class StaleFeature:
    """The samples of one feature a change would make stale."""

    feature: str
    fields: list[str]  # its fields that move
    via: list[str] = field(default_factory=list)  # why: "faces ← video/chunk.frames"
    count: int = 0
    sample_ids: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""  # "new feature: nothing stored yet", "already pending: its definition changed", ...

    def describe(self) -> str:
        """One line: `video/face_detection  faces  400 samples  e.g. video_id=v0001 · chunk_id=0; ...`"""
        text = f"{self.feature} [{', '.join(self.fields)}]: {self.count:,} sample{'s' if self.count != 1 else ''}"
        if self.sample_ids:
            text += (
                " (e.g. "
                + "; ".join(format_ids(i) for i in self.sample_ids[:3])
                + ("; …" if self.count > 3 else "")
                + ")"
            )
        if self.note:
            text += f" — {self.note}"
        return text

    def to_dict(self) -> dict:
        return {
            "feature": self.feature,
            "fields": self.fields,
            "via": self.via,
            "count": self.count,
            "sample_ids": self.sample_ids,
            "note": self.note,
        }


@dataclass
class ChangeImpact:
    """One definition change (a field's code version, a field added or removed, a field's
    deps, a feature added or removed) and the samples it would make stale."""

    feature: str
    field: str | None
    change: str  # code_version | field_added | field_removed | field_deps | feature_added | feature_removed
    description: str
    stale: list[StaleFeature] = field(default_factory=list)  # topological order, the changed feature first
    unaffected: list[str] = field(default_factory=list)  # "video/transcript: reads only video/chunk.audio"
    note: str = ""

    @property
    def total(self) -> int:
        return sum(s.count for s in self.stale)

    def to_dict(self) -> dict:
        return {
            "feature": self.feature,
            "field": self.field,
            "change": self.change,
            "description": self.description,
            "total": self.total,
            "stale": [s.to_dict() for s in self.stale],
            "unaffected": self.unaffected,
            "note": self.note,
        }


@dataclass
class DefinitionImpact:
    changes: list[ChangeImpact]
    features: list[StaleFeature]  # every change together, per feature
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(s.count for s in self.features)

    def for_feature(self, feature: str) -> list[ChangeImpact]:
        return [c for c in self.changes if c.feature == feature]

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "features": [s.to_dict() for s in self.features],
            "seconds": round(self.seconds, 3),
        }


# ----- definition changes --------------------------------------------------------------------


def definition_impact(
    project: Project,
    old: FeatureGraph,
    new: FeatureGraph,
    *,
    changes: list[FeatureChange] | None = None,
    sample: int = SAMPLE_IDS,
) -> DefinitionImpact:
    """What moving from graph `old` (as stored) to `new` (the code) would make stale."""
    start = time.perf_counter()
    changes = diff_graphs(old, new) if changes is None else changes
    old_plan = old.plan() if len(old) else None
    new_plan = new.plan() if len(new) else None
    counter = _Counter(project, sample)
    out: list[ChangeImpact] = []
    for fc in changes:
        if fc.change == "added":
            out.append(
                ChangeImpact(
                    fc.feature,
                    None,
                    "feature_added",
                    f"{fc.feature}: new feature",
                    note="nothing stored yet: every sample will be added when it is computed",
                )
            )
            continue
        if fc.change == "removed":
            out.append(
                ChangeImpact(
                    fc.feature,
                    None,
                    "feature_removed",
                    f"{fc.feature}: removed from the code",
                    note="its stored samples stay in the store as history",
                )
            )
            continue
        assert old_plan is not None and new_plan is not None
        a, b = old_plan[fc.feature], new_plan[fc.feature]
        for f in fc.fields:
            origin = _origin(fc, f, a.field_parents, b.field_parents)
            if origin is None:
                continue  # moved because an upstream field moved: that change lists it
            start_fields = _start_fields(fc.feature, f.field, origin, old_plan, new_plan)
            impact = ChangeImpact(fc.feature, f.field, origin, f"{fc.feature}: {f.describe()}")
            moved = _closure(new_plan, start_fields)
            if origin == "field_removed":
                moved.setdefault(fc.feature, set()).add(f"{f.field} (removed)")
            impact.stale = [
                counter.stale(key, sorted(fields), _via(new_plan, key, fields, moved), old_plan)
                for key, fields in _in_order(new_plan, moved)
            ]
            impact.unaffected = _unaffected(new_plan, moved)
            out.append(impact)
        if fc.other and not any(c.feature == fc.feature for c in out):
            note = "; ".join(fc.other)
            if "deps changed" in fc.other:
                note += (
                    ": with the same field versions the samples keep their provenance only if they are "
                    "matched the same way; resolve after pushing tells"
                )
            out.append(ChangeImpact(fc.feature, None, "definition", f"{fc.feature}: {'; '.join(fc.other)}", note=note))
    per_feature: dict[str, StaleFeature] = {}
    for c in out:
        for s in c.stale:
            have = per_feature.get(s.feature)
            if have is None:
                per_feature[s.feature] = StaleFeature(
                    s.feature, list(s.fields), list(s.via), s.count, list(s.sample_ids), s.note
                )
            else:
                have.fields = sorted(set(have.fields) | set(s.fields))
                have.via = list(dict.fromkeys(have.via + s.via))
    order = new_plan.order() if new_plan is not None else []
    features = sorted(per_feature.values(), key=lambda s: order.index(s.feature) if s.feature in order else 0)
    return DefinitionImpact(out, features, time.perf_counter() - start)


def _origin(fc: FeatureChange, f, old_parents: dict, new_parents: dict) -> str | None:
    """Why a field changed, when the change starts at it; None when an upstream field moved it."""
    if f.change == "added":
        return "field_added"
    if f.change == "removed":
        return "field_removed"
    if f.old_code_version != f.new_code_version:
        return "code_version"
    if tuple(old_parents.get(f.field, ())) != tuple(new_parents.get(f.field, ())):
        return "field_deps"
    return None


def _start_fields(feature: str, fld: str, origin: str, old: GraphPlan, new: GraphPlan) -> set[tuple[str, str]]:
    if origin != "field_removed":
        return {(feature, fld)}
    # a removed field moves the fields that read it (their parents changed)
    return {
        (k, f)
        for k, p in new.features.items()
        for f in p.field_parents
        if k in old.features and (feature, fld) in old[k].field_parents.get(f, ())
    }


def _closure(gp: GraphPlan, start: set[tuple[str, str]]) -> dict[str, set[str]]:
    """Every (feature, field) whose parents lead back to one of `start`, start included."""
    readers: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, p in gp.features.items():
        for f, parents in p.field_parents.items():
            for parent in parents:
                readers.setdefault(parent, []).append((key, f))
    seen = set(start)
    stack = list(start)
    while stack:
        for r in readers.get(stack.pop(), ()):
            if r not in seen:
                seen.add(r)
                stack.append(r)
    out: dict[str, set[str]] = {}
    for key, f in seen:
        out.setdefault(key, set()).add(f)
    return out


def _in_order(gp: GraphPlan, moved: dict[str, set[str]]) -> list[tuple[str, set[str]]]:
    return [(k, moved[k]) for k in gp.order() if k in moved] + [
        (k, v) for k, v in moved.items() if k not in gp.features
    ]


def _via(gp: GraphPlan, key: str, fields: set[str], moved: dict[str, set[str]]) -> list[str]:
    if key not in gp.features:
        return []
    out = []
    for f in sorted(fields):
        parents = [f"{u}.{uf}" for u, uf in gp[key].field_parents.get(f, ()) if uf in moved.get(u, ())]
        if parents:
            out.append(f"{f} ← {', '.join(parents)}")
    return out


def _unaffected(gp: GraphPlan, moved: dict[str, set[str]]) -> list[str]:
    """Features reading a moved feature but none of its moved fields: their samples stay valid."""
    out = []
    for key in gp.order():
        if key in moved:
            continue
        p = gp[key]
        readers = [d.upstream for d in p.deps if d.upstream in moved]
        if not readers:
            continue
        reads = sorted({f"{u}.{uf}" for ps in p.field_parents.values() for u, uf in ps if u in readers})
        out.append(
            f"{key}: reads only {', '.join(reads) or 'no field'} of {', '.join(readers)}; its samples stay "
            f"valid (resolve shows them removed until {', '.join(readers)} is recomputed)"
        )
    return out


class _Counter:
    """Counts and example ids of the samples stored under a feature's old version."""

    def __init__(self, project: Project, sample: int):
        self.store = project.store
        self.sample = sample
        self.cache: dict[str, tuple[int, list[dict]]] = {}

    def stale(self, key: str, fields: list[str], via: list[str], old: GraphPlan) -> StaleFeature:
        if key not in old.features:
            return StaleFeature(key, fields, via, 0, [], "new feature: nothing stored yet")
        if key not in self.cache:
            version = old[key].feature_version
            try:
                n = self.store.count_live(key, feature_version=version)
                ids = self.store.first_ids(key, feature_version=version, limit=self.sample) if n else []
            except MetaxyError:  # a feature neither the code nor the store's latest snapshot knows
                n, ids = 0, []
            self.cache[key] = (n, ids)
        n, ids = self.cache[key]
        return StaleFeature(key, fields, via, n, ids, "" if n else "no samples stored under its old version")


def code_impact(project: Project) -> tuple[list[FeatureChange], DefinitionImpact] | None:
    """The code's definitions against the store's latest snapshot, with the blast radius; None
    when there is no code or no snapshot to compare."""
    if project.code_graph is None or len(project.stored_graph) == 0:
        return None
    changes = diff_graphs(project.stored_graph, project.code_graph)
    return changes, definition_impact(project, project.stored_graph, project.code_graph, changes=changes)


# ----- approvals -----------------------------------------------------------------------------


@dataclass
class BlastRadius:
    """What approving samples of one feature would make stale downstream."""

    feature: str
    samples: int
    fields: list[str]  # the feature's fields whose provenance moves
    stale: list[StaleFeature] = field(default_factory=list)
    unaffected: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(s.count for s in self.stale)


def sample_moves(project: Project, feature: str, reasons: list[SampleReason]) -> list[tuple[dict, list[str]]]:
    """Per approved sample, its key and the fields whose provenance the approval moves: the
    fields a changed sample's explanation names, the changed definitions of a new feature
    version, every field of a sample never computed."""
    plan = project.graph.feature_plan(feature)
    by_name = {s.key.struct_name: s.key.to_string() for s in plan.definition.spec.fields}
    every = sorted(plan.field_parents)
    out = []
    for r in reasons:
        if r.status not in (IncrementStatus.ADDED, IncrementStatus.CHANGED):
            continue
        if r.status == IncrementStatus.CHANGED and r.fields:
            moved = {by_name.get(m.field, m.field) for m in r.fields}
        elif r.kind == ReasonKind.FEATURE_VERSION and r.definition:
            moved = {by_name.get(d.field, d.field) for d in r.definition}
        else:
            moved = set(every)
        out.append((dict(r.key), sorted(f for f in moved if f in plan.field_parents)))
    return out


def approval_impact(
    project: Project, feature: str, moves: list[tuple[dict[str, Any], list[str]]], *, sample: int = SAMPLE_IDS
) -> BlastRadius:
    """Downstream samples that would become stale once these samples (the feature's key
    columns, as the review gives them, each with the fields it moves) are recomputed or
    accepted. Samples moving the same fields walk down together; a downstream sample counts
    once however many approved samples reach it."""
    start = time.perf_counter()
    gp = project.graph.plan()
    fields = sorted({f for _k, fs in moves for f in fs})
    radius = BlastRadius(feature, len(moves), fields)
    by_fields: dict[tuple[str, ...], list[dict]] = {}
    for key, fs in moves:
        if fs:
            by_fields.setdefault(tuple(fs), []).append(key)
    rows: dict[str, list[pl.DataFrame]] = {}
    moved: dict[str, set[str]] = {feature: set(fields)}
    for fs, keys in by_fields.items():
        for down, (frame, reached) in _walk(project, gp, feature, keys, set(fs)).items():
            rows.setdefault(down, []).append(frame)
            moved.setdefault(down, set()).update(reached)
    for down in gp.downstream_closure(feature):
        if down not in rows:
            continue
        ids = list(gp[down].definition.id_columns)
        frames = [f.select(ids) for f in rows[down] if f.height]
        hit = pl.concat(frames, how="vertical").unique() if frames else pl.DataFrame()
        examples = hit.sort(ids).head(sample).to_dicts() if hit.height else []
        _version, note = _version_read(project, down)
        radius.stale.append(
            StaleFeature(down, sorted(moved[down]), _via(gp, down, moved[down], moved), hit.height, examples, note)
        )
    radius.unaffected = _unaffected(gp, moved) if moves else []
    radius.seconds = time.perf_counter() - start
    return radius


def _walk(
    project: Project, gp: GraphPlan, feature: str, keys: list[dict], fields: set[str]
) -> dict[str, tuple[pl.DataFrame, set[str]]]:
    """From samples of `feature` moving `fields`, down: per reached feature, the rows reached
    (the columns its own downstream matches on) and the fields that move."""
    store = project.store
    plan = gp[feature]
    key_cols = [c for c in plan.key if c in keys[0]]
    first = pl.DataFrame(
        [{c: k.get(c) for c in key_cols} for k in keys], schema={c: plan.definition.columns[c].polars for c in key_cols}
    )
    frontier: dict[str, tuple[pl.DataFrame, set[str]]] = {feature: (first, fields)}
    out: dict[str, tuple[pl.DataFrame, set[str]]] = {}
    for down in gp.downstream_closure(feature):
        dplan = gp[down]
        reached: set[str] = set()
        parts: list[pl.DataFrame] = []
        everything = False
        for dep in dplan.deps:
            if dep.upstream not in frontier:
                continue
            up_keys, up_moved = frontier[dep.upstream]
            reads = {
                f for f, ps in dplan.field_parents.items() if any(u == dep.upstream and uf in up_moved for u, uf in ps)
            }
            if not reads:
                continue
            reached |= reads
            cols = [c for c in dep.on if dep.columns[c] in up_keys.columns]
            if not cols:
                everything = True  # nothing narrows the link: every sample is reached
                continue
            parts.append(up_keys.select([pl.col(dep.columns[c]).alias(c) for c in cols]))
        if not reached:
            continue
        version, _note = _version_read(project, down)
        wanted = _columns_needed(gp, down)
        if everything or not parts:
            found = _all_rows(store, down, wanted, version)
        else:
            frames = [store.rows_by_keys(down, p, wanted, feature_version=version) for p in parts]
            found = pl.concat(frames, how="vertical").unique(maintain_order=True) if len(frames) > 1 else frames[0]
        frontier[down] = out[down] = (found, reached)
    return out


def _version_read(project: Project, feature: str) -> tuple[str | None, str]:
    """Which feature version holds the samples to count: the current one, or (when its
    definition changed and nothing is stored under it yet) the stored snapshot's."""
    if project.store.count_live(feature):
        return None, ""
    stored = project.stored_graph
    if feature in stored:
        version = stored.feature_version(feature)
        if version != project.graph.feature_version(feature):
            return version, "already pending: its definition changed since these were stored"
    return None, ""


def _columns_needed(gp: GraphPlan, feature: str) -> list[str]:
    """The feature's id columns and every column its downstream features match it on."""
    p = gp[feature]
    cols = list(p.definition.id_columns)
    for name in p.downstream:
        dep = gp[name].dep(feature)
        cols += [dep.columns[c] for c in dep.on if dep.columns[c] not in cols]
    return cols


def _all_rows(store, feature: str, columns: list[str], version: str | None) -> pl.DataFrame:
    """Every live sample's `columns` (a link that no key narrows)."""
    df = store.read_metadata(feature, feature_version=version, columns=columns)
    return df if isinstance(df, pl.DataFrame) else pl.DataFrame(df)


__all__ = [
    "StaleFeature",
    "ChangeImpact",
    "DefinitionImpact",
    "BlastRadius",
    "definition_impact",
    "code_impact",
    "approval_impact",
    "sample_moves",
]
