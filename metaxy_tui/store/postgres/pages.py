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
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ...columns import (
    CREATED_AT,
    DATA_VERSION,
    DELETED_AT,
    MATERIALIZATION_ID,
    PROVENANCE,
    UPDATED_AT,
    ColumnType,
    dvbf_column,
    pbf_column,
)
from ...definition import FeatureDefinition
from ...errors import UnknownFeatureError
from ...graph import FeatureGraph, FeaturePlan
from ..pages import (
    PAGE_SIZE,
    Interrupted,
    PageReadError,
    SampleColumn,
    SampleView,
    StaleView,
    ViewSpec,
    _is_id_prefix_sort,
    feature_columns,
    filter_terms,
    uses_index_order,
)
from ..records import ExportRows, HistoryEntry, LinkedRow, StoredRow
from ..sqlite import frame_columns
from .codec import _bare, column_expr
from .connection import connect, psycopg_module
from .layout import FV, PG_TYPES, ROW, SUPERSEDED, WRITE, ident, q, table_columns

if TYPE_CHECKING:
    from .connection import PgConnection

VIEW_NAME = "_mx_view"  # a sorted or filtered view's rows in view order (the session's TEMP table)
VIEW_TABLE = f"pg_temp.{VIEW_NAME}"
HANDLE_SHIFT = 32
VIEW_WORK_MEM = "64MB"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_LOWER = str.maketrans(_UPPER, _UPPER.lower())
BOOKKEEPING = {FV, WRITE, ROW, SUPERSEDED}


# ----- locations ------------------------------------------------------------------------------


def table_location(conn: PgConnection, feature: str, feature_version: str) -> tuple[str | None, int | None]:
    """(table name, id of `feature_version`) or Nones when nothing was stored."""
    row = conn.execute("SELECT table_name FROM _metaxy_features WHERE feature_key = %s", (feature,)).fetchone()
    if row is None:
        return None, None
    fv = conn.execute(
        "SELECT id FROM _metaxy_feature_versions WHERE feature_key = %s AND feature_version = %s",
        (feature, feature_version),
    ).fetchone()
    return row[0], (fv[0] if fv else None)


def feature_version_names(conn: PgConnection, feature: str) -> dict[int, str]:
    return dict(
        conn.execute(
            "SELECT id, feature_version FROM _metaxy_feature_versions WHERE feature_key = %s", (feature,)
        ).fetchall()
    )


def handle_sql(alias: str = "t") -> str:
    return f"({alias}.{q(WRITE)} << {HANDLE_SHIFT}) | {alias}.{q(ROW)}"


def split_handle(handle: int) -> tuple[int, int]:
    return int(handle) >> HANDLE_SHIFT, int(handle) & ((1 << HANDLE_SHIFT) - 1)


# ----- values as SQLite holds them ------------------------------------------------------------


def stored_value_sql(expr: str, type_name: str | None) -> str:
    """`expr` (of a definition type) as the SQLite store holds the value."""
    if type_name == "datetime":
        return f"to_char({expr}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    if type_name == "date":
        return f"to_char({expr}, 'YYYY-MM-DD')"
    if type_name == "bool":
        return f"CASE WHEN {expr} THEN 1 WHEN NOT {expr} THEN 0 END"
    return expr


def _pg_type_name(pg: str) -> str | None:
    """The definition type name a stored PostgreSQL column type reads as (None: as it is)."""
    return {"timestamp": "datetime", "date": "date", "boolean": "bool"}.get(_bare(pg))


def bind(value: Any, t: ColumnType | None) -> Any:
    """A value (as rows or callers give it) ready to bind as `%s::<the column's type>`."""
    if value is None or t is None:
        return value
    if t.name == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "t", "yes")
        return bool(value)
    if t.name == "bytes" and isinstance(value, memoryview):
        return bytes(value)
    return value


def cast(t: ColumnType | None) -> str:
    return f"%s::{_bare(PG_TYPES[t.name])}" if t is not None else "%s"


# ----- columns in SQL -------------------------------------------------------------------------


