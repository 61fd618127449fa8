"""One sample's lineage across the pipeline: what it was computed from, what it feeds.

Upward, through each dep of a sample's feature, the upstream samples its provenance was
computed from (the members of its group for an aggregation, its parent for an expansion,
the sample with the same key for an identity); downward, through each feature that depends
on it, the samples it feeds (the group it belongs to, its children, the same sample).
Upstream samples are walked further up, downstream ones further down, to `depth` hops.

Every sample shown says whether it is still current: a derived sample's stored provenance is
compared, field by field, with what its live upstream gives now (the same computation as
resolve_update, for that one key), so "stale: faces moved" or "orphaned" says what resolve
would report. Costs stay bounded: each link lists a page of samples (`limit`, in id order;
`more_samples` reads the next page by keyset) and counts the rest, a walk stops after
`budget` samples, and every lookup is one indexed query (store/sqlite/lookups.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import UnknownFeatureError, UnknownSampleError
from ..graph import FeaturePlan
from ..store.records import StoredSample
from .detail import SampleRef
from .project import Project
from .samples import format_ids
from ..vocabulary import LineageKind

DEFAULT_LIMIT = 10  # samples listed per link; the rest are counted
NODE_BUDGET = 2_000  # samples in one trace, at most

CURRENT, STALE, ORPHANED, DELETED, EARLIER = "current", "stale", "orphaned", "deleted", "earlier version"
STATES = (CURRENT, STALE, ORPHANED, DELETED, EARLIER)


@dataclass
class FieldState:
    """One field of a traced sample."""

    field: str
    provenance: str | None
    data_version: str | None  # the field's data version (its provenance when none was given)
    expected: str | None = None  # what the live upstream gives now (derived features)

    @property
    def current(self) -> bool | None:
        """Whether the stored provenance is what the upstream gives now (None: a root's field)."""
        if self.expected is None:
            return None
        return self.provenance == self.expected

    def to_dict(self) -> dict:
        return {
            "field": self.field,
            "provenance": self.provenance,
            "data_version": self.data_version,
            "current": self.current,
        }


@dataclass
class TraceNode:
    """A sample in the trace, and (once walked) its links further up or down."""

    ref: SampleRef
    direction: str  # sample | upstream | downstream
    state: str  # one of STATES
    detail: str  # the state in words
    provenance: str | None
    data_version: str | None
    feature_version: str | None
    fields: list[FieldState]
    row: dict[str, Any] = field(repr=False, default_factory=dict)  # ids and values: what links match on
    links: list["TraceLink"] | None = None  # None: not walked (the depth, the budget, or shown elsewhere)
    upstream_links: list["TraceLink"] | None = None  # the traced sample only: both directions
    repeated: bool = False  # the same sample is shown elsewhere in the trace, walked there
    further: bool = False  # its feature has deps (upstream) or downstream features (downstream)

    @property
    def walkable(self) -> bool:
        """Not walked yet, and there is somewhere to go."""
        return self.links is None and not self.repeated and self.further and self.direction != "sample"

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "feature": self.ref.feature,
            "ids": self.ref.ids,
            "state": self.state,
            "detail": self.detail,
            "provenance": self.provenance,
            "data_version": self.data_version,
            "feature_version": self.feature_version,
            "fields": [f.to_dict() for f in self.fields],
        }
        if self.repeated:
            out["repeated"] = True
        if self.direction == "sample":
            out["upstream"] = [link.to_dict() for link in self.upstream_links or []]
            out["downstream"] = [link.to_dict() for link in self.links or []]
        elif self.links is not None:
            out[self.direction] = [link.to_dict() for link in self.links]
        return out


@dataclass
class TraceLink:
    """The samples linked to one node through one dep (upstream) or one downstream feature."""

    feature: str
    direction: str  # upstream | downstream
    kind: str  # identity | aggregation | expansion
    on: dict[str, Any]  # the matched columns, in the linked feature's names
    flows: list[str]  # which fields read which: "faces ← video/chunk.frames"
    nodes: list[TraceNode] = field(default_factory=list)
    total: int = 0
    note: str = ""  # why nothing is linked
    after: dict[str, Any] | None = None  # the cursor of the next page

    @property
    def relation(self) -> str:
        if self.direction == "upstream":
            return {
                LineageKind.IDENTITY: "the same sample upstream",
                LineageKind.AGGREGATION: "the members of its group",
                LineageKind.EXPANSION: "its parent",
            }[LineageKind(self.kind)]
        return {
            LineageKind.IDENTITY: "the same sample downstream",
            LineageKind.AGGREGATION: "the group it belongs to",
            LineageKind.EXPANSION: "its children",
        }[LineageKind(self.kind)]

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.nodes))

    def to_dict(self) -> dict:
        return {
            "feature": self.feature,
            "lineage": self.kind,
            "on": self.on,
            "relation": self.relation,
            "fields": self.flows,
            "total": self.total,
            "shown": len(self.nodes),
            "more": self.more,
            "note": self.note,
            "samples": [n.to_dict() for n in self.nodes],
        }


