"""A definition change's blast radius: the code against the store's snapshot (or two snapshots),
graph arithmetic, then a count and a few ids per feature from the store."""

from __future__ import annotations

import time


from ...errors import MetaxyError
from ...graph import FeatureGraph, GraphPlan
from ...graph_diff import FeatureChange, diff_graphs
from ..project import Project
from .fields import _closure, _in_order, _unaffected, _via
from .model import SAMPLE_IDS, ChangeImpact, DefinitionImpact, StaleFeature


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
