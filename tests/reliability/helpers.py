"""Checks shared by the reliability tests (kill, concurrency): `from tests.reliability.helpers import ...`."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def integrity(path: Path) -> None:
    """PRAGMA integrity_check through a read-only connection (recovering the WAL if needed)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
