"""Reviewing a feature's pending work (being built)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...service.project import Project


class ReviewScreen(Screen[bool]):
    """Dismissed with True when something was written."""

    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, project: Project, feature: str) -> None:
        super().__init__()
        self.project = project
        self.feature = feature

    def compose(self) -> ComposeResult:
        yield Static(f"review {self.feature}")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(False)
