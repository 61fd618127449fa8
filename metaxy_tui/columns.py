"""Column vocabulary: Metaxy's system columns and the user column types we support."""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import polars as pl

# a polars dtype as polars takes it: an instance (pl.Datetime("us")) or the class (pl.String)
PolarsType: TypeAlias = pl.DataType | type[pl.DataType]

PROVENANCE_BY_FIELD = "metaxy_provenance_by_field"
PROVENANCE = "metaxy_provenance"
DATA_VERSION_BY_FIELD = "metaxy_data_version_by_field"
DATA_VERSION = "metaxy_data_version"
FEATURE_VERSION = "metaxy_feature_version"
PROJECT_VERSION = "metaxy_project_version"
CREATED_AT = "metaxy_created_at"
UPDATED_AT = "metaxy_updated_at"
DELETED_AT = "metaxy_deleted_at"
MATERIALIZATION_ID = "metaxy_materialization_id"

SYSTEM_COLUMNS = (
    PROVENANCE_BY_FIELD,
    PROVENANCE,
    DATA_VERSION_BY_FIELD,
    DATA_VERSION,
    FEATURE_VERSION,
    PROJECT_VERSION,
    CREATED_AT,
    UPDATED_AT,
    DELETED_AT,
    MATERIALIZATION_ID,
)
# Columns a writer may supply; the store fills in the rest.
WRITABLE_SYSTEM_COLUMNS = (PROVENANCE_BY_FIELD, PROVENANCE, DATA_VERSION_BY_FIELD, DATA_VERSION, MATERIALIZATION_ID)


@dataclass(frozen=True)
class ColumnType:
    """A user column's type: what SQLite stores and what polars reads back."""

    name: str  # str, int, float, bool, datetime, date, bytes
    nullable: bool = False
    # False: the class does not annotate the column (an id column without annotation, a column
    # a frame carried, an expansion's `on` column); its type comes from the first write that
    # carries it and is recorded by the store
    declared: bool = True

    @property
    def sqlite(self) -> str:
        return _SQLITE[self.name]

    @property
    def polars(self) -> PolarsType:
        return _POLARS[self.name]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.name, "nullable": self.nullable}
        if not self.declared:
            d["declared"] = False
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ColumnType":
        return cls(d["type"], bool(d.get("nullable", False)), bool(d.get("declared", True)))

    def describe(self) -> str:
        return self.name + (" | None" if self.nullable else "") + ("" if self.declared else " (not annotated)")


_SQLITE = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "REAL",
    "bool": "INTEGER",
    "datetime": "TEXT",
    "date": "TEXT",
    "bytes": "BLOB",
}
_POLARS: dict[str, PolarsType] = {
    "str": pl.String,
    "int": pl.Int64,
    "float": pl.Float64,
    "bool": pl.Boolean,
    "datetime": pl.Datetime("us"),
    "date": pl.Date,
    "bytes": pl.Binary,
}
_PY: dict[object, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    dt.datetime: "datetime",
    dt.date: "date",
    bytes: "bytes",
}
SUPPORTED_TYPES = tuple(_SQLITE)


def column_type_of(annotation: object) -> ColumnType | None:
    """Map a class annotation to a ColumnType; None when the annotation is not supported."""
    nullable = False
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None
        nullable = len(args) < len(typing.get_args(annotation))
        annotation = args[0]
    if isinstance(annotation, str):
        name = annotation.replace("Optional[", "").rstrip("]").replace(" | None", "").strip()
        nullable = nullable or "Optional[" in annotation or "| None" in annotation
        name = {"datetime.datetime": "datetime", "datetime.date": "date"}.get(name, name)
        return ColumnType(name, nullable) if name in _SQLITE else None
    known = _PY.get(annotation)
    return ColumnType(known, nullable) if known else None


def column_type_of_dtype(dtype: pl.DataType) -> str | None:
    """The column type a polars dtype is stored as when the class does not annotate the column;
    None for dtypes a SQLite column cannot hold faithfully (lists, structs, durations, ...)."""
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "str"
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Date:
        return "date"
    if dtype == pl.Binary:
        return "bytes"
    return None


def pbf_column(field_key: str) -> str:
    """SQLite column holding one field's provenance."""
    return f"{PROVENANCE_BY_FIELD}.{field_key}"


def dvbf_column(field_key: str) -> str:
    """SQLite column holding one field's data version (NULL: equal to its provenance)."""
    return f"{DATA_VERSION_BY_FIELD}.{field_key}"
