"""A traced sample as a tree: what it was computed from above, what it feeds below.

The traced sample is the root; under it "↑ computed from" and "↓ feeds", then one branch per
link (a dep, or a downstream feature) holding its samples, and each sample the links further
up (or down) once walked. Samples not walked yet expand on demand: the tree asks its screen
(`WalkRequested`), which walks one hop in a worker and calls `add_links`. A link with more
samples than shown ends in "… N more": enter asks for the next page (`MoreRequested`).
Enter on a sample asks for its detail (`OpenSample`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ...service.samples import format_ids
from ...service.trace import Trace, TraceLink, TraceNode

STATE_STYLES = {"current": "green", "stale": "yellow", "orphaned": "red", "deleted": "red", "earlier version": "yellow"}


@dataclass
class TraceItem:
    kind: str  # sample | link | more | heading | note
    node: TraceNode | None = None
    link: TraceLink | None = None
    loading: bool = False


def sample_label(node: TraceNode, *, root: bool = False) -> Text:
    text = Text()
    text.append("● ", style=STATE_STYLES.get(node.state, ""))
    if root:
        text.append(node.ref.feature, style="bold")
        text.append("  ")
    text.append(format_ids(node.ref.ids))
    text.append(f"  {node.state}", style=STATE_STYLES.get(node.state, ""))
    if node.repeated:
        text.append("  (shown above)", style="dim")
    return text


def link_label(link: TraceLink) -> Text:
    text = Text()
    text.append(link.feature, style="bold")
    n = link.total
    text.append(f" · {link.kind} · {n:,} sample{'s' if n != 1 else ''}", style="dim")
    return text


def more_label(link: TraceLink) -> Text:
    return Text(f"… {link.more:,} more (enter shows them)", style="dim italic")


class TraceTree(Tree[TraceItem]):
    BINDINGS = [
        Binding("right", "walk", "Walk on", tooltip="Expand the highlighted sample: the samples further up or down"),
        Binding("left", "back_up", "Fold", tooltip="Fold the highlighted branch, or go to its parent"),
    ]

    @dataclass
    class OpenSample(Message):
        feature: str
        ids: dict[str, Any]

    @dataclass
    class WalkRequested(Message):
        tree_node: TreeNode[TraceItem]

    @dataclass
    class MoreRequested(Message):
        tree_node: TreeNode[TraceItem]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Text("loading…", style="dim"), **kwargs)
        self.auto_expand = False
        self.show_root = True
        self.guide_depth = 3

    # ----- filling ----------------------------------------------------------------------------
    def show(self, trace: Trace) -> None:
        self.clear()
        root = trace.root
        self.root.set_label(sample_label(root, root=True))
        self.root.data = TraceItem("sample", root)
        up = self.root.add(Text("↑ computed from", style="bold cyan"), TraceItem("heading"), expand=True)
        self._add_links(up, root.upstream_links or [], empty="nothing: a root feature")
        down = self.root.add(Text("↓ feeds", style="bold magenta"), TraceItem("heading"), expand=True)
        self._add_links(down, root.links or [], empty="nothing: no feature reads it")
        self.root.expand()
        self.move_cursor(self.root)

    def _add_links(self, parent: TreeNode[TraceItem], links: list[TraceLink], *, empty: str = "") -> None:
        if not links and empty:
            parent.add_leaf(Text(empty, style="dim italic"), TraceItem("note"))
        for link in links:
            branch = parent.add(link_label(link), TraceItem("link", link=link), expand=True)
            if not link.nodes:
                branch.add_leaf(Text(link.note or "none", style="dim italic"), TraceItem("note", link=link))
            self._add_samples(branch, link.nodes)
            if link.more:
                branch.add_leaf(more_label(link), TraceItem("more", link=link))

    def _add_samples(self, branch: TreeNode[TraceItem], nodes: list[TraceNode]) -> None:
        for node in nodes:
            item = TraceItem("sample", node)
            if node.links:
                child = branch.add(sample_label(node), item, expand=False)
                self._add_links(child, node.links)
            else:  # walked with nothing further, or not walked yet (expands on demand when it leads on)
                branch.add(sample_label(node), item, allow_expand=node.walkable)

    def add_links(self, tree_node: TreeNode[TraceItem], links: list[TraceLink]) -> None:
        """A sample walked one hop further (from the screen's worker)."""
        item = tree_node.data
        if item is not None:
            item.loading = False
        tree_node.remove_children()
        self._add_links(tree_node, links, empty="nothing further")
        tree_node.expand()

    def add_more(self, tree_node: TreeNode[TraceItem], nodes: list[TraceNode]) -> None:
        """The next page of a link, in place of its "… more" leaf."""
        item = tree_node.data
        branch = tree_node.parent
        if item is None or item.link is None or branch is None:
            return
        tree_node.remove()
        self._add_samples(branch, nodes)
        if item.link.more:
            branch.add_leaf(more_label(item.link), TraceItem("more", link=item.link))
        if nodes:
            first = next((c for c in branch.children if c.data is not None and c.data.node is nodes[0]), None)
            if first is not None:  # once the tree has laid out its new lines
                self.call_after_refresh(self.move_cursor, first)

    # ----- keys -------------------------------------------------------------------------------
    def on_tree_node_selected(self, event: Tree.NodeSelected[TraceItem]) -> None:
        event.stop()
        item = event.node.data
        if item is None:
            return
        if item.kind == "sample" and item.node is not None:
            self.post_message(self.OpenSample(item.node.ref.feature, dict(item.node.ref.ids)))
        elif item.kind == "more":
            self._request_more(event.node)
        elif item.kind in ("link", "heading"):
            event.node.toggle()

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[TraceItem]) -> None:
        event.stop()
        item = event.node.data
        if (
            item is not None
            and item.kind == "sample"
            and item.node is not None
            and item.node.walkable
            and not item.loading
        ):
            item.loading = True
            event.node.add_leaf(Text("walking…", style="dim italic"), TraceItem("note"))
            self.post_message(self.WalkRequested(event.node))

    def _request_more(self, tree_node: TreeNode[TraceItem]) -> None:
        item = tree_node.data
        if item is None or item.loading:
            return
        item.loading = True
        tree_node.set_label(Text("loading more…", style="dim italic"))
        self.post_message(self.MoreRequested(tree_node))

    def action_walk(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and not node.is_expanded:
            node.expand()
        elif node.children:
            self.move_cursor(node.children[0])

    def action_back_up(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded and node.children and node is not self.root:
            node.collapse()
        elif node.parent is not None:
            self.move_cursor(node.parent)

    @property
    def highlighted_item(self) -> TraceItem | None:
        node = self.cursor_node
        return node.data if node is not None else None


__all__ = ["TraceTree", "TraceItem", "sample_label", "link_label"]
