"""What the SQLite store's helper modules (resolve, upstream, history) use of the store, as a
Protocol, and the batch of reads they plan together. The helpers take a StoreHandle rather than
the store class, which imports them: as Metaxy's metadata_store/_protocols.py, a protocol breaks
the circle the type hints would close."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from ...columns import ColumnType, PolarsType
from .codec import polars_schema


class StoreHandle(Protocol):
    """The members of SQLiteMetadataStore its helpers call (connection.py and store.py)."""

    _lock: threading.RLock

    @property
    def conn(self) -> sqlite3.Connection: ...
    def _read(self, sql: str, params: Sequence[Any], types: dict, *, expected_rows: int = 0) -> pl.DataFrame: ...
    def _read_many(self, queries: list) -> list[pl.DataFrame]: ...
    def _write_counter(self) -> int: ...
    def _has_latest(self, table: str, fv_id: int) -> bool: ...
    def _table(self, key: str) -> str | None: ...
    def _fv_id(self, key: str, feature_version: str) -> int | None: ...
    def _latest_location(self, key: str, feature_version: str) -> tuple[str | None, int | None, int]: ...


@dataclass
class ReadPlan:
    """Reads to run together, and how to turn their results into frames."""

    queries: list = field(default_factory=list)
    builders: list[Callable[[list[pl.DataFrame]], pl.DataFrame]] = field(default_factory=list)

    def add(self, queries: list, build: Callable[[list[pl.DataFrame]], pl.DataFrame]) -> int:
        start = len(self.queries)
        self.queries += queries
        n = len(queries)
        self.builders.append(lambda results, s=start, n=n: build(results[s : s + n]))
        return len(self.builders) - 1

    def add_empty(self, schema: dict[str, ColumnType | PolarsType]) -> int:
        """A frame with no rows (nothing stored to read)."""
        empty = pl.DataFrame(schema=polars_schema(schema))
        return self.add([], lambda _r: empty)

    def run(self, store: StoreHandle) -> list[pl.DataFrame]:
        results = store._read_many(self.queries)
        return [b(results) for b in self.builders]
