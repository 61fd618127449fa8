"""Paging through a feature's current samples, straight from SQLite.

A `SamplePager` owns its own read-only connection to the store file, so a long resolve in
another thread never blocks the table. Every method runs SQL: call them from worker
threads only (a lock makes the connection safe to share between them).

A view is a feature plus an optional sort and text filter. The default order (the id
columns, ascending or descending) walks the latest-row index: pages come by keyset from a
neighbouring page already fetched (about 1 ms), else by OFFSET from the nearer end (about
50-250 ms deep into 1,000,000 rows). Any other order, or a filter, first stores the view's
rowids in a TEMP table in view order (its position is the table's INTEGER PRIMARY KEY), so
that every page after that is a rowid range; building it can be cancelled with
`interrupt()`.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..columns import (CREATED_AT, DATA_VERSION, DELETED_AT, PROVENANCE, UPDATED_AT, ColumnType,
                       pbf_column)
from ..definition import FeatureDefinition
from ..errors import UnknownFeatureError
from ..graph import FeatureGraph, FeaturePlan
from ..store import frame_columns
from ..keys import quote
from ..store.resolve import latest_condition
from ..store.schema import FV, SUPERSEDED, readonly_uri, table_columns

PAGE_SIZE = 200
VIEW_TABLE = "temp._mx_view"
BUSY_TIMEOUT_MS = 5000


class StaleView(Exception):
    """The view was replaced (another sort, filter or feature) while a request was queued."""


class Interrupted(Exception):
    """A long query was cancelled through `interrupt()`."""


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
    fv = conn.execute("SELECT id FROM _metaxy_feature_versions WHERE feature_key = ? AND feature_version = ?",
                      (feature, feature_version)).fetchone()
    return row[0], (fv[0] if fv else None)


def feature_version_names(conn: sqlite3.Connection, feature: str) -> dict[int, str]:
    """The feature's stored feature versions by id."""
    return dict(conn.execute("SELECT id, feature_version FROM _metaxy_feature_versions WHERE feature_key = ?",
                             (feature,)).fetchall())


# ----- columns -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SampleColumn:
    """One column of the samples table."""

    name: str  # header label, unique within the view
    kind: str  # id | user | provenance | field_provenance | data_version | feature_version | created | updated
    source: str  # the stored column (data_version: the provenance fallback is added in SQL)
    type: ColumnType | None = None  # user and id columns

    @property
    def searchable(self) -> bool:
        """Searched by a plain filter. Hashes are left out (a short number matches most of
        them); `provenance: text` still searches one of them."""
        return self.kind in ("id", "user") and not (self.type is not None and self.type.name == "bytes")

    @property
    def is_time(self) -> bool:
        return self.kind in ("created", "updated")

    def sql(self, present: set[str], alias: str = "") -> str:
        a = f"{alias}." if alias else ""
        if self.source not in present:
            return "NULL"
        if self.kind == "data_version":
            return f"coalesce({a}{quote(DATA_VERSION)}, {a}{quote(PROVENANCE)})"
        return f"{a}{quote(self.source)}"

    def match_sql(self, present: set[str], alias: str = "") -> str:
        """The text a filter matches: times as shown (UTC), everything else as stored."""
        if self.is_time and self.source in present:
            return f"strftime('%Y-%m-%d %H:%M:%S', {self.sql(present, alias)} / 1000000, 'unixepoch')"
        return self.sql(present, alias)


def feature_columns(feature: FeaturePlan | FeatureDefinition, table_order: Sequence[str] = ()) -> list[SampleColumn]:
    """Id columns, user columns, then provenance, each field's provenance, data version,
    feature version and the created/updated times.

    User columns follow `table_order` (the stored table's columns) when given: a graph
    read back from a store snapshot lists them alphabetically, the table as declared.
    """
    d = feature.definition if isinstance(feature, FeaturePlan) else feature
    cols = [SampleColumn(c, "id", c, d.columns[c]) for c in d.id_columns]
    rank = {c: i for i, c in enumerate(table_order)}
    user = sorted(d.user_columns, key=lambda c: rank.get(c, len(rank)))
    cols += [SampleColumn(c, "user", c, d.columns[c]) for c in user]
    cols.append(SampleColumn("provenance", "provenance", PROVENANCE))
    cols += [SampleColumn(f"provenance.{f}", "field_provenance", pbf_column(f)) for f in d.field_keys]
    cols.append(SampleColumn("data version", "data_version", PROVENANCE))
    cols.append(SampleColumn("feature version", "feature_version", FV))
    cols.append(SampleColumn("created", "created", CREATED_AT))
    cols.append(SampleColumn("updated", "updated", UPDATED_AT))
    return cols