@dataclass
class Trace:
    root: TraceNode
    depth: int | None
    limit: int
    truncated: bool = False  # the budget stopped the walk
    seconds: float = 0.0

    def nodes(self) -> int:
        def count(links: list[TraceLink] | None) -> int:
            return sum(len(link.nodes) + sum(count(n.links) for n in link.nodes) for link in links or [])

        return 1 + count(self.root.upstream_links) + count(self.root.links)

    def to_dict(self) -> dict:
        return {
            "feature": self.root.ref.feature,
            "ids": self.root.ref.ids,
            "depth": self.depth,
            "limit": self.limit,
            "truncated": self.truncated,
            "sample": self.root.to_dict(),
        }


def parse_ids(project: Project, feature: str, texts: dict[str, str]) -> dict[str, Any]:
    """Id values typed as text (`col=value`) -> the values the store's lookups take."""
    if feature not in project.graph:
        raise UnknownFeatureError(feature, project.graph.keys)
    return project.store.parse_ids(feature, texts)


def id_columns(project: Project, feature: str) -> list[str]:
    if feature not in project.graph:
        raise UnknownFeatureError(feature, project.graph.keys)
    return list(project.graph.feature_plan(feature).definition.id_columns)


# ----- building ------------------------------------------------------------------------------


def trace_sample(
    project: Project,
    feature: str,
    ids: dict[str, Any],
    *,
    depth: int | None = None,
    limit: int = DEFAULT_LIMIT,
    budget: int = NODE_BUDGET,
) -> Trace:
    """The trace of the sample of `feature` with these id values (as the store holds them), up
    and down to `depth` hops (None: the whole pipeline). Raises UnknownFeatureError or
    UnknownSampleError."""
    start = time.perf_counter()
    if feature not in project.graph:
        raise UnknownFeatureError(feature, project.graph.keys)
    walker = Walker(project, limit, budget)
    with project.store.consistent_reads():
        sample = project.store.find_sample(feature, ids)
        if sample is None:
            examples = [format_ids(i) for i in project.store.first_ids(feature, limit=3)]
            raise UnknownSampleError(feature, format_ids(ids), examples)
        root = walker.nodes([sample], "sample")[0]
        root.upstream_links = walker.walk(root, "upstream", depth)
        root.links = walker.walk(root, "downstream", depth)
    return Trace(root, depth, limit, walker.truncated, time.perf_counter() - start)


def walk_links(project: Project, node: TraceNode, *, limit: int = DEFAULT_LIMIT) -> list[TraceLink]:
    """One more hop from a node that was not walked: its links, one page each (the TUI expands
    the tree with this)."""
    walker = Walker(project, limit, NODE_BUDGET)
    with project.store.consistent_reads():
        node.links = walker.links(node, node.direction)
    return node.links


def more_samples(project: Project, link: TraceLink, *, limit: int = DEFAULT_LIMIT) -> list[TraceNode]:
    """The next page of a link's samples (by keyset after the last one shown), appended to it."""
    if link.after is None:
        return []
    walker = Walker(project, limit, NODE_BUDGET)
    with project.store.consistent_reads():
        page = project.store.linked_samples(link.feature, link.on, limit=limit, after=link.after)
        nodes = walker.nodes(page.samples, link.direction)
    link.nodes += nodes
    link.total = page.total
    link.after = page.after
    return nodes


