"""Frames in and out: accepting polars/pandas/pyarrow/narwhals input, and the Increment."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import polars as pl

from .errors import InputError, InputProblem


def _narwhals_if_used() -> ModuleType | None:
    """narwhals, if the caller imported it: a narwhals frame or expression cannot exist before, and
    importing it here would cost every process 40 ms and 3.4 MB."""
    return sys.modules.get("narwhals")


def _narwhals() -> Any:  # the narwhals module (its frames answer what Metaxy's increments answer)
    import narwhals

    return narwhals


def to_polars(obj: Any, feature: str | None = None) -> pl.DataFrame:
    """Convert any supported frame-like input to a polars DataFrame."""
    if isinstance(obj, pl.DataFrame):
        return obj
    if isinstance(obj, IncrementFrame):
        return obj.to_polars()
    if isinstance(obj, pl.LazyFrame):
        return obj.collect()
    nw = _narwhals_if_used()
    if nw is not None and isinstance(obj, (nw.DataFrame, nw.LazyFrame)):
        return to_polars(nw.to_native(obj), feature)
    module = type(obj).__module__.split(".")[0]
    if module == "pandas":
        return _from_pandas(obj)
    if module == "pyarrow":
        out = pl.from_arrow(obj)
        if isinstance(out, pl.DataFrame):
            return out
    if isinstance(obj, list) and all(isinstance(r, dict) for r in obj):
        try:
            return pl.DataFrame(obj, infer_schema_length=None)
        except Exception as e:  # mixed types in one column, for example
            raise InputError(feature, [InputProblem(f"rows could not be read as a table: {e}")]) from None
    raise InputError(
        feature,
        [InputProblem(f"expected a polars, pandas or pyarrow frame (or a list of dicts), got {type(obj).__name__}")],
    )


def _from_pandas(df: Any) -> pl.DataFrame:
    # pandas keeps dict cells (provenance by field) as objects: hand those columns over as lists
    data: dict[str, Any] = {}
    for name in df.columns:
        col = df[name]
        if col.dtype == object and len(col) and any(isinstance(v, dict) for v in col.head(100)):
            data[str(name)] = pl.Series(str(name), col.tolist())
        else:
            data[str(name)] = pl.from_pandas(col)
    return pl.DataFrame(data)


def is_filter(obj: Any) -> bool:
    """A polars or narwhals expression, or a non-empty list of them."""
    items = obj if isinstance(obj, (list, tuple)) else [obj]
    nw = _narwhals_if_used()
    kinds = (pl.Expr,) if nw is None else (pl.Expr, nw.Expr)
    return bool(items) and all(isinstance(x, kinds) for x in items)


def apply_filters(df: pl.DataFrame, filters: Any, feature: str | None = None) -> pl.DataFrame:
    """Keep the rows every filter (polars or narwhals expression) holds for."""
    nw = _narwhals_if_used()
    errors: tuple[type[Exception], ...] = (pl.exceptions.PolarsError,)
    if nw is not None:
        errors += (nw.exceptions.NarwhalsError,)
    for f in filters if isinstance(filters, (list, tuple)) else [filters]:
        try:
            if nw is not None and isinstance(f, nw.Expr):
                df = nw.from_native(df, eager_only=True).filter(f).to_native()
            else:
                df = df.filter(f)
        except errors as e:
            raise InputError(feature, [InputProblem(f"filter {f} cannot be applied: {e}")]) from None
    return df


class MetadataFrame(pl.DataFrame):
    """What `read_metadata` returns: a polars DataFrame that also answers the calls a Metaxy
    pipeline makes on the lazy frame Metaxy returns (`.collect()`, `.to_polars()`, `.to_native()`)."""

    def collect(self, *args: Any, **kwargs: Any) -> Any:
        """As Metaxy's narwhals LazyFrame: an eager narwhals frame (`.to_polars()`, `.shape`, ...)."""
        return _narwhals().from_native(pl.DataFrame(self), eager_only=True)

    def to_polars(self) -> pl.DataFrame:
        return pl.DataFrame(self)

    def to_native(self) -> pl.DataFrame:
        return pl.DataFrame(self)


class IncrementFrame:
    """One frame of an Increment: `len()`, `.to_polars()`, iteration over row dicts.

    Anything else is answered by a narwhals DataFrame over the same data, as in Metaxy.
    """

    def __init__(self, df: pl.DataFrame):
        self._df = df

    def __len__(self) -> int:
        return self._df.height

    def __repr__(self) -> str:
        return f"IncrementFrame({self._df.height} rows, columns={self._df.columns})"

    def to_polars(self) -> pl.DataFrame:
        return self._df

    def to_native(self) -> pl.DataFrame:
        return self._df

    def to_pandas(self) -> Any:
        return self._df.to_pandas()

    def to_arrow(self) -> Any:
        return self._df.to_arrow()

    @property
    def columns(self) -> list[str]:
        return self._df.columns

    def __getitem__(self, item: Any) -> Any:
        return _narwhals().from_native(self._df, eager_only=True)[item]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._df.iter_rows(named=True))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_narwhals().from_native(self._df, eager_only=True), name)


@dataclass
class Increment:
    """What resolve_update found: samples to add, to recompute, and gone from upstream."""

    feature: str
    key: tuple[str, ...]
    added: IncrementFrame
    changed: IncrementFrame
    removed: IncrementFrame

    @property
    def new(self) -> IncrementFrame:
        return self.added

    @property
    def stale(self) -> IncrementFrame:
        return self.changed

    @property
    def orphaned(self) -> IncrementFrame:
        return self.removed

    def _samples(self, frame: IncrementFrame) -> int:
        df = frame.to_polars()
        if not df.height or not all(k in df.columns for k in self.key):
            return df.height
        return df.select(self.key).n_unique()

    @property
    def counts(self) -> dict[str, int]:
        """Distinct samples by key in each frame (aggregation frames hold one row per member,
        and an expansion's removed frame one row per child)."""
        return {
            "added": self._samples(self.added),
            "changed": self._samples(self.changed),
            "removed": self._samples(self.removed),
        }

    @property
    def is_empty(self) -> bool:
        return not (len(self.added) or len(self.changed) or len(self.removed))

    def __repr__(self) -> str:
        c = self.counts
        return f"Increment({self.feature}: {c['added']} added, {c['changed']} changed, {c['removed']} removed)"
