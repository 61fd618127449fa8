"""PostgreSQL's `SamplePages` (store/pages.py): a feature's current samples a page at a time, one
sample's rows and links, and a view's rows for export, in SQL on a connection of their own.

The same views, orders, filters and results as the SQLite pages (store/sqlite/pages.py), on
the PostgreSQL layout (layout.py):

- Rows carry values as the SQLite store holds them, so that the table, the detail and the
  export read them alike: datetimes as ISO text (`YYYY-MM-DDTHH:MM:SS.ffffff`), dates as
  `YYYY-MM-DD`, booleans as 0/1. Sorting uses the typed columns. (One difference: a sample's
  row stored under an earlier feature version, in a column whose type changed since, reads as
  the text PostgreSQL keeps it in, layout.py; SQLite keeps the old value's type.)
- A row's handle is `write id << 32 | its position in the write` (`_mx_write`, `_mx_row`): it
  stays the same when the row is superseded (a ctid would not).
- Sorts put NULLs first ascending and last descending, and a filter matches as SQLite's LIKE
  does (ASCII case-insensitive, on the text SQLite would compare): the same pages on both.
- The default order (the ids) walks the latest-row index by keyset from a neighbouring page
  already fetched, else by OFFSET from the nearer end; any other sort, or a filter, first
  numbers the view's rows in a TEMP table (cancellable through `interrupt()`, which cancels
  the running statement on the server).

Values are bound (psycopg parameters, cast to the column's type); identifiers are quoted by
layout.q. Every method runs SQL: worker threads only (a lock serialises the connection).

What both SQL pagers share (the view state, the page routes, positions) is store/sample_pager.py;
here are the connection and PostgreSQL's SQL. The view's SQL is view_query.py, row handles and
values stored_values.py, one sample's detail sample_detail.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ...columns import DELETED_AT, ColumnType
from ...definition import FeatureDefinition
from ...graph import FeatureGraph, FeaturePlan
from ..pages import PAGE_SIZE, Interrupted, PageReadError, SampleColumn, SampleView, ViewSpec, feature_columns
from ..records import ExportRows
from ..sample_pager import SQLSamplePages
from ..sqlite import frame_columns
from ..view_query import ViewQuery
from .connection import connect, psycopg_module
from .feature_tables import feature_version_names, table_location
from .layout import ROW, SUPERSEDED, WRITE, ident, q, table_columns
from .sample_detail import PostgresSampleDetail
from .stored_values import bind, cast, split_handle
from .view_query import PostgresViewQuery, sort_sql

if TYPE_CHECKING:
    from .connection import PgConnection

VIEW_NAME = "_mx_view"  # a sorted or filtered view's rows in view order (the session's TEMP table)
VIEW_TABLE = f"pg_temp.{VIEW_NAME}"
VIEW_WORK_MEM = "64MB"


class PostgresSamplePages(PostgresSampleDetail, SQLSamplePages):
    """Pages of a feature's current samples, and one sample's rows (SamplePages). Worker threads only."""

    LIMIT_OFFSET = " LIMIT %s OFFSET %s"
    NUMBERED_POSITION_SQL = f"SELECT pos FROM {VIEW_TABLE} WHERE w = %s AND r = %s"  # row key: (write, row)

    def __init__(self, url: str, graph: FeatureGraph | None = None, *, page_size: int = PAGE_SIZE) -> None:
        self.url = url
        super().__init__(graph, page_size)
        self._conn: PgConnection | None = None
        self._id_types: list[ColumnType | None] = []
        self._view_columns: dict[str, str] = {}  # the view's table's stored columns -> their types

    # -- connection
    def _connection(self) -> PgConnection:
        if self._conn is None:
            conn = connect(self.url, autocommit=True, application="metaxy-tui pages")
            conn.execute(f"SET work_mem = '{VIEW_WORK_MEM}'")  # a sorted view's numbering sorts in memory
            self._conn = conn
        return self._conn

    def interrupt(self) -> None:
        """Cancel the statement running now (a view build, a deep page, an export); safe from any thread."""
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.cancel()

    def close(self) -> None:
        self.interrupt()
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a statement (the caller holds the lock)."""
        psycopg = psycopg_module()
        try:
            return self._connection().execute(sql, tuple(params)).fetchall()
        except psycopg.errors.QueryCanceled:
            raise Interrupted() from None
        except psycopg.Error as e:
            raise PageReadError(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__) from e

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        psycopg = psycopg_module()
        try:
            return self._connection().execute(sql, tuple(params)).rowcount
        except psycopg.errors.QueryCanceled:
            raise Interrupted() from None
        except psycopg.Error as e:
            raise PageReadError(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__) from e

    def _present(self, table: str) -> dict[str, str]:
        psycopg = psycopg_module()
        try:
            return table_columns(self._connection(), table)
        except psycopg.Error as e:
            raise PageReadError(str(e).strip().splitlines()[0]) from e

    def _location(self, feature: str, feature_version: str) -> tuple[str | None, int | None]:
        try:
            return table_location(self._connection(), feature, feature_version)
        except psycopg_module().Error as e:
            raise PageReadError(str(e).strip().splitlines()[0]) from e

    # -- views (SQLSamplePages' hooks: the caller holds the lock)
    def _recorded_columns(self) -> frame_columns.Recorded:
        recorded: frame_columns.Recorded = {}
        for key, col, t, nullable in self._run(
            "SELECT feature_key, column_name, type, nullable FROM _metaxy_columns ORDER BY seq"
        ):
            recorded.setdefault(key, {})[col] = ColumnType(t, bool(nullable), declared=False)
        return recorded

    @staticmethod
    def _table_order(definition: FeatureDefinition, present: dict[str, str]) -> list[str]:
        """The stored columns in table order, by their definition names (PostgreSQL shortens long ones)."""
        names = {ident(c): c for c in definition.columns}
        return [names.get(c, c) for c in present]

    def _view_errors(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()  # _run and _execute raise the pages' errors already

    def _start_view(self, plan: FeaturePlan) -> None:
        self._id_types = [plan.definition.columns.get(c) for c in plan.definition.id_columns]
        self._execute(f"DROP TABLE IF EXISTS {VIEW_TABLE}")

    def _view_query(
        self, spec: ViewSpec, plan: FeaturePlan, ids: tuple[str, ...], table: str, fv_id: int
    ) -> tuple[tuple[SampleColumn, ...], ViewQuery]:
        present = self._view_columns = self._present(table)
        columns = tuple(feature_columns(plan, self._table_order(plan.definition, present)))
        return columns, PostgresViewQuery.build(spec, columns, ids, table, fv_id, present)

    def _fv_names(self, feature: str) -> dict[int, str]:
        return dict(
            self._run("SELECT id, feature_version FROM _metaxy_feature_versions WHERE feature_key = %s", (feature,))
        )

    def _number_view(self, query: ViewQuery, table: str) -> int:
        # positions number the view's rows 1, 2, ... in view order
        self._execute(f"CREATE TEMP TABLE {VIEW_NAME} (pos bigint PRIMARY KEY, w bigint NOT NULL, r integer NOT NULL)")
        n = self._execute(
            f"INSERT INTO {VIEW_TABLE} (pos, w, r) SELECT row_number() OVER (ORDER BY {query.order}), "
            f"t.{q(WRITE)}, t.{q(ROW)} FROM {q(table)} AS t WHERE {query.where}",
            query.params,
        )
        self._execute(f"ANALYZE {VIEW_TABLE}")
        return n

    def _count_view(self, query: ViewQuery) -> int:
        n: int = self._run(query.count_sql(), query.params)[0][0]
        return n

    def _stored_current(self, table: str) -> int:
        n: int = self._run(
            f"SELECT count(*) FROM {q(table)} WHERE {q(SUPERSEDED)} IS NULL AND {q(DELETED_AT)} IS NULL"
        )[0][0]
        return n

    # -- pages and positions (SQLSamplePages' hooks)
    def _numbered_page_sql(self, query: ViewQuery, table: str) -> str:
        return (
            f"SELECT {', '.join(query.select)} FROM {VIEW_TABLE} AS v "
            f"JOIN {q(table)} AS t ON t.{q(WRITE)} = v.w AND t.{q(ROW)} = v.r "
            "WHERE v.pos > %s AND v.pos <= %s ORDER BY v.pos"
        )

    def _keys(self, view: SampleView) -> tuple[str, str]:
        """(the id columns as a row, a row of bound placeholders cast to their types)."""
        by_name = {c.name: c for c in view.columns}
        present = self._view_columns
        ids = ", ".join(sort_sql(by_name[c], present, "t") for c in view.id_columns)
        marks = ", ".join(cast(t) for t in self._id_types)
        return f"({ids})", f"({marks})"

    def _bind_ids(self, values: Sequence[Any]) -> list[Any]:
        return [bind(v, t) for v, t in zip(values, self._id_types)]

    def _find_row(self, view: SampleView, query: ViewQuery, id_values: list[Any]) -> list[Any] | None:
        assert view.table is not None
        key, marks = self._keys(view)
        found = self._run(
            f"SELECT t.{q(WRITE)}, t.{q(ROW)} FROM {q(view.table)} AS t WHERE {query.where} AND {key} = {marks}",
            [*query.params, *id_values],
        )
        return [found[0][0], found[0][1]] if found else None

    def _row_key(self, handle: int) -> list[Any]:
        return list(split_handle(handle))

    def _ids_of_row_sql(self, view: SampleView, query: ViewQuery) -> str:
        assert view.table is not None
        key, _marks = self._keys(view)
        return (
            f"SELECT {key[1:-1]} FROM {q(view.table)} AS t WHERE t.{q(WRITE)} = %s "
            f"AND t.{q(ROW)} = %s AND {query.where}"
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
        batches of `batch_rows` through a server-side cursor; `interrupt()` stops them (Interrupted)."""
        with self._lock:
            try:
                table, fv_id = table_location(self._connection(), definition.name, feature_version)
                fv_names = feature_version_names(self._connection(), definition.name)
            except psycopg_module().Error as e:
                raise PageReadError(str(e).strip().splitlines()[0]) from e
            present = self._present(table) if table else {}
            columns = feature_columns(definition, self._table_order(definition, present))
            query = (
                PostgresViewQuery.build(spec, columns, definition.id_columns, table, fv_id, present)
                if table is not None and fv_id is not None
                else None
            )
            if total is None:
                total = self._run(query.count_sql(), query.params)[0][0] if query else 0
        return ExportRows(columns, fv_names, total, self._batches(query, batch_rows))

    def _batches(self, query: ViewQuery | None, batch_rows: int) -> Iterator[list[tuple[Any, ...]]]:
        if query is None:
            return
        psycopg = psycopg_module()
        try:
            conn = self._connection()
            with conn.transaction(), conn.cursor(name="mx_export") as cur:
                cur.itersize = batch_rows
                cur.execute(query.sql(), query.params)
                while True:
                    rows = cur.fetchmany(batch_rows)
                    if not rows:
                        return
                    yield rows
        except psycopg.errors.QueryCanceled:
            raise Interrupted() from None
        except psycopg.Error as e:
            raise PageReadError(str(e).strip().splitlines()[0]) from e