class Walker:
    """Builds nodes and links, counting samples against the budget."""

    def __init__(self, project: Project, limit: int, budget: int):
        self.project = project
        self.graph = project.graph.plan()
        self.limit = max(1, limit)
        self.budget = budget
        self.count = 0
        self.truncated = False
        self.seen: set[tuple] = set()

    def walk(self, node: TraceNode, direction: str, depth: int | None) -> list[TraceLink] | None:
        """The node's links in `direction`, walked on to `depth` hops (breadth first)."""
        if depth is not None and depth < 1:
            return None
        links = self.links(node, direction)
        level = [n for link in links for n in link.nodes]
        hops = 1
        while level and (depth is None or hops < depth):
            nxt = []
            for n in level:
                if n.repeated:
                    continue
                if self.count >= self.budget:
                    self.truncated = True
                    return links
                n.links = self.links(n, direction)
                nxt += [m for link in n.links for m in link.nodes]
            level = nxt
            hops += 1
        return links

    def links(self, node: TraceNode, direction: str) -> list[TraceLink]:
        plan = self.graph[node.ref.feature]
        if direction == "upstream":
            return [self._upstream(plan, d, node.row) for d in plan.deps]
        return [self._downstream(plan, self.graph[name], node.row) for name in plan.downstream]

    def _upstream(self, plan: FeaturePlan, d, row: dict[str, Any]) -> TraceLink:
        # d.on are this feature's names; d.columns maps them to the upstream's columns
        match = {d.columns[c]: row.get(c) for c in d.on}
        flows = [
            f"{f} ← " + ", ".join(f"{up}.{uf}" for up, uf in parents if up == d.upstream)
            for f, parents in plan.field_parents.items()
            if any(up == d.upstream for up, _ in parents)
        ]
        link = TraceLink(d.upstream, "upstream", d.kind, match, flows)
        return self._fill(link, row)

    def _downstream(self, plan: FeaturePlan, down: FeaturePlan, row: dict[str, Any]) -> TraceLink:
        dep = down.dep(plan.name)
        match = {c: row.get(dep.columns[c]) for c in dep.on}
        flows = [
            f"{f} ← " + ", ".join(f"{up}.{uf}" for up, uf in parents if up == plan.name)
            for f, parents in down.field_parents.items()
            if any(up == plan.name for up, _ in parents)
        ]
        link = TraceLink(down.name, "downstream", dep.kind, match, flows)
        return self._fill(link, row)

    def _fill(self, link: TraceLink, row: dict[str, Any]) -> TraceLink:
        missing = [c for c, v in link.on.items() if v is None]
        if missing:
            link.note = (
                "no value for "
                + ", ".join(missing)
                + (
                    ": it belongs to no group"
                    if link.kind == LineageKind.AGGREGATION and link.direction == "downstream"
                    else ""
                )
            )
            return link
        page = self.project.store.linked_samples(link.feature, link.on, limit=self.limit)
        link.nodes = self.nodes(page.samples, link.direction)
        link.total, link.note, link.after = page.total, page.note, page.after
        return link

    def nodes(self, samples: list[StoredSample], direction: str) -> list[TraceNode]:
        """Nodes for samples of one feature, their states read in one batch."""
        if not samples:
            return []
        plan = self.graph[samples[0].feature]
        expected: dict[tuple, tuple[str, dict[str, str]]] = {}
        if not plan.is_root:
            keys = [{c: s.row.get(c) for c in plan.key} for s in samples]
            expected = self.project.store.expected_provenance(plan.name, keys)
        out = []
        for s in samples:
            got = expected.get(tuple(s.row.get(c) for c in plan.key)) if not plan.is_root else None
            state, detail = _state(plan, s, got)
            fields = [
                FieldState(
                    f, s.provenance_by_field.get(f), s.data_version_by_field.get(f), got[1].get(f) if got else None
                )
                for f in sorted(set(s.provenance_by_field) | set(got[1] if got else ()))
            ]
            ref = SampleRef(s.feature, s.ids)
            mark = (direction, s.feature, tuple(s.ids.values()))
            further = bool(plan.deps) if direction == "upstream" else bool(plan.downstream)
            node = TraceNode(
                ref,
                direction,
                state,
                detail,
                s.provenance,
                s.data_version,
                s.feature_version,
                fields,
                s.row,
                repeated=mark in self.seen,
                further=further,
            )
            self.seen.add(mark)
            self.count += 1
            out.append(node)
        return out


def _state(plan: FeaturePlan, s: StoredSample, expected: tuple[str, dict[str, str]] | None) -> tuple[str, str]:
    if s.deleted:
        return DELETED, "soft-deleted: hidden until written again"
    if not s.current_version:
        return EARLIER, (
            f"stored under feature version {(s.feature_version or '?')[:8]}, not the current "
            f"{plan.feature_version[:8]}: it comes back as added until recomputed"
        )
    if plan.is_root:
        return CURRENT, "a root sample: its provenance is given"
    if expected is None:
        return ORPHANED, "its upstream is gone: resolve reports it removed"
    if expected[0] == s.provenance:
        return CURRENT, "up to date with its upstream"
    moved = [f for f, p in expected[1].items() if s.provenance_by_field.get(f) != p]
    return STALE, "changed upstream: " + (", ".join(moved) if moved else "its provenance") + " moved"


__all__ = [
    "Trace",
    "TraceNode",
    "TraceLink",
    "FieldState",
    "trace_sample",
    "walk_links",
    "more_samples",
    "parse_ids",
    "id_columns",
    "DEFAULT_LIMIT",
    "STATES",
]
