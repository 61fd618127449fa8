"""Graph diffs live in the engine (explanations need them); the service re-exports them."""

from ..graph_diff import FeatureChange, FieldChange, diff_graphs, short

__all__ = ["FeatureChange", "FieldChange", "diff_graphs", "short"]
