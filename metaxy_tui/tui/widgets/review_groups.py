"""The review's left pane: one line per reason, with its count, coloured by status."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from .review_model import STATUS_STYLE, ReasonGroup, ReviewModel
from .review_selection import Selection

MARK = {"all": "■", "some": "▪", "none": " "}


def group_prompt(group: ReasonGroup, state: str, width: int = 5) -> Table:
    """Mark, count, status and reason; the reason wraps under itself, not under the count."""
    style = STATUS_STYLE.get(group.status, "")
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(ratio=1)
    reason = Text()
    reason.append(group.status, style=style)
    reason.append(" ")
    reason.append(group.label)
    grid.add_row(
        Text(MARK[state], style="bold cyan"),
        Text(f"{len(group.reasons):,}".rjust(width), style=f"bold {style}"),
        reason,
    )
    return grid


class ReviewGroups(OptionList):
    """Posts GroupHighlighted when the highlight moves to another group."""

    DEFAULT_CSS = """
    ReviewGroups { height: 1fr; border: round $panel;
        border-title-color: $text; border-subtitle-color: $text-muted; }
    ReviewGroups:focus-within { border: round $accent; }
    """

    @dataclass
    class GroupHighlighted(Message):
        name: str

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "reasons"
        self._names: list[str] = []
        self._width = 1

    def show(self, model: ReviewModel, selection: Selection, keep: str | None = None) -> None:
        self._names = [g.name for g in model.groups]
        self._width = max((len(f"{len(g.reasons):,}") for g in model.groups), default=1)
        self.set_options(
            [
                Option(group_prompt(g, selection.group_state(g, model), self._width), id=str(i))
                for i, g in enumerate(model.groups)
            ]
        )
        if self._names:
            self.highlighted = self._names.index(keep) if keep in self._names else 0
        self.border_subtitle = f"{len(self._names)} reason{'s' if len(self._names) != 1 else ''}"

    def refresh_marks(self, model: ReviewModel, selection: Selection) -> None:
        for i, g in enumerate(model.groups):
            self.replace_option_prompt_at_index(i, group_prompt(g, selection.group_state(g, model), self._width))

    @property
    def highlighted_name(self) -> str | None:
        i = self.highlighted
        return self._names[i] if i is not None and 0 <= i < len(self._names) else None

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        name = self.highlighted_name
        if name is not None:
            self.post_message(self.GroupHighlighted(name))