def _present(column: SampleColumn, present: dict[str, str]) -> bool:
    return ident(column.source) in present


def sort_sql(column: SampleColumn, present: dict[str, str], alias: str = "t") -> str:
    """The column's typed value (what sorts): NULL when its table lacks it; a data version falls
    back to the provenance."""
    a = f"{alias}."
    if column.kind in ("id", "user"):
        return column_expr(column.source, column.type, present, alias)
    if not _present(column, present):
        return "NULL"
    if column.kind == "data_version":
        return f"coalesce({a}{q(DATA_VERSION)}, {a}{q(PROVENANCE)})"
    return f"{a}{q(column.source)}"


def column_sql(column: SampleColumn, present: dict[str, str], alias: str = "t") -> str:
    """The column's value as the SQLite store holds it (what rows carry)."""
    expr = sort_sql(column, present, alias)
    if column.kind in ("id", "user") and column.type is not None:
        return stored_value_sql(expr, column.type.name)
    return expr


def match_sql(column: SampleColumn, present: dict[str, str], alias: str = "t") -> str:
    """The text a filter matches, as SQLite's LIKE sees the stored value: times as shown (UTC),
    booleans 0/1, floats with a '.' (1.0, 1.0e+20), everything else as stored."""
    expr = sort_sql(column, present, alias)
    if expr == "NULL" or expr.startswith("NULL::"):
        return "NULL::text"
    if column.is_time:
        return f"to_char(to_timestamp({expr} / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
    name = column.type.name if column.kind in ("id", "user") and column.type is not None else None
    if name in ("datetime", "date"):
        return stored_value_sql(expr, name)
    if name == "bool":
        return f"CASE WHEN {expr} THEN '1' WHEN NOT {expr} THEN '0' END"
    if name == "float":
        # SQLite writes a float with a '.' in its mantissa (1.0, 1.0e+20); digits as PostgreSQL's
        # shortest text (SQLite keeps 15: 0.1 + 0.2 is 0.3 there, 0.30000000000000004 here)
        return f"regexp_replace(({expr})::text, '^(-?[0-9]+)(e.*)?$', '\\1.0\\2')"
    if name == "bytes":
        return f"encode({expr}, 'escape')"
    if name == "str":
        return expr
    return f"({expr})::text"


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return ("%" + escaped + "%").translate(_ASCII_LOWER)


def _ascii_lower(expr: str) -> str:
    return f"translate({expr}, '{_UPPER}', '{_UPPER.lower()}')"


@dataclass
class ViewQuery:
    """The SQL of a view: its select list, WHERE with parameters, and ORDER BY. Shared with export."""

    table: str
    select: list[str]  # the row handle first, then one expression per column
    where: str
    params: list[Any]
    order: str
    reverse_order: str
    descending_ids: bool  # the id columns run descending in `order` (index-order views)

    @classmethod
    def build(
        cls,
        spec: ViewSpec,
        columns: Sequence[SampleColumn],
        id_columns: Sequence[str],
        table: str,
        fv_id: int,
        present: dict[str, str],
    ) -> "ViewQuery":
        select = [handle_sql("t")] + [column_sql(c, present, "t") for c in columns]
        where = f"t.{q(FV)} = %s AND t.{q(SUPERSEDED)} IS NULL AND t.{q(DELETED_AT)} IS NULL"
        params: list[Any] = [fv_id]
        text = spec.filter.strip()
        if text:
            searched, needle = filter_terms(columns, text)
            likes = [
                f"{_ascii_lower(match_sql(c, present, 't'))} LIKE %s ESCAPE '\\'"
                for c in searched
                if _present(c, present)
            ]
            if likes:
                where += " AND (" + " OR ".join(likes) + ")"
                params += [_like_pattern(needle)] * len(likes)
            else:
                where += " AND false"
        by_name = {c.name: c for c in columns}
        ids = [sort_sql(by_name[c], present, "t") if c in by_name else f"t.{q(c)}" for c in id_columns]
        asc = ", ".join(ids)
        desc = ", ".join(f"{i} DESC" for i in ids)
        descending = False
        if spec.sort is None or spec.sort == "feature version":  # one version per view: the id order
            order, reverse = asc, desc
        elif _is_id_prefix_sort(spec, id_columns):
            descending = spec.descending
            order, reverse = (desc, asc) if descending else (asc, desc)
        else:
            expr = sort_sql(by_name[spec.sort], present, "t")
            # SQLite's NULL order: first ascending, last descending
            up, down = f"{expr} ASC NULLS FIRST", f"{expr} DESC NULLS LAST"
            order = f"{down if spec.descending else up}, {asc}"
            reverse = f"{up if spec.descending else down}, {desc}"
        return cls(table, select, where, params, order, reverse, descending)

    def sql(self, *, select: str | None = None, reverse: bool = False, extra_where: str = "") -> str:
        """SELECT ... FROM the feature table (aliased t) WHERE ... ORDER BY ..., no LIMIT."""
        where = self.where + (f" AND {extra_where}" if extra_where else "")
        return (
            f"SELECT {select or ', '.join(self.select)} FROM {q(self.table)} AS t WHERE {where} "
            f"ORDER BY {self.reverse_order if reverse else self.order}"
        )

    def count_sql(self) -> str:
        return f"SELECT count(*) FROM {q(self.table)} AS t WHERE {self.where}"


