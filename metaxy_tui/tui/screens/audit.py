"""The audit log (being built)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...service.project import Project


class AuditScreen(Screen[None]):
    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, project: Project, feature: str | None = None) -> None:
        super().__init__()
        self.project = project
        self.feature = feature

    def compose(self) -> ComposeResult:
        yield Static("audit")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
