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
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ...columns import (
    CREATED_AT,
    DATA_VERSION,
    DELETED_AT,
    MATERIALIZATION_ID,
    PROVENANCE,
    UPDATED_AT,
    dvbf_column,
    pbf_column,
)
from ...definition import FeatureDefinition
from ...errors import UnknownFeatureError
from ...graph import FeatureGraph, FeaturePlan
from ...keys import quote
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
from . import frame_columns
from .resolve import latest_condition
from .schema import FV, SUPERSEDED, WRITE, readonly_uri, table_columns

VIEW_TABLE = "temp._mx_view"
BUSY_TIMEOUT_MS = 5000


# ----- connections ---------------------------------------------------------------------------


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to a store file, usable from any thread (callers serialise)."""
    conn = sqlite3.connect(readonly_uri(path), uri=True, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA cache_size = -16384")
    return conn


def table_location(conn: sqlite3.Connection, feature: str, feature_version: str) -> tuple[str | None, int | None]:
    """(table name, id of `feature_version`) or Nones when nothing was stored."""
    row = conn.execute("SELECT table_name FROM _metaxy_features WHERE feature_key = ?", (feature,)).fetchone()
    if row is None:
        return None, None
    fv = conn.execute(
        "SELECT id FROM _metaxy_feature_versions WHERE feature_key = ? AND feature_version = ?",
        (feature, feature_version),
    ).fetchone()
    return row[0], (fv[0] if fv else None)


def feature_version_names(conn: sqlite3.Connection, feature: str) -> dict[int, str]:
    """The feature's stored feature versions by id."""
    return dict(
        conn.execute(
            "SELECT id, feature_version FROM _metaxy_feature_versions WHERE feature_key = ?", (feature,)
        ).fetchall()
    )


# ----- columns in SQL -------------------------------------------------------------------------


def column_sql(column: SampleColumn, present: set[str], alias: str = "") -> str:
    """The column's value (NULL when its table lacks it; a data version falls back to the provenance)."""
    a = f"{alias}." if alias else ""
    if column.source not in present:
        return "NULL"
    if column.kind == "data_version":
        return f"coalesce({a}{quote(DATA_VERSION)}, {a}{quote(PROVENANCE)})"
    return f"{a}{quote(column.source)}"


def match_sql(column: SampleColumn, present: set[str], alias: str = "") -> str:
    """The text a filter matches: times as shown (UTC), everything else as stored."""
    if column.is_time and column.source in present:
        return f"strftime('%Y-%m-%d %H:%M:%S', {column_sql(column, present, alias)} / 1000000, 'unixepoch')"
    return column_sql(column, present, alias)


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass
class ViewQuery:
    """The SQL of a view: its select list, WHERE with parameters, and ORDER BY. Shared with export."""

    table: str
    select: list[str]  # "t.rowid" first, then one expression per column
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
        present: set[str],
    ) -> "ViewQuery":
        select = ["t.rowid"] + [column_sql(c, present, "t") for c in columns]
        where = latest_condition("t")  # current rows: one feature version (bound first), latest, not deleted
        params: list[Any] = [fv_id]
        text = spec.filter.strip()
        if text:
            searched, needle = filter_terms(columns, text)
            likes = [f"{match_sql(c, present, 't')} LIKE ? ESCAPE '\\'" for c in searched if c.source in present]
            if likes:
                where += " AND (" + " OR ".join(likes) + ")"
                params += [_like_pattern(needle)] * len(likes)
            else:
                where += " AND 0"
        ids = [f"t.{quote(c)}" for c in id_columns]
        asc = ", ".join(ids)
        desc = ", ".join(f"{i} DESC" for i in ids)
        descending = False
        if spec.sort is None or spec.sort == "feature version":  # one version per view: the id order
            order, reverse = asc, desc
        elif _is_id_prefix_sort(spec, id_columns):
            descending = spec.descending
            order, reverse = (desc, asc) if descending else (asc, desc)
        else:
            col = next(c for c in columns if c.name == spec.sort)
            expr = column_sql(col, present, "t")
            order = f"{expr} {'DESC' if spec.descending else 'ASC'}, {asc}"
            reverse = f"{expr} {'ASC' if spec.descending else 'DESC'}, {desc}"
        return cls(table, select, where, params, order, reverse, descending)

    def sql(self, *, select: str | None = None, reverse: bool = False, extra_where: str = "") -> str:
        """SELECT ... FROM the feature table (aliased t) WHERE ... ORDER BY ..., no LIMIT."""
        where = self.where + (f" AND {extra_where}" if extra_where else "")
        return (
            f"SELECT {select or ', '.join(self.select)} FROM {quote(self.table)} AS t WHERE {where} "
            f"ORDER BY {self.reverse_order if reverse else self.order}"
        )

    def count_sql(self) -> str:
        return f"SELECT count(*) FROM {quote(self.table)} AS t WHERE {self.where}"


