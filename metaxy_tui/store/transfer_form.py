"""The store-neutral form a store's content travels in when it is copied (`metaxy-tui copy`):
what each store's exporter gives (store/sqlite/transfer.py, store/postgres/transfer.py) and
each store's loader takes; store/transfer.py is the copy between them.

The system tables travel as plain rows (`Content`: snapshots, feature versions, features,
recorded columns, the writes log, the audit log and its ids) in the column orders below; each
feature table's rows, every version of every sample (superseded rows and tombstones included),
as ordered polars batches of `BATCH_ROWS` rows of `neutral_schema`: the user columns in their
polars types, the provenance and data version columns, `metaxy_created_at`/`updated_at`/
`deleted_at` (microseconds), and FV (the source's feature version id), WRITE (its write id) and
SUPERSEDED (the write that replaced the row, or null), in the order the rows were written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from ..columns import (
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
from ..definition import FeatureDefinition
from ..hashing import HashAlgorithm, Hasher
from .records import FV_ID, WRITE_ID

BATCH_ROWS = 50_000
FV = FV_ID
WRITE = WRITE_ID
SUPERSEDED = "_mx_superseded"

SNAPSHOT_COLUMNS = ("id", "project_version", "project", "recorded_at", "graph")
FEATURE_VERSION_COLUMNS = ("id", "feature_key", "feature_version", "snapshot_id")
FEATURE_COLUMNS = ("feature_key", "table_name", "created_at")
RECORDED_COLUMNS = ("feature_key", "column_name", "type", "nullable", "added_at")
WRITE_COLUMNS = (
    "id",
    "feature_key",
    "kind",
    "feature_version_id",
    "snapshot_id",
    "at",
    "n_rows",
    "materialization_id",
    "inputs_as_of",
)
AUDIT_COLUMNS = (
    "id",
    "at",
    "user",
    "action",
    "feature_key",
    "feature_version",
    "n_samples",
    "duration_s",
    "outcome",
    "detail",
    "executor",
)
AUDIT_ID_COLUMNS = ("audit_id", "ids")

Progress = Callable[[str, int, int], None]  # (what, done, total); raising cancels the copy


@dataclass
class Content:
    """A store's system tables, as rows in the column orders above (oldest first)."""

    hash_algorithm: str
    hash_truncation: int | None
    snapshots: list[tuple[Any, ...]] = field(default_factory=list)
    feature_versions: list[tuple[Any, ...]] = field(default_factory=list)
    features: list[tuple[Any, ...]] = field(default_factory=list)
    columns: list[tuple[Any, ...]] = field(default_factory=list)
    writes: list[tuple[Any, ...]] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)
    audit_ids: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def hasher(self) -> Hasher:
        return Hasher(HashAlgorithm.parse(self.hash_algorithm), self.hash_truncation)

    @property
    def empty(self) -> bool:
        return not (self.snapshots or self.features or self.writes or self.audit)


@dataclass
class CopySummary:
    source: str
    target: str
    features: int = 0
    rows: int = 0
    writes: int = 0
    snapshots: int = 0
    audit_entries: int = 0
    seconds: float = 0.0
    merged: bool = False
    write_offset: int = 0

    def text(self) -> str:
        how = "merged into" if self.merged else "copied to"
        return (
            f"{self.source} {how} {self.target}: {self.features} features, {self.rows:,} rows, "
            f"{self.writes} writes, {self.snapshots} snapshots, {self.audit_entries} audit entries "
            f"in {self.seconds:.1f} s"
        )


class Source(Protocol):
    """A store read for copying: one consistent state from `content()` to the last batch."""

    where: str

    def content(self) -> Content: ...

    def row_count(self, table: str) -> int: ...

    def rows(self, table: str, columns: dict[str, ColumnType], fields: list[str]) -> Iterator[pl.DataFrame]:
        """The table's rows in write order, in batches of `neutral_schema(columns, fields)` (a column
        the table lacks: nulls)."""

    def close(self) -> None: ...


class Target(Protocol):
    """A store being loaded: everything inside one transaction until `commit`."""

    where: str

    def existing(self) -> Content:
        """What the target holds (inside the load's transaction; Content.empty when nothing)."""

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """Rows into a system table (ids given)."""

    def ensure_table(
        self,
        definition: FeatureDefinition,
        fields: list[str],
        now: int,
        group_orders: list[tuple[str, ...]],
        key_order: tuple[str, ...],
    ) -> str: ...

    def insert_rows(
        self,
        table: str,
        definition: FeatureDefinition,
        columns: dict[str, ColumnType],
        rows: pl.DataFrame,
        *,
        merge: bool,
    ) -> None:
        """A batch of neutral rows (ids already mapped); with `merge`, the target's live rows of
        the same feature version and ids first become superseded by the batch's first row of them."""

    def set_hash(self, algorithm: str, truncation: int | None) -> None:
        """Record these hash settings (an empty target takes the source's)."""

    def finish(self, tables: dict[str, list[tuple[FeatureDefinition, int, list[Any]]]], hasher: Hasher) -> None:
        """After every row: derived data, sequences (still inside the transaction). `tables`:
        table -> (definition, feature version id, aggregation orders) of the current versions."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


def neutral_schema(columns: dict[str, ColumnType], fields: list[str]) -> dict[str, Any]:
    """The columns (and polars types) of a batch of rows."""
    out: dict[str, Any] = {c: t.polars for c, t in columns.items()}
    for f in fields:
        out[pbf_column(f)] = pl.String
    for f in fields:
        out[dvbf_column(f)] = pl.String
    out.update(
        {
            PROVENANCE: pl.String,
            DATA_VERSION: pl.String,
            MATERIALIZATION_ID: pl.String,
            CREATED_AT: pl.Int64,
            UPDATED_AT: pl.Int64,
            DELETED_AT: pl.Int64,
            FV: pl.Int64,
            WRITE: pl.Int64,
            SUPERSEDED: pl.Int64,
        }
    )
    return out
