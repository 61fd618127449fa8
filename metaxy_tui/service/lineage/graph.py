"""The feature graph as the drawing needs it (nodes, their fields, the edges), and a field's
lineage: the fields it is computed from and the fields computed from it."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


FieldRef = tuple[str, str]  # (feature key, field key)


# ----- the graph, as the drawing needs it --------------------------------------------------


@dataclass(frozen=True)
class LineageNode:
    """One feature: its key, version, fields (in definition order) and deps."""

    key: str
    version: str
    fields: tuple[tuple[str, str], ...] = ()  # (field key, field version)
    deps: tuple[tuple[str, str], ...] = ()  # (upstream key, lineage kind)
    field_parents: Mapping[str, tuple[FieldRef, ...]] = field(default_factory=dict, hash=False)

    @property
    def field_keys(self) -> list[str]:
        return [f for f, _ in self.fields]


class LineageGraph:
    """Features and their deps, in a topological order that does not depend on input order."""

    def __init__(self, nodes: Iterable[LineageNode]) -> None:
        self.nodes: dict[str, LineageNode] = {}
        for n in nodes:
            if n.key in self.nodes:
                raise ValueError(f"feature {n.key!r} given twice")
            self.nodes[n.key] = n
        for n in self.nodes.values():
            for up, _ in n.deps:
                if up not in self.nodes:
                    raise ValueError(f"feature {n.key!r} depends on unknown feature {up!r}")
        self.downstream: dict[str, list[str]] = {k: [] for k in sorted(self.nodes)}
        for k in sorted(self.nodes):
            for up in sorted({u for u, _ in self.nodes[k].deps}):
                self.downstream[up].append(k)
        self.order = self._topological()
        self._children: dict[FieldRef, list[FieldRef]] = {}
        for k in self.order:
            for fk, parents in self.nodes[k].field_parents.items():
                for p in parents:
                    self._children.setdefault((p[0], p[1]), []).append((k, fk))

    def _topological(self) -> list[str]:
        missing = {k: len({u for u, _ in n.deps}) for k, n in self.nodes.items()}
        ready = [k for k, m in missing.items() if m == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            k = heapq.heappop(ready)
            order.append(k)
            for d in self.downstream[k]:
                missing[d] -= 1
                if missing[d] == 0:
                    heapq.heappush(ready, d)
        if len(order) != len(self.nodes):
            stuck = sorted(set(self.nodes) - set(order))
            raise ValueError(f"dependency cycle among {', '.join(stuck)}")
        return order

    @classmethod
    def from_plan(cls, plan: Any) -> "LineageGraph":
        """From a `GraphPlan` (or anything shaped like one: `.features` of plans)."""
        nodes = []
        for key, fp in plan.features.items():
            kinds: dict[str, str] = {}
            for d in fp.deps:
                kinds.setdefault(d.upstream, d.kind)
            nodes.append(
                LineageNode(
                    key=key,
                    version=fp.feature_version,
                    fields=tuple(fp.field_versions.items()),
                    deps=tuple(kinds.items()),
                    field_parents={f: tuple(tuple(p) for p in ps) for f, ps in fp.field_parents.items()},
                )
            )
        return cls(nodes)

    def subset(self, keys: Iterable[str]) -> "LineageGraph":
        """Only these features; deps and field parents outside them are dropped."""
        keep = set(keys)
        nodes = []
        for k, n in self.nodes.items():
            if k not in keep:
                continue
            nodes.append(
                LineageNode(
                    key=n.key,
                    version=n.version,
                    fields=n.fields,
                    deps=tuple((u, kind) for u, kind in n.deps if u in keep),
                    field_parents={f: tuple(p for p in ps if p[0] in keep) for f, ps in n.field_parents.items()},
                )
            )
        return LineageGraph(nodes)

    def edges(self) -> list[tuple[str, str, str]]:
        """(upstream, downstream, lineage kind), one per pair, sorted."""
        out: dict[tuple[str, str], str] = {}
        for k, n in self.nodes.items():
            for up, kind in n.deps:
                out.setdefault((up, k), kind)
        return sorted((u, d, kind) for (u, d), kind in out.items())

    def parents(self, ref: FieldRef) -> tuple[FieldRef, ...]:
        return tuple(self.nodes[ref[0]].field_parents.get(ref[1], ()))

    def children(self, ref: FieldRef) -> tuple[FieldRef, ...]:
        return tuple(self._children.get(ref, ()))


def as_graph(graph: Any) -> LineageGraph:
    return graph if isinstance(graph, LineageGraph) else LineageGraph.from_plan(graph)


# ----- field lineage ------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldLineage:
    """The fields a selected field depends on (transitively) and the fields that depend on it."""

    selected: FieldRef
    ancestors: frozenset[FieldRef]
    descendants: frozenset[FieldRef]

    def role(self, ref: FieldRef) -> str:
        if ref == self.selected:
            return "cursor"
        if ref in self.ancestors:
            return "ancestor"
        if ref in self.descendants:
            return "descendant"
        return "dim"


def field_lineage(graph: Any, key: str, field_key: str) -> FieldLineage:
    """Ancestor and descendant fields of `key`.`field_key`, through field parents.

    `graph` is a `LineageGraph` or a `GraphPlan`.
    """
    g = as_graph(graph)
    if key not in g.nodes:
        raise KeyError(f"unknown feature {key!r}")
    if field_key not in g.nodes[key].field_keys:
        raise KeyError(f"feature {key!r} has no field {field_key!r}")
    start = (key, field_key)

    def closure(step) -> frozenset[FieldRef]:
        seen: set[FieldRef] = set()
        stack = list(step(start))
        while stack:
            ref = stack.pop()
            if ref not in seen:
                seen.add(ref)
                stack.extend(step(ref))
        return frozenset(seen)

    return FieldLineage(start, closure(g.parents), closure(g.children))
