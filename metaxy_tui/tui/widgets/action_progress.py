"""A running action: progress bar, samples per second, time left, and a Cancel button.

Drawn over the screen that runs the action (on its `overlay` layer, which the screen
centres), while the screen blocks its other actions, like a modal. Cancel (the button, or
escape on the screen) posts CancelRequested; the screen sets the flag that its worker's
service call checks between batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.message import Message
from textual.widgets import Button, ProgressBar, Static


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def rate_text(done: int, total: int, elapsed: float, unit: str = "samples") -> str:
    """ "120 of 500 samples · 45.2 samples/s · about 0:08 left"."""
    head = f"{done:,} of {total:,} {unit}"
    if done <= 0 or elapsed <= 0:
        return head + " · starting…"
    rate = done / elapsed
    left = (total - done) / rate if rate > 0 else 0.0
    shown = f"{rate:,.1f}" if rate < 100 else f"{rate:,.0f}"
    return f"{head} · {shown} {unit}/s · about {format_seconds(left)} left"


class ActionProgress(Container):
    DEFAULT_CSS = """
    ActionProgress {
        layer: overlay; width: 72; max-width: 95%; height: auto; display: none;
        border: thick $accent; background: $surface; padding: 0 2;
    }
    ActionProgress.-running { display: block; }
    ActionProgress.-cancelling { border: thick $warning; }
    ActionProgress > #box { height: auto; }
    ActionProgress #title { text-style: bold; }
    ActionProgress #step { color: $text-muted; }
    ActionProgress ProgressBar { margin: 1 0 0 0; }
    ActionProgress Bar { width: 1fr; }
    ActionProgress #stats { margin-bottom: 1; }
    """

    class CancelRequested(Message):
        """The user asked to stop the running action."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self._started = 0.0
        self._step: str | None = None
        self._unit = "samples"
        self.done = 0
        self.total = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Static("", id="title")
            yield Static("", id="step")
            yield ProgressBar(total=None, show_eta=False, id="bar")
            yield Static("", id="stats")
            yield Button("Cancel (esc)", id="cancel", variant="error")

    @property
    def running(self) -> bool:
        return self.has_class("-running")

    def start(self, title: str, total: int | None = None, *, unit: str = "samples") -> None:
        self._unit = unit
        self._step = None
        self._started = self.clock()
        self.done, self.total = 0, total or 0
        self.remove_class("-cancelling")
        self.add_class("-running")
        self.query_one("#title", Static).update(Text(title))
        self.query_one("#step", Static).display = False
        self.query_one("#bar", ProgressBar).update(total=total or None, progress=0)
        self.query_one("#stats", Static).update(Text("starting…"))
        cancel = self.query_one("#cancel", Button)
        cancel.disabled = False
        cancel.label = "Cancel (esc)"
        cancel.focus()

    def advance(self, done: int, total: int, step: str | None = None) -> None:
        """`done` of `total` samples; a new `step` (e.g. the next feature) restarts the rate."""
        if step != self._step:
            self._step = step
            self._started = self.clock()
            label = self.query_one("#step", Static)
            label.update(Text(step or ""))
            label.display = bool(step)
        self.done, self.total = done, total
        self.query_one("#bar", ProgressBar).update(total=max(total, 1), progress=done)
        stats = rate_text(done, total, self.clock() - self._started, self._unit)
        self.query_one("#stats", Static).update(Text(stats))

    def cancelling(self) -> None:
        self.add_class("-cancelling")
        cancel = self.query_one("#cancel", Button)
        cancel.disabled = True
        cancel.label = "Cancelling…"
        self.query_one("#title", Static).update(
            Text("Cancelling: the current batch is rolled back, finished batches stay")
        )

    def stop(self) -> None:
        self.remove_class("-running", "-cancelling")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "cancel":
            self.post_message(self.CancelRequested())
