"""Graph diffs live in the engine (explanations need them); the service re-exports them, with the
graph type and a snapshot's graph, for the command line and the TUI."""

from __future__ import annotations

from ..graph import FeatureGraph
from ..graph_diff import FeatureChange, FieldChange, diff_graphs, short


def snapshot_graph(snapshot: dict) -> FeatureGraph:
    """The graph a snapshot recorded (store.snapshot()'s answer)."""
    return FeatureGraph.from_snapshot(snapshot)


__all__ = ["FeatureChange", "FeatureGraph", "FieldChange", "diff_graphs", "short", "snapshot_graph"]
