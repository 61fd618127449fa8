"""`BaseFeature`: declaring a feature as a class registers its definition in a graph."""

from __future__ import annotations

import inspect
import typing
from typing import Any, ClassVar

from .columns import SUPPORTED_TYPES, ColumnType, column_type_of
from .definition import FeatureDefinition
from .errors import DefinitionError
from .graph import FeatureGraph
from .spec import FeatureSpec


def _column_descriptions(cls: type, columns: dict[str, ColumnType]) -> dict[str, str]:
    """Descriptions given as pydantic's `Field(description=...)` (Metaxy's features are pydantic
    models), or any default value carrying a `description` string."""
    out: dict[str, str] = {}
    for name in columns:
        text = getattr(getattr(cls, name, None), "description", None)
        if isinstance(text, str) and text.strip():
            out[name] = inspect.cleandoc(text)
    return out


def _annotated_columns(cls: type, feature: str) -> dict[str, ColumnType]:
    raw: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass in (object, BaseFeature):
            continue
        raw.update(getattr(klass, "__annotations__", {}))
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # unresolved forward references: fall back to the raw strings
        hints = {}
    out: dict[str, ColumnType] = {}
    for name, ann in raw.items():
        ann = hints.get(name, ann)
        if typing.get_origin(ann) is ClassVar or name.startswith("_"):
            continue
        t = column_type_of(ann)
        if t is None:
            raise DefinitionError(
                feature,
                f"column {name!r} has unsupported type {ann!r} "
                f"(supported: {', '.join(SUPPORTED_TYPES)}, optionally | None)",
            )
        out[name] = t
    return out


class BaseFeature:
    """Subclass with `spec=FeatureSpec(...)`; annotated attributes are the user columns."""

    _mx_spec: ClassVar[FeatureSpec | None] = None
    _mx_graph: ClassVar[FeatureGraph | None] = None

    def __init_subclass__(cls, spec: FeatureSpec | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if spec is None:
            cls._mx_spec = None  # an abstract base class for other features
            return
        if not isinstance(spec, FeatureSpec):
            raise DefinitionError(None, f"{cls.__qualname__}: spec must be a FeatureSpec, got {spec!r}")
        name = spec.key.to_string()
        doc = inspect.cleandoc(cls.__doc__) if cls.__doc__ else None
        columns = _annotated_columns(cls, name)
        definition = FeatureDefinition.build(
            spec,
            columns,
            spec.description or doc,
            cls,
            f"{cls.__module__}.{cls.__qualname__}",
            _column_descriptions(cls, columns),
        )
        graph = FeatureGraph.get_active()
        graph.add(definition)
        cls._mx_spec = spec
        cls._mx_graph = graph

    @classmethod
    def spec(cls) -> FeatureSpec:
        if cls._mx_spec is None:
            raise DefinitionError(None, f"{cls.__qualname__} has no spec")
        return cls._mx_spec

    @classmethod
    def graph(cls) -> FeatureGraph:
        assert cls._mx_graph is not None
        return cls._mx_graph

    @classmethod
    def feature_version(cls) -> str:
        return cls.graph().feature_version(cls.spec().key)

    @classmethod
    def field_versions(cls) -> dict[str, str]:
        return cls.graph().field_versions(cls.spec().key)

    @classmethod
    def definition(cls) -> FeatureDefinition:
        return cls.graph().definition(cls.spec().key)