# ----- the pager -----------------------------------------------------------------------------


class PostgresSamplePages:
    """Pages of a feature's current samples, and one sample's rows (SamplePages). Worker threads only."""

    def __init__(self, url: str, graph: FeatureGraph | None = None, *, page_size: int = PAGE_SIZE) -> None:
        self.url = url
        self.graph = graph if graph is not None else FeatureGraph()
        self.page_size = page_size
        self._lock = threading.Lock()
        self._conn: PgConnection | None = None
        self._generation = 0
        self._view: SampleView | None = None
        self._query: ViewQuery | None = None
        self._id_types: list[ColumnType | None] = []
        self._view_columns: dict[str, str] = {}  # the view's table's stored columns -> their types
        # keyset bounds of fetched pages of the current view: page -> (first ids, last ids)
        self._bounds: dict[int, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}

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

    # -- views
    def plan(self, feature: str) -> FeaturePlan:
        """The feature's plan, with the columns the store recorded from the data (not annotated)."""
        if feature not in self.graph:
            raise UnknownFeatureError(feature, self.graph.keys)
        with self._lock:
            recorded: dict[str, Any] = {}
            for key, col, t, nullable in self._run(
                "SELECT feature_key, column_name, type, nullable FROM _metaxy_columns ORDER BY seq"
            ):
                recorded.setdefault(key, {})[col] = ColumnType(t, bool(nullable), declared=False)
        return (
            frame_columns.overlay(self.graph, recorded).feature_plan(feature)
            if recorded.get(feature)
            else self.graph.feature_plan(feature)
        )

    def columns(self, feature: str) -> list[SampleColumn]:
        return feature_columns(self.plan(feature))

    @staticmethod
    def _table_order(definition: FeatureDefinition, present: dict[str, str]) -> list[str]:
        """The stored columns in table order, by their definition names (PostgreSQL shortens long ones)."""
        names = {ident(c): c for c in definition.columns}
        return [names.get(c, c) for c in present]

    def open_view(self, spec: ViewSpec, *, count: bool = True) -> SampleView:
        """Build the view `spec` asks for (see SQLiteSamplePages.open_view). Raises Interrupted when cancelled."""
        plan = self.plan(spec.feature)
        columns = tuple(feature_columns(plan))
        if spec.sort is not None and spec.sort not in [c.name for c in columns]:
            raise ValueError(f"{spec.feature} has no column {spec.sort!r}")
        ids = tuple(plan.definition.id_columns)
        with self._lock:
            self._generation += 1
            self._view = self._query = None
            self._bounds = {}
            self._id_types = [plan.definition.columns.get(c) for c in ids]
            self._execute(f"DROP TABLE IF EXISTS {VIEW_TABLE}")
            try:
                table, fv_id = table_location(self._connection(), spec.feature, plan.feature_version)
            except psycopg_module().Error as e:
                raise PageReadError(str(e).strip().splitlines()[0]) from e
            base: dict[str, Any] = dict(
                spec=spec,
                columns=columns,
                id_columns=ids,
                generation=self._generation,
                feature_version=plan.feature_version,
                page_size=self.page_size,
            )
            if table is None or fv_id is None:
                view = SampleView(count=0, table=table, fv_id=fv_id, note=self._empty_note(spec.feature, table), **base)
                self._view = view
                return view
            present = self._view_columns = self._present(table)
            columns = tuple(feature_columns(plan, self._table_order(plan.definition, present)))
            base["columns"] = columns
            fv_names = dict(
                self._run(
                    "SELECT id, feature_version FROM _metaxy_feature_versions WHERE feature_key = %s", (spec.feature,)
                )
            )
            query = ViewQuery.build(spec, columns, ids, table, fv_id, present)
            indexed = uses_index_order(spec, ids)
            n: int | None = None
            if not indexed:
                # positions number the view's rows 1, 2, ... in view order
                self._execute(
                    f"CREATE TEMP TABLE {VIEW_NAME} (pos bigint PRIMARY KEY, w bigint NOT NULL, r integer NOT NULL)"
                )
                n = self._execute(
                    f"INSERT INTO {VIEW_TABLE} (pos, w, r) SELECT row_number() OVER (ORDER BY {query.order}), "
                    f"t.{q(WRITE)}, t.{q(ROW)} FROM {q(table)} AS t WHERE {query.where}",
                    query.params,
                )
                self._execute(f"ANALYZE {VIEW_TABLE}")
            elif count:
                n = self._run(query.count_sql(), query.params)[0][0]
            view = SampleView(count=n, table=table, fv_id=fv_id, fv_names=fv_names, index_order=indexed, **base)
            if n == 0:
                view = replace(view, note=self._empty_note(spec.feature, table, spec.filter))
            self._view, self._query = view, query
            return view

    def _empty_note(self, feature: str, table: str | None, filter_text: str = "") -> str:
        if filter_text.strip():
            return f"no current sample matches '{filter_text.strip()}'"
        if table is None:
            return f"{feature} has no stored samples yet"
        other = self._run(f"SELECT count(*) FROM {q(table)} WHERE {q(SUPERSEDED)} IS NULL AND {q(DELETED_AT)} IS NULL")[
            0
        ][0]
        if other:
            return (
                f"no samples under the current feature version; {other:,} stored under earlier versions "
                "stay hidden until recomputed (every sample comes back as added)"
            )
        return f"{feature} has no current samples"

    def count(self, view: SampleView) -> SampleView:
        """The view with its row count (an index-order view opened with count=False)."""
        if view.count is not None:
            return view
        with self._lock:
            self._check(view)
            assert self._query is not None and view.table is not None
            n = self._run(self._query.count_sql(), self._query.params)[0][0]
            counted = replace(view, count=n)
            if n == 0:
                counted = replace(counted, note=self._empty_note(view.feature, view.table))
            self._view = counted
            return counted

    def _check(self, view: SampleView) -> None:
        if self._view is None or view.generation != self._generation:
            raise StaleView()

    # -- pages
    def page(self, view: SampleView, index: int) -> list[tuple[Any, ...]]:
        """Rows `index * page_size` onwards: tuples of (row handle, *column values)."""
        with self._lock:
            self._check(view)
            if view.table is None or self._query is None:
                return []
            start = index * self.page_size
            if view.index_order:
                return self._index_page(view, index, start)
            q_ = self._query
            return self._run(
                f"SELECT {', '.join(q_.select)} FROM {VIEW_TABLE} AS v "
                f"JOIN {q(view.table)} AS t ON t.{q(WRITE)} = v.w AND t.{q(ROW)} = v.r "
                "WHERE v.pos > %s AND v.pos <= %s ORDER BY v.pos",
                [start, start + self.page_size],
            )

    def _keys(self, view: SampleView) -> tuple[str, str]:
        """(the id columns as a row, a row of bound placeholders cast to their types)."""
        by_name = {c.name: c for c in view.columns}
        present = self._view_columns
        ids = ", ".join(sort_sql(by_name[c], present, "t") for c in view.id_columns)
        marks = ", ".join(cast(t) for t in self._id_types)
        return f"({ids})", f"({marks})"

    def _bound(self, values: Sequence[Any]) -> list[Any]:
        return [bind(v, t) for v, t in zip(values, self._id_types)]

    def _index_page(self, view: SampleView, index: int, start: int) -> list[tuple[Any, ...]]:
        q_ = self._query
        assert q_ is not None
        id_pos = [1 + i for i, c in enumerate(view.columns) if c.kind == "id"]
        ids, marks = self._keys(view)
        size = self.page_size
        after = max((k for k in self._bounds if k < index), default=None)
        before = min((k for k in self._bounds if k > index), default=None)
        costs = {"start": start}
        if view.count is not None:
            costs["end"] = max(view.count - start - size, 0)
        if after is not None:
            costs["after"] = (index - after - 1) * size
        if before is not None:
            costs["before"] = (before - index - 1) * size
        route = min(costs, key=costs.__getitem__)
        if route == "after":  # keyset: the rows after a page before this one
            assert after is not None
            op = "<" if q_.descending_ids else ">"
            rows = self._run(
                q_.sql(extra_where=f"{ids} {op} {marks}") + " LIMIT %s OFFSET %s",
                [*q_.params, *self._bound(self._bounds[after][1]), size, costs["after"]],
            )
        elif route == "before":  # keyset backwards: the rows before a page after this one
            assert before is not None
            op = ">" if q_.descending_ids else "<"
            rows = self._run(
                q_.sql(reverse=True, extra_where=f"{ids} {op} {marks}") + " LIMIT %s OFFSET %s",
                [*q_.params, *self._bound(self._bounds[before][0]), size, costs["before"]],
            )[::-1]
        elif route == "end":  # deep pages: OFFSET from the far end, walking the index backwards
            assert view.count is not None
            end = min(start + size, view.count)
            rows = self._run(
                q_.sql(reverse=True) + " LIMIT %s OFFSET %s", [*q_.params, max(end - start, 0), view.count - end]
            )[::-1]
        else:
            rows = self._run(q_.sql() + " LIMIT %s OFFSET %s", [*q_.params, size, start])
        if rows:
            if len(self._bounds) > 4096:
                self._bounds.clear()
            self._bounds[index] = (tuple(rows[0][p] for p in id_pos), tuple(rows[-1][p] for p in id_pos))
        return rows

    # -- finding rows
    def position_of(self, view: SampleView, ids: dict[str, Any]) -> int | None:
        """The position of the current sample with these id values in the view, or None."""
        with self._lock:
            self._check(view)
            if view.table is None or self._query is None:
                return None
            cols = view.id_columns
            missing = [c for c in cols if c not in ids]
            if missing:
                raise ValueError(f"missing id column {', '.join(missing)}")
            q_ = self._query
            key, marks = self._keys(view)
            values = self._bound([ids[c] for c in cols])
            found = self._run(
                f"SELECT t.{q(WRITE)}, t.{q(ROW)} FROM {q(view.table)} AS t WHERE {q_.where} AND {key} = {marks}",
                [*q_.params, *values],
            )
            if not found:
                return None
            return self._position_of_row(view, found[0][0], found[0][1], values)

    jump_to = position_of

    def position_of_rowid(self, view: SampleView, rowid: int) -> int | None:
        """Where the row with this handle is in the view (to keep the cursor on it across a re-sort)."""
        with self._lock:
            self._check(view)
            if view.table is None or self._query is None:
                return None
            q_ = self._query
            w, r = split_handle(rowid)
            key, _marks = self._keys(view)
            values = self._run(
                f"SELECT {key[1:-1]} FROM {q(view.table)} AS t WHERE t.{q(WRITE)} = %s "
                f"AND t.{q(ROW)} = %s AND {q_.where}",
                [w, r, *q_.params],
            )
            if not values:
                return None
            return self._position_of_row(view, w, r, self._bound(values[0]))

    def _position_of_row(self, view: SampleView, w: int, r: int, id_values: list[Any]) -> int | None:
        q_ = self._query
        assert q_ is not None
        if not view.index_order:
            hit = self._run(f"SELECT pos FROM {VIEW_TABLE} WHERE w = %s AND r = %s", [w, r])
            return hit[0][0] - 1 if hit else None
        key, marks = self._keys(view)
        op = ">" if q_.descending_ids else "<"
        before: int = self._run(f"{q_.count_sql()} AND {key} {op} {marks}", [*q_.params, *id_values])[0][0]
        return before

    # -- one sample (its detail) ---------------------------------------------------------------
    def _match(
        self, definition: FeatureDefinition, ids: dict[str, Any], present: dict[str, str]
    ) -> tuple[str, list[Any]]:
        parts, params = [], []
        for c, v in ids.items():
            t = definition.columns.get(c)
            parts.append(f"{column_expr(c, t, present, 't')} = {cast(t)}")
            params.append(bind(v, t))
        return " AND ".join(parts) or "true", params

    def _stored_select(self, definition: FeatureDefinition, present: dict[str, str]) -> tuple[list[str], list[str]]:
        """(names, expressions) of a table's columns but the bookkeeping, as SQLite holds the values."""
        names = {
            ident(c): c
            for c in [
                *definition.columns,
                *(pbf_column(f) for f in definition.field_keys),
                *(dvbf_column(f) for f in definition.field_keys),
            ]
        }
        out_names, exprs = [], []
        for pg_name, pg_type in present.items():
            if pg_name in BOOKKEEPING:
                continue
            out_names.append(names.get(pg_name, pg_name))
            exprs.append(stored_value_sql(f"t.{q(pg_name)}", _pg_type_name(pg_type)))
        return out_names, exprs

    def sample_row(self, plan: FeaturePlan, ids: dict[str, Any]) -> StoredRow | None:
        """The sample's latest row under the current feature version (a tombstone when
        soft-deleted); failing that its most recently written row of any version; None when no
        row of the ids was stored."""
        d = plan.definition
        with self._lock:
            table, fv_id = self._location(plan)
            if table is None:
                return None
            present = self._present(table)
            names, exprs = self._stored_select(d, present)
            match, params = self._match(d, ids, present)
            select = ", ".join([f"t.{q(FV)}", *exprs])
            fv_names = feature_version_names(self._connection(), plan.name)
            if fv_id is not None:
                rows = self._run(
                    f"SELECT {select} FROM {q(table)} AS t WHERE t.{q(FV)} = %s AND "
                    f"t.{q(SUPERSEDED)} IS NULL AND {match} ORDER BY t.{q(WRITE)}, t.{q(ROW)}",
                    [fv_id, *params],
                )
                if rows:
                    return StoredRow(dict(zip(names, rows[-1][1:])), fv_names.get(rows[-1][0]), True)
            rows = self._run(
                f"SELECT {select} FROM {q(table)} AS t WHERE {match} "
                f"ORDER BY t.{q(WRITE)} DESC, t.{q(ROW)} DESC LIMIT 1",
                params,
            )
        return StoredRow(dict(zip(names, rows[0][1:])), fv_names.get(rows[0][0]), False) if rows else None

    def _location(self, plan: FeaturePlan) -> tuple[str | None, int | None]:
        try:
            return table_location(self._connection(), plan.name, plan.feature_version)
        except psycopg_module().Error as e:
            raise PageReadError(str(e).strip().splitlines()[0]) from e

    def sample_history(self, plan: FeaturePlan, ids: dict[str, Any], limit: int) -> tuple[list[HistoryEntry], int]:
        """Every stored row of the ids, oldest first (the latest `limit` of them), and how many there are."""
        with self._lock:
            table, fv_id = self._location(plan)
            if table is None:
                return [], 0
            present = self._present(table)
            fv_names = feature_version_names(self._connection(), plan.name)
            match, params = self._match(plan.definition, ids, present)
            total = self._run(f"SELECT count(*) FROM {q(table)} AS t WHERE {match}", params)[0][0]
            rows = self._run(
                f"SELECT t.{q(WRITE)}, w.kind, w.at, t.{q(FV)}, t.{q(PROVENANCE)}, t.{q(DATA_VERSION)}, "
                f"t.{q(CREATED_AT)}, t.{q(UPDATED_AT)}, t.{q(DELETED_AT)}, t.{q(SUPERSEDED)}, "
                f"t.{q(MATERIALIZATION_ID)} FROM {q(table)} AS t "
                f"LEFT JOIN _metaxy_writes AS w ON w.id = t.{q(WRITE)} WHERE {match} "
                f"ORDER BY t.{q(WRITE)} DESC, t.{q(ROW)} DESC LIMIT %s",
                [*params, limit],
            )
        out = [
            HistoryEntry(
                write_id=r[0],
                kind=r[1] or "?",
                at=r[2],
                feature_version=fv_names.get(r[3], "?"),
                current_version=(r[3] == fv_id),
                provenance=r[4],
                data_version=r[5],
                created_at=r[6],
                updated_at=r[7],
                deleted_at=r[8],
                superseded_by=r[9],
                materialization_id=r[10],
            )
            for r in rows
        ]
        out.reverse()
        return out, total

    def linked_rows(
        self, plan: FeaturePlan, match: dict[str, Any], fields: Sequence[str], limit: int
    ) -> tuple[list[LinkedRow], int, str]:
        """Current rows of `plan`'s feature whose columns equal `match`, in id order (at most
        `limit`), how many match, and a note when none can."""
        d = plan.definition
        with self._lock:
            table, fv_id = self._location(plan)
            if table is None or fv_id is None:
                note = (
                    f"{plan.name} has no stored samples yet"
                    if table is None
                    else f"{plan.name} has no samples under its current feature version"
                )
                return [], 0, note
            present = self._present(table)
            if any(ident(c) not in present for c in match):
                return [], 0, f"{plan.name} has no column {', '.join(c for c in match if ident(c) not in present)}"
            cond, mparams = self._match(d, match, present)
            where = f"t.{q(FV)} = %s AND t.{q(SUPERSEDED)} IS NULL AND t.{q(DELETED_AT)} IS NULL AND {cond}"
            params = [fv_id, *mparams]
            total = self._run(f"SELECT count(*) FROM {q(table)} AS t WHERE {where}", params)[0][0]
            fields = [f for f in fields if ident(pbf_column(f)) in present]
            cols = [c for c in d.columns if ident(c) in present]

            def dv(f: str) -> str:  # the field's data version (its provenance when none was given)
                if ident(dvbf_column(f)) in present:
                    return f"coalesce(t.{q(dvbf_column(f))}, t.{q(pbf_column(f))})"
                return f"t.{q(pbf_column(f))}"

            select = (
                [stored_value_sql(column_expr(c, d.columns[c], present, "t"), d.columns[c].name) for c in cols]
                + [f"t.{q(PROVENANCE)}", f"coalesce(t.{q(DATA_VERSION)}, t.{q(PROVENANCE)})"]
                + [dv(f) for f in fields]
            )
            order = ", ".join(column_expr(c, d.columns[c], present, "t") for c in d.id_columns)
            rows = self._run(
                f"SELECT {', '.join(select)} FROM {q(table)} AS t WHERE {where} ORDER BY {order} LIMIT %s",
                [*params, limit],
            )
        n = len(cols)
        out = [LinkedRow(dict(zip(cols, r[:n])), r[n], r[n + 1], dict(zip(fields, r[n + 2 :]))) for r in rows]
        return out, total, "" if total else f"no current sample of {plan.name} matches"

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
                ViewQuery.build(spec, columns, definition.id_columns, table, fv_id, present)
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
