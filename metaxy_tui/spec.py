"""Declarative pieces of a feature definition: fields, deps, lineage and the spec itself.

These are plain values. Whether they fit together (deps exist, no cycles, columns line
up) is checked when the graph is built, in `graph.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .errors import DefinitionError
from .keys import FeatureKey, FieldKey
from .vocabulary import LineageKind

DEFAULT_CODE_VERSION = "__metaxy_initial__"


class SpecialFieldDep(str, Enum):
    """`FieldSpec(deps=SpecialFieldDep.ALL)`: every field of every dep."""

    ALL = "__METAXY_ALL_DEP__"


ALL = SpecialFieldDep.ALL
_ALL_SPELLINGS = (ALL, "ALL", "__METAXY_ALL_DEP__")


def feature_key_of(feature: Any) -> FeatureKey:
    """A feature class, a FeatureKey, a key string or a list of parts, as a FeatureKey."""
    if isinstance(feature, FeatureKey):
        return feature
    spec: FeatureSpec | None = getattr(feature, "_mx_spec", None)
    if spec is not None:
        return spec.key
    if isinstance(feature, (str, list, tuple)):
        return FeatureKey(feature)
    raise DefinitionError(None, f"expected a feature class or key, got {feature!r}")


@dataclass(frozen=True)
class LineageRelationship:
    kind: LineageKind = LineageKind.IDENTITY
    on: tuple[str, ...] | None = None

    @classmethod
    def identity(cls) -> "LineageRelationship":
        return cls(LineageKind.IDENTITY, None)

    @classmethod
    def aggregation(cls, on: Sequence[str] | None = None) -> "LineageRelationship":
        return cls(LineageKind.AGGREGATION, _column_list(on, "aggregation on") if on is not None else None)

    @classmethod
    def expansion(cls, on: Sequence[str]) -> "LineageRelationship":
        if on is None:
            raise DefinitionError(None, "expansion lineage needs on=[parent id columns]")
        return cls(LineageKind.EXPANSION, _column_list(on, "expansion on"))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "on": list(self.on) if self.on is not None else None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "LineageRelationship":
        on = d.get("on")
        return cls(LineageKind(d["kind"]), tuple(on) if on is not None else None)

    def describe(self) -> str:
        if self.kind == LineageKind.IDENTITY:
            return "1:1 identity"
        arity = "N:1" if self.kind == LineageKind.AGGREGATION else "1:N"
        return f"{arity} {self.kind} on {', '.join(self.on or ())}"


def _column_list(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(c, str) for c in value):
        raise DefinitionError(None, f"{what} must be a list of column names, got {value!r}")
    if not value:
        raise DefinitionError(None, f"{what} must not be empty")
    return tuple(value)


@dataclass(frozen=True, init=False)
class FieldDep:
    """Explicit field-level parents: `FieldDep(feature=Crop, fields=["frames"])`."""

    feature: FeatureKey
    fields: tuple[FieldKey, ...] | SpecialFieldDep

    def __init__(self, feature: Any, fields: Sequence[str] | SpecialFieldDep | str = ALL):
        object.__setattr__(self, "feature", feature_key_of(feature))
        if isinstance(fields, str) and fields in _ALL_SPELLINGS:
            object.__setattr__(self, "fields", ALL)
        else:
            if isinstance(fields, str):
                fields = [fields]
            object.__setattr__(self, "fields", tuple(FieldKey(f) for f in fields))

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature.to_string(),
            "fields": "ALL" if self.fields == ALL else [f.to_string() for f in self.fields],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FieldDep":
        return cls(d["feature"], d["fields"])


@dataclass(frozen=True, init=False)
class FieldSpec:
    key: FieldKey
    code_version: str
    deps: tuple[FieldDep, ...] | SpecialFieldDep | None

    def __init__(
        self,
        key: str | Sequence[str] | FieldKey,
        code_version: str | int = DEFAULT_CODE_VERSION,
        deps: Sequence[FieldDep] | SpecialFieldDep | str | None = None,
    ):
        object.__setattr__(self, "key", FieldKey(key))
        object.__setattr__(self, "code_version", str(code_version))
        parsed: tuple[FieldDep, ...] | SpecialFieldDep | None
        if deps is None:
            parsed = None
        elif isinstance(deps, str) and deps in _ALL_SPELLINGS:
            parsed = ALL
        else:
            items = []
            for d in deps:
                if not isinstance(d, FieldDep):
                    raise DefinitionError(None, f"field {self.key}: deps must be FieldDep objects or ALL, got {d!r}")
                items.append(d)
            parsed = tuple(items)
        object.__setattr__(self, "deps", parsed)

    def to_dict(self) -> dict[str, Any]:
        deps: Any
        if self.deps is None:
            deps = None
        elif self.deps == ALL:
            deps = "ALL"
        else:
            deps = [d.to_dict() for d in self.deps]
        return {"key": self.key.to_string(), "code_version": self.code_version, "deps": deps}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FieldSpec":
        deps = d.get("deps")
        if isinstance(deps, list):
            deps = [FieldDep.from_dict(x) for x in deps]
        return cls(d["key"], d.get("code_version", DEFAULT_CODE_VERSION), deps)


@dataclass(frozen=True, init=False)
class FeatureDep:
    feature: FeatureKey
    lineage: LineageRelationship
    rename: tuple[tuple[str, str], ...]
    select: tuple[str, ...] | None
    optional: bool

    def __init__(
        self,
        feature: Any,
        lineage: LineageRelationship | None = None,
        rename: Mapping[str, str] | None = None,
        select: Sequence[str] | None = None,
        optional: bool = False,
        columns: Sequence[str] | None = None,
    ):
        object.__setattr__(self, "feature", feature_key_of(feature))
        lineage = lineage or LineageRelationship.identity()
        if not isinstance(lineage, LineageRelationship):
            raise DefinitionError(None, f"dep on {self.feature}: lineage must be a LineageRelationship")
        object.__setattr__(self, "lineage", lineage)
        if rename is not None and not isinstance(rename, Mapping):
            raise DefinitionError(None, f"dep on {self.feature}: rename must be a mapping old -> new")
        object.__setattr__(self, "rename", tuple(sorted((rename or {}).items())))
        if select is None:
            select = columns  # Metaxy's older name for the same thing
        if select is not None:
            if isinstance(select, str) or not all(isinstance(c, str) for c in select):
                raise DefinitionError(None, f"dep on {self.feature}: select must be a list of column names")
            select = tuple(select)
        object.__setattr__(self, "select", select)
        object.__setattr__(self, "optional", bool(optional))

    @property
    def rename_map(self) -> dict[str, str]:
        return dict(self.rename)

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature.to_string(),
            "lineage": self.lineage.to_dict(),
            "rename": dict(self.rename) or None,
            "select": list(self.select) if self.select is not None else None,
            "optional": self.optional,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FeatureDep":
        return cls(
            d["feature"],
            LineageRelationship.from_dict(d["lineage"]),
            d.get("rename"),
            d.get("select"),
            d.get("optional", False),
        )


def _as_dep(dep: Any) -> FeatureDep:
    return dep if isinstance(dep, FeatureDep) else FeatureDep(dep)


def _as_field(f: Any) -> FieldSpec:
    if isinstance(f, FieldSpec):
        return f
    if isinstance(f, (str, FieldKey)):
        return FieldSpec(f)
    raise DefinitionError(None, f"a field must be a FieldSpec or a string, got {f!r}")


@dataclass(frozen=True, init=False)
class FeatureSpec:
    key: FeatureKey
    id_columns: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    deps: tuple[FeatureDep, ...]
    description: str | None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        key: Any,
        id_columns: Sequence[str],
        fields: Sequence[FieldSpec | str] | None = None,
        deps: Sequence[Any] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ):
        fkey = FeatureKey(key) if not isinstance(key, FeatureKey) else key
        object.__setattr__(self, "key", fkey)
        name = fkey.to_string()
        if isinstance(id_columns, str) or not isinstance(id_columns, Sequence):
            raise DefinitionError(name, f"id_columns must be a list of column names, got {id_columns!r}")
        if not id_columns:
            raise DefinitionError(name, "id_columns is empty: a feature needs at least one id column")
        if len(set(id_columns)) != len(id_columns):
            raise DefinitionError(name, f"id_columns lists a column twice: {list(id_columns)}")
        object.__setattr__(self, "id_columns", tuple(id_columns))
        try:
            parsed_fields = tuple(_as_field(f) for f in (fields if fields is not None else ["default"]))
            parsed_deps = tuple(_as_dep(d) for d in (deps or ()))
        except DefinitionError as e:
            raise DefinitionError(name, e.problem) from None
        if not parsed_fields:
            raise DefinitionError(name, "fields is empty: a feature needs at least one field")
        seen: dict[str, str] = {}
        for f in parsed_fields:
            other = seen.get(f.key.struct_name.lower())
            if other is not None:
                raise DefinitionError(
                    name,
                    f"fields {other!r} and {f.key.to_string()!r} clash: field names are "
                    "stored as column names, which ignore case and turn '/' into '_'",
                )
            seen[f.key.struct_name.lower()] = f.key.to_string()
        dep_keys = [d.feature.to_string() for d in parsed_deps]
        if len(set(dep_keys)) != len(dep_keys):
            raise DefinitionError(name, f"a feature is listed twice in deps: {dep_keys}")
        object.__setattr__(self, "fields", parsed_fields)
        object.__setattr__(self, "deps", parsed_deps)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "metadata", dict(metadata or {}))

    def field(self, key: str | FieldKey) -> FieldSpec:
        for f in self.fields:
            if f.key == FieldKey(key):
                return f
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key.to_string(),
            "id_columns": list(self.id_columns),
            "fields": [f.to_dict() for f in self.fields],
            "deps": [d.to_dict() for d in self.deps],
            "description": self.description,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FeatureSpec":
        return cls(
            d["key"],
            d["id_columns"],
            [FieldSpec.from_dict(f) for f in d["fields"]],
            [FeatureDep.from_dict(x) for x in d.get("deps", [])],
            d.get("description"),
            d.get("metadata"),
        )
