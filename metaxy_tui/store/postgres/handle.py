"""What the PostgreSQL store's helper modules (resolve, write, history, recorded, trace) use of the
store: a Protocol, so that they need not import the store class, which imports them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import polars as pl

from ...graph import FeatureGraph, FeaturePlan
from ...hashing import Hasher
from .reads import Reads
from .sql import Place


class PgHandle(Protocol):
    hasher: Hasher
    _lock: Any  # the store's threading.RLock: one connection serves one thread at a time
    _reads: Reads

    @property
    def conn(self) -> Any: ...

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]: ...

    def _transaction(self) -> AbstractContextManager[Any]: ...

    def _table(self, key: str) -> str | None: ...

    def _fv_id(self, key: str, feature_version: str) -> int | None: ...

    def _stored_columns(self, table: str) -> dict[str, str]: ...

    def _place(self, key: str, feature_version: str | None) -> Place: ...

    def _has_live(self, place: Place) -> bool: ...

    def _note_resolved(self, feature: str) -> None: ...

    def _record_snapshot(self, conn: Any, graph: FeatureGraph) -> int: ...

    def _current_rows(self, plan: FeaturePlan, *, with_fields: bool = False) -> pl.DataFrame: ...


__all__ = ["PgHandle"]
