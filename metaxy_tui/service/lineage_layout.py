"""The feature graph drawn as text: a layered layout, field lineage, and a tagged character grid.

The Lineage tab and `metaxy-tui graph --format terminal` draw with this module, so it knows
nothing of Textual: `render()` returns a grid of characters with one style tag per cell
(`TAGS` lists them; `TERMINAL_STYLES` maps each to a Rich style string) and callers colour
the tags their own way.

Layout, in the manner of Sugiyama, sized for dozens of features:

1. layers by longest path from the roots; an edge that spans several layers gets a dummy
   node in every layer it crosses, so that it runs between boxes instead of through them;
2. order within a layer by barycenter sweeps (down, then up), keeping the order with the
   fewest crossings;
3. x positions: each node is pulled toward the ports of its neighbours, and overlaps are
   removed exactly by isotonic regression (pool adjacent violators), which moves the nodes
   of a layer as little as possible while keeping their order and gaps;
4. every edge leaves its upstream box at a port of its own on the bottom border, runs down,
   turns on a track of the channel between two layers, and ends in an arrow above the
   downstream box. Tracks are assigned so that no two horizontal runs overlap.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..vocabulary import LineageKind

FieldRef = tuple[str, str]  # (feature key, field key)

MIN_BOX_WIDTH = 24  # room for a badge such as "● root · 12,345 rows"
MAX_BOX_WIDTH = 44
BOX_GAP = 3  # columns between two boxes of a layer
DUMMY_GAP = 2  # columns between an edge passing through a layer and its neighbours
MARGIN = 1
ORDER_SWEEPS = 12
PLACEMENT_ROUNDS = 8

# rows inside a box, from its top border
ROW_VERSION = 1
ROW_BADGE = 2
ROW_RULE = 3
FIELDS_TOP = 4

KIND_LABEL = {LineageKind.AGGREGATION: "N:1", LineageKind.EXPANSION: "1:N"}
MARKER = {"cursor": "▸", "ancestor": "↑", "descendant": "↓"}

ROLES = ("plain", "selected", "ancestor", "descendant", "dim")
FIELD_ROLES = ("plain", "cursor", "ancestor", "descendant", "dim")
BADGE_KINDS = ("root", "up_to_date", "pending", "waiting", "error", "unknown")
TAGS: tuple[str, ...] = (
    *(f"edge.{r}" for r in ("plain", "ancestor", "descendant", "dim")),
    "edge-label",
    *(f"border.{r}" for r in ROLES),
    *(f"title.{r}" for r in ROLES),
    "version-label",
    "version",
    *(f"badge.{k}" for k in BADGE_KINDS),
    *(f"field.{r}" for r in FIELD_ROLES),
    *(f"fversion.{r}" for r in FIELD_ROLES),
)

# Rich style strings for a plain terminal (the CLI); the TUI styles tags from its CSS.
TERMINAL_STYLES: dict[str, str] = {
    "edge.plain": "bright_black", "edge.ancestor": "bold dark_orange", "edge.descendant": "bold dodger_blue1",
    "edge.dim": "grey30", "edge-label": "bright_black",
    "border.plain": "", "border.selected": "bold", "border.ancestor": "dark_orange",
    "border.descendant": "dodger_blue1", "border.dim": "grey30",
    "title.plain": "bold", "title.selected": "bold reverse", "title.ancestor": "bold dark_orange",
    "title.descendant": "bold dodger_blue1", "title.dim": "grey50",
    "version-label": "bright_black", "version": "cyan",
    "badge.root": "cyan", "badge.up_to_date": "green", "badge.pending": "yellow", "badge.waiting": "magenta",
    "badge.error": "red", "badge.unknown": "bright_black",
    "field.plain": "", "field.cursor": "bold reverse", "field.ancestor": "bold dark_orange",
    "field.descendant": "bold dodger_blue1", "field.dim": "grey50",
    "fversion.plain": "bright_black", "fversion.cursor": "reverse", "fversion.ancestor": "dark_orange",
    "fversion.descendant": "dodger_blue1", "fversion.dim": "grey30",
}


def fit(text: str, width: int) -> str:
    """`text` cut to `width` characters, ending in … when cut."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


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
                    self._children.setdefault(tuple(p), []).append((k, fk))

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
            nodes.append(LineageNode(
                key=key,
                version=fp.feature_version,
                fields=tuple(fp.field_versions.items()),
                deps=tuple(kinds.items()),
                field_parents={f: tuple(tuple(p) for p in ps) for f, ps in fp.field_parents.items()},
            ))
        return cls(nodes)

    def subset(self, keys: Iterable[str]) -> "LineageGraph":
        """Only these features; deps and field parents outside them are dropped."""
        keep = set(keys)
        nodes = []
        for k, n in self.nodes.items():
            if k not in keep:
                continue
            nodes.append(LineageNode(
                key=n.key, version=n.version, fields=n.fields,
                deps=tuple((u, kind) for u, kind in n.deps if u in keep),
                field_parents={f: tuple(p for p in ps if p[0] in keep) for f, ps in n.field_parents.items()}))
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


