"""The feature tree: keys grouped by namespace, each with its live status."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ...service.graph_diff import FeatureGraph
from ...service.status import FeatureStatus
from ..messages import FeatureSelected

STYLE = {
    "root": "cyan",
    "up_to_date": "green",
    "pending": "yellow",
    "waiting": "magenta",
    "error": "red",
    "unknown": "dim",
}


def status_text(status: FeatureStatus | None, short: bool = False) -> Text:
    if status is None:
        return Text("…", style="dim")
    return Text(short_label(status) if short else status.label, style=STYLE.get(status.kind, ""))


def short_label(status: FeatureStatus) -> str:
    """The status in a few cells, for a narrow tree (the hint line and the Feature tab say the rest)."""
    if status.kind == "root":
        return f"root · {status.rows:,}"
    if status.kind == "pending":
        return f"{status.pending:,} pending"
    if status.kind == "waiting":
        return "waiting"
    if status.kind == "error":
        return "error"
    return status.label


class FeatureTree(Tree[str]):
    """Namespaces as branches, features as leaves (a feature can also be a namespace)."""

    DEFAULT_CSS = """
    FeatureTree { width: 1fr; }
    """

    def __init__(self, graph: FeatureGraph, **kwargs) -> None:
        super().__init__("features", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self._feature_nodes: dict[str, TreeNode[str]] = {}
        self._statuses: dict[str, FeatureStatus] = {}
        self.set_graph(graph)

    def set_graph(self, graph: FeatureGraph) -> None:
        self.clear()
        self._feature_nodes.clear()
        for key in graph.keys:
            parent = self.root
            parts = key.split("/")
            for i in range(1, len(parts)):
                prefix = "/".join(parts[:i])
                node = self._feature_nodes.get(prefix)
                if node is None:
                    node = parent.add(Text(parts[i - 1], style="bold"), data=None, expand=True)
                    self._feature_nodes["ns:" + prefix] = node
                    self._feature_nodes.setdefault(prefix, node)
                parent = node
            existing = self._feature_nodes.get(key)
            if existing is not None and existing.data is None:
                # a namespace node that is also a feature ("video" and "video/chunk")
                existing.data = key
                self._feature_nodes[key] = existing
            else:
                self._feature_nodes[key] = parent.add(Text(parts[-1]), data=key, expand=True, allow_expand=False)
        for key in graph.keys:
            self._relabel(key)

    @property
    def feature_keys(self) -> list[str]:
        return [k for k, n in self._feature_nodes.items() if not k.startswith("ns:") and n.data == k]

    def _relabel(self, key: str) -> None:
        node = self._feature_nodes.get(key)
        if node is None:
            return
        name = key.split("/")[-1]
        label = Text(name, style="bold" if node.children else "")
        label.append("  ")
        status = self._statuses.get(key)
        full = status_text(status)
        # the tree draws guides and an expand icon before the label: about guide_depth cells a level
        depth, parent = 0, node.parent
        while parent is not None and parent is not self.root:
            depth, parent = depth + 1, parent.parent
        room = self.scrollable_content_region.width - depth * self.guide_depth - 3
        label.append_text(status_text(status, short=True) if 0 < room < label.cell_len + full.cell_len else full)
        node.set_label(label)

    def on_resize(self) -> None:
        for key in self.feature_keys:
            self._relabel(key)

    def set_status(self, status: FeatureStatus) -> None:
        self._statuses[status.key] = status
        self._relabel(status.key)

    def status(self, key: str) -> FeatureStatus | None:
        return self._statuses.get(key)

    def select_feature(self, key: str) -> None:
        node = self._feature_nodes.get(key)
        if node is not None:
            self.move_cursor(node)

    @property
    def selected_feature(self) -> str | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        if event.node.data:
            self.post_message(FeatureSelected(event.node.data))
