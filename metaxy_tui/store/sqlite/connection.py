"""Opening a store file (or refusing it) and closing it, write transactions, and the reads every
other part of SQLiteMetadataStore goes through."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import polars as pl

from ..front import stored_hasher
from ..opened import OpenCount, OpenStore
from ...version import __version__
from ...errors import StoreError, StoreFormatError
from ...keys import quote
from . import frame_columns
from .codec import Typed
from . import resolve as _resolve
from . import schema as _schema
from .reader import Read, Reader
from .handle import StoreMembers

BUSY_TIMEOUT_S = 30.0

log = logging.getLogger("metaxy_tui.store.sqlite.store")  # (one logger for the store class)


class StoreConnection(OpenCount, StoreMembers):
    """Mixed into SQLiteMetadataStore: open, close, transactions, reads."""

    def open(self, mode: str = "w") -> OpenStore[Self]:
        """Open for reading ("r") or reading and writing ("w"); `with store.open("r"):` closes at the end."""
        if mode not in ("r", "w"):
            raise ValueError(f"mode must be 'r' or 'w', got {mode!r}")
        with self._lock:
            if self._conn is not None:
                if mode == "w" and self._mode == "r":
                    raise StoreError(f"{self.path} is open read-only")
                self._depth += 1
            else:
                started = time.perf_counter()
                self._connect(mode)
                self._depth = 1
                log.debug(
                    "opened %s (%s) in %.3f s",
                    self.path,
                    "read-only" if mode == "r" else "read-write",
                    time.perf_counter() - started,
                )
            return OpenStore(self)

    def _connect(self, mode: str) -> None:
        memory = self.path == ":memory:"
        defaults = {
            "application": "metaxy-tui",
            "created_with": __version__,
            "hash_algorithm": self.hasher.algorithm.value,
            "hash_truncation_length": str(self.hasher.truncation or ""),
        }
        if not memory:
            p = Path(self.path)
            if p.exists() and not p.is_file():
                raise StoreError(f"{self.path} is a directory, not a store file")
            if mode == "r" and not p.exists():
                raise StoreError(f"no store at {self.path}")
            if mode == "w" and not p.exists():
                p.parent.mkdir(parents=True, exist_ok=True)
                _schema.create_store_file(p, defaults)
        as_uri = mode == "r" and not memory
        target = _schema.readonly_uri(self.path) if as_uri else self.path
        side_files = [] if memory else [Path(self.path + s) for s in ("-wal", "-shm")]
        had = {p for p in side_files if p.exists()}
        try:
            conn = sqlite3.connect(
                target, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S, uri=as_uri
            )
        except sqlite3.Error as e:
            raise StoreError(f"cannot open {self.path}: {e}") from None
        try:
            conn.execute("PRAGMA busy_timeout = %d" % int(BUSY_TIMEOUT_S * 1000))
            # refuse a file of another program before changing anything in it (WAL included)
            info = self._check_format(conn, mode)
            if mode == "w" and not memory:
                _schema.ensure_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA temp_store = MEMORY")
            if mode == "w":  # 32 MB: enough for 1,000,000-row index updates; readers keep SQLite's 2 MB (the
                conn.execute("PRAGMA cache_size = -32768")  # columnar copy's blobs would only fill it)
            self.hasher.register(conn)
            if mode == "w":
                conn.execute("BEGIN IMMEDIATE")
                try:
                    info = _schema.check_or_initialise(conn, self.path, create=True, info=defaults)
                    _schema.ensure_audit(conn)
                    conn.execute(frame_columns.DDL)
                    _schema.ensure_layout(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            elif not info:
                # an empty file (its creation never finished): read it as an empty store
                _schema.temp_layout(conn)
            self._has_columns_table = memory or mode == "w" or frame_columns.exists(conn)
            if memory and mode == "r":
                conn.execute(frame_columns.DDL)
        except sqlite3.DatabaseError as e:
            conn.close()
            _remove_new_side_files(side_files, had)
            raise StoreFormatError(f"{self.path} is not a usable SQLite database ({e})") from None
        except StoreFormatError:
            conn.close()
            _remove_new_side_files(side_files, had)
            raise
        except BaseException:
            conn.close()
            raise
        self._adopt_hash_settings(info)
        self.info = info
        self._conn = conn
        self._mode = mode
        self._reader = Reader(conn, None if memory else str(Path(self.path).resolve()), self._lock)

    def _check_format(self, conn: sqlite3.Connection, mode: str) -> dict[str, str]:
        """The store's info, read in one read transaction; {} for an empty file."""
        for attempt in (1, 2):
            try:
                conn.execute("BEGIN")
                try:
                    return _schema.check_or_initialise(conn, self.path, create=False, info={})
                finally:
                    conn.execute("COMMIT")
            except sqlite3.OperationalError as e:
                # a hot journal (a first creation killed mid-way, by an older version) needs a
                # writer to roll it back: do that once, if we may write the file
                if attempt == 1 and mode == "r" and "readonly" in str(e) and os.access(self.path, os.W_OK):
                    _schema.recover(self.path)
                    continue
                raise
        raise AssertionError("unreachable")

    def _adopt_hash_settings(self, info: dict[str, str]) -> None:
        if info:
            self.hasher = stored_hasher(info, self._requested, str(self.path))

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            self._depth -= 1
            if self._depth > 0:
                return
            if self._reader is not None:
                self._reader.close()
            self._conn.close()
            self._conn = None
            self._reader = None
            self._mode = None
            self._columns_cache = None
            self._effective_cache.clear()

    def last_write_id(self) -> int:
        """Grows with every write and delete: a cheap way to notice that the store changed."""
        return self._write_counter()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self.path} is not open: use `with store:` or store.open()")
        return self._conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; everything in it lands, or nothing does."""
        if self._mode != "w":
            raise StoreError(
                f"store {self.path} is open read-only"
                if self._conn
                else f"store {self.path} is not open: use `with store:` or store.open('w')"
            )
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(
        self, sql: str, params: Sequence[Any], types: Mapping[str, Typed], *, expected_rows: int = 0
    ) -> pl.DataFrame:
        assert self._reader is not None, "store is not open"
        return self._reader.frame(sql, params, types, expected_rows=expected_rows)

    def _write_counter(self) -> int:
        with self._lock:
            last: int = self.conn.execute("SELECT coalesce(max(id), 0) FROM _metaxy_writes").fetchone()[0]
            return last

    def _has_latest(self, table: str, fv_id: int) -> bool:
        with self._lock:
            return (
                self.conn.execute(
                    f"SELECT 1 FROM {quote(table)} WHERE {_resolve.latest_condition()} LIMIT 1", (fv_id,)
                ).fetchone()
                is not None
            )

    def _read_many(self, queries: Sequence[Read]) -> list[pl.DataFrame]:
        """Several queries that must see one state of the store (see store/sqlite/reader.py)."""
        assert self._reader is not None, "store is not open"
        return self._reader.frames(queries)


def _remove_new_side_files(paths: list[Path], had: set[Path]) -> None:
    """A refused file keeps no -wal/-shm that opening it made (left empty by SQLite)."""
    for p in paths:
        if p not in had:
            with contextlib.suppress(OSError):
                if p.exists() and p.stat().st_size in (0, 32768):
                    p.unlink()
