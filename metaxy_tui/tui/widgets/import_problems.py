"""The problems an import found, one per line with its row and column; moving over one shows it."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ...errors import InputProblem


def problem_text(problem: InputProblem) -> Text:
    text = Text()
    where = []
    if problem.row is not None:
        where.append(f"row {problem.row + 1}")
    if problem.column is not None:
        where.append(problem.column)
    text.append(" · ".join(where) if where else "file", style="bold red")
    text.append("  ")
    text.append(problem.message)
    return text


class ImportProblems(OptionList):
    """Posts `Shown` when the highlight moves to a problem and `Chosen` on enter."""

    DEFAULT_CSS = """
    ImportProblems { height: auto; max-height: 25%; min-height: 3; border: round $error; }
    ImportProblems:focus { border: round $error-lighten-2; }
    """

    @dataclass
    class Shown(Message):
        problem: InputProblem

    @dataclass
    class Chosen(Message):
        problem: InputProblem

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._problems: list[InputProblem] = []

    def show(self, problems: list[InputProblem], title: str) -> None:
        self._problems = list(problems)
        self.clear_options()
        self.add_options([Option(problem_text(p), id=str(i)) for i, p in enumerate(problems)])
        self.border_title = Text(title)  # a str would be read as markup; file names are user text
        self.display = bool(problems)
        if problems:
            self.highlighted = 0

    @property
    def current(self) -> InputProblem | None:
        i = self.highlighted
        return self._problems[i] if i is not None and 0 <= i < len(self._problems) else None

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if self.current is not None:
            self.post_message(self.Shown(self.current))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.current is not None:
            self.post_message(self.Chosen(self.current))
