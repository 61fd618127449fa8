"""Reading query results into polars.

Large results are moved column by column: SQLite aggregates each column into one JSON array
(`json_group_array`) and polars decodes it in Rust, so no Python object is made per value
(on 1,000,000 rows x 5 columns: 1.0 s on two threads, against 1.7 s and 2.3x the memory for
`fetchall`). Floats travel as `printf('%!.17g')` text (JSON would round them to 15 digits)
and bytes as hex. Queries run over rowid parts on two threads, each with its own read-only
connection, and the store's write counter tells whether they saw one state of the store.

Reads that a feature version's columnar copy can answer (store/sqlite/chunks.py: Arrow IPC blobs
kept by every write) are `CopyRead`s: they load the copy's chunks and take out the rows
superseded since, and fall back to their SQL queries when a store has no copy.

Only Python's own sqlite3 is used. An Arrow reader (ADBC) was faster still, but it brings
its own copy of SQLite, and two copies in one process do not see each other's file locks:
measured here, a reader then saw rows twice and a commit failed with "locking protocol".
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import polars as pl

from ...columns import ColumnType, PolarsType
from ...keys import quote
from .codec import Typed, decode_expr, load_dtype
from .schema import readonly_uri

COLUMNAR_MIN_ROWS = 20_000  # below this, fetchall is as fast and simpler
PART_ROWS = 125_000  # rows per part: the transient JSON of one part per thread stays small
THREADS = 2


@dataclass
class Query:
    sql: str
    params: Sequence[Any]
    types: Mapping[str, Typed]  # every output column, in order
    expected_rows: int = 0


@dataclass
class CopyRead:
    """Rows of (table, feature version) from its columnar copy, or from `fallback` when there is none.

    `select` gives each output column as an expression over the stored columns (`sources`,
    loaded with the dtypes `stored`); outputs are then decoded to `types` exactly as the SQL
    reader decodes them, so both ways give the same frame.
    """

    table: str
    fv_id: int
    sources: list[str]
    stored: dict[str, PolarsType]
    select: dict[str, pl.Expr]
    types: Mapping[str, Typed]
    fallback: list[Query]
    written_after: int | None = None
    post: FrameFn | None = None  # applied to the whole result on both paths
    each: FrameFn | None = None  # applied to every chunk's rows (SQL: the whole)

    @property
    def expected_rows(self) -> int:
        return sum(q.expected_rows for q in self.fallback)


FrameFn: TypeAlias = Callable[[pl.DataFrame], pl.DataFrame]  # a frame transformed (each chunk's, a result's)


class CustomRead(Protocol):
    """A read of several statements of its own (upstream.py's aggregation members, ...)."""

    expected_rows: int

    def run(self, reader: Reader, conn: sqlite3.Connection) -> pl.DataFrame: ...


Read: TypeAlias = "Query | CopyRead | CustomRead"


def _kind(t: Typed) -> str:
    if isinstance(t, ColumnType):
        return {"float": "float", "bytes": "bytes"}.get(t.name, "plain")
    if t.is_float():
        return "float"
    if t == pl.Binary:
        return "bytes"
    return "plain"


class Reader:
    """Runs SELECTs for one store file and returns polars frames with decoded types."""

    def __init__(self, conn: sqlite3.Connection, path: str | None, lock: threading.RLock | None = None):
        self._conn = conn
        self._path = path  # None for an in-memory store: other connections cannot see it
        self._lock = lock or threading.RLock()  # the store's: its connection serves one thread at a time
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    # ----- public ------------------------------------------------------------------------------
    def frame(
        self, sql: str, params: Sequence[Any], types: Mapping[str, Typed], *, expected_rows: int = 0
    ) -> pl.DataFrame:
        """Run `sql`; columns come back decoded to `types` (ColumnTypes or polars dtypes)."""
        return self._run(Query(sql, params, types, expected_rows))

    def frames(self, queries: Sequence[Read]) -> list[pl.DataFrame]:
        """Run queries that must see one state of the store; results in the given order.

        Large ones run on two threads with connections of their own, which could each see a
        different commit: the store's write counter is read before and after, and if a write
        landed in between the reads are retried, finally all on one connection inside one
        read transaction.
        """
        big = [
            (isinstance(q, CopyRead) or hasattr(q, "run") or self._columnar(q)) and self._path is not None
            for q in queries
        ]
        if sum(big) >= 2:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="metaxy-read")
            for _attempt in range(3):
                before = self._write_counter()
                futures = {i: self._pool.submit(self._threaded, q) for i, q in enumerate(queries) if big[i]}
                small = {i: self._run(q) for i, q in enumerate(queries) if not big[i]}
                out = [futures[i].result() if i in futures else small[i] for i in range(len(queries))]
                if self._write_counter() == before:
                    return out
        return self._in_one_transaction(queries)

    def read(self, q: Read, conn: sqlite3.Connection) -> pl.DataFrame:
        """Run one read on a connection the caller holds (a custom read's sub-read)."""
        return self._run(q, conn, locked=True) if conn is not self._conn else self._run(q, locked=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._opened_lock:
            for conn in self._opened:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._opened.clear()
        self._local = threading.local()

    # ----- how ---------------------------------------------------------------------------------
    @staticmethod
    def _columnar(q: Read) -> bool:
        return isinstance(q, Query) and q.expected_rows >= COLUMNAR_MIN_ROWS and bool(q.types)

    def _run(self, q: Read, conn: sqlite3.Connection | None = None, locked: bool = False) -> pl.DataFrame:
        """One read on `conn` (default: the store's own connection, under its lock)."""
        if isinstance(q, CopyRead) or hasattr(q, "run"):
            if conn is None:
                with contextlib.nullcontext() if locked else self._lock:
                    return self._custom(q, self._conn)
            return self._custom(q, conn)
        if conn is None:
            if self._columnar(q):
                with contextlib.nullcontext() if locked else self._lock:
                    df = columnar_frame(self._conn, q)
                if df is not None:
                    return df
            return self._fetch(q, locked)
        df = columnar_frame(conn, q) if self._columnar(q) else None
        return df if df is not None else self._fetch(q, conn=conn)

    def _custom(self, q: CopyRead | CustomRead, conn: sqlite3.Connection) -> pl.DataFrame:
        """A read of several statements (a CopyRead, or an object with run(reader, conn)), inside one
        read transaction so that its statements see one state of the store."""
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")
        try:
            return q.run(self, conn) if not isinstance(q, CopyRead) else self._copy(q, conn)
        finally:
            if own:
                conn.execute("COMMIT")

    def _copy(self, q: CopyRead, conn: sqlite3.Connection) -> pl.DataFrame:
        from . import chunks

        decode = [
            decode_expr(c, t).alias(c) if isinstance(t, ColumnType) else pl.col(c).cast(t) for c, t in q.types.items()
        ]

        def finish(piece: pl.DataFrame) -> pl.DataFrame:
            piece = piece.select([e.alias(n) for n, e in q.select.items()]).select(decode)
            return q.each(piece) if callable(q.each) else piece

        df = chunks.read_live(
            conn, q.table, q.fv_id, q.sources, expected=q.stored, written_after=q.written_after, each=finish
        )
        if df is None:
            parts = [self.read(f, conn) for f in q.fallback]
            df = parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical_relaxed", rechunk=False)
            if callable(q.each):
                df = q.each(df)
        return q.post(df) if callable(q.post) else df

    def _write_counter(self) -> int:
        with self._lock:
            last: int = self._conn.execute("SELECT coalesce(max(id), 0) FROM _metaxy_writes").fetchone()[0]
            return last

    def _in_one_transaction(self, queries: Sequence[Read]) -> list[pl.DataFrame]:
        with self._lock:
            own = self._conn.in_transaction
            if not own:
                self._conn.execute("BEGIN")
            try:
                return [self._run(q, locked=True) for q in queries]
            finally:
                if not own:
                    self._conn.execute("COMMIT")

    def _threaded(self, q: Read) -> pl.DataFrame:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            assert self._path is not None  # frames() reads on threads only from a store file
            conn = sqlite3.connect(readonly_uri(self._path), uri=True, check_same_thread=False, timeout=30)
            self._local.conn = conn
            with self._opened_lock:
                self._opened.append(conn)
        return self._run(q, conn)

    def _fetch(self, q: Query, locked: bool = False, conn: sqlite3.Connection | None = None) -> pl.DataFrame:
        with contextlib.nullcontext() if locked or conn is not None else self._lock:
            cur = (conn or self._conn).execute(q.sql, tuple(q.params))
            rows = cur.fetchall()
            names = [d[0] for d in cur.description]
        columns: list[Sequence[Any]] = list(zip(*rows)) if rows else [[] for _ in names]
        del rows
        df = pl.DataFrame(
            [
                pl.Series(n, list(col), dtype=load_dtype(q.types.get(n, pl.String)), strict=False)
                for n, col in zip(names, columns)
            ]
        )
        return df.select([decode_expr(n, q.types.get(n, pl.String)).alias(n) for n in df.columns])


def columnar_frame(conn: sqlite3.Connection, q: Query) -> pl.DataFrame | None:
    """The query's rows through one JSON array per column; None when the values do not fit.
    The caller holds the connection (its lock, or a connection of its own)."""
    names = list(q.types)
    parts = []
    for name in names:
        c, kind = quote(name), _kind(q.types[name])
        if kind == "float":
            parts.append(f"json_group_array(CASE WHEN {c} IS NULL THEN NULL ELSE printf('%!.17g', {c}) END)")
        elif kind == "bytes":
            parts.append(f"json_group_array(CASE WHEN {c} IS NULL THEN NULL ELSE hex({c}) END)")
        else:
            parts.append(f"json_group_array({c})")
    sql = f"SELECT count(*), {', '.join(parts)} FROM ({q.sql})"
    try:
        row = conn.execute(sql, tuple(q.params)).fetchone()
    except sqlite3.OperationalError as e:
        if "JSON cannot hold BLOB" in str(e):
            return None  # a BLOB where text was expected (a retyped column): fetch it row by row
        raise
    n, texts = row[0], list(row[1:])
    del row
    columns = []
    for name, text in zip(names, texts):
        t = q.types[name]
        kind = _kind(t)
        raw = pl.String if kind != "plain" else load_dtype(t)
        try:
            s = pl.Series(name, [text]).str.json_decode(pl.List(raw)).explode()
        except pl.exceptions.PolarsError:
            return None  # values of another type than declared (a retyped column)
        if n == 0:
            s = s.clear()
        if kind == "float":
            s = s.cast(pl.Float64, strict=False)
        elif kind == "bytes":
            s = s.str.decode("hex")
        columns.append(s)
    df = pl.DataFrame(columns)
    return df.select([decode_expr(c, q.types[c]).alias(c) for c in names])


def split_by_rowid(
    sql: str, params: Sequence[Any], types: Mapping[str, Typed], rows: int, table: str, *, parts: int | None = None
) -> list[Query]:
    """`sql` (SELECT ... FROM "table" WHERE ...) as queries over rowid ranges, in rowid order.

    Parts keep each transfer small and let two threads read at once. Each part walks its
    rowid range of the table (NOT INDEXED), not an index over the whole table.
    """
    if parts is None:
        parts = max(1, min(64, rows // PART_ROWS))
    if parts <= 1:
        return [Query(sql, params, types, rows)]
    source = f"FROM {table}"
    if sql.count(source) != 1:
        raise ValueError("split_by_rowid needs the query's one FROM clause")
    sql = sql.replace(source, f"{source} NOT INDEXED")
    bounds = [rows * i // parts for i in range(parts + 1)]
    bounds[-1] = 2**62  # rows written while we read belong to the last part
    return [
        Query(f"{sql} AND rowid > ? AND rowid <= ?", [*params, lo, hi], types, max(rows // parts, COLUMNAR_MIN_ROWS))
        for lo, hi in zip(bounds, bounds[1:])
    ]
