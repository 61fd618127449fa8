"""A feature's full definition: its spec plus the user columns its class declares.

Definitions are plain data so that a graph can be rebuilt from a snapshot stored in a
SQLite file, without the Python code that first declared it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from dataclasses import dataclass, field

from .columns import ColumnType
from .errors import DefinitionError
from .keys import FeatureKey, validate_column_name
from .spec import FeatureSpec

# an id column the class does not annotate: text until the first write says otherwise
DEFAULT_ID_TYPE = ColumnType("str", declared=False)


@dataclass(eq=False)
class FeatureDefinition:
    spec: FeatureSpec
    columns: dict[str, ColumnType]  # id columns first, then the other user columns
    description: str | None = None
    cls: type | None = field(default=None, repr=False)
    origin: str | None = None  # "module.QualName" of the class, or "snapshot"
    column_descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> FeatureKey:
        return self.spec.key

    @property
    def name(self) -> str:
        return self.spec.key.to_string()

    @property
    def id_columns(self) -> tuple[str, ...]:
        return self.spec.id_columns

    @property
    def user_columns(self) -> list[str]:
        """Columns that are not id columns."""
        return [c for c in self.columns if c not in self.spec.id_columns]

    @property
    def field_keys(self) -> list[str]:
        """Field names as they appear in provenance structs and stored columns, sorted."""
        return sorted(f.key.struct_name for f in self.spec.fields)

    @property
    def field_key_strings(self) -> list[str]:
        return [f.key.to_string() for f in self.spec.fields]

    @property
    def is_root(self) -> bool:
        return not self.spec.deps

    @property
    def declared_columns(self) -> list[str]:
        """Columns the class annotates (the others' types come from the data)."""
        return [c for c, t in self.columns.items() if t.declared]

    def with_columns(self, extra: Mapping[str, ColumnType]) -> "FeatureDefinition":
        """The same definition with more columns (or other types for columns not annotated)."""
        columns = dict(self.columns)
        for c, t in extra.items():
            if c not in columns or not columns[c].declared:
                columns[c] = t
        return FeatureDefinition(
            self.spec, columns, self.description, self.cls, self.origin, dict(self.column_descriptions)
        )

    @classmethod
    def build(
        cls,
        spec: FeatureSpec,
        annotated: Mapping[str, ColumnType],
        description: str | None = None,
        owner: type | None = None,
        origin: str | None = None,
        column_descriptions: Mapping[str, str] | None = None,
    ) -> "FeatureDefinition":
        name = spec.key.to_string()
        columns: dict[str, ColumnType] = {}
        for col in spec.id_columns:
            validate_column_name(col, name)
            t = annotated.get(col, DEFAULT_ID_TYPE)
            if t.nullable:
                raise DefinitionError(name, f"id column {col!r} cannot be Optional")
            columns[col] = t
        for col, t in annotated.items():
            validate_column_name(col, name)
            columns.setdefault(col, t)
        lowered: dict[str, str] = {}
        for col in columns:
            other = lowered.setdefault(col.lower(), col)
            if other != col:
                raise DefinitionError(
                    name,
                    f"columns {other!r} and {col!r} differ only in case; SQLite column "
                    "names are case-insensitive, rename one",
                )
        return cls(
            spec,
            columns,
            description if description is not None else spec.description,
            owner,
            origin,
            {c: t for c, t in (column_descriptions or {}).items() if c in columns},
        )

    def to_dict(self) -> dict[str, Any]:
        d = self.spec.to_dict()
        d["description"] = self.description
        d["columns"] = {c: t.to_dict() for c, t in self.columns.items()}
        if self.column_descriptions:
            d["column_descriptions"] = dict(self.column_descriptions)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FeatureDefinition":
        spec = FeatureSpec.from_dict(d)
        columns = {c: ColumnType.from_dict(t) for c, t in d.get("columns", {}).items()}
        return cls.build(spec, columns, d.get("description"), None, "snapshot", d.get("column_descriptions"))