def _as_graph(graph: Any) -> LineageGraph:
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
    g = _as_graph(graph)
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


# ----- layout -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Box:
    key: str
    layer: int
    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:  # one past the last column
        return self.x + self.width

    @property
    def bottom(self) -> int:  # one past the last row
        return self.y + self.height

    @property
    def center_x(self) -> float:
        return self.x + (self.width - 1) / 2

    def contains(self, x: int, y: int) -> bool:
        return self.x <= x < self.right and self.y <= y < self.bottom

    def field_y(self, index: int) -> int:
        return self.y + FIELDS_TOP + index

    def field_at(self, y: int) -> int | None:
        """The index of the field drawn on row `y`, if any."""
        i = y - self.y - FIELDS_TOP
        return i if 0 <= i < self.height - FIELDS_TOP - 1 else None


@dataclass(frozen=True)
class EdgePath:
    """The cells an edge is drawn on: from below the upstream's port to the arrow."""

    upstream: str
    downstream: str
    kind: str
    cells: tuple[tuple[int, int], ...]

    @property
    def arrow(self) -> tuple[int, int]:
        return self.cells[-1]

    @property
    def port(self) -> tuple[int, int]:
        """The cell of the upstream's bottom border the edge leaves from."""
        x, y = self.cells[0]
        return x, y - 1


@dataclass(frozen=True)
class LineageLayout:
    graph: LineageGraph
    layers: tuple[tuple[str, ...], ...]  # feature keys per layer, left to right
    boxes: dict[str, Box]
    edges: tuple[EdgePath, ...]
    width: int
    height: int

    @property
    def reading_order(self) -> list[str]:
        return [k for layer in self.layers for k in layer]

    def box_at(self, x: int, y: int) -> Box | None:
        for b in self.boxes.values():
            if b.contains(x, y):
                return b
        return None

    def neighbour(self, key: str, direction: str) -> str | None:
        """The box to move to from `key`: up/down (nearest box in the closest layer above or
        below), left/right (previous or next box in reading order)."""
        if direction in ("left", "right"):
            order = self.reading_order
            i = order.index(key) + (1 if direction == "right" else -1)
            return order[i] if 0 <= i < len(order) else None
        here = self.boxes[key]
        step = -1 if direction == "up" else 1
        layer = here.layer + step
        while 0 <= layer < len(self.layers):
            if self.layers[layer]:
                return min(self.layers[layer],
                           key=lambda k: (abs(self.boxes[k].center_x - here.center_x), self.boxes[k].x))
            layer += step
        return None


def box_width(node: LineageNode) -> int:
    longest_field = max((len(f) + len(" (12345678)") for f in node.field_keys), default=len("(no fields)"))
    need = max(len(node.key) + 6,  # ╭─ key ─╮
               len("version 12345678") + 4,  # │ text │
               longest_field + 6)  # │ ▸ text │
    return max(MIN_BOX_WIDTH, min(MAX_BOX_WIDTH, need))


