"""Pages of a feature's current samples: the views the samples table shows, store-neutral.

A store gives a `SamplePages` (store/interface.py) through `store.sample_pages(graph)`: it
builds a `SampleView` (a feature, a sort, a text filter) and serves its rows a page at a time,
finds a sample's position in it, reads one sample's rows and links for its detail, and streams
a view for export. Rows are tuples `(row handle, *one value per column)`; values are as the
store holds them, and `SampleView.cell_text` shows them.

What a view means does not depend on the store: the columns (`feature_columns`), what a filter
searches (`filter_terms`: every searchable column, or `column: text` one of them, matching as
the cell shows it), and the order (the sort column, then the id columns; the id columns alone
by default). The implementations are store/sqlite/pages.py and store/postgres/pages.py, on
the half they share, store/sample_pager.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..columns import CREATED_AT, PROVENANCE, UPDATED_AT, ColumnType, pbf_column
from ..definition import FeatureDefinition
from ..errors import StoreError
from ..graph import FeaturePlan
from ..values import format_time, format_value, iso_time
from .records import FV_ID

PAGE_SIZE = 200
STORED_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.6f"  # how rows carry datetime values (ISO text, as SQLite holds them)


class StaleView(Exception):
    """The view was replaced (another sort, filter or feature) while a request was queued."""


class Interrupted(Exception):
    """A long query was cancelled through `interrupt()`."""


class PageReadError(StoreError):
    """A page, count or lookup failed in the store (its message is the store's)."""


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
    cols.append(SampleColumn("feature version", "feature_version", FV_ID))
    cols.append(SampleColumn("created", "created", CREATED_AT))
    cols.append(SampleColumn("updated", "updated", UPDATED_AT))
    return cols


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


def _is_id_prefix_sort(spec: ViewSpec, id_columns: Sequence[str]) -> bool:
    return spec.sort is not None and len(id_columns) > 0 and spec.sort == id_columns[0]


def uses_index_order(spec: ViewSpec, id_columns: Sequence[str]) -> bool:
    """Whether pages can walk the latest-row index instead of a TEMP table."""
    return not spec.filter.strip() and (
        spec.sort is None or _is_id_prefix_sort(spec, id_columns) or spec.sort == "feature version"
    )
