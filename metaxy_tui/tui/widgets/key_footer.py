"""The screen's keys at the bottom, wrapped onto a second line when the terminal is narrow.

Textual's Footer keeps one line and cuts off what does not fit: at 80 columns the browser lost
its last keys, `? Help` among them. This one lays the same bindings out in as many lines as the
width needs (at most three), and a click on a key presses it, as in Textual's Footer.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.widget import Widget

GAP = 2  # cells between two keys


@dataclass(frozen=True)
class KeyItem:
    key: str  # what to press (simulated on click)
    display: str  # how the key is shown
    description: str
    enabled: bool

    @property
    def width(self) -> int:
        return cell_len(self.display) + 1 + cell_len(self.description)


class KeyFooter(Widget):
    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"key-footer--key", "key-footer--description", "key-footer--disabled"}
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $footer-background;
        color: $footer-foreground;
        & > .key-footer--key { color: $footer-key-foreground; text-style: bold; }
        & > .key-footer--description { color: $footer-description-foreground; }
        & > .key-footer--disabled { text-style: dim; }
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if self.is_attached and screen is self.screen:
            self.refresh(layout=True)

    @property
    def items(self) -> list[KeyItem]:
        """The shown bindings of the focused chain, one per action, then the command palette's."""
        items: list[KeyItem] = []
        actions: set[str] = set()
        palette: KeyItem | None = None
        for key, (_node, binding, enabled, _tooltip) in self.screen.active_bindings.items():
            item = KeyItem(key, self.app.get_key_display(binding), binding.description, enabled)
            if key == self.app.COMMAND_PALETTE_BINDING and self.app.ENABLE_COMMAND_PALETTE:
                palette = item
            elif binding.show and binding.action not in actions:
                actions.add(binding.action)
                items.append(item)
        return items + ([palette] if palette is not None else [])

    def lines(self, width: int) -> list[list[KeyItem]]:
        """The items packed into lines of `width` cells, in order."""
        lines: list[list[KeyItem]] = [[]]
        used = 0
        for item in self.items:
            need = item.width + (GAP if lines[-1] else 0)
            if lines[-1] and used + need > width:
                lines.append([])
                used, need = 0, item.width
            lines[-1].append(item)
            used += need
        return lines

    @property
    def text(self) -> str:
        return self.render().plain

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width))

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-footer--key", partial=True)
        description_style = self.get_component_rich_style("key-footer--description", partial=True)
        dim = self.get_component_rich_style("key-footer--disabled", partial=True)
        out = Text(no_wrap=True, overflow="ellipsis")
        for row, line in enumerate(self.lines(self.content_region.width or 80)):
            if row:
                out.append("\n")
            for i, item in enumerate(line):
                if i:
                    out.append(" " * GAP)
                extra = dim if not item.enabled else None
                out.append(item.display, style=key_style + extra if extra else key_style)
                out.append(" " + item.description, style=description_style + extra if extra else description_style)
        return out

    def item_at(self, x: int, y: int) -> KeyItem | None:
        """The key drawn at (x, y) of the content region."""
        lines = self.lines(self.content_region.width or 80)
        if not 0 <= y < len(lines):
            return None
        start = 0
        for item in lines[y]:
            if start <= x < start + item.width:
                return item
            start += item.width + GAP
        return None

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        item = self.item_at(offset.x, offset.y) if offset is not None else None
        if item is None:
            return
        if item.enabled:
            self.app.simulate_key(item.key)
        else:
            self.app.bell()
