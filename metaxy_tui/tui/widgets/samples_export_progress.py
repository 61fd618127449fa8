"""The Samples tab's running export: what is written and how far, and a progress bar.

The export runs in a child process (ExportProcess: the TUI keeps its memory and its interpreter
lock), waited for by a worker here; escape on the tab cancels it. When it ends the row hides and
a notification says how it went.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Label, ProgressBar

from ...service.export import ExportProcess, ExportResult
from ...service.review import error_text
from ...service.samples import Interrupted


class SamplesExportProgress(Horizontal):
    """Shown (without its `hidden` class) while an export runs; `last_export` is the last one's result."""

    @dataclass
    class Progressed(Message):
        done: int
        total: int

    @dataclass
    class Finished(Message):
        result: ExportResult | None
        error: str | None = None
        cancelled: bool = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.exporter: ExportProcess | None = None
        self.last_export: ExportResult | None = None
        self._file_name = ""

    def compose(self) -> ComposeResult:
        yield Label("", id="samples-export-label")
        yield ProgressBar(id="samples-export-bar-progress", show_eta=False, show_percentage=False)

    @property
    def running(self) -> bool:
        return self.exporter is not None

    def start(self, exporter: ExportProcess, name: str, total: int | None) -> None:
        """Run `exporter` (writing the file `name`, `total` rows when known) and show how far it is."""
        self.exporter = exporter
        self.query_one("#samples-export-bar-progress", ProgressBar).update(total=total or None, progress=0)
        self._file_name = name
        self._show(0, total)
        self.remove_class("hidden")
        self._export(exporter, total)

    def cancel(self) -> None:
        if self.exporter is not None:
            self.exporter.cancel()

    @work(thread=True, exclusive=True, group="sample-export", name="sample export")
    def _export(self, exporter: ExportProcess, total: int | None) -> None:
        """The export runs in a child process: the TUI keeps its memory and its interpreter lock."""
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] > 0.1:
                last[0] = now
                self.post_message(self.Progressed(done, total))

        try:
            result = exporter.run(progress, total)
        except Interrupted:
            self.post_message(self.Finished(None, cancelled=True))
            return
        except Exception as e:
            self.post_message(self.Finished(None, error_text(e)))
            return
        self.post_message(self.Finished(result))

    def _show(self, done: int, total: int | None) -> None:
        text = Text("exporting ", style="bold")
        text.append(self._file_name, style="bold")
        text.append(f" · {done:,}" + (f" of {total:,}" if total is not None else "") + " rows · escape cancels ")
        self.query_one("#samples-export-label", Label).update(text)

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        message.stop()
        self.query_one("#samples-export-bar-progress", ProgressBar).update(total=message.total, progress=message.done)
        self._show(message.done, message.total)

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        message.stop()
        self.exporter = None
        self.last_export = message.result
        self.add_class("hidden")
        if message.cancelled:
            self.notify("Export cancelled; no file written.", title="Export")
        elif message.error is not None:
            self.notify(message.error, title="Export failed", severity="error", markup=False)
        elif message.result is not None:
            r = message.result
            self.notify(
                f"{r.rows:,} rows written to {r.path.resolve()} in {r.seconds:.1f} s", title="Export", markup=False
            )

    def on_unmount(self) -> None:
        self.cancel()