# ----- formatting (shared by the table, the detail screen and CSV export) ---------------------

def format_time(us: int | None) -> str:
    if us is None:
        return ""
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def iso_time(us: int | None) -> str:
    if us is None:
        return ""
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def format_value(value: Any, ctype: ColumnType | None = None) -> str:
    """A stored value as the UI shows it (None: the empty string)."""
    if value is None:
        return ""
    name = ctype.name if ctype is not None else None
    if name == "bool":
        return "true" if value else "false"
    if name == "datetime" and isinstance(value, str):
        return value.replace("T", " ").removesuffix(".000000")
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_ids(ids: dict[str, Any]) -> str:
    return " · ".join(f"{k}={format_value(v)}" for k, v in ids.items())


# ----- views ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ViewSpec:
    """What the user asked to see: a feature, a sort and a text filter."""

    feature: str
    sort: str | None = None  # a column name
    descending: bool = False
    filter: str = ""

    def describe(self) -> str:
        parts = []
        if self.sort is not None:
            parts.append(f"sorted by {self.sort} {'descending' if self.descending else 'ascending'}")
        if self.filter:
            parts.append(f"filter '{self.filter}'")
        return " · ".join(parts)


@dataclass(frozen=True)
class SampleView:
    """A built view: the rows `spec` selects, in its order. Positions count from 0."""

    spec: ViewSpec
    columns: tuple[SampleColumn, ...]
    id_columns: tuple[str, ...]
    generation: int
    count: int | None  # None while it is being counted
    table: str | None
    fv_id: int | None
    feature_version: str
    fv_names: dict[int, str] = field(default_factory=dict, compare=False)
    index_order: bool = True  # pages walk the latest-row index (no TEMP table)
    note: str = ""  # why the view is empty, when it is
    page_size: int = PAGE_SIZE

    @property
    def feature(self) -> str:
        return self.spec.feature

    @property
    def pages(self) -> int:
        return 0 if not self.count else (self.count + self.page_size - 1) // self.page_size

    def column_index(self, name: str) -> int:
        for i, c in enumerate(self.columns):
            if c.name == name:
                return i
        raise KeyError(name)

    def ids_of(self, row: Sequence[Any]) -> dict[str, Any]:
        """The id values of a row from `SamplePager.page` (its first element is the rowid)."""
        return {c.name: row[1 + i] for i, c in enumerate(self.columns) if c.kind == "id"}

    def cell_text(self, row: Sequence[Any], index: int) -> str:
        c = self.columns[index]
        value = row[1 + index]
        if c.kind == "feature_version":
            version = self.fv_names.get(value, "")
            return version[:8]
        if c.is_time:
            return format_time(value)
        return format_value(value, c.type)

    def copy_text(self, row: Sequence[Any], index: int) -> str:
        """A cell's full value (the table shortens versions and long values)."""
        c = self.columns[index]
        value = row[1 + index]
        if c.kind == "feature_version":
            return self.fv_names.get(value, "")
        if c.is_time:
            return iso_time(value)
        return format_value(value, c.type)


_COLUMN_FILTER = re.compile(r"^\s*([A-Za-z_][\w. ]*?)\s*:\s*(.*)$")


