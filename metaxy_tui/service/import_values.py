"""Typed values out of an imported file's text: each value parsed into the type of the feature
column it is imported into, the rows that do not parse recorded as problems (the first few of
each kind named, as the store's validation does); JSON objects of provenance as structs."""

from __future__ import annotations

import json

import polars as pl

from ..columns import ColumnType
from ..errors import InputProblem
from ..store.validate import MAX_ROWS_NAMED


INT_EXACT = 2**53  # integers written as floats are exact below this


class RowProblems:
    """Problems found per row, the first few rows of each kind named (as the store's validation does)."""

    def __init__(self) -> None:
        self.items: list[InputProblem] = []

    def rows(self, mask: pl.Series, values: pl.Series, column: str, label: str, *, show: bool = True) -> None:
        """Record `label` (with the value) for the first few rows where `mask` holds."""
        idx = mask.arg_true()
        for r in idx.head(MAX_ROWS_NAMED).to_list():
            self.items.append(InputProblem(f"{label}: {values[r]!r}" if show else label, column, r))
        if idx.len() > MAX_ROWS_NAMED:
            self.items.append(InputProblem(f"{label} (and {idx.len() - MAX_ROWS_NAMED} more rows)", column))


def parse_text(s: pl.Series, t: ColumnType, column: str, problems: RowProblems) -> tuple[pl.Series, pl.Series]:
    """(`s` read as `t`'s type, the rows whose text did not parse); each of those is recorded.

    Values that did not parse are null in the result. Dates, datetimes and bytes stay text:
    the store's validation reads ISO 8601 itself, with row numbers.
    """
    txt = s.str.strip_chars()
    present = txt.is_not_null()
    none = pl.Series([False] * len(s), dtype=pl.Boolean)
    if t.name == "int":
        as_int = txt.cast(pl.Int64, strict=False)
        bad = as_int.is_null() & present
        if not bad.any():
            return as_int, none
        f = txt.cast(pl.Float64, strict=False)
        nan = f.is_nan().fill_null(False) & bad
        integral = (f.is_finite() & (f == f.floor()) & (f.abs() < INT_EXACT)).fill_null(False)
        problems.rows(f.is_null() & bad, s, column, "not an integer")
        if not t.nullable:  # as the store: NaN in an Optional column is no value
            problems.rows(nan, s, column, "NaN where an integer is required", show=False)
        problems.rows(f.is_infinite().fill_null(False) & bad, s, column, "infinite value where an integer is required")
        problems.rows(
            (f.is_finite() & (f != f.floor())).fill_null(False) & bad, s, column, "fraction in an integer column"
        )
        problems.rows(
            (f.is_finite() & (f == f.floor()) & (f.abs() >= INT_EXACT)).fill_null(False) & bad,
            s,
            column,
            "integer does not fit in 64 bits",
        )
        # integral numbers written as floats ("3.0", "1e3") are integers
        failed = bad & ~integral & ~(nan if t.nullable else none)
        return _combine(as_int, f.fill_nan(None).cast(pl.Int64, strict=False), bad & ~failed), failed
    if t.name == "float":
        f = txt.cast(pl.Float64, strict=False)
        bad = f.is_null() & present
        problems.rows(bad, s, column, "not a number")
        return f, bad
    if t.name == "bool":
        low = txt.str.to_lowercase()
        truthy = low.is_in(["true", "t", "yes", "y", "1"])
        falsy = low.is_in(["false", "f", "no", "n", "0"])
        bad = present & ~truthy & ~falsy
        problems.rows(bad, s, column, "not true/false")
        return _combine(truthy, pl.Series(s.name, [None] * len(s), pl.Boolean), ~(truthy | falsy)), bad
    return s, none


def _combine(a: pl.Series, b: pl.Series, use_b: pl.Series) -> pl.Series:
    return pl.select(pl.when(use_b).then(b).otherwise(a).alias(a.name)).to_series()


def decode_json_objects(s: pl.Series, column: str, problems: RowProblems) -> pl.Series | None:
    """A column of JSON objects as text ({"default": "..."}) as a struct column."""
    if not s.is_not_null().any():
        return s
    try:
        out = s.str.json_decode(infer_schema_length=None)
    except pl.exceptions.PolarsError:
        out = None
    if out is not None and isinstance(out.dtype, pl.Struct):
        return out
    bad_rows = []
    for i, v in enumerate(s.to_list()):
        if v is None:
            continue
        try:
            ok = isinstance(json.loads(v), dict)
        except ValueError:
            ok = False
        if not ok:
            bad_rows.append(i)
    mask = pl.Series([False] * len(s), dtype=pl.Boolean).scatter(bad_rows, True) if bad_rows else s.is_not_null()
    problems.rows(mask, s, column, 'not a JSON object of field -> provenance (like {"default": "..."})')
    return None
