"""The feature graph: registration, validation, field-level lineage and versions.

`FeatureGraph` collects definitions; `graph.plan()` validates the whole graph once and
caches a `GraphPlan` (topological order, each field's parent fields, every version),
which is rebuilt when a feature is added. The plan's types are graph_plan.py, its building
and validation graph_build.py.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

from .definition import FeatureDefinition
from .errors import DefinitionError, UnknownFeatureError
from .graph_build import _build_plan
from .graph_plan import DepPlan, FeaturePlan, GraphPlan
from .spec import feature_key_of

__all__ = ["DepPlan", "FeatureGraph", "FeaturePlan", "GraphPlan"]  # the plan's types, where the code names them


_active: contextvars.ContextVar["FeatureGraph | None"] = contextvars.ContextVar("metaxy_tui_graph", default=None)


class FeatureGraph:
    """A set of feature definitions. The default graph collects every feature class."""

    _default: "FeatureGraph | None" = None

    def __init__(self) -> None:
        self._definitions: dict[str, FeatureDefinition] = {}
        self._plan: GraphPlan | None = None
        self.computes: dict[str, Callable[..., Any]] = {}  # feature key -> compute function (compute.py)

    # ----- active graph -------------------------------------------------------------
    @classmethod
    def get_active(cls) -> "FeatureGraph":
        graph = _active.get()
        if graph is not None:
            return graph
        if cls._default is None:
            cls._default = FeatureGraph()
        return cls._default

    @contextlib.contextmanager
    def use(self) -> Iterator["FeatureGraph"]:
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)

    # ----- registration -------------------------------------------------------------
    def add(self, definition: FeatureDefinition) -> None:
        name = definition.name
        for other in self._definitions:
            if other != name and other.lower() == name.lower():
                raise DefinitionError(
                    name,
                    f"keys {other!r} and {name!r} differ only in case; their SQLite tables "
                    "would be one (table names ignore case)",
                )
        existing = self._definitions.get(name)
        if existing is not None and existing.origin != definition.origin:
            raise DefinitionError(
                name, f"defined twice: by {existing.origin or 'another definition'} and by {definition.origin}"
            )
        self._definitions[name] = definition
        self._plan = None

    def register_compute(self, key: str, fn: Callable[..., Any]) -> None:
        self.computes[key] = fn

    def remove(self, key: object) -> None:
        self._definitions.pop(feature_key_of(key).to_string(), None)
        self._plan = None

    @classmethod
    def from_definitions(cls, definitions: list[FeatureDefinition]) -> "FeatureGraph":
        graph = cls()
        for d in definitions:
            graph.add(d)
        return graph

    def __contains__(self, key: object) -> bool:
        try:
            return feature_key_of(key).to_string() in self._definitions
        except DefinitionError:
            return False

    def __len__(self) -> int:
        return len(self._definitions)

    @property
    def keys(self) -> list[str]:
        return sorted(self._definitions)

    def definition(self, key: object) -> FeatureDefinition:
        name = feature_key_of(key).to_string()
        try:
            return self._definitions[name]
        except KeyError:
            raise UnknownFeatureError(name, list(self._definitions)) from None

    def get_feature_by_key(self, key: object) -> type:
        d = self.definition(key)
        if d.cls is None:
            raise UnknownFeatureError(d.name)
        return d.cls

    # ----- plan ---------------------------------------------------------------------
    def plan(self) -> GraphPlan:
        if self._plan is None:
            self._plan = _build_plan(self._definitions)
        return self._plan

    def feature_plan(self, key: object) -> FeaturePlan:
        name = feature_key_of(key).to_string()
        if name not in self._definitions:
            raise UnknownFeatureError(name, list(self._definitions))
        return self.plan()[name]

    def feature_version(self, key: object) -> str:
        return self.feature_plan(key).feature_version

    get_feature_version = feature_version  # Metaxy's name

    def get_field_versions(self, key: object) -> dict[str, str]:
        return self.field_versions(key)

    def field_versions(self, key: object) -> dict[str, str]:
        return dict(self.feature_plan(key).field_versions)

    @property
    def project_version(self) -> str:
        return self.plan().project_version

    def to_snapshot(self) -> dict[str, Any]:
        plan = self.plan()
        features = []
        for name in sorted(plan.features):
            p = plan[name]
            d = p.definition.to_dict()
            d["feature_version"] = p.feature_version
            d["field_versions"] = dict(sorted(p.field_versions.items()))
            features.append(d)
        return {"project_version": plan.project_version, "features": features}

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> "FeatureGraph":
        return cls.from_definitions([FeatureDefinition.from_dict(f) for f in snapshot["features"]])
