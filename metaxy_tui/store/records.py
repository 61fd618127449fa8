"""What stores return besides frames: one stored sample, a page of them, and the column names
of the frames the history reads give (store/interface.py: `HistoryReads`).

Store-neutral: every implementation returns these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import Any

# columns of the frames HistoryReads returns (besides the features' own columns)
FV_ID = "_mx_fv"  # the store's id of the row's feature version (`feature_version_id`)
WRITE_ID = "_mx_write"  # the id of the write that stored the row (ids grow with every write)
AS_OF = "__as_of"  # the last write id the row's upstream was read at (what it was computed from)
THEN_WRITE, THEN_UNTIL = "__written", "__until"  # an upstream row's write, and the one that replaced it


@dataclass(frozen=True)
class StoredSample:
    """One stored row of a sample, as lookups return it."""

    feature: str
    ids: dict[str, Any]  # id column -> value
    values: dict[str, Any]  # every other column of the feature's definition -> value
    provenance: str | None
    data_version: str | None  # the row's data version (its provenance when none was given)
    provenance_by_field: dict[str, str | None]
    data_version_by_field: dict[str, str | None]  # per field (its provenance when none was given)
    feature_version: str | None
    current_version: bool  # stored under the feature's current feature version
    deleted: bool  # a soft-delete tombstone (the sample is hidden)
    write_id: int | None
    updated_at: int | None  # µs since the epoch, UTC

    @property
    def row(self) -> dict[str, Any]:
        """Ids and values together: what lineage matches on."""
        return {**self.ids, **self.values}


@dataclass(frozen=True)
class SamplePage:
    """A page of live samples in id order, and how many match in all."""

    samples: list[StoredSample] = field(default_factory=list)
    total: int = 0
    note: str = ""  # why nothing can match (the feature was never written, ...)
    more: bool = False  # samples follow this page

    @property
    def after(self) -> dict[str, Any] | None:
        """The keyset cursor of the next page (None when this page holds the rest)."""
        return dict(self.samples[-1].ids) if self.samples and self.more else None


@dataclass(frozen=True)
class StoredRow:
    """One stored row of a sample as its table holds it (a sample's detail shows it whole)."""

    columns: dict[str, Any]  # every stored column but the store's own bookkeeping, in table order
    feature_version: str | None  # the feature version it was stored under
    current_version: bool  # the latest row under the feature's current version (else: its last row of any)


@dataclass
class HistoryEntry:
    """One stored row of a sample, oldest first."""

    write_id: int | None
    kind: str  # write | soft_delete | hard_delete | ?
    at: int | None  # the write's time, µs UTC
    feature_version: str
    current_version: bool
    provenance: str | None
    data_version: str | None  # None: the same as the provenance
    created_at: int | None
    updated_at: int | None
    deleted_at: int | None
    superseded_by: int | None
    materialization_id: str | None

    @property
    def state(self) -> str:
        if self.deleted_at is not None:
            return "deleted" if self.superseded_by is None else "deleted, then written again"
        if self.superseded_by is not None:
            return f"superseded by write {self.superseded_by}"
        return "latest" if self.current_version else "latest under an earlier version"


@dataclass(frozen=True)
class LinkedRow:
    """A current row linked to a sample (upstream or downstream of it), with what flows along the link."""

    values: dict[str, Any]  # the feature's columns (ids included) the table holds
    provenance: str | None
    data_version: str | None  # its data version (the provenance when none was given)
    data_version_by_field: dict[str, str | None]


@dataclass
class ExportRows:
    """A view's rows for export: its columns, the feature versions by id, the count, the batches."""

    columns: list[Any]  # SampleColumns
    fv_names: dict[int, str]
    total: int
    batches: Iterator[list[tuple[Any, ...]]]


__all__ = [
    "StoredRow",
    "HistoryEntry",
    "LinkedRow",
    "ExportRows",
    "StoredSample",
    "SamplePage",
    "FV_ID",
    "WRITE_ID",
    "AS_OF",
    "THEN_WRITE",
    "THEN_UNTIL",
]
