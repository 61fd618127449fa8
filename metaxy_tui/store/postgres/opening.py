"""Opening a PostgreSQL store (or refusing it) and closing it, write transactions, and the small
reads every other part of PostgreSQLMetadataStore goes through.

Opening checks the server (encoding, string literals, version), reads the store's info table and
creates the store's tables on the first write (layout.py), and adopts the hash setting the store
was created with; connection.py makes the connection itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Self

from ...version import __version__
from ...errors import StoreError
from ..front import stored_hasher
from ..opened import OpenCount, OpenStore
from . import layout
from .connection import connect, psycopg_module
from .handle import StoreMembers
from .reads import Reads

if TYPE_CHECKING:
    from .connection import PgConnection


class StoreConnection(OpenCount, StoreMembers):
    """Mixed into PostgreSQLMetadataStore: open, close, transactions, small reads."""

    def open(self, mode: str = "w") -> OpenStore[Self]:
        if mode not in ("r", "w"):
            raise ValueError(f"mode must be 'r' or 'w', got {mode!r}")
        with self._lock:
            if self._conn is not None:
                if mode == "w" and self._mode == "r":
                    raise StoreError(f"{self.path} is open read-only")
                self._depth += 1
            else:
                self._connect(mode)
                self._depth = 1
            return OpenStore(self)

    def _connect(self, mode: str) -> None:
        conn = connect(self.url)
        psycopg = psycopg_module()
        try:
            self._check_server(conn)
            info = layout.read_info(conn, self.where)
            conn.rollback()
            if not info:
                if mode == "r":
                    raise StoreError(
                        f"{self.where} holds no metaxy-tui store yet (write to it, or run "
                        "`metaxy-tui push`, to create one)"
                    )
                info = self._initialise(conn)
            self._adopt_hash_settings(info)
        except psycopg.Error as e:
            conn.close()
            raise StoreError(f"{self.where}: {str(e).strip().splitlines()[0]}") from None
        except BaseException:
            conn.close()
            raise
        self.info = info
        self._conn = conn
        self._mode = mode
        self._open_reads = Reads(self.url)

    def _check_server(self, conn: PgConnection) -> None:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('server_encoding', 'standard_conforming_strings', 'server_version_num')"
            ).fetchall()
        )
        conn.rollback()
        if settings.get("server_encoding", "UTF8").upper() not in ("UTF8", "UTF-8"):
            raise StoreError(
                f"{self.where} uses the {settings['server_encoding']} encoding; a metaxy-tui store needs a "
                "UTF8 database (CREATE DATABASE ... ENCODING 'UTF8')"
            )
        if settings.get("standard_conforming_strings", "on") != "on":
            raise StoreError(f"{self.where}: standard_conforming_strings is off; a metaxy-tui store needs it on")
        if int(settings.get("server_version_num", "150000")) < 120000:
            raise StoreError(f"{self.where}: PostgreSQL 12 or later is needed")

    def _initialise(self, conn: PgConnection) -> dict[str, str]:
        defaults = {
            "created_with": __version__,
            "hash_algorithm": self.hasher.algorithm.value,
            "hash_truncation_length": str(self.hasher.truncation or ""),
        }
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (layout.DDL_LOCK,))
            info = layout.read_info(conn, self.where)  # another process may have created it meanwhile
            if not info:
                layout.initialise(conn, defaults)
                info = dict(conn.execute("SELECT key, value FROM _metaxy_info").fetchall())
        return info

    def _adopt_hash_settings(self, info: dict[str, str]) -> None:
        self.hasher = stored_hasher(info, self._requested, str(self.path))

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            self._depth -= 1
            if self._depth > 0:
                return
            if self._open_reads is not None:
                self._open_reads.close()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
            self._open_reads = None
            self._mode = None
            self._columns_cache = None
            self._effective_cache.clear()

    @property
    def conn(self) -> PgConnection:
        if self._conn is None:
            raise StoreError(f"store {self.path} is not open: use `with store:` or store.open()")
        return self._conn

    @property
    def _reads(self) -> Reads:
        if self._open_reads is None:
            raise StoreError(f"store {self.path} is not open: use `with store:` or store.open()")
        return self._open_reads

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A small read on the store's own connection (autocommitted: it sees the latest commits)."""
        with self._lock:
            conn = self.conn
            in_tx = conn.info.transaction_status != psycopg_module().pq.TransactionStatus.IDLE
            rows: list[tuple[Any, ...]] = conn.execute(sql, params).fetchall()
            if not in_tx:
                conn.rollback()
            return rows

    def _snap_rows(self, sql: str) -> list[tuple[Any, ...]]:
        """A small read inside the reads' snapshot (values inlined)."""
        return self._reads.rows(sql)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        """One write transaction; everything in it lands, or nothing does."""
        if self._mode != "w":
            raise StoreError(
                f"store {self.path} is open read-only"
                if self._conn
                else f"store {self.path} is not open: use `with store:` or store.open('w')"
            )
        psycopg = psycopg_module()
        with self._lock:
            conn = self.conn
            try:
                with conn.transaction():
                    yield conn
            except psycopg.OperationalError as e:
                raise StoreError(
                    f"{self.where}: the write failed and was rolled back ({str(e).strip().splitlines()[0]})"
                ) from None

    def last_write_id(self) -> int:
        last: int = self._query("SELECT coalesce(max(id), 0) FROM _metaxy_writes")[0][0]
        return last

    def _write_counter(self) -> int:
        return self.last_write_id()
