"""The import screen's last file read: a file is read again only when it changed (its resolved
path, modification time or size), so that choosing another feature, mode or mapping re-plans
without reading. Called from the planning worker; no Textual."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ...errors import InputError
from ...service.importer import read_table


class ReadCache:
    """The frame of the last file read, keyed by the file's version."""

    def __init__(self) -> None:
        self._last: tuple[tuple, pl.DataFrame] | None = None

    def clear(self) -> None:
        self._last = None

    def read(self, path: str) -> pl.DataFrame | str:
        """The file's frame, read once per version of the file; the path itself when it cannot be read
        (plan_import then reports why)."""
        p = Path(path).expanduser()
        try:
            st = p.stat()
        except OSError:
            return path
        key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        try:
            frame = read_table(p)
        except InputError:
            return path
        self._last = (key, frame)
        return frame
