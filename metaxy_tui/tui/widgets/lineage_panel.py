"""The Lineage tab: the whole feature graph as boxes and arrows, with a cursor over fields.

The drawing comes from `service.lineage` (shared with `graph --format terminal`);
this widget only scrolls it, moves the cursor and colours the cells by their tags. Row 0
of the widget is a fixed header naming the selected field; the drawing scrolls below it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...errors import MetaxyError
from ...service.lineage import (
    TAGS,
    Canvas,
    LineageGraph,
    LineageLayout,
    compute_layout,
    field_lineage,
    fit,
    render,
)
from ...service.project import Project
from ...service.status import FeatureStatus
from ..fit import middle


def _component(tag: str) -> str:
    return "lineage-panel--" + tag.replace(".", "-").replace("_", "-")


HEADER_PARTS = ("header", "header-key", "header-ancestor", "header-descendant")


class LineagePanel(ScrollView, can_focus=True):
    """Every feature as a box (key, version, status, fields); arrows from upstream to downstream.

    up/down move the cursor over fields (and on to the box above or below), left/right to the
    previous or next feature; the cursor field's ancestors and descendants are highlighted.
    """

    class FeatureChosen(Message):
        """`enter` (or a double click) on a box: the user wants this feature selected."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    BINDINGS = [
        Binding("up", "cursor_up", "Field above", show=False),
        Binding("down", "cursor_down", "Field below", show=False),
        Binding("left", "cursor_left", "Previous feature", show=False),
        Binding("right", "cursor_right", "Next feature", show=False),
        Binding("enter", "choose", "Select feature", tooltip="Select the feature under the cursor"),
    ]

    COMPONENT_CLASSES = {_component(t) for t in TAGS} | {_component(p) for p in HEADER_PARTS}

    # widgets have no CSS_PATH: the stylesheet next to this file is read once, here
    DEFAULT_CSS = Path(__file__).with_name("lineage_panel.tcss").read_text(encoding="utf-8")

    def __init__(self, project: Project, **kwargs) -> None:
        super().__init__(**kwargs)
        self.project = project
        self._plan: object | None = None
        self._layout: LineageLayout | None = None
        self._error: str | None = None
        self._statuses: dict[str, FeatureStatus] = {}
        self._cursor: tuple[str, int] | None = None  # (feature key, field index)
        self._canvas: Canvas | None = None
        self._strips: dict[int, Strip] = {}

    # ----- what the rest of the app calls ---------------------------------------------
    def show_feature(self, key: str | None) -> None:
        """Move the cursor to `key`'s box (the browser's selection changed)."""
        layout = self._ensure_layout()
        if key is None or key not in layout.boxes:
            return
        if self._cursor is None or self._cursor[0] != key:
            self._move_to(key, 0)

    def set_statuses(self, statuses: Mapping[str, FeatureStatus]) -> None:
        """Replace every badge (a full refresh of statuses is in)."""
        self._statuses = dict(statuses)
        self._redraw()

    def update_status(self, status: FeatureStatus) -> None:
        """Update one badge (a status computed while a refresh runs)."""
        self._statuses[status.key] = status
        self._redraw()

    # ----- state, for tests and callers -----------------------------------------------
    @property
    def lineage_layout(self) -> LineageLayout:
        """Boxes and edges of the drawing (`Widget.layout` is Textual's own)."""
        return self._ensure_layout()

    @property
    def canvas(self) -> Canvas:
        self._ensure_layout()
        if self._canvas is None:
            self._canvas = render(self.lineage_layout, statuses=self._statuses, cursor=self.cursor)
        return self._canvas

    @property
    def cursor(self) -> tuple[str, str | None] | None:
        """(feature key, field key) under the cursor."""
        if self._cursor is None:
            return None
        key, i = self._cursor
        fields = self.lineage_layout.graph.nodes[key].fields
        return key, fields[i][0] if fields else None

    @property
    def statuses(self) -> dict[str, FeatureStatus]:
        return dict(self._statuses)

    # ----- layout and drawing -----------------------------------------------------------
    def _ensure_layout(self) -> LineageLayout:
        """The layout of the project's current graph (recomputed when the graph changes)."""
        try:
            plan = self.project.graph.plan()
        except MetaxyError as e:  # a broken definition: say so in the header instead of drawing
            if self._layout is None or self._error != str(e):
                self._plan, self._error = None, str(e)
                self._set_layout(compute_layout(LineageGraph([])))
            return self._layout
        if plan is not self._plan or self._layout is None:
            self._plan, self._error = plan, None
            self._set_layout(compute_layout(plan))
        return self._layout

    def _set_layout(self, layout: LineageLayout) -> None:
        self._layout = layout
        if self._cursor is not None and self._cursor[0] not in layout.boxes:
            self._cursor = None
        if self._cursor is None and layout.reading_order:
            self._cursor = (layout.reading_order[0], 0)
        self._canvas = None
        self._strips.clear()
        self.virtual_size = Size(layout.width, layout.height + 1)

    def _redraw(self) -> None:
        self._canvas = None
        self._strips.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # focus, theme or CSS changed: colours change

    def _style(self, tag: str) -> Style:
        """The full style of a tag (not partial: translucent colours need the background)."""
        return self.get_component_rich_style(_component(tag)) if tag else self.rich_style

    def _row_strip(self, row: int) -> Strip:
        strip = self._strips.get(row)
        if strip is None:
            canvas = self.canvas
            if 0 <= row < canvas.height:
                strip = Strip([Segment(text, self._style(tag)) for text, tag in canvas.runs(row)], canvas.width)
            else:
                strip = Strip.blank(0, self.rich_style)
            self._strips[row] = strip
        return strip

    def _header_strip(self, width: int) -> Strip:
        plain = self._style("header")
        parts: list[tuple[str, Style]] = [(" ", plain)]
        cursor = self.cursor
        if self._error:
            parts.append((f"Cannot draw the graph: {self._error}", self._style("header-key")))
        elif cursor is None:
            parts.append(("No features to draw.", plain))
        elif cursor[1] is None:
            parts.append((cursor[0], self._style("header-key")))
        else:
            lineage = field_lineage(self.lineage_layout.graph, *cursor)
            n_up, n_down = len(lineage.ancestors), len(lineage.descendants)
            up_word, down_word = f"field{'s' * (n_up != 1)}", f"field{'s' * (n_down != 1)}"
            # narrower terminals get shorter words; the field's key keeps its head and tail
            tiers = (
                (f"↑ depends on {n_up} {up_word}", f"↓ {n_down} {down_word} depend{'s' * (n_down == 1)} on it"),
                (f"↑ {n_up} {up_word}", f"↓ {n_down} {down_word}"),
                (f"↑{n_up}", f"↓{n_down}"),
            )
            for up, down in tiers:
                room = width - 1 - len(up) - len(down) - 6
                if room >= len(cursor[0]) + len(cursor[1]) + 1 or up.startswith("↑" + str(n_up)):
                    break
            parts += [
                (middle(f"{cursor[0]}.{cursor[1]}", max(room, 8)), self._style("header-key")),
                ("   ", plain),
                (up, self._style("header-ancestor")),
                ("   ", plain),
                (down, self._style("header-descendant")),
            ]
        segments = []
        room = width
        for text, style in parts:
            text = fit(text, room)
            segments.append(Segment(text, style))
            room -= len(text)
        return Strip(segments).extend_cell_length(width, plain).crop(0, width)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        self._ensure_layout()
        if y == 0:
            return self._header_strip(width)
        scroll_x, scroll_y = self.scroll_offset
        strip = self._row_strip(scroll_y + y - 1)
        if margin := self._margin(width):
            strip = Strip.join([Strip.blank(margin, self.rich_style), strip])
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _margin(self, width: int) -> int:
        """Columns left of the drawing: it is centred when narrower than the panel."""
        return max(0, (width - self.lineage_layout.width) // 2)

    # ----- cursor -----------------------------------------------------------------------
    def _move_to(self, key: str, index: int) -> None:
        fields = self.lineage_layout.graph.nodes[key].fields
        index = max(0, min(index, len(fields) - 1))
        if self._cursor != (key, index):
            self._cursor = (key, index)
            self._redraw()
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        if self._cursor is None:
            return
        region = self.scrollable_content_region
        view_w, view_h = region.width, region.height - 1  # the header takes one row
        if view_w <= 0 or view_h <= 0:
            return
        key, index = self._cursor
        box = self.lineage_layout.boxes[key]
        row = box.field_y(index)
        sx, sy = self.scroll_offset
        # the box with the arrows above it and a column either side, or as much as fits
        top, bottom = max(0, box.y - 2), box.bottom + 1
        if bottom - top > view_h:
            top, bottom = (box.y, box.bottom) if box.height <= view_h else (row, row + 1)
        left, right = max(0, box.x - 2), box.right + 2
        if right - left > view_w:
            left, right = box.x, box.x + min(box.width, view_w)
        if top < sy:
            sy = top
        elif bottom > sy + view_h:
            sy = bottom - view_h
        if left < sx:
            sx = left
        elif right > sx + view_w:
            sx = right - view_w
        if (sx, sy) != tuple(self.scroll_offset):
            self.scroll_to(sx, sy, animate=False)

    def on_mount(self) -> None:
        self._ensure_layout()

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_cursor()

    def on_show(self, event: events.Show) -> None:
        self._scroll_to_cursor()

    def action_cursor_down(self) -> None:
        if self._cursor is None:
            return
        key, index = self._cursor
        if index + 1 < len(self.lineage_layout.graph.nodes[key].fields):
            self._move_to(key, index + 1)
        elif (below := self.lineage_layout.neighbour(key, "down")) is not None:
            self._move_to(below, 0)

    def action_cursor_up(self) -> None:
        if self._cursor is None:
            return
        key, index = self._cursor
        if index > 0:
            self._move_to(key, index - 1)
        elif (above := self.lineage_layout.neighbour(key, "up")) is not None:
            self._move_to(above, len(self.lineage_layout.graph.nodes[above].fields) - 1)

    def action_cursor_left(self) -> None:
        if self._cursor is not None and (prev := self.lineage_layout.neighbour(self._cursor[0], "left")) is not None:
            self._move_to(prev, 0)

    def action_cursor_right(self) -> None:
        if self._cursor is not None and (nxt := self.lineage_layout.neighbour(self._cursor[0], "right")) is not None:
            self._move_to(nxt, 0)

    def action_choose(self) -> None:
        if self._cursor is not None:
            self.post_message(self.FeatureChosen(self._cursor[0]))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        x = offset.x + round(self.scroll_x) - self._margin(self.scrollable_content_region.width)
        y = offset.y - 1 + round(self.scroll_y)
        box = self.lineage_layout.box_at(x, y)
        if box is None:
            return
        index = box.field_at(y)
        if index is None:
            index = self._cursor[1] if self._cursor is not None and self._cursor[0] == box.key else 0
        self._move_to(box.key, index)
        if event.chain >= 2:
            self.action_choose()