def filter_terms(columns: Sequence[SampleColumn], text: str) -> tuple[list[SampleColumn], str]:
    """`text` searches every searchable column; `column: text` searches one column."""
    m = _COLUMN_FILTER.match(text)
    if m:
        named = [c for c in columns if c.name == m.group(1).strip()]
        if named:
            return named, m.group(2)
    return [c for c in columns if c.searchable], text


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
    def build(cls, spec: ViewSpec, columns: Sequence[SampleColumn], id_columns: Sequence[str], table: str,
              fv_id: int, present: set[str]) -> "ViewQuery":
        select = ["t.rowid"] + [c.sql(present, "t") for c in columns]
        where = latest_condition("t")  # current rows: one feature version (bound first), latest, not deleted
        params: list[Any] = [fv_id]
        text = spec.filter.strip()
        if text:
            searched, needle = filter_terms(columns, text)
            likes = [f"{c.match_sql(present, 't')} LIKE ? ESCAPE '\\'" for c in searched if c.source in present]
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
            expr = col.sql(present, "t")
            order = f"{expr} {'DESC' if spec.descending else 'ASC'}, {asc}"
            reverse = f"{expr} {'ASC' if spec.descending else 'DESC'}, {desc}"
        return cls(table, select, where, params, order, reverse, descending)

    def sql(self, *, select: str | None = None, reverse: bool = False, extra_where: str = "") -> str:
        """SELECT ... FROM the feature table (aliased t) WHERE ... ORDER BY ..., no LIMIT."""
        where = self.where + (f" AND {extra_where}" if extra_where else "")
        return (f"SELECT {select or ', '.join(self.select)} FROM {quote(self.table)} AS t WHERE {where} "
                f"ORDER BY {self.reverse_order if reverse else self.order}")

    def count_sql(self) -> str:
        return f"SELECT count(*) FROM {quote(self.table)} AS t WHERE {self.where}"


def _is_id_prefix_sort(spec: ViewSpec, id_columns: Sequence[str]) -> bool:
    return spec.sort is not None and len(id_columns) > 0 and spec.sort == id_columns[0]


def uses_index_order(spec: ViewSpec, id_columns: Sequence[str]) -> bool:
    """Whether pages can walk the latest-row index instead of a TEMP table."""
    return not spec.filter.strip() and (spec.sort is None or _is_id_prefix_sort(spec, id_columns)
                                        or spec.sort == "feature version")


# ----- the pager -----------------------------------------------------------------------------

