"""The feature graph drawn as text: a layered layout, field lineage, and a tagged character grid.

The Lineage tab and `metaxy-tui graph --format terminal` draw with this package, so it knows
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

The modules: graph.py (the graph as drawn, field lineage), layout.py (steps 1-4),
placement.py (the one-dimensional placement they use), drawing.py (the grid, its tags and styles).
"""

from .drawing import (
    BADGE_KINDS,
    FIELD_ROLES,
    KIND_LABEL,
    MARKER,
    ROLES,
    TAGS,
    TERMINAL_STYLES,
    Canvas,
    badge,
    fit,
    render,
    render_text,
)
from .graph import FieldLineage, FieldRef, LineageGraph, LineageNode, field_lineage
from .layout import (
    BOX_GAP,
    DUMMY_GAP,
    FIELDS_TOP,
    MARGIN,
    MAX_BOX_WIDTH,
    MIN_BOX_WIDTH,
    ORDER_SWEEPS,
    PLACEMENT_ROUNDS,
    ROW_BADGE,
    ROW_RULE,
    ROW_VERSION,
    Box,
    EdgePath,
    LineageLayout,
    box_height,
    box_width,
    compute_layout,
)

__all__ = [
    "BADGE_KINDS",
    "BOX_GAP",
    "DUMMY_GAP",
    "FIELDS_TOP",
    "FIELD_ROLES",
    "KIND_LABEL",
    "MARGIN",
    "MARKER",
    "MAX_BOX_WIDTH",
    "MIN_BOX_WIDTH",
    "ORDER_SWEEPS",
    "PLACEMENT_ROUNDS",
    "ROLES",
    "ROW_BADGE",
    "ROW_RULE",
    "ROW_VERSION",
    "TAGS",
    "TERMINAL_STYLES",
    "Box",
    "Canvas",
    "EdgePath",
    "FieldLineage",
    "FieldRef",
    "LineageGraph",
    "LineageLayout",
    "LineageNode",
    "badge",
    "box_height",
    "box_width",
    "compute_layout",
    "field_lineage",
    "fit",
    "render",
    "render_text",
]