# ----- the pager -----------------------------------------------------------------------------


class SQLiteSamplePages:
    """Pages of a feature's current samples, and one sample's rows (SamplePages). Worker threads only."""

    def __init__(self, path: str | Path, graph: FeatureGraph | None = None, *, page_size: int = PAGE_SIZE) -> None:
        self.path = str(path)
        self.graph = graph if graph is not None else FeatureGraph()
        self.page_size = page_size
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._generation = 0
        self._view: SampleView | None = None
        self._query: ViewQuery | None = None
        # keyset bounds of fetched pages of the current view: page -> (first ids, last ids)
        self._bounds: dict[int, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}

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

    # -- views
    def plan(self, feature: str) -> FeaturePlan:
        """The feature's plan, with the columns the store recorded from the data (not annotated)."""
        if feature not in self.graph:
            raise UnknownFeatureError(feature, self.graph.keys)
        with self._lock:
            conn = self._connection()
            try:
                recorded = frame_columns.read_all(conn) if frame_columns.exists(conn) else {}
            except sqlite3.OperationalError as e:
                if "interrupt" in str(e):
                    raise Interrupted() from None
                raise
        return (
            frame_columns.overlay(self.graph, recorded).feature_plan(feature)
            if recorded.get(feature)
            else self.graph.feature_plan(feature)
        )

    def columns(self, feature: str) -> list[SampleColumn]:
        return feature_columns(self.plan(feature))

    def open_view(self, spec: ViewSpec, *, count: bool = True) -> SampleView:
        """Build the view `spec` asks for. Index-order views count only when `count` is true
        (call `count` later to show the first page sooner); filtered or sorted views always
        know their count once built. Raises Interrupted when cancelled."""
        plan = self.plan(spec.feature)
        columns = tuple(feature_columns(plan))
        if spec.sort is not None and spec.sort not in [c.name for c in columns]:
            raise ValueError(f"{spec.feature} has no column {spec.sort!r}")
        ids = tuple(plan.definition.id_columns)
        with self._lock:
            self._generation += 1
            self._view = self._query = None
            self._bounds = {}
            conn = self._connection()
            try:
                conn.execute(f"DROP TABLE IF EXISTS {VIEW_TABLE}")
                table, fv_id = table_location(conn, spec.feature, plan.feature_version)
                base: dict[str, Any] = dict(
                    spec=spec,
                    columns=columns,
                    id_columns=ids,
                    generation=self._generation,
                    feature_version=plan.feature_version,
                    page_size=self.page_size,
                )
                if table is None or fv_id is None:
                    view = SampleView(
                        count=0, table=table, fv_id=fv_id, note=self._empty_note(conn, spec.feature, table), **base
                    )
                    self._view = view
                    return view
                stored = table_columns(conn, table)
                present = set(stored)
                columns = tuple(feature_columns(plan, stored))
                base["columns"] = columns
                fv_names = feature_version_names(conn, spec.feature)
                query = ViewQuery.build(spec, columns, ids, table, fv_id, present)
                indexed = uses_index_order(spec, ids)
                n: int | None = None
                if not indexed:
                    # positions are the TEMP table's rowids (1, 2, ... in insertion order)
                    conn.execute(f"CREATE TABLE {VIEW_TABLE} (pos INTEGER PRIMARY KEY, rid INTEGER NOT NULL)")
                    n = conn.execute(
                        f"INSERT INTO {VIEW_TABLE} (rid) {query.sql(select='t.rowid')}", query.params
                    ).rowcount
                elif count:
                    n = conn.execute(query.count_sql(), query.params).fetchone()[0]
                view = SampleView(count=n, table=table, fv_id=fv_id, fv_names=fv_names, index_order=indexed, **base)
                if n == 0:
                    view = replace(view, note=self._empty_note(conn, spec.feature, table, spec.filter))
                self._view, self._query = view, query
                return view
            except sqlite3.OperationalError as e:
                if "interrupt" in str(e):  # the half-built TEMP table goes with the next view
                    raise Interrupted() from None
                raise

    def _empty_note(self, conn: sqlite3.Connection, feature: str, table: str | None, filter_text: str = "") -> str:
        if filter_text.strip():
            return f"no current sample matches '{filter_text.strip()}'"
        if table is None:
            return f"{feature} has no stored samples yet"
        other = conn.execute(
            f"SELECT count(*) FROM {quote(table)} WHERE {quote(SUPERSEDED)} IS NULL AND {quote(DELETED_AT)} IS NULL"
        ).fetchone()[0]
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
                counted = replace(counted, note=self._empty_note(self._connection(), view.feature, view.table))
            self._view = counted
            return counted

    def _check(self, view: SampleView) -> None:
        if self._view is None or view.generation != self._generation:
            raise StaleView()

    def _run(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            return self._connection().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as e:
            if "interrupt" in str(e):
                raise Interrupted() from None
            raise PageReadError(str(e)) from e

    # -- pages
    def page(self, view: SampleView, index: int) -> list[tuple[Any, ...]]:
        """Rows `index * page_size` onwards: tuples of (rowid, *column values)."""
        with self._lock:
            self._check(view)
            if view.table is None or self._query is None:
                return []
            start = index * self.page_size
            if view.index_order:
                return self._index_page(view, index, start)
            q = self._query
            return self._run(
                f"SELECT {', '.join(q.select)} FROM {VIEW_TABLE} AS v "
                f"JOIN {quote(view.table)} AS t ON t.rowid = v.rid "
                "WHERE v.pos > ? AND v.pos <= ? ORDER BY v.pos",
                [start, start + self.page_size],
            )

    def _index_page(self, view: SampleView, index: int, start: int) -> list[tuple[Any, ...]]:
        q = self._query
        assert q is not None
        id_pos = [1 + i for i, c in enumerate(view.columns) if c.kind == "id"]
        ids = ", ".join(f"t.{quote(c)}" for c in view.id_columns)
        marks = ", ".join("?" * len(view.id_columns))
        size = self.page_size
        # the cheapest start: an end of the view, or the nearest page already fetched (its
        # first or last key, then an OFFSET as long as the gap): cost grows with the rows skipped
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
            op = "<" if q.descending_ids else ">"
            rows = self._run(
                q.sql(extra_where=f"({ids}) {op} ({marks})") + " LIMIT ? OFFSET ?",
                [*q.params, *self._bounds[after][1], size, costs["after"]],
            )
        elif route == "before":  # keyset backwards: the rows before a page after this one
            assert before is not None
            op = ">" if q.descending_ids else "<"
            rows = self._run(
                q.sql(reverse=True, extra_where=f"({ids}) {op} ({marks})") + " LIMIT ? OFFSET ?",
                [*q.params, *self._bounds[before][0], size, costs["before"]],
            )[::-1]
        elif route == "end":
            # deep pages: OFFSET from the far end, walking the index backwards
            assert view.count is not None
            end = min(start + size, view.count)
            rows = self._run(
                q.sql(reverse=True) + " LIMIT ? OFFSET ?", [*q.params, max(end - start, 0), view.count - end]
            )[::-1]
        else:
            rows = self._run(q.sql() + " LIMIT ? OFFSET ?", [*q.params, size, start])
        if rows:
            if len(self._bounds) > 4096:
                self._bounds.clear()
            self._bounds[index] = (tuple(rows[0][p] for p in id_pos), tuple(rows[-1][p] for p in id_pos))
        return rows

    # -- finding rows
    def position_of(self, view: SampleView, ids: dict[str, Any]) -> int | None:
        """The position of the current sample with these id values in the view, or None
        (no such current sample, or the filter leaves it out)."""
        with self._lock:
            self._check(view)
            if view.table is None or self._query is None:
                return None
            cols = view.id_columns
            missing = [c for c in cols if c not in ids]
            if missing:
                raise ValueError(f"missing id column {', '.join(missing)}")
            q = self._query
            match = " AND ".join(f"t.{quote(c)} = ?" for c in cols)
            values = [ids[c] for c in cols]
            found = self._run(
                f"SELECT t.rowid FROM {quote(view.table)} AS t WHERE {q.where} AND {match}", [*q.params, *values]
            )
            if not found:
                return None
            return self._position_of_rowid(view, found[0][0], values)

    jump_to = position_of  # the name the samples view's "go to id" uses

    def position_of_rowid(self, view: SampleView, rowid: int) -> int | None:
        """Where the row `rowid` is in the view (to keep the cursor on it across a re-sort)."""
        with self._lock:
            self._check(view)
            if view.table is None or self._query is None:
                return None
            q = self._query
            values = self._run(
                f"SELECT {', '.join(quote(c) for c in view.id_columns)} FROM "
                f"{quote(view.table)} AS t WHERE t.rowid = ? AND {q.where}",
                [rowid, *q.params],
            )
            if not values:
                return None
            return self._position_of_rowid(view, rowid, list(values[0]))

    def _position_of_rowid(self, view: SampleView, rowid: int, id_values: list[Any]) -> int | None:
        q = self._query
        assert q is not None
        if not view.index_order:
            hit = self._run(f"SELECT pos FROM {VIEW_TABLE} WHERE rid = ?", [rowid])
            return hit[0][0] - 1 if hit else None
        ids = ", ".join(f"t.{quote(c)}" for c in view.id_columns)
        op = ">" if q.descending_ids else "<"
        marks = ", ".join("?" * len(id_values))
        before: int = self._run(f"{q.count_sql()} AND ({ids}) {op} ({marks})", [*q.params, *id_values])[0][0]
        return before

    # -- one sample (its detail) ---------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self._lock:
            try:
                cur = self._connection().execute(sql, tuple(params))
                names = [c[0] for c in cur.description]
                return [dict(zip(names, r)) for r in cur.fetchall()]
            except sqlite3.OperationalError as e:
                if "interrupt" in str(e):
                    raise Interrupted() from None
                raise

    def _stored_row(self, feature: str, row: dict[str, Any], current: bool) -> StoredRow:
        with self._lock:
            names = feature_version_names(self._connection(), feature)
        columns = {c: v for c, v in row.items() if c not in ("_rowid", FV, WRITE, SUPERSEDED)}
        fv_id: int | None = row.get(FV)
        return StoredRow(columns, names.get(fv_id) if fv_id is not None else None, current)

    def sample_row(self, plan: FeaturePlan, ids: dict[str, Any]) -> StoredRow | None:
        """The sample's latest row under the current feature version (a tombstone when
        soft-deleted); failing that its most recently written row of any version; None when no
        row of the ids was stored."""
        with self._lock:
            table, fv_id = table_location(self._connection(), plan.name, plan.feature_version)
        if table is None:
            return None
        if fv_id is not None:
            rows = self._rows(
                f"SELECT t.rowid AS _rowid, * FROM {quote(table)} AS t WHERE t.{quote(FV)} = ? "
                f"AND t.{quote(SUPERSEDED)} IS NULL AND {_match(list(ids))}",
                (fv_id, *ids.values()),
            )
            if rows:
                return self._stored_row(plan.name, rows[-1], True)
        rows = self._rows(
            f"SELECT t.rowid AS _rowid, * FROM {quote(table)} AS t WHERE {_match(list(ids))} "
            f"ORDER BY t.{quote(WRITE)} DESC, t.rowid DESC LIMIT 1",
            tuple(ids.values()),
        )
        return self._stored_row(plan.name, rows[0], False) if rows else None

    def sample_history(self, plan: FeaturePlan, ids: dict[str, Any], limit: int) -> tuple[list[HistoryEntry], int]:
        """Every stored row of the ids, oldest first (the latest `limit` of them), and how many there are."""
        with self._lock:
            conn = self._connection()
            table, fv_id = table_location(conn, plan.name, plan.feature_version)
            if table is None:
                return [], 0
            fv_names = feature_version_names(conn, plan.name)
            match = _match(list(ids))
            total = conn.execute(
                f"SELECT count(*) FROM {quote(table)} AS t WHERE {match}", tuple(ids.values())
            ).fetchone()[0]
            cur = conn.execute(
                f"SELECT t.{quote(WRITE)}, w.kind, w.at, t.{quote(FV)}, t.{quote(PROVENANCE)}, t.{quote(DATA_VERSION)}, "
                f"t.{quote(CREATED_AT)}, t.{quote(UPDATED_AT)}, t.{quote(DELETED_AT)}, t.{quote(SUPERSEDED)}, "
                f"t.{quote(MATERIALIZATION_ID)} FROM {quote(table)} AS t "
                f"LEFT JOIN _metaxy_writes AS w ON w.id = t.{quote(WRITE)} WHERE {match} "
                f"ORDER BY t.{quote(WRITE)} DESC, t.rowid DESC LIMIT ?",
                (*ids.values(), limit),
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
                for r in cur.fetchall()
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
            conn = self._connection()
            table, fv_id = table_location(conn, plan.name, plan.feature_version)
            if table is None or fv_id is None:
                note = (
                    f"{plan.name} has no stored samples yet"
                    if table is None
                    else f"{plan.name} has no samples under its current feature version"
                )
                return [], 0, note
            present = set(table_columns(conn, table))
            if any(c not in present for c in match):
                return [], 0, f"{plan.name} has no column {', '.join(c for c in match if c not in present)}"
            where = f"{latest_condition('t')} AND {_match(list(match))}"
            params = (fv_id, *match.values())
            total = conn.execute(f"SELECT count(*) FROM {quote(table)} AS t WHERE {where}", params).fetchone()[0]
            fields = [f for f in fields if pbf_column(f) in present]
            cols = [c for c in d.columns if c in present]
            select = (
                [f"t.{quote(c)}" for c in cols]
                + [f"t.{quote(PROVENANCE)}", f"coalesce(t.{quote(DATA_VERSION)}, t.{quote(PROVENANCE)})"]
                + [f"coalesce(t.{quote(dvbf_column(f))}, t.{quote(pbf_column(f))})" for f in fields]
            )
            rows = conn.execute(
                f"SELECT {', '.join(select)} FROM {quote(table)} AS t WHERE {where} "
                f"ORDER BY {', '.join(f't.{quote(c)}' for c in d.id_columns)} LIMIT ?",
                (*params, limit),
            ).fetchall()
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
        batches of `batch_rows`; `interrupt()` stops them (Interrupted)."""
        with self._lock:
            try:
                conn = self._connection()
                table, fv_id = table_location(conn, definition.name, feature_version)
                stored = table_columns(conn, table) if table else []
                columns = feature_columns(definition, stored)
                fv_names = feature_version_names(conn, definition.name)
                query = (
                    ViewQuery.build(spec, columns, definition.id_columns, table, fv_id, set(stored))
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


def _match(columns: Sequence[str], alias: str = "t") -> str:
    return " AND ".join(f"{alias}.{quote(c)} = ?" for c in columns)