class SamplePager:
    """Pages of a feature's current samples. Worker threads only."""

    def __init__(self, path: str | Path, graph: FeatureGraph, *, page_size: int = PAGE_SIZE) -> None:
        self.path = str(path)
        self.graph = graph
        self.page_size = page_size
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._generation = 0
        self._view: SampleView | None = None
        self._query: ViewQuery | None = None
        # keyset bounds of fetched pages of the current view: page -> (first ids, last ids)
        self._bounds: dict[int, tuple[tuple, tuple]] = {}

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
        return frame_columns.overlay(self.graph, recorded).feature_plan(feature) if recorded.get(feature) \
            else self.graph.feature_plan(feature)

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
                base = dict(spec=spec, columns=columns, id_columns=ids, generation=self._generation,
                            feature_version=plan.feature_version, page_size=self.page_size)
                if table is None or fv_id is None:
                    view = SampleView(count=0, table=table, fv_id=fv_id,
                                      note=self._empty_note(conn, spec.feature, table), **base)
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
                    n = conn.execute(f"INSERT INTO {VIEW_TABLE} (rid) {query.sql(select='t.rowid')}",
                                     query.params).rowcount
                elif count:
                    n = conn.execute(query.count_sql(), query.params).fetchone()[0]
                view = SampleView(count=n, table=table, fv_id=fv_id, fv_names=fv_names, index_order=indexed,
                                  **base)
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
        other = conn.execute(f"SELECT count(*) FROM {quote(table)} WHERE {quote(SUPERSEDED)} IS NULL "
                             f"AND {quote(DELETED_AT)} IS NULL").fetchone()[0]
        if other:
            return (f"no samples under the current feature version; {other:,} stored under earlier versions "
                    "stay hidden until recomputed (every sample comes back as added)")
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

    def _run(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        try:
            return self._connection().execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as e:
            if "interrupt" in str(e):
                raise Interrupted() from None
            raise

    # -- pages
    def page(self, view: SampleView, index: int) -> list[tuple]:
        """Rows `index * page_size` onwards: tuples of (rowid, *column values)."""
        with self._lock:
            self._check(view)
            if view.table is None or self._query is None:
                return []
            start = index * self.page_size
            if view.index_order:
                return self._index_page(view, index, start)
            q = self._query
            return self._run(f"SELECT {', '.join(q.select)} FROM {VIEW_TABLE} AS v "
                             f"JOIN {quote(view.table)} AS t ON t.rowid = v.rid "
                             "WHERE v.pos > ? AND v.pos <= ? ORDER BY v.pos", [start, start + self.page_size])

    def _index_page(self, view: SampleView, index: int, start: int) -> list[tuple]:
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
        route = min(costs, key=costs.get)
        if route == "after":  # keyset: the rows after a page before this one
            op = "<" if q.descending_ids else ">"
            rows = self._run(q.sql(extra_where=f"({ids}) {op} ({marks})") + " LIMIT ? OFFSET ?",
                             [*q.params, *self._bounds[after][1], size, costs["after"]])
        elif route == "before":  # keyset backwards: the rows before a page after this one
            op = ">" if q.descending_ids else "<"
            rows = self._run(q.sql(reverse=True, extra_where=f"({ids}) {op} ({marks})") + " LIMIT ? OFFSET ?",
                             [*q.params, *self._bounds[before][0], size, costs["before"]])[::-1]
        elif route == "end":
            # deep pages: OFFSET from the far end, walking the index backwards
            end = min(start + size, view.count)
            rows = self._run(q.sql(reverse=True) + " LIMIT ? OFFSET ?",
                             [*q.params, max(end - start, 0), view.count - end])[::-1]
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
            found = self._run(f"SELECT t.rowid FROM {quote(view.table)} AS t WHERE {q.where} AND {match}",
                              [*q.params, *values])
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
            values = self._run(f"SELECT {', '.join(quote(c) for c in view.id_columns)} FROM "
                               f"{quote(view.table)} AS t WHERE t.rowid = ? AND {q.where}", [rowid, *q.params])
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
        return self._run(f"{q.count_sql()} AND ({ids}) {op} ({marks})", [*q.params, *id_values])[0][0]


def parse_ids(plan: FeaturePlan, text: str) -> dict[str, Any]:
    """Id values typed by the user: `v1, v2` in id-column order, or `col=v, col2=v2`.

    Values are converted to the id columns' types; raises ValueError with a message to show.
    """
    cols = list(plan.definition.id_columns)
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    if not parts:
        raise ValueError(f"type {'the ' + cols[0] if len(cols) == 1 else ', '.join(cols)} to jump to")
    named: dict[str, str] = {}
    if all("=" in p for p in parts):
        for p in parts:
            k, v = (s.strip() for s in p.split("=", 1))
            if k not in cols:
                raise ValueError(f"{k!r} is not an id column of {plan.name} ({', '.join(cols)})")
            named[k] = v
    elif len(parts) == len(cols):
        named = dict(zip(cols, parts))
    else:
        raise ValueError(f"{plan.name} has {len(cols)} id column{'s' if len(cols) > 1 else ''} "
                         f"({', '.join(cols)}): give {len(cols)} value{'s' if len(cols) > 1 else ''}, "
                         "separated by commas, or name them (col=value)")
    missing = [c for c in cols if c not in named]
    if missing:
        raise ValueError(f"missing a value for {', '.join(missing)}")
    out: dict[str, Any] = {}
    for c in cols:
        t = plan.definition.columns[c]
        v = named[c]
        try:
            if t.name == "int":
                out[c] = int(v)
            elif t.name == "float":
                out[c] = float(v)
            elif t.name == "bool":
                out[c] = 1 if v.lower() in ("1", "true", "yes") else 0
            elif t.name == "datetime":
                out[c] = dt.datetime.fromisoformat(v).strftime("%Y-%m-%dT%H:%M:%S.%f")
            else:
                out[c] = v
        except ValueError:
            raise ValueError(f"{c} is {t.name}: {v!r} is not one") from None
    return out
