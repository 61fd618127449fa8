"""Printing for the command line: rich tables in a terminal, plain text when piped, JSON."""

from __future__ import annotations

import json
import sys
from types import TracebackType
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # rich is imported only when a bar is drawn (a terminal)
    from rich.progress import Progress as Bar
    from rich.progress import TaskID

from ..vocabulary import OutputFormat


def format_choice(*formats: OutputFormat) -> click.Choice:
    """--format's choices for a command: some of the formats every command names the same way."""
    return click.Choice([f.value for f in formats])


def is_terminal() -> bool:
    return sys.stdout.isatty()


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
    """A rich table in a terminal; tab-separated lines (with a header line) otherwise."""
    if is_terminal():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
        for h in headers:
            table.add_column(h, overflow="fold")
        for r in rows:
            table.add_row(*[Text("" if v is None else str(v)) for v in r])
        Console().print(table)
        return
    if title:
        click.echo(f"# {title}")
    click.echo("\t".join(headers))
    for r in rows:
        click.echo("\t".join("" if v is None else str(v) for v in r))


def counts_text(counts: dict[str, int]) -> str:
    """A feature's pending counts, as resolve and describe print them."""
    return f"{counts['added']} added · {counts['changed']} changed · {counts['removed']} removed"


def echo(text: str = "", *, style: str | None = None) -> None:
    """A line of text; styled only in a terminal (and never parsed as markup)."""
    if style and is_terminal():
        from rich.console import Console
        from rich.text import Text

        Console().print(Text(text, style=style))
    else:
        click.echo(text)


class Progress:
    """A progress bar in a terminal; silent when piped."""

    def __init__(self, label: str, total: int | None = None):
        self.label = label
        self.total = total
        self._bar: Bar | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> "Progress":
        if is_terminal():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

            self._bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=True,
                console=Console(stderr=True),
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def update(self, done: int, total: int | None = None, label: str | None = None) -> None:
        if self._bar is not None and self._task is not None:  # both set on entering, in a terminal
            self._bar.update(
                self._task,
                completed=done,
                total=total if total is not None else self.total,
                description=label or self.label,
            )

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
