"""Between polars frames and SQLite rows: encoding values to store, decoding rows read."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import polars as pl

from ...columns import (
    CREATED_AT,
    DATA_VERSION,
    DATA_VERSION_BY_FIELD,
    DELETED_AT,
    FEATURE_VERSION,
    MATERIALIZATION_ID,
    PROJECT_VERSION,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
    UPDATED_AT,
    ColumnType,
    PolarsType,
    dvbf_column,
    pbf_column,
)
from ...definition import FeatureDefinition
from ...keys import quote, quote_all
from .schema import FV, WRITE

DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.6f"
TIMESTAMP = pl.Datetime("us", "UTC")


def now_us() -> int:
    return time.time_ns() // 1000


def encode_expr(col: str, t: ColumnType) -> pl.Expr:
    """The expression turning a validated column into what SQLite stores."""
    c = pl.col(col)
    if t.name == "datetime":
        return c.dt.strftime(DATETIME_FORMAT)
    if t.name == "date":
        return c.dt.strftime("%Y-%m-%d")
    if t.name == "bool":
        return c.cast(pl.Int64)
    return c


def keys_in(columns: list[str], keys: pl.DataFrame, types: dict[str, ColumnType]) -> tuple[str, str]:
    """The condition "stored `columns` are one of `keys`' rows" and its one parameter.

    `keys` holds one column per stored column, in the same order (`types` by `keys`' names);
    its tuples travel as a JSON array of arrays, in the values SQLite stores.
    """
    picked = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
    target = quote(columns[0]) if len(columns) == 1 else f"({quote_all(columns)})"
    encoded = json.dumps(keys.select([encode_expr(c, types[c]).alias(c) for c in keys.columns]).rows())
    return f"{target} IN (SELECT {picked} FROM json_each(?))", encoded


def columns_as_lists(df: pl.DataFrame) -> list[list[Any]]:
    return [s.to_list() for s in df.get_columns()]


Typed: TypeAlias = "ColumnType | PolarsType"


def polars_schema(types: Mapping[str, Typed]) -> dict[str, PolarsType]:
    return {c: t.polars if isinstance(t, ColumnType) else t for c, t in types.items()}


def load_dtype(t: Typed) -> PolarsType:
    """The dtype a column is loaded with from SQLite, before decoding."""
    if isinstance(t, ColumnType):
        return {"datetime": pl.String, "date": pl.String, "bool": pl.Int64}.get(t.name, t.polars)
    return t


def decode_expr(col: str, t: Typed) -> pl.Expr:
    c = pl.col(col)
    if not isinstance(t, ColumnType):
        return c.cast(t)
    if t.name == "datetime":
        return c.cast(pl.String).str.to_datetime(DATETIME_FORMAT, time_unit="us", strict=False)
    if t.name == "date":
        return c.cast(pl.String).str.to_date("%Y-%m-%d", strict=False)
    return c.cast(t.polars)


def table_types(definition: FeatureDefinition, columns: list[str]) -> dict[str, Typed]:
    """What each selected column of a feature table holds."""
    out: dict[str, Typed] = {}
    for c in columns:
        t = definition.columns.get(c)
        if t is not None:
            out[c] = t
        elif c in (CREATED_AT, UPDATED_AT, DELETED_AT, FV, WRITE, "rowid"):
            out[c] = pl.Int64
        else:
            out[c] = pl.String
    return out


def decode_user(df: pl.DataFrame, definition: FeatureDefinition) -> list[pl.Expr]:
    """User columns in their declared types; columns the table lacks come back as nulls."""
    return [pl.col(c) if c in df.columns else pl.lit(None, t.polars).alias(c) for c, t in definition.columns.items()]


def decode_rows(
    df: pl.DataFrame,
    definition: FeatureDefinition,
    fields: list[str],
    fv_names: dict[int, str],
    project_versions: dict[int, str],
) -> pl.DataFrame:
    """Rows as read from a feature table -> the frame users see."""

    def field_struct(column_of: Callable[[str], str], fallback_of: Callable[[str], str] | None) -> pl.Expr:
        parts = []
        for f in fields:
            col = column_of(f)
            e = pl.col(col) if col in df.columns else pl.lit(None, pl.String)
            if fallback_of is not None:
                fb = fallback_of(f)
                e = pl.coalesce(e, pl.col(fb) if fb in df.columns else pl.lit(None, pl.String))
            parts.append(e.cast(pl.String).alias(f))
        return pl.struct(parts) if parts else pl.lit(None)

    def ts(c: str) -> pl.Expr:
        return pl.from_epoch(pl.col(c), time_unit="us").dt.replace_time_zone("UTC").alias(c)

    exprs = decode_user(df, definition) + [
        field_struct(pbf_column, None).alias(PROVENANCE_BY_FIELD),
        pl.col(PROVENANCE).cast(pl.String),
        field_struct(dvbf_column, pbf_column).alias(DATA_VERSION_BY_FIELD),
        pl.coalesce(pl.col(DATA_VERSION), pl.col(PROVENANCE)).cast(pl.String).alias(DATA_VERSION),
        pl.col(FV).replace_strict(fv_names, default=None, return_dtype=pl.String).alias(FEATURE_VERSION),
        pl.col(WRITE).replace_strict(project_versions, default=None, return_dtype=pl.String).alias(PROJECT_VERSION),
        ts(CREATED_AT),
        ts(UPDATED_AT),
        ts(DELETED_AT),
        pl.col(MATERIALIZATION_ID).cast(pl.String),
    ]
    return df.select(exprs)


def empty_frame(definition: FeatureDefinition, fields: list[str]) -> pl.DataFrame:
    struct = pl.Struct({f: pl.String for f in fields})
    schema: dict[str, PolarsType] = {c: t.polars for c, t in definition.columns.items()}
    schema.update(
        {
            PROVENANCE_BY_FIELD: struct,
            PROVENANCE: pl.String,
            DATA_VERSION_BY_FIELD: struct,
            DATA_VERSION: pl.String,
            FEATURE_VERSION: pl.String,
            PROJECT_VERSION: pl.String,
            CREATED_AT: TIMESTAMP,
            UPDATED_AT: TIMESTAMP,
            DELETED_AT: TIMESTAMP,
            MATERIALIZATION_ID: pl.String,
        }
    )
    return pl.DataFrame(schema=schema)
