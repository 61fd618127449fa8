"""A folder tree that lists only folders and files the import can read."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.widgets import DirectoryTree

from ...service.import_paths import importable


class ImportFileTree(DirectoryTree):
    """Folders and .csv/.tsv/.parquet/.json/.ndjson files; hidden entries left out."""

    DEFAULT_CSS = """
    ImportFileTree { height: 1fr; border: round $panel; }
    ImportFileTree:focus { border: round $accent; }
    """

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        # DirectoryTree calls this from its loader thread, so the stat calls stay off the UI thread
        out = []
        for p in paths:
            if p.name.startswith("."):
                continue
            try:
                if p.is_dir() or importable(p):
                    out.append(p)
            except OSError:
                continue
        return out
