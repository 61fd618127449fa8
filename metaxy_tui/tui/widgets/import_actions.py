"""The bottom of the import screen: what the import will do and the Import button; then the
confirmation; then the progress bar with Cancel while the write runs."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, ContentSwitcher, ProgressBar, Static


class ImportActions(ContentSwitcher):
    """Three states: `ready`, `confirm` and `running`. Posts typed messages for each button."""

    DEFAULT_CSS = """
    ImportActions { height: auto; padding: 0 1; }
    ImportActions > Horizontal { height: auto; }
    ImportActions Static { width: 1fr; height: auto; }
    ImportActions Button { margin-left: 1; }
    ImportActions #stage { width: auto; min-width: 24; max-width: 50%; }
    ImportActions ProgressBar { width: 1fr; margin-left: 1; }
    ImportActions ProgressBar Bar { width: 1fr; }
    """

    class Requested(Message):
        """Import was pressed: ask for confirmation."""

    class Confirmed(Message):
        """The user confirmed: write."""

    class Declined(Message):
        """The user did not confirm."""

    class CancelRequested(Message):
        """Cancel was pressed while running."""

    def __init__(self, **kwargs) -> None:
        super().__init__(initial="ready", **kwargs)

    def compose(self) -> ComposeResult:
        with Horizontal(id="ready"):
            yield Static(id="summary")
            yield Button("Import", id="import", variant="primary", compact=True, disabled=True)
        with Horizontal(id="confirm"):
            yield Static(id="question")
            yield Button("Yes, import", id="yes", variant="warning", compact=True)
            yield Button("No", id="no", compact=True)
        with Horizontal(id="running"):
            yield Static(id="stage")
            yield ProgressBar(id="progress", show_eta=False)
            yield Button("Cancel", id="cancel", variant="error", compact=True)

    # ----- states -----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.current or "ready"

    def ready(self, summary: Text, can_import: bool) -> None:
        self.query_one("#summary", Static).update(summary)
        self.query_one("#import", Button).disabled = not can_import
        self.current = "ready"

    def ask(self, question: Text) -> None:
        self.query_one("#question", Static).update(question)
        self.current = "confirm"
        self.query_one("#yes", Button).focus()

    def run(self, stage: str, total: int | None = None) -> None:
        self.query_one("#stage", Static).update(Text(stage))
        self.query_one("#progress", ProgressBar).update(total=total, progress=0)
        self.query_one("#cancel", Button).disabled = False
        self.current = "running"

    def progress(self, stage: str, done: int, total: int) -> None:
        text = f"{stage}: {done:,} of {total:,}"
        if stage == "writing" and done >= total:
            text = f"wrote {total:,} rows: superseding earlier rows and committing…"
        self.query_one("#stage", Static).update(Text(text))
        self.query_one("#progress", ProgressBar).update(total=max(total, 1), progress=done)

    def cancelling(self) -> None:
        self.query_one("#stage", Static).update(Text("cancelling…", style="bold yellow"))
        self.query_one("#cancel", Button).disabled = True

    @property
    def import_enabled(self) -> bool:
        return not self.query_one("#import", Button).disabled

    # ----- buttons ----------------------------------------------------------------------------
    @on(Button.Pressed, "#import")
    def _import(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Requested())

    @on(Button.Pressed, "#yes")
    def _yes(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Confirmed())

    @on(Button.Pressed, "#no")
    def _no(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Declined())

    @on(Button.Pressed, "#cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.CancelRequested())
