"""JSON text made in polars, for outputs of hundreds of thousands of objects.

json.dumps with indent runs Python's pure-Python encoder: for 100,000 explained samples it
took longer than resolving them. Here each object becomes one line of compact JSON built by
polars in Rust (values escaped by polars' own JSON encoder), and only the document around
the lines is written by Python. Values polars would write otherwise than
`json.dumps(default=str)` (datetimes, dates, bytes) are turned into text by Python's str().
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import IO

import polars as pl


def value(e: pl.Expr) -> pl.Expr:
    """The JSON text of a value (a string, a number, a boolean, null)."""
    return pl.struct(e.alias("v")).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}")


def native(dtype: pl.DataType) -> bool:
    """Whether polars writes this dtype's values as json.dumps(default=str) does."""
    return dtype == pl.String or dtype.is_integer() or dtype in (pl.Boolean, pl.Float64, pl.Float32)


def column(df: pl.DataFrame, c: str) -> pl.Expr:
    """The JSON text of column `c`'s values."""
    if native(df.schema[c]):
        return value(pl.col(c))
    return value(pl.col(c).map_elements(str, return_dtype=pl.String, skip_nulls=True))


def obj(df: pl.DataFrame, columns: list[str], extra: Sequence[tuple[str, pl.Expr]] = ()) -> pl.Expr:
    """A JSON object per row: `columns` of `df`, then `extra` (name, JSON text expression)."""
    parts: list[pl.Expr] = []
    items = [(c, column(df, c)) for c in columns] + list(extra)
    if not items:
        return pl.lit("{}")
    for i, (name, text) in enumerate(items):
        parts += [pl.lit(("{" if i == 0 else ", ") + json.dumps(name) + ": "), text]
    return pl.concat_str(parts + [pl.lit("}")])


def array(items: Sequence[pl.Expr]) -> pl.Expr:
    """A JSON array of the non-null JSON texts among `items`."""
    if not items:
        return pl.lit("[]")
    return pl.lit("[") + pl.concat_list(items).list.drop_nulls().list.join(", ") + pl.lit("]")


class Lines:
    """A JSON array given as its items' JSON texts (a polars Series, or any iterable), one item a line."""

    def __init__(self, items: "pl.Series | Iterable[str]"):
        self.items = items


def _write_series(out: IO[bytes], items: pl.Series) -> None:
    """The items, each on its own line after four spaces, separated by commas, written by polars."""
    last = items.len() - 1
    lines = pl.DataFrame({"line": items}).select(
        pl.concat_str(
            [
                pl.lit("    "),
                pl.col("line"),
                pl.when(pl.int_range(pl.len()) < last).then(pl.lit(",")).otherwise(pl.lit("")),
            ]
        )
    )
    lines.write_csv(out, include_header=False, quote_style="never", line_terminator="\n")


def write_document(items: list[tuple[str, object]], out: IO[bytes] | None = None) -> None:
    """Write a JSON object of `items` (key, value) in order, indented; Lines values one item a line."""
    out = out or sys.stdout.buffer
    out.write(b"{\n")
    for n, (k, v) in enumerate(items):
        sep = b",\n" if n < len(items) - 1 else b"\n"
        if isinstance(v, Lines) and isinstance(v.items, pl.Series):
            out.write(f"  {json.dumps(k)}: [".encode())
            if v.items.len():
                out.write(b"\n")
                out.flush()
                _write_series(out, v.items)
                out.write(b"  ]" + sep)
            else:
                out.write(b"]" + sep)
        elif isinstance(v, Lines):
            out.write(f"  {json.dumps(k)}: [".encode())
            first = True
            batch: list[str] = []
            for item in v.items:
                batch.append(item)
                if len(batch) >= 10_000:
                    out.write(((",\n    " if not first else "\n    ") + ",\n    ".join(batch)).encode())
                    first, batch = False, []
            if batch:
                out.write(((",\n    " if not first else "\n    ") + ",\n    ".join(batch)).encode())
                first = False
            out.write((b"\n  ]" if not first else b"]") + sep)
        else:
            text = json.dumps(v, indent=2, default=str).replace("\n", "\n  ")
            out.write(f"  {json.dumps(k)}: {text}".encode() + sep)
    out.write(b"}\n")
    out.flush()
