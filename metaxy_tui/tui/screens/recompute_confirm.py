"""The recompute confirmation: the review's question, plus where the batches run.

A ConfirmScreen with an executor choice between its body and its buttons: `local` (this
process, the default) or `ray` (Ray tasks: on the cluster at the address given, or on a local
Ray started for the run when the address is empty). An executor that cannot run here (Ray not
installed) is shown disabled, with how to install it. The chosen executor and address are read
from the screen once it is dismissed; enter in the address confirms, as the default button would.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, RadioButton, RadioSet, Static

from ...service.recompute import ExecutorOption, executor_options
from .confirm import Choice, ConfirmScreen

ADDRESS_HINT = "empty: start a local Ray for this run"


class RecomputeConfirmScreen(ConfirmScreen):
    CSS_PATH = "recompute_confirm.tcss"

    def __init__(
        self,
        title: str | Text,
        body: str | Text,
        choices: list[Choice],
        *,
        executor: str = "local",
        address: str = "",
        options: list[ExecutorOption] | None = None,
        tone: str = "normal",
        focus: str | None = None,
    ) -> None:
        super().__init__(title, body, choices, tone=tone, focus=focus)
        self.options = options if options is not None else executor_options()
        usable = [o.name for o in self.options if o.problem is None]
        self.executor = executor if executor in usable else (usable[0] if usable else "local")
        self._address = address

    def compose_options(self) -> ComposeResult:
        with Vertical(id="executor"):
            with Horizontal(id="executor-row"):
                yield Label("Run on", classes="option-label")
                with RadioSet(id="executor-choice", compact=True):
                    for o in self.options:
                        yield RadioButton(
                            o.label,
                            value=o.name == self.executor,
                            id=f"executor-{o.name}",
                            disabled=o.problem is not None,
                        )
            with Horizontal(id="ray-row"):
                yield Label("Ray address", classes="option-label")
                yield Input(self._address, placeholder=ADDRESS_HINT, id="ray-address", compact=True)
            yield Static("", id="executor-note")

    def on_mount(self) -> None:
        super().on_mount()
        self._show()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """The body scrolls rather than push the options and buttons off a small screen (the
        dialog may take 90% of the height)."""
        dialog = self.query_one("#dialog")
        others = sum(w.outer_size.height for w in dialog.children if w.id != "body")
        room = int(self.size.height * 0.9) - dialog.styles.gutter.height - others
        self.query_one("#body").styles.max_height = max(3, room)

    @property
    def ray_address(self) -> str:
        return self.query_one("#ray-address", Input).value.strip()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        self.executor = (event.pressed.id or "").removeprefix("executor-")
        self._show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the address confirms with the dialog's default choice (the one focused first)."""
        event.stop()
        self.dismiss(self._focus)

    def _show(self) -> None:
        self.query_one("#ray-row").display = self.executor == "ray"
        note = Text()
        if self.executor == "ray":
            note.append("Ray tasks run the function; this process writes each batch as it arrives.", style="dim")
        else:
            note.append("Batches run here, one after the other.", style="dim")
        for o in self.options:
            if o.problem:
                note.append(f"\n{o.problem}", style="yellow")
        self.query_one("#executor-note", Static).update(note)
        self.call_after_refresh(self._fit)
