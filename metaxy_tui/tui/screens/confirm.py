"""A reusable modal: a title, a scrollable body, and a row of choices.

`ConfirmScreen(title, body, choices)` is dismissed with the id of the chosen button, or None
on escape. It serves confirmations ("Recompute 5 samples?"), three-way offers ("Upstream
first / Only this feature / Cancel") and long reports with a single Close (a traceback).
"""

from __future__ import annotations

from typing import NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class Choice(NamedTuple):
    id: str
    label: str
    variant: str = "default"  # default | primary | success | warning | error


CLOSE = [Choice("close", "Close", "primary")]


class ConfirmScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("left,shift+tab", "app.focus_previous", "Previous", show=False),
        Binding("right,tab", "app.focus_next", "Next", show=False),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > #dialog {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ConfirmScreen.-error > #dialog { border: round $error; }
    ConfirmScreen.-warning > #dialog { border: round $warning; }
    ConfirmScreen #title { text-style: bold; padding: 0 0 1 0; }
    ConfirmScreen #body { height: auto; max-height: 1fr; }
    ConfirmScreen #choices { height: auto; align-horizontal: right; padding-top: 1; }
    ConfirmScreen #choices Button { margin-left: 2; min-width: 10; }
    """

    def __init__(
        self,
        title: str | Text,
        body: str | Text,
        choices: list[Choice] | None = None,
        *,
        tone: str = "normal",
        focus: str | None = None,
    ) -> None:
        """`tone`: normal | warning | error (the border colour); `focus`: the choice focused first."""
        super().__init__(classes="" if tone == "normal" else f"-{tone}")
        self._title = title if isinstance(title, Text) else Text(title)
        self._body = body if isinstance(body, Text) else Text(body)
        self._choices = choices or CLOSE
        self._focus = focus or self._choices[0].id

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self._title, id="title")
            with VerticalScroll(id="body"):
                yield Static(self._body, id="body-text")
            yield from self.compose_options()
            with Horizontal(id="choices"):
                for c in self._choices:
                    yield Button(c.label, id=f"choice-{c.id}", variant=c.variant)  # type: ignore[arg-type]

    def compose_options(self) -> ComposeResult:
        """Widgets between the body and the choices: a subclass's options (none here)."""
        yield from ()

    def on_mount(self) -> None:
        self.query_one(f"#choice-{self._focus}", Button).focus()

    @property
    def body_text(self) -> str:
        return self._body.plain

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss((event.button.id or "").removeprefix("choice-"))

    def action_cancel(self) -> None:
        self.dismiss(None)
