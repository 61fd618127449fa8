"""Metaxy's `metaxy.metadata_store.system`: the store's record of feature graphs.

`SystemTableStorage(store).push_graph_snapshot()` is what Metaxy's examples call to record
the code's graph (as `metaxy push` does); here it is a thin view over the store's own
snapshot methods.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import polars as pl

from ..graph import FeatureGraph


class PushResult(NamedTuple):
    """As Metaxy's: the recorded project version (whole, as every version here), whether it
    had been recorded before, and the features whose definition it changed."""

    project_version: str
    already_pushed: bool
    updated_features: list[str]


class SystemTableStorage:
    def __init__(self, store: Any):
        self.store = store

    def push_graph_snapshot(self, *, project: str | None = None, tags: dict[str, Any] | None = None) -> PushResult:
        """Record the active graph (the store's own, when it has one) once per project version."""
        store = self.store
        graph = store.graph()
        before = {f["key"]: f["feature_version"] for f in (store.snapshot() or {"features": []})["features"]}
        result = store.push_graph(graph)
        now = graph.plan()
        updated = sorted(k for k in now.features if before.get(k) != now[k].feature_version)
        return PushResult(result["project_version"], not result["new"], updated if result["new"] else [])

    def read_graph_snapshots(self, project: str | None = None) -> pl.DataFrame:
        """Recorded snapshots, newest first: project_version, recorded_at, feature_count."""
        rows = []
        for s in reversed(self.store.snapshots()):
            if project is not None and s["project"] not in (None, project):
                continue
            snap = self.store.snapshot(s["id"]) or {"features": []}
            rows.append(
                {
                    "project_version": s["project_version"],
                    "recorded_at": s["recorded_at"],
                    "feature_count": len(snap["features"]),
                }
            )
        df = pl.DataFrame(
            rows, schema={"project_version": pl.String, "recorded_at": pl.Int64, "feature_count": pl.Int64}
        )
        return df.with_columns(pl.from_epoch("recorded_at", time_unit="us").dt.replace_time_zone("UTC"))

    def load_graph_from_snapshot(self, project_version: str | None = None, **_: Any) -> FeatureGraph:
        """The graph recorded under `project_version` (a prefix will do; the latest by default)."""
        snap = self.store.snapshot(project_version)
        return FeatureGraph.from_snapshot(snap) if snap else FeatureGraph()


__all__ = ["PushResult", "SystemTableStorage"]
