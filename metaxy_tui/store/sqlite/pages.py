"""SQLite's `SamplePages` (store/pages.py): a feature's current samples a page at a time, one
sample's rows and links, and a view's rows for export, straight from SQLite.

The pages own a read-only connection of their own to the store file, so a long resolve in
another thread never blocks the table. Every method runs SQL: call them from worker threads
only (a lock makes the connection safe to share between them).

The default order (the id columns, ascending or descending) walks the latest-row index: pages
come by keyset from a neighbouring page already fetched (about 1 ms), else by OFFSET from the
nearer end (about 50-250 ms deep into 1,000,000 rows). Any other order, or a filter, first
stores the view's rowids in a TEMP table in view order (its position is the table's INTEGER
PRIMARY KEY), so that every page after that is a rowid range; building it can be cancelled
with `interrupt()`.

What both SQL pagers share (the view state, the page routes, positions) is store/sample_pager.py;
here are the connection and SQLite's SQL. The view's SQL is view_query.py, one sample's detail
sample_detail.py.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ...columns import DELETED_AT
from ...definition import FeatureDefinition
from ...graph import FeatureGraph, FeaturePlan
from ...keys import quote
from ..pages import PAGE_SIZE, Interrupted, PageReadError, SampleColumn, SampleView, ViewSpec, feature_columns
from ..records import ExportRows
from ..sample_pager import SQLSamplePages
from ..view_query import ViewQuery
from . import frame_columns
from .feature_tables import feature_version_names, table_location
from .sample_detail import SQLiteSampleDetail
from .schema import SUPERSEDED, readonly_uri, table_columns
from .view_query import SQLiteViewQuery

VIEW_TABLE = "temp._mx_view"
BUSY_TIMEOUT_MS = 5000


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to a store file, usable from any thread (callers serialise)."""
    conn = sqlite3.connect(readonly_uri(path), uri=True, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA cache_size = -16384")
    return conn


class SQLiteSamplePages(SQLiteSampleDetail, SQLSamplePages):
    """Pages of a feature's current samples, and one sample's rows (SamplePages). Worker threads only."""

    LIMIT_OFFSET = " LIMIT ? OFFSET ?"
    NUMBERED_POSITION_SQL = f"SELECT pos FROM {VIEW_TABLE} WHERE rid = ?"  # row key: the rowid

    def __init__(self, path: str | Path, graph: FeatureGraph | None = None, *, page_size: int = PAGE_SIZE) -> None:
        self.path = str(path)
        super().__init__(graph, page_size)
        self._conn: sqlite3.Connection | None = None

    # -- connection
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_readonly(self.path)
        return self._conn

    def interrupt(self) -> None:
        """Cancel the query running now (a view build or a deep page); safe from any thread."""
        conn = self._conn
        if conn is not None:
            conn.interrupt()

    def close(self) -> None:
        self.interrupt()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _run(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            return self._connection().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as e:
            if "interrupt" in str(e):
                raise Interrupted() from None
            raise PageReadError(str(e)) from e

    # -- views (SQLSamplePages' hooks: the caller holds the lock)
    def _recorded_columns(self) -> frame_columns.Recorded:
        conn = self._connection()
        try:
            return frame_columns.read_all(conn) if frame_columns.exists(conn) else {}
        except sqlite3.OperationalError as e:
            if "interrupt" in str(e):
                raise Interrupted() from None
            raise

    @contextlib.contextmanager
    def _view_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as e:
            if "interrupt" in str(e):  # the half-built TEMP table goes with the next view
                raise Interrupted() from None
            raise

    def _start_view(self, plan: FeaturePlan) -> None:
        self._connection().execute(f"DROP TABLE IF EXISTS {VIEW_TABLE}")

    def _location(self, feature: str, feature_version: str) -> tuple[str | None, int | None]:
        return table_location(self._connection(), feature, feature_version)

    def _view_query(
        self, spec: ViewSpec, plan: FeaturePlan, ids: tuple[str, ...], table: str, fv_id: int
    ) -> tuple[tuple[SampleColumn, ...], ViewQuery]:
        stored = table_columns(self._connection(), table)
        columns = tuple(feature_columns(plan, stored))
        return columns, SQLiteViewQuery.build(spec, columns, ids, table, fv_id, set(stored))

    def _fv_names(self, feature: str) -> dict[int, str]:
        return feature_version_names(self._connection(), feature)

    def _number_view(self, query: ViewQuery, table: str) -> int:
        # positions are the TEMP table's rowids (1, 2, ... in insertion order)
        conn = self._connection()
        conn.execute(f"CREATE TABLE {VIEW_TABLE} (pos INTEGER PRIMARY KEY, rid INTEGER NOT NULL)")
        n: int = conn.execute(f"INSERT INTO {VIEW_TABLE} (rid) {query.sql(select='t.rowid')}", query.params).rowcount
        return n

    def _count_view(self, query: ViewQuery) -> int:
        n: int = self._connection().execute(query.count_sql(), query.params).fetchone()[0]
        return n

    def _stored_current(self, table: str) -> int:
        n: int = (
            self._connection()
            .execute(
                f"SELECT count(*) FROM {quote(table)} WHERE {quote(SUPERSEDED)} IS NULL AND {quote(DELETED_AT)} IS NULL"
            )
            .fetchone()[0]
        )
        return n

    # -- pages and positions (SQLSamplePages' hooks)
    def _numbered_page_sql(self, query: ViewQuery, table: str) -> str:
        return (
            f"SELECT {', '.join(query.select)} FROM {VIEW_TABLE} AS v "
            f"JOIN {quote(table)} AS t ON t.rowid = v.rid "
            "WHERE v.pos > ? AND v.pos <= ? ORDER BY v.pos"
        )

    def _keys(self, view: SampleView) -> tuple[str, str]:
        ids = ", ".join(f"t.{quote(c)}" for c in view.id_columns)
        marks = ", ".join("?" * len(view.id_columns))
        return f"({ids})", f"({marks})"

    def _find_row(self, view: SampleView, query: ViewQuery, id_values: list[Any]) -> list[Any] | None:
        assert view.table is not None
        match = " AND ".join(f"t.{quote(c)} = ?" for c in view.id_columns)
        found = self._run(
            f"SELECT t.rowid FROM {quote(view.table)} AS t WHERE {query.where} AND {match}",
            [*query.params, *id_values],
        )
        return [found[0][0]] if found else None

    def _row_key(self, handle: int) -> list[Any]:
        return [handle]

    def _ids_of_row_sql(self, view: SampleView, query: ViewQuery) -> str:
        assert view.table is not None
        return (
            f"SELECT {', '.join(quote(c) for c in view.id_columns)} FROM "
            f"{quote(view.table)} AS t WHERE t.rowid = ? AND {query.where}"
        )

    # -- a view's rows for export ----------------------------------------------------------------
    def export_rows(
        self,
        definition: FeatureDefinition,
        feature_version: str,
        spec: ViewSpec,
        *,
        batch_rows: int,
        total: int | None = None,
    ) -> ExportRows:
        """The rows of the view `spec` (read with `definition` at `feature_version`), streamed in
        batches of `batch_rows`; `interrupt()` stops them (Interrupted)."""
        with self._lock:
            try:
                conn = self._connection()
                table, fv_id = table_location(conn, definition.name, feature_version)
                stored = table_columns(conn, table) if table else []
                columns = feature_columns(definition, stored)
                fv_names = feature_version_names(conn, definition.name)
                query = (
                    SQLiteViewQuery.build(spec, columns, definition.id_columns, table, fv_id, set(stored))
                    if table is not None and fv_id is not None
                    else None
                )
                if total is None:
                    total = conn.execute(query.count_sql(), query.params).fetchone()[0] if query else 0
            except sqlite3.Error as e:
                if "interrupt" in str(e):
                    raise Interrupted() from None
                raise PageReadError(str(e)) from e
        return ExportRows(columns, fv_names, total, self._batches(query, batch_rows))

    def _batches(self, query: ViewQuery | None, batch_rows: int) -> Iterator[list[tuple[Any, ...]]]:
        if query is None:
            return
        try:
            cur = self._connection().execute(query.sql(), query.params)
            while True:
                rows = cur.fetchmany(batch_rows)
                if not rows:
                    return
                yield rows
        except sqlite3.Error as e:
            if "interrupt" in str(e):
                raise Interrupted() from None
            raise PageReadError(str(e)) from e
