"""The trace of one sample: where it came from and what it feeds, as a tree to walk.

Opened with `t` from the samples table or a sample's detail. The trace is read in a worker
two hops up and two down; deeper samples are walked when expanded (right arrow or space),
a link's further samples a page at a time, enter opens a sample's detail, and the line
under the tree says what the highlighted sample or link is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.widgets.tree import TreeNode

from ...service.detail import SampleRef
from ...service.project import Project
from ...service.review import error_text
from ...service.samples import format_ids
from ...service.trace import Trace, TraceLink, TraceNode, more_samples, trace_sample, walk_links
from ..fit import fit_titles
from ..widgets.key_footer import KeyFooter
from ..widgets.trace_tree import STATE_STYLES, TraceItem, TraceTree
from .sample_detail import SampleDetailScreen

DEPTH = 2  # hops read up front, each way; further ones on demand
PAGE = 20  # samples per link and per "more"
HASH = 12


class TraceScreen(Screen):
    CSS_PATH = "trace.tcss"
    AUTO_FOCUS = "#trace-tree"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("r", "reload", "Reload", tooltip="Trace the sample again (after a write)"),
    ]

    @dataclass
    class Loaded(Message):
        trace: Trace

    @dataclass
    class Failed(Message):
        error: str

    @dataclass
    class Walked(Message):
        tree_node: TreeNode[TraceItem]
        links: list[TraceLink]

    @dataclass
    class MoreLoaded(Message):
        tree_node: TreeNode[TraceItem]
        nodes: list[TraceNode]

    def __init__(self, project: Project, feature: str, ids: dict[str, Any]) -> None:
        super().__init__()
        self.project = project
        self.ref = SampleRef(feature, dict(ids))
        self.trace: Trace | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._title(), id="trace-title")
        yield TraceTree(id="trace-tree")
        yield Static(Text("loading…", style="dim"), id="trace-info")
        yield KeyFooter()

    def _title(self) -> Text:
        text = Text("Trace of ", style="dim")
        text.append(self.ref.feature, style="bold")
        text.append("  ")
        text.append(format_ids(self.ref.ids))
        if self.trace is not None:
            n = self.trace.nodes() - 1
            text.append(f"  · {n:,} linked", style="dim")
            if self.trace.truncated:
                text.append(" (stopped early: expand to walk on)", style="yellow")
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def _fit_titles(self) -> None:
        self.title, self.sub_title = fit_titles("metaxy-tui", f"trace of {self.ref.feature}", self.app.size.width)

    def on_resize(self) -> None:
        self._fit_titles()

    def on_mount(self) -> None:
        self._fit_titles()
        self.load()

    # ----- reading ------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="trace", name="trace")
    def load(self) -> None:
        try:
            trace = trace_sample(self.project, self.ref.feature, self.ref.ids, depth=DEPTH, limit=PAGE)
        except Exception as e:
            self.post_message(self.Failed(error_text(e)))
            return
        self.post_message(self.Loaded(trace))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.trace = message.trace
        tree = self.query_one(TraceTree)
        tree.show(message.trace)
        self.query_one("#trace-title", Static).update(self._title())
        self._describe(tree.highlighted_item)

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.query_one(TraceTree).root.set_label(Text("no trace", style="dim"))
        self.query_one("#trace-info", Static).update(Text(message.error, style="red"))

    @on(TraceTree.WalkRequested)
    def _walk_requested(self, message: TraceTree.WalkRequested) -> None:
        message.stop()
        self.walk(message.tree_node)

    @work(thread=True, group="trace-walk", name="trace-walk")
    def walk(self, tree_node: TreeNode[TraceItem]) -> None:
        item = tree_node.data
        if item is None or item.node is None:
            return
        try:
            links = walk_links(self.project, item.node, limit=PAGE)
        except Exception as e:
            self.post_message(self.Failed(error_text(e)))
            return
        self.post_message(self.Walked(tree_node, links))

    @on(Walked)
    def _walked(self, message: Walked) -> None:
        self.query_one(TraceTree).add_links(message.tree_node, message.links)
        self.query_one("#trace-title", Static).update(self._title())

    @on(TraceTree.MoreRequested)
    def _more_requested(self, message: TraceTree.MoreRequested) -> None:
        message.stop()
        self.more(message.tree_node)

    @work(thread=True, group="trace-walk", name="trace-more")
    def more(self, tree_node: TreeNode[TraceItem]) -> None:
        item = tree_node.data
        if item is None or item.link is None:
            return
        try:
            nodes = more_samples(self.project, item.link, limit=PAGE)
        except Exception as e:
            self.post_message(self.Failed(error_text(e)))
            return
        self.post_message(self.MoreLoaded(tree_node, nodes))

    @on(MoreLoaded)
    def _more_loaded(self, message: MoreLoaded) -> None:
        self.query_one(TraceTree).add_more(message.tree_node, message.nodes)
        self.query_one("#trace-title", Static).update(self._title())

    # ----- what the highlighted node is ---------------------------------------------------------
    @on(TraceTree.NodeHighlighted)
    def _highlighted(self, event: TraceTree.NodeHighlighted) -> None:
        self._describe(event.node.data)

    def _describe(self, item: TraceItem | None) -> None:
        self.query_one("#trace-info", Static).update(describe_item(item))

    @on(TraceTree.OpenSample)
    def _open_sample(self, message: TraceTree.OpenSample) -> None:
        message.stop()
        self.app.push_screen(SampleDetailScreen(self.project, message.feature, message.ids))

    def action_back(self) -> None:
        self.dismiss()


def _short(value: str | None) -> str:
    if not value:
        return "-"
    return value if len(value) <= HASH + 1 else value[:HASH] + "…"


def describe_item(item: TraceItem | None) -> Text:
    """The highlighted node in a few lines: a sample's state and fields, a link's lineage."""
    if item is None:
        return Text("")
    if item.kind == "sample" and item.node is not None:
        node = item.node
        text = Text()
        text.append(node.ref.feature, style="bold")
        text.append(f"  {format_ids(node.ref.ids)}\n")
        text.append(node.state, style=STATE_STYLES.get(node.state, ""))
        text.append(f": {node.detail}\n")
        for i, f in enumerate(node.fields):
            if i:
                text.append(" · ", style="dim")
            text.append(f"{f.field} ", style="bold")
            text.append(_short(f.provenance))
            if f.current is not None:
                text.append(" ✓" if f.current else " ✗ moved", style="green" if f.current else "yellow")
        text.append(
            f"\nprovenance {_short(node.provenance)} · feature version {(node.feature_version or '-')[:8]}", style="dim"
        )
        text.append("   enter: detail", style="dim italic")
        return text
    if item.kind in ("link", "more", "note") and item.link is not None:
        link = item.link
        text = Text()
        text.append(link.feature, style="bold")
        text.append(f" · {link.kind} on {format_ids(link.on)} · {link.relation}\n")
        if link.flows:
            text.append("; ".join(link.flows) + "\n", style="dim")
        shown = len(link.nodes)
        text.append(f"{shown:,} of {link.total:,} shown", style="dim")
        if link.more:
            text.append(f" · {link.more:,} more, {PAGE} a page", style="dim")
        if link.note:
            text.append(f" · {link.note}", style="dim")
        return text
    if item.kind == "heading":
        return Text("Samples linked to the traced one by lineage: expand a sample to walk on (→).", style="dim")
    return Text("")


__all__ = ["TraceScreen", "describe_item"]
