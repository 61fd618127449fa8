"""The layout drawn into a grid of characters, one style tag per cell (TAGS), with badges, the
cursor and a field's lineage marked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ...vocabulary import LineageKind
from .graph import FieldLineage, FieldRef, LineageGraph, LineageNode, as_graph, field_lineage
from .layout import FIELDS_TOP, ROW_BADGE, ROW_RULE, ROW_VERSION, Box, EdgePath, LineageLayout, compute_layout

KIND_LABEL: dict[str, str] = {LineageKind.AGGREGATION: "N:1", LineageKind.EXPANSION: "1:N"}
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
    "edge.plain": "bright_black",
    "edge.ancestor": "bold dark_orange",
    "edge.descendant": "bold dodger_blue1",
    "edge.dim": "grey30",
    "edge-label": "bright_black",
    "border.plain": "",
    "border.selected": "bold",
    "border.ancestor": "dark_orange",
    "border.descendant": "dodger_blue1",
    "border.dim": "grey30",
    "title.plain": "bold",
    "title.selected": "bold reverse",
    "title.ancestor": "bold dark_orange",
    "title.descendant": "bold dodger_blue1",
    "title.dim": "grey50",
    "version-label": "bright_black",
    "version": "cyan",
    "badge.root": "cyan",
    "badge.up_to_date": "green",
    "badge.pending": "yellow",
    "badge.waiting": "magenta",
    "badge.error": "red",
    "badge.unknown": "bright_black",
    "field.plain": "",
    "field.cursor": "bold reverse",
    "field.ancestor": "bold dark_orange",
    "field.descendant": "bold dodger_blue1",
    "field.dim": "grey50",
    "fversion.plain": "bright_black",
    "fversion.cursor": "reverse",
    "fversion.ancestor": "dark_orange",
    "fversion.descendant": "dodger_blue1",
    "fversion.dim": "grey30",
}


def fit(text: str, width: int) -> str:
    """`text` cut to `width` characters, ending in … when cut."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


# ----- drawing -------------------------------------------------------------------------------

_UP, _DOWN, _LEFT, _RIGHT = 1, 2, 4, 8
_LINE = {
    0: " ",
    _UP: "│",
    _DOWN: "│",
    _UP | _DOWN: "│",
    _LEFT: "─",
    _RIGHT: "─",
    _LEFT | _RIGHT: "─",
    _DOWN | _RIGHT: "╭",
    _DOWN | _LEFT: "╮",
    _UP | _RIGHT: "╰",
    _UP | _LEFT: "╯",
    _UP | _DOWN | _RIGHT: "├",
    _UP | _DOWN | _LEFT: "┤",
    _DOWN | _LEFT | _RIGHT: "┬",
    _UP | _LEFT | _RIGHT: "┴",
    _UP | _DOWN | _LEFT | _RIGHT: "┼",
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


def _draw_box(
    canvas: Canvas,
    box: Box,
    node: LineageNode,
    ports: list[int],
    status: Any,
    cursor: FieldRef | None,
    lineage: FieldLineage | None,
) -> None:
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
        line(
            box.field_y(i),
            [(MARKER.get(frole, " ") + " " + name, f"field.{frole}"), (f" ({fv[:8]})", f"fversion.{frole}")],
            fill=f"field.{frole}" if frole == "cursor" else "",
        )  # the cursor bar spans the box
    bottom = ["─"] * (w - 2)
    for px in ports:
        if 0 < px - x < w - 1:
            bottom[px - x - 1] = "┬"
    canvas.put(x, box.bottom - 1, "╰" + "".join(bottom) + "╯", border)


def render(
    layout: LineageLayout, *, statuses: Mapping[str, Any] | None = None, cursor: FieldRef | None = None
) -> Canvas:
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
    g = as_graph(graph)
    if keys is not None:
        g = g.subset(keys)
    return render(compute_layout(g), statuses=statuses).text()
