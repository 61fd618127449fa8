"""The Samples tab's export bar: the format and the file to write the view to.

The format follows the file's extension, and the extension the format. A path is checked before
the tab exports to it: a folder or a missing folder is said and the bar stays open to correct it;
a file that exists is replaced only when enter is pressed again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Select

from ...service.export import default_export_path, format_of


class SamplesExportBar(Horizontal):
    """The format (a Select) and the path (an Input); SamplesPanel handles enter in the path."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._confirm_overwrite: Path | None = None

    def compose(self) -> ComposeResult:
        yield Select(
            [("CSV", "csv"), ("Parquet", "parquet")],
            value="csv",
            allow_blank=False,
            id="samples-export-format",
            tooltip="Export format",
        )
        yield Input(id="samples-export-path", placeholder="file to export this view to (enter)")

    @property
    def path_input(self) -> Input:
        return self.query_one("#samples-export-path", Input)

    def prepare(self, feature: str) -> None:
        """A new export of `feature`: the default file for the chosen format."""
        fmt = self.query_one("#samples-export-format", Select).value
        self.path_input.value = str(default_export_path(feature, str(fmt)))
        self._confirm_overwrite = None

    def target(self, value: str) -> tuple[Path, str] | None:
        """The file and the format to export to; None, having said why, while the path needs
        correcting (or, for a file that exists, enter again)."""
        target = Path(value).expanduser()
        fmt = format_of(target) or str(self.query_one("#samples-export-format", Select).value)
        problem = (
            f"{target} is a folder: give a file name"
            if target.is_dir()
            else f"folder {target.parent} does not exist"
            if not target.parent.is_dir()
            else None
        )
        if problem is not None:  # the bar stays open to correct the path
            self.notify(problem, title="Export", severity="error", markup=False)
            return None
        if target.exists() and self._confirm_overwrite != target:
            self._confirm_overwrite = target
            self.notify(
                f"{target} exists: press enter again to replace it", title="Export", severity="warning", markup=False
            )
            return None
        return target, fmt

    @on(Select.Changed, "#samples-export-format")
    def _format_changed(self, event: Select.Changed) -> None:
        event.stop()
        box = self.path_input
        path = Path(box.value)
        if box.value and path.name and event.value in ("csv", "parquet") and format_of(path) != event.value:
            with self.prevent(Input.Changed):  # the two follow each other: no echo back
                box.value = str(path.with_suffix(f".{event.value}"))

    @on(Input.Changed, "#samples-export-path")
    def _path_changed(self, event: Input.Changed) -> None:
        event.stop()
        fmt = format_of(event.value)
        select = self.query_one("#samples-export-format", Select)
        if fmt is not None and select.value != fmt:
            with self.prevent(Select.Changed):
                select.value = fmt
