"""What the SQLite store's helper modules (resolve, upstream, history) use of the store, as a
Protocol, and the batch of reads they plan together. The helpers take a StoreHandle rather than
the store class, which imports them: as Metaxy's metadata_store/_protocols.py, a protocol breaks
the circle the type hints would close."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from ...columns import ColumnType, PolarsType
from .codec import Typed, polars_schema

if TYPE_CHECKING:
    from ...definition import FeatureDefinition
    from ...graph import FeatureGraph, FeaturePlan
    from ...hashing import HashAlgorithm, Hasher
    from .frame_columns import Recorded
    from .reader import Read, Reader


class StoreHandle(Protocol):
    """The members of SQLiteMetadataStore its helpers call (connection.py and store.py)."""

    _lock: threading.RLock

    @property
    def conn(self) -> sqlite3.Connection: ...
    def _read(
        self, sql: str, params: Sequence[Any], types: Mapping[str, Typed], *, expected_rows: int = 0
    ) -> pl.DataFrame: ...
    def _read_many(self, queries: Sequence[Read]) -> list[pl.DataFrame]: ...
    def _write_counter(self) -> int: ...
    def _has_latest(self, table: str, fv_id: int) -> bool: ...
    def _table(self, key: str) -> str | None: ...
    def _fv_id(self, key: str, feature_version: str) -> int | None: ...
    def _latest_location(self, key: str, feature_version: str) -> tuple[str | None, int | None, int]: ...


if TYPE_CHECKING:

    class StoreMembers:
        """For the type checker only (at run time `object`): the base of SQLiteMetadataStore's
        mixins (connection.py, snapshots.py, deletes.py, audit.py, lookups.py), declaring what
        they use of the store (its __init__'s attributes, store.py's methods) and of one another."""

        path: str
        name: str | None
        project: str | None
        hasher: Hasher
        info: dict[str, str]
        _requested: tuple[HashAlgorithm | None, int | None]
        _conn: sqlite3.Connection | None
        _reader: Reader | None
        _mode: str | None
        _depth: int
        _lock: threading.RLock
        _has_columns_table: bool
        _columns_cache: tuple[int, Recorded] | None
        # id(graph) -> (cache key, graph, the graph with the recorded columns)
        _effective_cache: dict[int, tuple[tuple[int, int, bool, int], FeatureGraph, FeatureGraph]]

        @property
        def conn(self) -> sqlite3.Connection: ...
        def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def graph(self, feature: Any = None) -> FeatureGraph: ...
        def effective_graph(self, graph: FeatureGraph | None = None) -> FeatureGraph: ...
        def stored_graph(self) -> FeatureGraph: ...
        def _read_plan(self, feature: Any) -> FeaturePlan: ...
        def _definition_for_read(self, feature: Any) -> tuple[FeatureDefinition, str | None]: ...
        def _recorded_columns(self) -> Recorded: ...
        def _table(self, key: str) -> str | None: ...
        def _fv_id(self, key: str, feature_version: str) -> int | None: ...
else:
    StoreMembers = object


@dataclass
class ReadPlan:
    """Reads to run together, and how to turn their results into frames."""

    queries: list[Read] = field(default_factory=list)
    builders: list[Callable[[list[pl.DataFrame]], pl.DataFrame]] = field(default_factory=list)

    def add(self, queries: list[Read], build: Callable[[list[pl.DataFrame]], pl.DataFrame]) -> int:
        start = len(self.queries)
        self.queries += queries
        n = len(queries)
        self.builders.append(lambda results: build(results[start : start + n]))
        return len(self.builders) - 1

    def add_empty(self, schema: Mapping[str, ColumnType | PolarsType]) -> int:
        """A frame with no rows (nothing stored to read)."""
        empty = pl.DataFrame(schema=polars_schema(schema))
        return self.add([], lambda _r: empty)

    def run(self, store: StoreHandle) -> list[pl.DataFrame]:
        results = store._read_many(self.queries)
        return [b(results) for b in self.builders]
