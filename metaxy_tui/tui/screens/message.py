"""A modal that shows one message (an error, or a note) until dismissed."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class MessageScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    MessageScreen { align: center middle; }
    MessageScreen > Vertical { width: 80%; max-width: 100; height: auto; max-height: 80%;
                               border: round $error; background: $surface; padding: 1 2; }
    MessageScreen.note > Vertical { border: round $accent; }
    MessageScreen #title { text-style: bold; margin-bottom: 1; }
    MessageScreen Button { margin-top: 1; }
    """

    def __init__(self, title: str, body: str, *, error: bool = True) -> None:
        super().__init__(classes="" if error else "note")
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._title), id="title")
            yield Static(Text(self._body), id="body")
            yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_dismiss(self) -> None:
        self.dismiss(None)
