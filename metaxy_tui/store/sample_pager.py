"""The dialect-free half of the SQL sample pagers (`SamplePages`, store/interface.py): the current
view and its generation (a request for a replaced view raises StaleView), the steps that build
a view and count it, the pages of a view, and a row's position in it.

A view in the default order (the id columns, ascending or descending) walks the latest-row
index: a page comes by keyset from a neighbouring page already fetched, else by OFFSET from the
nearer end. Any other order, or a filter, first numbers the view's rows in a TEMP table, so
that every page after that is a range of positions. The dialects (store/sqlite/pages.py,
store/postgres/pages.py) hold the connection and supply the SQL through the hooks below.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, ClassVar

from ..graph import FeatureGraph, FeaturePlan
from ..errors import UnknownFeatureError
from .pages import SampleColumn, SampleView, StaleView, ViewSpec, feature_columns, uses_index_order
from .sqlite import frame_columns  # the recorded columns' overlay, store-neutral
from .view_query import ViewQuery


class SQLSamplePages(ABC):
    """Pages of a feature's current samples over SQL (SamplePages), less the dialect. Worker threads only."""

    LIMIT_OFFSET: ClassVar[str]  # " LIMIT <placeholder> OFFSET <placeholder>"
    NUMBERED_POSITION_SQL: ClassVar[str]  # a row's position (from 1) in the TEMP table, by its row key

    def __init__(self, graph: FeatureGraph | None, page_size: int) -> None:
        self.graph = graph if graph is not None else FeatureGraph()
        self.page_size = page_size
        self._lock = threading.Lock()
        self._generation = 0
        self._view: SampleView | None = None
        self._query: ViewQuery | None = None
        # keyset bounds of fetched pages of the current view: page -> (first ids, last ids)
        self._bounds: dict[int, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}

    # -- what a dialect supplies (the caller holds the lock)
    @abstractmethod
    def _run(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows of a statement; Interrupted when cancelled, PageReadError when it fails."""

    @abstractmethod
    def _recorded_columns(self) -> frame_columns.Recorded:
        """The columns the store recorded from the data (store/sqlite/frame_columns.py)."""

    @abstractmethod
    def _start_view(self, plan: FeaturePlan) -> None:
        """Forget the last view's numbered rows (its TEMP table); note what the new view needs."""

    @abstractmethod
    def _view_errors(self) -> AbstractContextManager[None]:
        """Around building a view: the dialect's errors as the pages raise them."""

    @abstractmethod
    def _location(self, feature: str, feature_version: str) -> tuple[str | None, int | None]:
        """(table name, id of `feature_version`) or Nones when nothing was stored."""

    @abstractmethod
    def _view_query(
        self, spec: ViewSpec, plan: FeaturePlan, ids: tuple[str, ...], table: str, fv_id: int
    ) -> tuple[tuple[SampleColumn, ...], ViewQuery]:
        """The view's columns (user columns in the stored table's order) and its SQL."""

    @abstractmethod
    def _fv_names(self, feature: str) -> dict[int, str]:
        """The feature's stored feature versions by id."""

    @abstractmethod
    def _number_view(self, query: ViewQuery, table: str) -> int:
        """Number the view's rows 1, 2, ... in view order in the TEMP table; how many there are."""

    @abstractmethod
    def _count_view(self, query: ViewQuery) -> int:
        """The view's row count, while the view is built."""

    @abstractmethod
    def _stored_current(self, table: str) -> int:
        """How many rows of the table are current under any feature version."""

    @abstractmethod
    def _numbered_page_sql(self, query: ViewQuery, table: str) -> str:
        """The rows at positions above one bound and up to another (two placeholders), from the TEMP table."""

    @abstractmethod
    def _keys(self, view: SampleView) -> tuple[str, str]:
        """(the id columns as a row, a row of placeholders for their values)."""

    @abstractmethod
    def _find_row(self, view: SampleView, query: ViewQuery, id_values: list[Any]) -> list[Any] | None:
        """The row key of the view's row with these (bound) id values, or None."""

    @abstractmethod
    def _row_key(self, handle: int) -> list[Any]:
        """A row handle's row key: the values NUMBERED_POSITION_SQL and `_ids_of_row_sql` bind."""

    @abstractmethod
    def _ids_of_row_sql(self, view: SampleView, query: ViewQuery) -> str:
        """The id values of the view's row with a row key (its placeholders first, then the view's)."""

    def _bind_ids(self, values: Sequence[Any]) -> list[Any]:
        """Id values ready to bind (as they are, unless a dialect says otherwise)."""
        return list(values)

    # -- views
    def plan(self, feature: str) -> FeaturePlan:
        """The feature's plan, with the columns the store recorded from the data (not annotated)."""
        if feature not in self.graph:
            raise UnknownFeatureError(feature, self.graph.keys)
        with self._lock:
            recorded = self._recorded_columns()
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
            with self._view_errors():
                self._start_view(plan)
                table, fv_id = self._location(spec.feature, plan.feature_version)
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
                        count=0, table=table, fv_id=fv_id, note=self._empty_note(spec.feature, table), **base
                    )
                    self._view = view
                    return view
                columns, query = self._view_query(spec, plan, ids, table, fv_id)
                base["columns"] = columns
                fv_names = self._fv_names(spec.feature)
                indexed = uses_index_order(spec, ids)
                n: int | None = None
                if not indexed:
                    n = self._number_view(query, table)
                elif count:
                    n = self._count_view(query)
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
        other = self._stored_current(table)
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
            return self._run(self._numbered_page_sql(self._query, view.table), [start, start + self.page_size])

    def _index_page(self, view: SampleView, index: int, start: int) -> list[tuple[Any, ...]]:
        q = self._query
        assert q is not None
        id_pos = [1 + i for i, c in enumerate(view.columns) if c.kind == "id"]
        ids, marks = self._keys(view)
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
                q.sql(extra_where=f"{ids} {op} {marks}") + self.LIMIT_OFFSET,
                [*q.params, *self._bind_ids(self._bounds[after][1]), size, costs["after"]],
            )
        elif route == "before":  # keyset backwards: the rows before a page after this one
            assert before is not None
            op = ">" if q.descending_ids else "<"
            rows = self._run(
                q.sql(reverse=True, extra_where=f"{ids} {op} {marks}") + self.LIMIT_OFFSET,
                [*q.params, *self._bind_ids(self._bounds[before][0]), size, costs["before"]],
            )[::-1]
        elif route == "end":  # deep pages: OFFSET from the far end, walking the index backwards
            assert view.count is not None
            end = min(start + size, view.count)
            rows = self._run(
                q.sql(reverse=True) + self.LIMIT_OFFSET, [*q.params, max(end - start, 0), view.count - end]
            )[::-1]
        else:
            rows = self._run(q.sql() + self.LIMIT_OFFSET, [*q.params, size, start])
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
            values = self._bind_ids([ids[c] for c in cols])
            row_key = self._find_row(view, self._query, values)
            if row_key is None:
                return None
            return self._position(view, row_key, values)

    jump_to = position_of  # the name the samples view's "go to id" uses

    def position_of_rowid(self, view: SampleView, rowid: int) -> int | None:
        """Where the row with this handle is in the view (to keep the cursor on it across a re-sort)."""
        with self._lock:
            self._check(view)
            if view.table is None or self._query is None:
                return None
            q = self._query
            row_key = self._row_key(rowid)
            values = self._run(self._ids_of_row_sql(view, q), [*row_key, *q.params])
            if not values:
                return None
            return self._position(view, row_key, self._bind_ids(values[0]))

    def _position(self, view: SampleView, row_key: list[Any], id_values: list[Any]) -> int | None:
        q = self._query
        assert q is not None
        if not view.index_order:
            hit = self._run(self.NUMBERED_POSITION_SQL, row_key)
            return hit[0][0] - 1 if hit else None
        key, marks = self._keys(view)
        op = ">" if q.descending_ids else "<"
        before: int = self._run(f"{q.count_sql()} AND {key} {op} {marks}", [*q.params, *id_values])[0][0]
        return before
