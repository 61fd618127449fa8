"""Texts and JSON of an explanation, made in polars for every sample at once (see explain/build.py)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from .. import jsontext
from ..graph import FeaturePlan
from .model import SHOWN

SID = "__sid"  # a changed or removed sample's row number, to group its upstream changes by
NESTED = ("__fields", "__upstream", "__definition")


# ----- JSON and text in polars ------------------------------------------------------------------------


def _enc(e: pl.Expr) -> pl.Expr:
    return jsontext.value(e)


def _plain(df: pl.DataFrame, columns: list[str]) -> bool:
    """Whether polars writes these columns' values as Python's str() does."""
    return all(df.schema[c] == pl.String or df.schema[c].is_integer() for c in columns)


def _enc_struct(columns: list[str], df: pl.DataFrame) -> pl.Expr:
    """A JSON object of `columns` (as json.dumps(default=str) writes the values)."""
    return jsontext.obj(df, columns)


def _who(df: pl.DataFrame, columns: list[str]) -> pl.Expr:
    """ ", ".join(str(v) for each id value), as UpstreamChange.describe writes it."""
    parts = [
        pl.col(c).cast(pl.String)
        if _plain(df, [c])
        else pl.col(c).map_elements(str, return_dtype=pl.String, skip_nulls=False)
        for c in columns
    ]
    return pl.concat_str(parts, separator=", ")


def _short(e: pl.Expr) -> pl.Expr:
    return (
        pl.when(e.is_null())
        .then(pl.lit("∅"))
        .when(e.str.len_chars() <= 12)
        .then(e)
        .otherwise(e.str.slice(0, 10) + pl.lit("…"))
    )


def _json_list(items: Sequence[pl.Expr]) -> pl.Expr:
    return jsontext.array(items)


def _text_list(items: Sequence[pl.Expr], sep: str) -> pl.Expr:
    if not items:
        return pl.lit("")
    return pl.concat_list(items).list.drop_nulls().list.join(sep)


def _listed(descs: pl.Expr, n: pl.Expr) -> pl.Expr:
    """The first SHOWN descriptions joined by "; ", and "; and N more"."""
    more = (
        pl.when(n > SHOWN).then(pl.lit("; and ") + (n - SHOWN).cast(pl.String) + pl.lit(" more")).otherwise(pl.lit(""))
    )
    return descs.list.head(SHOWN).list.join("; ") + more


# ----- explaining -----------------------------------------------------------------------------------


def distinct_keys(df: pl.DataFrame, key: list[str], plan: FeaturePlan) -> pl.DataFrame:
    if not df.height or not all(c in df.columns for c in key):
        return pl.DataFrame(schema={c: df.schema.get(c, plan.definition.columns[c].polars) for c in key})
    return df.select(key).unique(maintain_order=True)


def _with_nested(
    frame: pl.DataFrame, fields: pl.Expr | str = "[]", upstream: pl.Expr | str = "[]", definition: pl.Expr | str = "[]"
) -> pl.DataFrame:
    def as_expr(v: pl.Expr | str) -> pl.Expr:
        return pl.lit(v) if isinstance(v, str) else v

    return frame.with_columns(
        as_expr(fields).alias("__fields"),
        as_expr(upstream).alias("__upstream"),
        as_expr(definition).alias("__definition"),
    )
