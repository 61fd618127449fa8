"""Copying a SQLite store out of and into a file (store/transfer.py says what travels).

Out: one read transaction over the store file (a consistent state whatever writers do), each
feature table walked by rowid (the order rows were written) in batches.

In: one write transaction (BEGIN IMMEDIATE) on the target file; a new file is built under a
temporary name beside it and linked into place only once everything committed, so a failed or
cancelled copy leaves no file. Rowids are given afresh, in the source's order. The derived
data (columnar copy and group digests, store/sqlite/upkeep.py) of every loaded table is dropped
and rebuilt for each feature's current version, inside the same transaction; other versions read
through SQL until a write rebuilds theirs, as in a store of an older layout.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import polars as pl

from ...columns import DELETED_AT, ColumnType
from ...definition import FeatureDefinition
from ...errors import StoreError
from ...hashing import Hasher
from ...keys import quote, quote_all
from ...version import __version__
from .. import transfer_form as _t
from . import chunks, frame_columns, groups, upkeep
from . import schema as _schema
from .codec import columns_as_lists, encode_expr, load_dtype, decode_expr
from .reader import Query, columnar_frame
from .store import SQLiteMetadataStore


def _exists(conn: sqlite3.Connection, table: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None
    )


def _read_content(conn: sqlite3.Connection, info: dict[str, str]) -> _t.Content:
    trunc = info.get("hash_truncation_length")
    c = _t.Content(info.get("hash_algorithm", "xxhash64"), int(trunc) if trunc else None)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(sql).fetchall()]

    c.snapshots = rows("SELECT id, project_version, project, recorded_at, graph FROM _metaxy_snapshots ORDER BY id")
    c.feature_versions = rows(
        "SELECT id, feature_key, feature_version, snapshot_id FROM _metaxy_feature_versions ORDER BY id"
    )
    c.features = rows(
        "SELECT feature_key, table_name, created_at FROM _metaxy_features ORDER BY created_at, feature_key"
    )
    if _exists(conn, frame_columns.TABLE):
        c.columns = [
            (k, col, t, bool(n), at)
            for k, col, t, n, at in rows(
                f"SELECT feature_key, column_name, type, nullable, added_at FROM {frame_columns.TABLE} ORDER BY rowid"
            )
        ]
    c.writes = rows(f"SELECT {', '.join(_t.WRITE_COLUMNS)} FROM _metaxy_writes ORDER BY id")
    if _exists(conn, "_metaxy_audit"):
        executor = "executor" if _schema.audit_has_executor(conn) else "NULL"
        c.audit = rows(
            'SELECT id, at, "user", action, feature_key, feature_version, n_samples, duration_s, outcome, detail, '
            f"{executor} FROM _metaxy_audit ORDER BY id"
        )
    if _exists(conn, "_metaxy_audit_ids"):
        c.audit_ids = rows("SELECT audit_id, ids FROM _metaxy_audit_ids ORDER BY rowid")
    return c


class SQLiteSource:
    """A store file read for copying, in one read transaction."""

    def __init__(self, path: str):
        if not Path(path).exists():
            raise StoreError(f"no store at {path}")
        self.where = path
        self._store = SQLiteMetadataStore(path)
        self._store.open("r")  # refuses a file that is not a store of ours
        self._conn = self._store.conn
        self._conn.execute("BEGIN")
        self._content: _t.Content | None = None

    def content(self) -> _t.Content:
        if self._content is None:
            self._content = _read_content(self._conn, self._store.info)
        return self._content

    def row_count(self, table: str) -> int:
        if not _exists(self._conn, table):
            return 0
        return int(self._conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0])

    def rows(self, table: str, columns: dict[str, ColumnType], fields: list[str]) -> Iterator[pl.DataFrame]:
        schema = _t.neutral_schema(columns, fields)
        have = set(_schema.table_columns(self._conn, table))
        types: dict[str, Any] = {"_rowid": pl.Int64}
        select = ["rowid AS _rowid"]
        for name, dtype in schema.items():
            t = columns.get(name)
            types[name] = t if t is not None else dtype
            select.append(f"{quote(name) if name in have else 'NULL'} AS {quote(name)}")
        last = 0
        while True:
            sql = f"SELECT {', '.join(select)} FROM {quote(table)} WHERE rowid > ? ORDER BY rowid LIMIT {_t.BATCH_ROWS}"
            frame = columnar_frame(self._conn, Query(sql, [last], types))
            if frame is None:
                raw = self._conn.execute(sql, (last,)).fetchall()
                loaded = {n: load_dtype(t) for n, t in types.items()}
                frame = pl.DataFrame(raw, schema=loaded, orient="row").select(
                    [decode_expr(n, t).alias(n) for n, t in types.items()]
                )
            if frame.height == 0:
                return
            last = int(frame.get_column("_rowid")[-1])
            yield frame.drop("_rowid").cast(schema)  # type: ignore[arg-type]
            if frame.height < _t.BATCH_ROWS:
                return

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("COMMIT")
        self._store.close()


class SQLiteTarget:
    """A store file being loaded, in one write transaction (a new file: under a temporary name)."""

    def __init__(self, path: str, content: _t.Content):
        self.where = path
        p = Path(path)
        if p.exists() and not p.is_file():
            raise StoreError(f"{path} is a directory, not a store file")
        self._final: Path | None = None
        if p.exists():
            # refuse a file of another program (or a newer layout) before writing to it
            SQLiteMetadataStore(path).open("r").__exit__(None, None, None)
            self._file = p
        else:
            if not p.parent.is_dir():
                raise StoreError(f"cannot create {path}: no folder {p.parent}")
            self._final = p
            self._file = p.with_name(f".{p.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.copying")
        try:
            self._conn = sqlite3.connect(self._file, isolation_level=None, timeout=30)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open {path}: {e}") from None
        self._done = False
        self._new: set[str] = set()  # tables this copy creates: their indexes are built after their rows
        self._deferred: dict[str, list[str]] = {}
        info = {
            "application": "metaxy-tui",
            "created_with": __version__,
            "hash_algorithm": content.hash_algorithm,
            "hash_truncation_length": str(content.hash_truncation or ""),
        }
        try:
            _schema.ensure_wal(self._conn)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA temp_store = MEMORY")
            self._conn.execute("PRAGMA cache_size = -65536")
            self._conn.execute("BEGIN IMMEDIATE")
            self._info = _schema.check_or_initialise(self._conn, path, create=True, info=info)
            _schema.ensure_audit(self._conn)
            self._conn.execute(frame_columns.DDL)
            _schema.ensure_layout(self._conn)
        except BaseException:
            self.rollback()
            raise

    def existing(self) -> _t.Content:
        return _read_content(self._conn, self._info)

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cols = ", ".join(quote(c) for c in columns)
        self._conn.executemany(
            f"INSERT INTO {quote(table)} ({cols}) VALUES ({', '.join('?' * len(columns))})",
            [tuple(int(v) if isinstance(v, bool) else v for v in r) for r in rows],
        )

    def ensure_table(
        self,
        definition: FeatureDefinition,
        fields: list[str],
        now: int,
        group_orders: list[tuple[str, ...]],
        key_order: tuple[str, ...],
    ) -> str:
        new = not _schema.table_columns(self._conn, definition.key.table_name)
        table = _schema.ensure_feature_table(self._conn, definition, fields, now, group_orders, key_order=key_order)
        if new:
            self._new.add(table)
        return table

    def insert_rows(
        self,
        table: str,
        definition: FeatureDefinition,
        columns: dict[str, ColumnType],
        rows: pl.DataFrame,
        *,
        merge: bool,
    ) -> None:
        stored = rows.select([encode_expr(c, columns[c]).alias(c) if c in columns else pl.col(c) for c in rows.columns])
        self._defer_indexes(table)
        if merge and table not in self._new:
            self._supersede(table, definition, stored)
        cols = stored.columns
        self._conn.executemany(
            f"INSERT INTO {quote(table)} ({quote_all(cols)}) VALUES ({', '.join('?' * len(cols))})",
            zip(*columns_as_lists(stored)),
        )

    def _defer_indexes(self, table: str) -> None:
        """A table this copy created gets its indexes once its rows are in (faster than keeping them
        up to date row by row), still inside the transaction."""
        if table not in self._new or table in self._deferred:
            return
        self._deferred[table] = []
        for name, ddl in self._conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
        ).fetchall():
            self._conn.execute(f"DROP INDEX {quote(name)}")
            self._deferred[table].append(ddl)

    def _supersede(self, table: str, definition: FeatureDefinition, stored: pl.DataFrame) -> None:
        """The target's live rows of the batch's samples become history, superseded by the batch's
        first row of each (rows the load itself inserted have write ids above the offset)."""
        ids = list(definition.id_columns)
        first = stored.group_by([_t.FV, *ids]).agg(pl.col(_t.WRITE).min())
        stage = "_mx_copy_keys"
        self._conn.execute(f"DROP TABLE IF EXISTS temp.{stage}")
        self._conn.execute(f"CREATE TEMP TABLE {stage} ({quote_all([_t.FV, *ids, _t.WRITE])})")
        self._conn.executemany(
            f"INSERT INTO temp.{stage} VALUES ({', '.join('?' * (len(ids) + 2))})",
            zip(*columns_as_lists(first.select([_t.FV, *ids, _t.WRITE]))),
        )
        match = " AND ".join(f"s.{quote(c)} = m.{quote(c)}" for c in [_t.FV, *ids])
        self._conn.execute(
            f"UPDATE {quote(table)} AS m SET {quote(_t.SUPERSEDED)} = s.{quote(_t.WRITE)} FROM temp.{stage} AS s "
            f"WHERE m.{quote(_t.SUPERSEDED)} IS NULL AND m.{quote(_t.WRITE)} < s.{quote(_t.WRITE)} AND {match}"
        )
        self._conn.execute(f"DROP TABLE temp.{stage}")

    def set_hash(self, algorithm: str, truncation: int | None) -> None:
        for key, value in (("hash_algorithm", algorithm), ("hash_truncation_length", str(truncation or ""))):
            self._conn.execute("INSERT OR REPLACE INTO _metaxy_info (key, value) VALUES (?, ?)", (key, value))

    def finish(self, tables: dict[str, list[tuple[FeatureDefinition, int, list[Any]]]], hasher: Hasher) -> None:
        for statements in self._deferred.values():
            for ddl in statements:
                self._conn.execute(ddl)
        last = self._conn.execute("SELECT coalesce(max(id), 0) FROM _metaxy_writes").fetchone()[0]
        for table, versions in tables.items():
            chunks.drop(self._conn, table)
            groups.forget(self._conn, table)
            for definition, fv_id, orders in versions:
                self._rebuild(table, definition, fv_id, orders, last, hasher)

    def _rebuild(
        self, table: str, definition: FeatureDefinition, fv_id: int, orders: list[Any], last: int, hasher: Hasher
    ) -> None:
        """The columnar copy of the feature version's live rows, written a chunk at a time, then the
        group digests of the aggregations reading it, from that copy (memory: one chunk, and the
        members' few columns)."""
        conn = self._conn
        if not upkeep.mirrorable(conn, table, definition):
            return
        types = upkeep.payload_types(conn, table, definition) | {chunks.ROWID: pl.Int64, chunks.WRITE_ID: pl.Int64}
        names = {chunks.ROWID: "rowid", chunks.WRITE_ID: quote(_schema.WRITE)}
        select = ", ".join(f"{names.get(c, quote(c))} AS {quote(c)}" for c in types)
        live = f"{quote(_schema.FV)} = ? AND {quote(_schema.SUPERSEDED)} IS NULL AND {quote(DELETED_AT)} IS NULL"
        chunks.start(conn, table, fv_id, last)
        after = 0
        while True:
            sql = f"SELECT {select} FROM {quote(table)} WHERE {live} AND rowid > ? ORDER BY rowid LIMIT {chunks.PIECE_ROWS}"
            frame = columnar_frame(conn, Query(sql, [fv_id, after], types))
            if frame is None:
                raw = conn.execute(sql, (fv_id, after)).fetchall()
                frame = pl.DataFrame(raw, schema={n: load_dtype(t) for n, t in types.items()}, orient="row")
            if frame.height == 0:
                break
            chunks.append(conn, table, fv_id, frame)
            after = int(frame.get_column(chunks.ROWID)[-1])
        for on, order in orders:
            groups.register(conn, table, on, order)

        def members(columns: list[str]) -> pl.DataFrame:
            frame = chunks.read_live(conn, table, fv_id, columns, expected=types)
            return frame if frame is not None else upkeep._sql_live(conn, table, fv_id, {c: types[c] for c in columns})

        groups.maintain(conn, table, fv_id, definition.field_keys, hasher, members, lambda gset: None)

    def commit(self) -> None:
        self._conn.execute("COMMIT")
        self._conn.close()
        self._done = True
        if self._final is not None:
            try:
                os.link(self._file, self._final)
            except FileExistsError:
                self._cleanup()
                raise StoreError(
                    f"{self._final} was created by another process during the copy; nothing copied"
                ) from None
            except OSError:
                if self._final.exists():
                    raise
                os.replace(self._file, self._final)
            self._cleanup()

    def rollback(self) -> None:
        if not self._done:
            self._done = True
            with contextlib.suppress(sqlite3.Error):
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        if self._final is not None:
            self._cleanup()

    def _cleanup(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self._file}{suffix}")
