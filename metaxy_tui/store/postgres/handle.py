"""What the PostgreSQL store's helper modules (resolve, write, history, recorded, trace) use of the
store: a Protocol, so that they need not import the store class, which imports them; and, for
the type checker, what the store's mixins (opening, snapshots, stored_rows, audit) use of it."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from ...definition import FeatureDefinition
from ...graph import FeatureGraph, FeaturePlan, GraphPlan
from ...hashing import HashAlgorithm, Hasher
from ..records import StoredSample
from .reads import Reads
from .sql import Place

if TYPE_CHECKING:
    import threading

    from ..sqlite.frame_columns import Recorded
    from .connection import PgConnection


class PgHandle(Protocol):
    hasher: Hasher
    _lock: Any  # the store's threading.RLock: one connection serves one thread at a time

    @property
    def _reads(self) -> Reads: ...

    @property
    def conn(self) -> PgConnection: ...

    def graph(self, feature: Any = None) -> FeatureGraph: ...

    def effective_graph(self, graph: FeatureGraph | None = None) -> FeatureGraph: ...

    def stored_graph(self) -> FeatureGraph: ...

    def _read_plan(self, feature: Any) -> FeaturePlan: ...

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def _transaction(self) -> AbstractContextManager[Any]: ...

    def _table(self, key: str) -> str | None: ...

    def _fv_id(self, key: str, feature_version: str) -> int | None: ...

    def _stored_columns(self, table: str) -> dict[str, str]: ...

    def _place(self, key: str, feature_version: str | None) -> Place: ...

    def _has_live(self, place: Place) -> bool: ...

    def _note_resolved(self, feature: str) -> None: ...

    def _record_snapshot(self, conn: Any, graph: FeatureGraph) -> int: ...

    def _current_rows(self, plan: FeaturePlan, *, with_fields: bool = False) -> pl.DataFrame: ...

    # trace.py's own helpers, which its methods call through this protocol
    def _plans_for(self, feature: Any) -> tuple[GraphPlan, FeaturePlan]: ...

    def _where(
        self, plan: FeaturePlan, feature_version: str | None
    ) -> tuple[str | None, int | None, dict[str, str], str]: ...

    def _samples(
        self,
        plan: FeaturePlan,
        table: str,
        present: dict[str, str],
        where: str,
        params: Sequence[Any],
        order: str,
        limit: int | None,
    ) -> list[StoredSample]: ...


if TYPE_CHECKING:

    class StoreMembers:
        """For the type checker only (at run time `object`): the base of PostgreSQLMetadataStore's
        mixins (opening.py, snapshots.py, stored_rows.py, audit.py), declaring what they use of the
        store (its __init__'s attributes, store.py's and StoreFront's methods) and of one another."""

        url: str
        path: str
        project: str | None
        hasher: Hasher
        info: dict[str, str]
        _requested: tuple[HashAlgorithm | None, int | None]
        _conn: PgConnection | None
        _open_reads: Reads | None
        _mode: str | None
        _depth: int
        _lock: threading.RLock
        _columns_cache: tuple[int, Recorded] | None
        # id(graph) -> (cache key, graph, the graph with the recorded columns)
        _effective_cache: dict[int, tuple[tuple[int, int, bool, int], FeatureGraph, FeatureGraph]]

        @property
        def where(self) -> str: ...
        @property
        def conn(self) -> PgConnection: ...
        @property
        def _reads(self) -> Reads: ...
        def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _snap_rows(self, sql: str) -> list[tuple[Any, ...]]: ...
        def _transaction(self) -> AbstractContextManager[Any]: ...
        def graph(self, feature: Any = None) -> FeatureGraph: ...
        def _recorded_columns(self) -> Recorded: ...
        def _definition_for_read(self, feature: Any) -> tuple[FeatureDefinition, str | None]: ...
else:
    StoreMembers = object


__all__ = ["PgHandle", "StoreMembers"]