def box_height(node: LineageNode) -> int:
    return FIELDS_TOP + max(1, len(node.fields)) + 1


def _spread(width: int, count: int) -> list[int]:
    """Port offsets for `count` edges on a border `width` wide (never on a corner)."""
    if width <= 2:
        return [0] * count
    inner = width - 2
    return [1 + ((2 * i + 1) * inner) // (2 * count) for i in range(count)]


def _isotonic(desired: Sequence[float], weights: Sequence[float]) -> list[float]:
    """The nondecreasing sequence closest to `desired` (weighted least squares)."""
    blocks: list[list[float]] = []  # [weighted sum, weight, count]
    for d, w in zip(desired, weights):
        blocks.append([d * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, w2, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += w2
            blocks[-1][2] += c
    out: list[float] = []
    for s, w, c in blocks:
        out += [s / w] * int(c)
    return out


def _assign_tracks(segments: list[tuple[int, int]]) -> dict[int, int]:
    """Tracks (0 = top) for the bending segments (sx, tx) of a channel.

    Horizontal runs on one track keep a blank column between them. A segment that ends in
    the column where another starts must turn below that one, or their verticals overlap.
    """
    bends = [i for i, (sx, tx) in enumerate(segments) if sx != tx]
    starts = {segments[i][0]: i for i in bends}
    above: dict[int, set[int]] = {i: set() for i in bends}  # i must lie below every j in above[i]
    for i in bends:
        j = starts.get(segments[i][1])
        if j is not None and j != i:
            above[i].add(j)
    # order: constraints first (Kahn), then by left end; a cycle is broken by ignoring it
    key = {i: (min(segments[i]), max(segments[i]), i) for i in bends}
    pending = {i: set(above[i]) for i in bends}
    placed: list[int] = []
    ready = sorted((key[i], i) for i in bends if not pending[i])
    heapq.heapify(ready)
    remaining = set(bends)
    while remaining:
        if not ready:  # a cycle: release the leftmost
            i = min(remaining, key=lambda x: key[x])
            pending[i] = set()
            heapq.heappush(ready, (key[i], i))
        _, i = heapq.heappop(ready)
        if i not in remaining:
            continue
        remaining.discard(i)
        placed.append(i)
        for j in remaining:
            if i in pending[j]:
                pending[j].discard(i)
                if not pending[j]:
                    heapq.heappush(ready, (key[j], j))
    track: dict[int, int] = {}
    runs: list[list[tuple[int, int]]] = []
    for i in placed:
        lo, hi = sorted(segments[i])
        t = max((track[j] + 1 for j in above[i] if j in track), default=0)
        while t < len(runs) and any(not (hi < a - 1 or b < lo - 1) for a, b in runs[t]):
            t += 1
        if t == len(runs):
            runs.append([])
        runs[t].append((lo, hi))
        track[i] = t
    return track


def _separate_ports(pairs: list[tuple[int, int]], x: list[int], width: list[int], key_of: list[str | None],
                    out_off: dict[tuple[int, int], int], in_off: dict[tuple[int, int], int]) -> None:
    """Move ports so that no edge of a channel ends in the column where another one starts.

    Two edges that swap columns would otherwise need each other's vertical, whatever their
    tracks. A port moves by a few columns inside its box; dummies (width 1) cannot move.
    """
    src = {p: x[p[0]] + out_off[p] for p in pairs}
    dst = {p: x[p[1]] + in_off[p] for p in pairs}
    for p in pairs:
        if src[p] == dst[p]:
            continue
        if not any(src[q] == dst[p] for q in pairs if q != p):
            continue
        taken = set(src.values()) | set(dst.values())
        for end, offs, table in ((p[1], dst, in_off), (p[0], src, out_off)):
            if key_of[end] is None:
                continue
            lo, hi = x[end] + 1, x[end] + width[end] - 2
            moved = False
            for d in (1, -1, 2, -2, 3, -3):
                col = offs[p] + d
                if lo <= col <= hi and col not in taken:
                    table[p] += d
                    offs[p] = col
                    moved = True
                    break
            if moved:
                break


@dataclass
class _Nodes:
    """The graph being laid out: features plus one dummy node per layer a long edge crosses."""

    key_of: list[str | None]  # None for a dummy
    tie: list[str]  # the tie-break when sorting a layer
    layer: list[int]
    width: list[int]
    height: list[int]
    ups: list[list[int]]
    downs: list[list[int]]
    chains: list[tuple[str, str, str, list[int]]]  # (upstream, downstream, kind, node path)
    n_layers: int

    def is_box(self, v: int) -> bool:
        return self.key_of[v] is not None

    def gap(self, a: int, b: int) -> int:
        return BOX_GAP if self.is_box(a) and self.is_box(b) else DUMMY_GAP


def _nodes(g: LineageGraph) -> _Nodes:
    layer_of: dict[str, int] = {}
    for k in g.order:  # longest path from the roots
        ups = [u for u, _ in g.nodes[k].deps]
        layer_of[k] = 1 + max(layer_of[u] for u in ups) if ups else 0
    keys = sorted(g.nodes)
    nodes = _Nodes(list(keys), list(keys), [layer_of[k] for k in keys], [box_width(g.nodes[k]) for k in keys],
                   [box_height(g.nodes[k]) for k in keys], [], [], [], max(layer_of.values()) + 1)
    index = {k: i for i, k in enumerate(keys)}
    for u, d, kind in g.edges():
        chain = [index[u]]
        for lay in range(layer_of[u] + 1, layer_of[d]):
            chain.append(len(nodes.key_of))
            nodes.key_of.append(None)
            nodes.tie.append(f"{u}\x00{d}")
            nodes.layer.append(lay)
            nodes.width.append(1)
            nodes.height.append(0)
        chain.append(index[d])
        nodes.chains.append((u, d, kind, chain))
    nodes.ups = [[] for _ in nodes.key_of]
    nodes.downs = [[] for _ in nodes.key_of]
    for *_, chain in nodes.chains:
        for a, b in zip(chain, chain[1:]):
            nodes.downs[a].append(b)
            nodes.ups[b].append(a)
    return nodes


def _order(nodes: _Nodes) -> list[list[int]]:
    """Each layer's nodes, left to right: barycenter sweeps, keeping the fewest crossings."""
    layers: list[list[int]] = [[] for _ in range(nodes.n_layers)]
    for v, lay in enumerate(nodes.layer):
        layers[lay].append(v)
    pos = [0.0] * len(nodes.key_of)

    def reorder(i: int, nbrs: list[list[int]], by_name: bool = False) -> None:
        def bary(v: int) -> float:
            return sum(pos[u] for u in nbrs[v]) / len(nbrs[v]) if nbrs[v] else pos[v]
        layers[i].sort(key=lambda v: (bary(v), nodes.tie[v] if by_name else pos[v]))
        for p, v in enumerate(layers[i]):
            pos[v] = p

    def crossings() -> int:
        total = 0
        for i in range(nodes.n_layers - 1):
            segs = [(pos[u], pos[v]) for u in layers[i] for v in nodes.downs[u]]
            for a in range(len(segs)):
                for b in range(a + 1, len(segs)):
                    if (segs[a][0] - segs[b][0]) * (segs[a][1] - segs[b][1]) < 0:
                        total += 1
        return total

    layers[0].sort(key=lambda v: nodes.tie[v])
    for p, v in enumerate(layers[0]):
        pos[v] = p
    for i in range(1, nodes.n_layers):
        reorder(i, nodes.ups, by_name=True)
    best, best_crossings = [list(lay) for lay in layers], crossings()
    for _ in range(ORDER_SWEEPS):
        if best_crossings == 0:
            break
        for i in range(1, nodes.n_layers):
            reorder(i, nodes.ups)
        for i in range(nodes.n_layers - 2, -1, -1):
            reorder(i, nodes.downs)
        c = crossings()
        if c < best_crossings:
            best, best_crossings = [list(lay) for lay in layers], c
    return best


def _ports(nodes: _Nodes, layers: list[list[int]]) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """Port offsets of every segment (u, v) on u's bottom border and v's top border; a node's
    edges leave and enter in the order of the nodes at their other end."""
    pos = {v: p for lay in layers for p, v in enumerate(lay)}
    out_off: dict[tuple[int, int], int] = {}
    in_off: dict[tuple[int, int], int] = {}
    for v in range(len(nodes.key_of)):
        downs = sorted(nodes.downs[v], key=pos.__getitem__)
        for off, w in zip(_spread(nodes.width[v], len(downs)), downs):
            out_off[(v, w)] = off
        ups = sorted(nodes.ups[v], key=pos.__getitem__)
        for off, u in zip(_spread(nodes.width[v], len(ups)), ups):
            in_off[(u, v)] = off
    return out_off, in_off


def _x_positions(nodes: _Nodes, layers: list[list[int]], out_off: dict[tuple[int, int], int],
                 in_off: dict[tuple[int, int], int]) -> list[int]:
    """Left columns: nodes pulled toward their neighbours' ports, overlaps removed exactly."""
    width = nodes.width
    x = [0.0] * len(nodes.key_of)

    def offsets(lay: list[int]) -> list[int]:  # each node's left column when packed from 0
        out, cur = [], 0
        for j, v in enumerate(lay):
            out.append(cur)
            cur += width[v] + (nodes.gap(v, lay[j + 1]) if j + 1 < len(lay) else 0)
        return out

    widest = max(offsets(lay)[-1] + width[lay[-1]] for lay in layers)
    for lay in layers:  # packed and centred to start with
        shift = (widest - offsets(lay)[-1] - width[lay[-1]]) // 2
        for v, off in zip(lay, offsets(lay)):
            x[v] = off + shift

    def place(i: int, use_up: bool, use_down: bool) -> None:
        lay = layers[i]
        desired, weights = [], []
        packed = offsets(lay)
        for v, off in zip(lay, packed):
            wants = []
            if use_up:
                wants += [x[u] + out_off[(u, v)] - in_off[(u, v)] for u in nodes.ups[v]]
            if use_down:
                wants += [x[w] + in_off[(v, w)] - out_off[(v, w)] for w in nodes.downs[v]]
            desired.append((sum(wants) / len(wants) if wants else x[v]) - off)
            weights.append((len(wants) or 0.25) * (1 if nodes.is_box(v) else 2))  # keep long edges straight
        for v, y, off in zip(lay, _isotonic(desired, weights), packed):
            x[v] = round(y) + off

    for _ in range(PLACEMENT_ROUNDS):
        for i in range(1, nodes.n_layers):
            place(i, True, False)
        for i in range(nodes.n_layers - 2, -1, -1):
            place(i, False, True)
    for i in range(nodes.n_layers):
        place(i, True, True)
    shift = MARGIN - min(x)
    return [int(v + shift) for v in x]


def _walk(cells: list[tuple[int, int]], tx: int, ty: int) -> None:
    """Extend a path cell by cell to (tx, ty), along its row first, then its column."""
    cx, cy = cells[-1]
    while (cx, cy) != (tx, ty):
        if cx != tx:
            cx += 1 if tx > cx else -1
        else:
            cy += 1 if ty > cy else -1
        cells.append((cx, cy))


def compute_layout(graph: Any) -> LineageLayout:
    """Boxes and edge paths for every feature of `graph` (a `LineageGraph` or `GraphPlan`)."""
    g = _as_graph(graph)
    if not g.nodes:
        return LineageLayout(g, (), {}, (), 0, 0)
    nodes = _nodes(g)
    layers = _order(nodes)
    out_off, in_off = _ports(nodes, layers)
    x = _x_positions(nodes, layers, out_off, in_off)

    # channels between layers: one track per bending segment group, an exit row and an arrow row
    tracks: list[dict[tuple[int, int], int]] = []
    channel_h: list[int] = []
    for i in range(nodes.n_layers - 1):
        pos = {v: p for p, v in enumerate(layers[i + 1])}
        pairs = [(u, v) for u in layers[i] for v in sorted(nodes.downs[u], key=pos.__getitem__)]
        _separate_ports(pairs, x, nodes.width, nodes.key_of, out_off, in_off)
        t = _assign_tracks([(x[u] + out_off[(u, v)], x[v] + in_off[(u, v)]) for u, v in pairs])
        tracks.append({pairs[s]: tr for s, tr in t.items()})
        channel_h.append(max(1, max(t.values(), default=-1) + 1) + 2)
    layer_h = [max(nodes.height[v] for v in lay) for lay in layers]
    top = [MARGIN]
    for i in range(nodes.n_layers - 1):
        top.append(top[i] + layer_h[i] + channel_h[i])
    boxes = {k: Box(k, nodes.layer[v], x[v], top[nodes.layer[v]], nodes.width[v], nodes.height[v])
             for v, k in enumerate(nodes.key_of) if k is not None}

    edges: list[EdgePath] = []
    for u_key, d_key, kind, chain in nodes.chains:
        cells = [(x[chain[0]] + out_off[(chain[0], chain[1])], boxes[u_key].bottom)]
        for a, b in zip(chain, chain[1:]):
            i = nodes.layer[a]
            channel_top = top[i] + layer_h[i]
            arrow_row = channel_top + channel_h[i] - 1
            sx, tx = x[a] + out_off[(a, b)], x[b] + in_off[(a, b)]
            if not nodes.is_box(a):  # down through the dummy's layer first
                _walk(cells, sx, channel_top)
            if sx != tx:
                track_row = channel_top + 1 + tracks[i][(a, b)]
                _walk(cells, sx, track_row)
                _walk(cells, tx, track_row)
            _walk(cells, tx, arrow_row)
            if not nodes.is_box(b):
                _walk(cells, tx, top[i + 1] + layer_h[i + 1] - 1)
        edges.append(EdgePath(u_key, d_key, kind, tuple(cells)))

    width = max(x[v] + nodes.width[v] for v in range(len(x))) + MARGIN
    height = top[-1] + layer_h[-1] + MARGIN
    feature_layers = tuple(tuple(nodes.key_of[v] for v in lay if nodes.is_box(v)) for lay in layers)
    return LineageLayout(g, feature_layers, boxes, tuple(edges), width, height)


# ----- drawing -------------------------------------------------------------------------------

_UP, _DOWN, _LEFT, _RIGHT = 1, 2, 4, 8
_LINE = {
    0: " ", _UP: "│", _DOWN: "│", _UP | _DOWN: "│", _LEFT: "─", _RIGHT: "─", _LEFT | _RIGHT: "─",
    _DOWN | _RIGHT: "╭", _DOWN | _LEFT: "╮", _UP | _RIGHT: "╰", _UP | _LEFT: "╯",
    _UP | _DOWN | _RIGHT: "├", _UP | _DOWN | _LEFT: "┤", _DOWN | _LEFT | _RIGHT: "┬",
    _UP | _LEFT | _RIGHT: "┴", _UP | _DOWN | _LEFT | _RIGHT: "┼",
}
_EDGE_RANK = {"dim": 0, "plain": 1, "descendant": 2, "ancestor": 3}


def badge(status: Any) -> tuple[str, str]:
    """A box's status line and its tag, from a `FeatureStatus` (or None: not known yet)."""
    if status is None:
        return "…", "badge.unknown"
    kind = status.kind
    if kind == "root":
        return f"root · {status.rows:,} rows", "badge.root"
    if kind == "up_to_date":
        return "up to date", "badge.up_to_date"
    if kind == "pending":
        return f"{status.pending:,} pending", "badge.pending"
    if kind == "waiting":
        return f"waiting on {', '.join(status.waiting_on)}", "badge.waiting"
    if kind == "error":
        return "error", "badge.error"
    return str(getattr(status, "label", kind)), "badge.unknown"


class Canvas:
    """A grid of characters with one style tag per cell ("" for blank)."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.chars = [[" "] * width for _ in range(height)]
        self.tags = [[""] * width for _ in range(height)]

    def put(self, x: int, y: int, text: str, tag: str) -> None:
        row_c, row_t = self.chars[y], self.tags[y]
        for i, ch in enumerate(text):
            if 0 <= x + i < self.width:
                row_c[x + i] = ch
                row_t[x + i] = tag

    def runs(self, y: int) -> list[tuple[str, str]]:
        """Row `y` as (text, tag) runs."""
        out: list[tuple[str, str]] = []
        chars, tags = self.chars[y], self.tags[y]
        start = 0
        for i in range(1, self.width + 1):
            if i == self.width or tags[i] != tags[start]:
                out.append(("".join(chars[start:i]), tags[start]))
                start = i
        return out

    def lines(self) -> list[str]:
        return ["".join(row).rstrip() for row in self.chars]

    def text(self) -> str:
        return "\n".join(self.lines())


def _edge_role(graph: LineageGraph, edge: EdgePath, lineage: FieldLineage | None) -> str:
    if lineage is None:
        return "plain"
    up_side = lineage.ancestors
    down_side = lineage.descendants | {lineage.selected}
    role = "dim"
    for fk, parents in graph.nodes[edge.downstream].field_parents.items():
        ref = (edge.downstream, fk)
        for p in parents:
            if p[0] != edge.upstream:
                continue
            if tuple(p) in up_side and (ref in up_side or ref == lineage.selected):
                return "ancestor"
            if ref in lineage.descendants and tuple(p) in down_side:
                role = "descendant"
    return role


def _box_role(node: LineageNode, lineage: FieldLineage | None) -> str:
    if lineage is None:
        return "plain"
    if node.key == lineage.selected[0]:
        return "selected"
    roles = {lineage.role((node.key, f)) for f in node.field_keys}
    return "ancestor" if "ancestor" in roles else "descendant" if "descendant" in roles else "dim"


def _draw_box(canvas: Canvas, box: Box, node: LineageNode, ports: list[int], status: Any,
              cursor: FieldRef | None, lineage: FieldLineage | None) -> None:
    x, y, w = box.x, box.y, box.width
    role = _box_role(node, lineage)
    if role == "plain" and cursor is not None and cursor[0] == node.key:
        role = "selected"
    border = f"border.{role}"
    title = fit(node.key, w - 6)
    canvas.put(x, y, "╭─ ", border)
    canvas.put(x + 3, y, title, f"title.{role}")
    canvas.put(x + 3 + len(title), y, " " + "─" * (w - 5 - len(title)) + "╮", border)

    def line(row: int, parts: list[tuple[str, str]], fill: str = "") -> None:
        """One row inside the box: `parts` cut to fit, the rest of the inside tagged `fill`."""
        canvas.put(x, row, "│", border)
        canvas.put(x + 1, row, " " * (w - 2), fill)
        cx, room = x + 2, w - 4
        for text, tag in parts:
            text = fit(text, room)
            canvas.put(cx, row, text, tag)
            cx += len(text)
            room -= len(text)
        canvas.put(x + w - 1, row, "│", border)

    line(y + ROW_VERSION, [("version ", "version-label"), (node.version[:8], "version")])
    text, tag = badge(status)
    line(y + ROW_BADGE, [("● " + text, tag)])
    canvas.put(x, y + ROW_RULE, "├" + "─" * (w - 2) + "┤", border)
    if not node.fields:
        line(y + FIELDS_TOP, [("(no fields)", "field.dim")])
    for i, (fk, fv) in enumerate(node.fields):
        ref = (node.key, fk)
        if lineage is not None:
            frole = lineage.role(ref)
        else:
            frole = "cursor" if ref == cursor else "plain"
        name = fit(fk, w - 6 - len(" (12345678)"))
        line(box.field_y(i), [(MARKER.get(frole, " ") + " " + name, f"field.{frole}"),
                              (f" ({fv[:8]})", f"fversion.{frole}")],
             fill=f"field.{frole}" if frole == "cursor" else "")  # the cursor bar spans the box
    bottom = ["─"] * (w - 2)
    for px in ports:
        if 0 < px - x < w - 1:
            bottom[px - x - 1] = "┬"
    canvas.put(x, box.bottom - 1, "╰" + "".join(bottom) + "╯", border)


def render(layout: LineageLayout, *, statuses: Mapping[str, Any] | None = None,
           cursor: FieldRef | None = None) -> Canvas:
    """Draw `layout`, with a badge per feature from `statuses` ({key: FeatureStatus}).

    With a `cursor` (feature key, field key), the cursor's ancestor and descendant fields, and
    the edges they flow through, get their own tags, and everything else is dimmed."""
    g = layout.graph
    canvas = Canvas(layout.width, layout.height)
    statuses = statuses or {}
    lineage = None
    if cursor is not None and cursor[0] in g.nodes and cursor[1] in g.nodes[cursor[0]].field_keys:
        lineage = field_lineage(g, *cursor)

    masks: dict[tuple[int, int], int] = {}
    cell_role: dict[tuple[int, int], str] = {}
    arrows: list[tuple[tuple[int, int], str, str]] = []
    for edge in layout.edges:
        role = _edge_role(g, edge, lineage)
        cells = edge.cells
        masks[cells[0]] = masks.get(cells[0], 0) | _UP
        for (ax, ay), (bx, by) in zip(cells, cells[1:]):
            if bx != ax:
                a_bit, b_bit = (_RIGHT, _LEFT) if bx > ax else (_LEFT, _RIGHT)
            else:
                a_bit, b_bit = (_DOWN, _UP) if by > ay else (_UP, _DOWN)
            masks[(ax, ay)] = masks.get((ax, ay), 0) | a_bit
            masks[(bx, by)] = masks.get((bx, by), 0) | b_bit
        for c in cells:
            if _EDGE_RANK[role] >= _EDGE_RANK.get(cell_role.get(c, "dim"), 0):
                cell_role[c] = role
        arrows.append((edge.arrow, role, edge.kind))
    for (cx, cy), m in masks.items():
        canvas.put(cx, cy, _LINE[m], f"edge.{cell_role[(cx, cy)]}")
    for (ax, ay), role, _ in arrows:
        canvas.put(ax, ay, "▼", f"edge.{role}")

    ports: dict[str, list[int]] = {}
    for edge in layout.edges:
        ports.setdefault(edge.upstream, []).append(edge.port[0])
    for key, box in layout.boxes.items():
        _draw_box(canvas, box, g.nodes[key], ports.get(key, []), statuses.get(key), cursor, lineage)

    for (ax, ay), _role, kind in arrows:  # lineage labels beside arrows, where there is room
        label = KIND_LABEL.get(kind)
        if not label:
            continue
        for lx in (ax + 2, ax - 1 - len(label)):
            span = range(lx - 1, lx + len(label) + 1)
            if all(0 <= c < canvas.width and canvas.chars[ay][c] == " " for c in span):
                canvas.put(lx, ay, label, "edge-label")
                break
    return canvas


def render_text(graph: Any, statuses: Mapping[str, Any] | None = None, keys: Iterable[str] | None = None) -> str:
    """The graph (or only `keys`) as plain text (for `graph --format terminal` and logs)."""
    g = _as_graph(graph)
    if keys is not None:
        g = g.subset(keys)
    return render(compute_layout(g), statuses=statuses).text()
