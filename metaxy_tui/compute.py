"""Compute functions: how a feature's samples are computed, registered with the graph.

    @mx.compute(SpeakerEmbedding)
    def embed(rows: pl.DataFrame) -> pl.DataFrame:
        ...  # rows as resolve_update gives them; return the rows to write

or a `compute` classmethod on the feature class. The returned rows may omit the provenance
columns: they are taken from the input rows by the feature's key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from .columns import PROVENANCE, PROVENANCE_BY_FIELD
from .errors import InputError, InputProblem
from .frames import to_polars
from .graph import FeatureGraph, FeaturePlan
from .spec import feature_key_of

ComputeFunction = Callable[[pl.DataFrame], Any]


def compute(feature: Any, graph: FeatureGraph | None = None) -> Callable[[ComputeFunction], ComputeFunction]:
    """Decorator registering `fn` as the compute function of `feature` (a class or a key)."""

    def register(fn: ComputeFunction) -> ComputeFunction:
        g = graph or getattr(feature, "_mx_graph", None) or FeatureGraph.get_active()
        g.register_compute(feature_key_of(feature).to_string(), fn)
        return fn

    return register


def compute_function(graph: FeatureGraph, key: str) -> ComputeFunction | None:
    """The registered function, else the feature class's `compute` classmethod, else None."""
    fn = graph.computes.get(key)
    if fn is not None:
        return fn
    if key in graph:
        cls = graph.definition(key).cls
        method: object = getattr(cls, "compute", None) if cls is not None else None
        if callable(method):
            return method
    return None


def output_rows(plan: FeaturePlan, rows_in: pl.DataFrame, out: Any) -> pl.DataFrame:
    """A compute function's result as rows to write, with provenance filled in by key."""
    df = to_polars(out, plan.name)
    key = list(plan.key)
    missing_key = [c for c in key if c not in df.columns]
    if missing_key:
        raise InputError(
            plan.name, [InputProblem("the compute function's rows lack this key column", c) for c in missing_key]
        )
    if PROVENANCE_BY_FIELD not in df.columns or PROVENANCE not in df.columns:
        prov = rows_in.select(key + [PROVENANCE_BY_FIELD, PROVENANCE]).unique(subset=key, keep="first")
        df = df.drop([c for c in (PROVENANCE_BY_FIELD, PROVENANCE) if c in df.columns]).join(prov, on=key, how="left")
        unknown = df.filter(pl.col(PROVENANCE).is_null())
        if unknown.height:
            sample = ", ".join(str(r) for r in unknown.select(key).head(3).rows())
            raise InputError(
                plan.name,
                [
                    InputProblem(
                        f"the compute function returned {unknown.height} row(s) for keys it was not given ({sample})"
                    )
                ],
            )
    return df
