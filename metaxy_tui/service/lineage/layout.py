"""Where every box and edge goes (steps 1-4 of the package's docstring): layers, order within a
layer, x positions, and the path of each edge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .graph import LineageGraph, LineageNode, as_graph
from .placement import assign_tracks, isotonic, separate_ports, spread

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
                return min(
                    self.layers[layer], key=lambda k: (abs(self.boxes[k].center_x - here.center_x), self.boxes[k].x)
                )
            layer += step
        return None


def box_width(node: LineageNode) -> int:
    longest_field = max((len(f) + len(" (12345678)") for f in node.field_keys), default=len("(no fields)"))
    need = max(
        len(node.key) + 6,  # ╭─ key ─╮
        len("version 12345678") + 4,  # │ text │
        longest_field + 6,
    )  # │ ▸ text │
    return max(MIN_BOX_WIDTH, min(MAX_BOX_WIDTH, need))


def box_height(node: LineageNode) -> int:
    return FIELDS_TOP + max(1, len(node.fields)) + 1


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
    nodes = _Nodes(
        list(keys),
        list(keys),
        [layer_of[k] for k in keys],
        [box_width(g.nodes[k]) for k in keys],
        [box_height(g.nodes[k]) for k in keys],
        [],
        [],
        [],
        max(layer_of.values()) + 1,
    )
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
        for off, w in zip(spread(nodes.width[v], len(downs)), downs):
            out_off[(v, w)] = off
        ups = sorted(nodes.ups[v], key=pos.__getitem__)
        for off, u in zip(spread(nodes.width[v], len(ups)), ups):
            in_off[(u, v)] = off
    return out_off, in_off


def _x_positions(
    nodes: _Nodes, layers: list[list[int]], out_off: dict[tuple[int, int], int], in_off: dict[tuple[int, int], int]
) -> list[int]:
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
        for v, y, off in zip(lay, isotonic(desired, weights), packed):
            x[v] = round(y) + off

    for _ in range(PLACEMENT_ROUNDS):
        for i in range(1, nodes.n_layers):
            place(i, True, False)
        for i in range(nodes.n_layers - 2, -1, -1):
            place(i, False, True)
    for i in range(nodes.n_layers):
        place(i, True, True)
    left = MARGIN - min(x)
    return [int(v + left) for v in x]


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
    g = as_graph(graph)
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
        separate_ports(pairs, x, nodes.width, nodes.key_of, out_off, in_off)
        t = assign_tracks([(x[u] + out_off[(u, v)], x[v] + in_off[(u, v)]) for u, v in pairs])
        tracks.append({pairs[s]: tr for s, tr in t.items()})
        channel_h.append(max(1, max(t.values(), default=-1) + 1) + 2)
    layer_h = [max(nodes.height[v] for v in lay) for lay in layers]
    top = [MARGIN]
    for i in range(nodes.n_layers - 1):
        top.append(top[i] + layer_h[i] + channel_h[i])
    boxes = {
        k: Box(k, nodes.layer[v], x[v], top[nodes.layer[v]], nodes.width[v], nodes.height[v])
        for v, k in enumerate(nodes.key_of)
        if k is not None
    }

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
    feature_layers = tuple(tuple(k for v in lay if (k := nodes.key_of[v]) is not None) for lay in layers)
    return LineageLayout(g, feature_layers, boxes, tuple(edges), width, height)
