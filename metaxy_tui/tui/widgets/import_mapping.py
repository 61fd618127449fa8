"""Choosing what one file column maps to: a feature column, a provenance field, or nothing."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from .import_preview import short_target

IGNORE = "__ignore__"


class ImportMappingPicker(OptionList):
    """Posts `Chosen(column, target)` (target None: do not import the column) or `Closed`."""

    DEFAULT_CSS = """
    ImportMappingPicker { height: auto; max-height: 40%; border: round $accent; display: none; }
    """
    BINDINGS = [Binding("escape", "close", "Close")]

    @dataclass
    class Chosen(Message):
        column: str
        target: str | None

    class Closed(Message):
        pass

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.column: str | None = None

    def open_for(self, column: str, current: str | None, targets: list[tuple[str, str]]) -> None:
        """Offer `targets` ((target, description) pairs) for `column`; `current` is highlighted."""
        self.column = column
        self.clear_options()
        options = [Option(Text("do not import this column", style="italic"), id=IGNORE)]
        for target, description in targets:
            label = Text(short_target(target), style="bold")
            label.append(f"  {description}", style="dim")
            options.append(Option(label, id=target))
        self.add_options(options)
        self.border_title = Text(f"map file column {column!r} to")  # user text: not markup
        ids = [o.id for o in options]
        self.highlighted = ids.index(current) if current in ids else 0
        self.display = True
        self.focus()

    def close(self) -> None:
        self.display = False
        self.post_message(self.Closed())

    def action_close(self) -> None:
        self.close()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.column is None:
            return
        target = event.option.id
        self.display = False
        self.post_message(self.Chosen(self.column, None if target == IGNORE else target))
