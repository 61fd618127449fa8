"""The plan a validated graph yields, what resolving and explaining read: per feature its deps (how
each upstream is joined), its key, each field's parent fields and every version; the topological
order and the closures up and down."""

from __future__ import annotations

from dataclasses import dataclass

from .definition import FeatureDefinition
from .spec import FeatureDep


@dataclass(frozen=True)
class DepPlan:
    """One dep of a feature, with everything resolving needs precomputed."""

    dep: FeatureDep
    upstream: str  # key string
    kind: str  # identity | aggregation | expansion
    on: tuple[str, ...]  # key columns of this dep, in the downstream's names
    columns: dict[str, str]  # downstream name -> upstream column name (ids and kept user columns)
    upstream_ids: tuple[str, ...]  # upstream id columns, downstream names, for ordering
    fields: tuple[str, ...]  # upstream fields (struct names) the downstream's fields read

    @property
    def optional(self) -> bool:
        return self.dep.optional


@dataclass(frozen=True)
class FeaturePlan:
    definition: FeatureDefinition
    deps: tuple[DepPlan, ...]  # required deps first, then optional ones
    key: tuple[str, ...]  # columns identifying a sample's inputs (root: id columns)
    field_parents: dict[str, tuple[tuple[str, str], ...]]  # field key -> sorted (upstream, field key)
    field_versions: dict[str, str]
    feature_version: str
    downstream: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def is_root(self) -> bool:
        return not self.deps

    def dep(self, upstream: str) -> DepPlan:
        for d in self.deps:
            if d.upstream == upstream:
                return d
        raise KeyError(upstream)


@dataclass(frozen=True)
class GraphPlan:
    features: dict[str, FeaturePlan]  # in topological order
    project_version: str

    def __getitem__(self, key: str) -> FeaturePlan:
        return self.features[key]

    def order(self) -> list[str]:
        return list(self.features)

    def upstream_closure(self, key: str) -> list[str]:
        seen: list[str] = []
        stack = [d.upstream for d in self.features[key].deps]
        while stack:
            k = stack.pop()
            if k not in seen:
                seen.append(k)
                stack.extend(d.upstream for d in self.features[k].deps)
        return [k for k in self.features if k in seen]

    def downstream_closure(self, key: str) -> list[str]:
        seen: list[str] = []
        stack = list(self.features[key].downstream)
        while stack:
            k = stack.pop()
            if k not in seen:
                seen.append(k)
                stack.extend(self.features[k].downstream)
        return [k for k in self.features if k in seen]
