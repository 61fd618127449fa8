"""Reading query results into polars.

Small results go through the store's own sqlite3 connection. Large ones go through the
ADBC SQLite driver's Arrow stream, handed to polars through the Arrow C stream interface
(no pyarrow, no Python object per value): on 1,000,000 rows x 5 columns that measured
0.7 s against 2.2 s for `fetchall`, and pyarrow alone would add 70 MB of resident memory.
Independent queries (the halves of a large table, the upstream and the current rows, an
aggregation's window and its members) run on two threads, each with its own read-only
ADBC connection: the driver and polars work outside the GIL, so two cores read twice as
fast (1,000,000 rows: 0.36 s against 0.65 s).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import polars as pl

from .codec import Typed, decode_expr, load_dtype

ADBC_MIN_ROWS = 100_000
ADBC_BATCH_ROWS = "65536"
THREADS = 2


@dataclass
class Query:
    sql: str
    params: Sequence[Any]
    types: dict[str, Typed]
    expected_rows: int = 0


class Reader:
    """Runs SELECTs for one store file and returns polars frames with decoded types."""

    def __init__(self, conn: sqlite3.Connection, path: str | None, lock: threading.RLock | None = None):
        self._conn = conn
        self._path = path  # None for an in-memory store: ADBC cannot see it
        self._adbc_ok = path is not None
        self._local = threading.local()
        self._opened: list[tuple[Any, Any]] = []
        self._lock = lock or threading.RLock()  # the store's: its connection serves one thread at a time
        self._pool: ThreadPoolExecutor | None = None

    def frame(self, sql: str, params: Sequence[Any], types: dict[str, Typed], *,
              expected_rows: int = 0) -> pl.DataFrame:
        """Run `sql`; columns come back decoded to `types` (ColumnTypes or polars dtypes)."""
        return self._run(Query(sql, params, types, expected_rows), allow_adbc=True)

    def frames(self, queries: list[Query]) -> list[pl.DataFrame]:
        """Run queries that must see one state of the store; results in the given order.

        Large ones run concurrently on separate connections, which could each see a
        different commit: the store's write counter is read before and after, and if a
        write landed in between the reads are retried, finally all on one connection
        inside one read transaction.
        """
        big = [q.expected_rows >= ADBC_MIN_ROWS and self._adbc_ok for q in queries]
        if sum(big) == 0:
            return self._in_one_transaction(queries)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="metaxy-read")
        for _attempt in range(3):
            before = self._write_counter()
            futures = {i: self._pool.submit(self._run, q, True) for i, q in enumerate(queries) if big[i]}
            small = {i: self._run(q, allow_adbc=False) for i, q in enumerate(queries) if not big[i]}
            out = [futures[i].result() if i in futures else small[i] for i in range(len(queries))]
            if self._write_counter() == before:
                return out
        return self._in_one_transaction(queries)

    def _write_counter(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT coalesce(max(id), 0) FROM _metaxy_writes").fetchone()[0]

    def _in_one_transaction(self, queries: list[Query]) -> list[pl.DataFrame]:
        with self._lock:
            own = self._conn.in_transaction
            if not own:
                self._conn.execute("BEGIN")
            try:
                return [self._run(q, allow_adbc=False, locked=True) for q in queries]
            finally:
                if not own:
                    self._conn.execute("COMMIT")

    def _run(self, q: Query, allow_adbc: bool, locked: bool = False) -> pl.DataFrame:
        df = None
        if allow_adbc and q.expected_rows >= ADBC_MIN_ROWS and self._adbc_ok:
            df = self._adbc_frame(q.sql, q.params)
        if df is None:
            # the store's sqlite3 connection serves one query at a time
            with (contextlib.nullcontext() if locked else self._lock):
                cur = self._conn.execute(q.sql, tuple(q.params))
                rows = cur.fetchall()
                names = [d[0] for d in cur.description]
            columns = list(zip(*rows)) if rows else [[] for _ in names]
            del rows
            df = pl.DataFrame([pl.Series(n, list(col), dtype=load_dtype(q.types.get(n, pl.String)), strict=False)
                               for n, col in zip(names, columns)])
        return df.select([decode_expr(n, q.types.get(n, pl.String)).alias(n) for n in df.columns])

    def _connection(self) -> Any:
        conn = getattr(self._local, "adbc", None)
        if conn is None:
            import adbc_driver_manager
            import adbc_driver_sqlite

            db = adbc_driver_sqlite.connect(f"file:{self._path}?mode=ro")
            conn = adbc_driver_manager.AdbcConnection(db)
            self._local.adbc = conn
            with self._lock:
                self._opened.append((conn, db))
        return conn

    def _adbc_frame(self, sql: str, params: Sequence[Any]) -> pl.DataFrame | None:
        try:
            import adbc_driver_manager
        except ImportError:
            self._adbc_ok = False
            return None
        # ADBC binds parameters only through Arrow; ours are a few integers and strings
        text = _inline_params(sql, params)
        try:
            stmt = adbc_driver_manager.AdbcStatement(self._connection())
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
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._lock:
            for conn, db in self._opened:
                try:
                    conn.close()
                    db.close()
                except Exception:
                    pass
            self._opened.clear()
        self._local = threading.local()


PART_ROWS = 125_000  # a read's transient Arrow copy is about one part per thread


def split_by_rowid(sql: str, params: Sequence[Any], types: dict[str, Typed], rows: int, table: str, *,
                   parts: int | None = None) -> list[Query]:
    """`sql` (SELECT ... FROM "table" WHERE ...) as queries over rowid ranges, in rowid order.

    Parts keep the transient Arrow buffers of a conversion small (measured: one 1,000,000-row
    read held twice its frame's size at its peak) and let two threads read at once. Each part
    walks its rowid range of the table (NOT INDEXED), not an index over the whole table.
    """
    if parts is None:
        parts = max(1, min(64, rows // PART_ROWS))
    if parts <= 1 or rows < ADBC_MIN_ROWS:
        return [Query(sql, params, types, rows)]
    source = f"FROM {table}"
    if sql.count(source) != 1:
        raise ValueError("split_by_rowid needs the query's one FROM clause")
    sql = sql.replace(source, f"{source} NOT INDEXED")
    bounds = [rows * i // parts for i in range(parts + 1)]
    bounds[-1] = 2**62  # rows written while we read belong to the last part
    return [Query(f"{sql} AND rowid > ? AND rowid <= ?", [*params, lo, hi], types, max(rows // parts, ADBC_MIN_ROWS))
            for lo, hi in zip(bounds, bounds[1:])]


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
