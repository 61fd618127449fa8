"""Reading query results into polars.

Small results go through the store's own sqlite3 connection. Large ones go through ADBC
(Arrow, no Python objects per value), which measured about twice as fast on 1,000,000
rows but costs a driver start-up, so it is used only above `ADBC_MIN_ROWS`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

import polars as pl

from .codec import Typed, decode_expr, load_dtype

ADBC_MIN_ROWS = 150_000


def _adbc_available() -> bool:
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:
        return False
    return True


class Reader:
    """Runs SELECTs for one store file and returns polars frames with a fixed schema."""

    def __init__(self, conn: sqlite3.Connection, path: str | None):
        self._conn = conn
        self._path = path  # None for an in-memory store: ADBC cannot see it
        self._adbc = None
        self._adbc_ok: bool | None = None
        self._lock = threading.Lock()

    def frame(self, sql: str, params: Sequence[Any], types: dict[str, Typed], *,
              expected_rows: int = 0) -> pl.DataFrame:
        """Run `sql`; columns come back decoded to `types` (ColumnTypes or polars dtypes)."""
        df = None
        if expected_rows >= ADBC_MIN_ROWS and self._use_adbc():
            df = self._adbc_frame(sql, params)
        if df is None:
            cur = self._conn.execute(sql, tuple(params))
            rows = cur.fetchall()
            names = [d[0] for d in cur.description]
            columns = list(zip(*rows)) if rows else [[] for _ in names]
            df = pl.DataFrame([pl.Series(n, list(col), dtype=load_dtype(types.get(n, pl.String)), strict=False)
                               for n, col in zip(names, columns)])
        return df.select([decode_expr(n, types.get(n, pl.String)).alias(n) for n in df.columns])

    def _use_adbc(self) -> bool:
        if self._path is None:
            return False
        if self._adbc_ok is None:
            self._adbc_ok = _adbc_available()
        return self._adbc_ok

    def _adbc_frame(self, sql: str, params: Sequence[Any]) -> pl.DataFrame | None:
        import adbc_driver_sqlite.dbapi as adbc

        with self._lock:
            if self._adbc is None:
                self._adbc = adbc.connect(f"file:{self._path}?mode=ro", autocommit=True)
            cur = self._adbc.cursor()
            try:
                cur.execute(sql, tuple(params) if params else None)
                table = cur.fetch_arrow_table()
            finally:
                cur.close()
        out = pl.from_arrow(table)
        return out if isinstance(out, pl.DataFrame) else None

    def close(self) -> None:
        with self._lock:
            if self._adbc is not None:
                self._adbc.close()
                self._adbc = None
