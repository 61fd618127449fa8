"""Importing samples from a file into a root feature (being built)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...service.project import Project


class ImportScreen(Screen[bool]):
    """Dismissed with True when something was written."""

    BINDINGS = [Binding("escape", "cancel", "Back")]

    def __init__(self, project: Project, feature: str | None = None) -> None:
        super().__init__()
        self.project = project
        self.feature = feature

    def compose(self) -> ComposeResult:
        yield Static("import")
        yield Footer()

    def action_cancel(self) -> None:
        self.dismiss(False)
