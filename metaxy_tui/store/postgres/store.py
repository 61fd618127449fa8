"""PostgreSQLMetadataStore: the same engine on a shared PostgreSQL server.

The same API, semantics, increments and hash strings as the SQLite store on the same inputs
(SPEC 9). Resolving runs in the database (resolve.py, sql.py); reads of one operation see one
snapshot (reads.py); every write is one transaction (write.py), whose commit section is
serialized across writers by an advisory lock, so write ids follow commit order and no write
is lost or seen half-done.

This module holds the class, with the graph, writes, deletes and resolves; opening.py (opening,
closing, transactions), snapshots.py, stored_rows.py (where rows are, reading them), audit.py and
trace.py each add one concept's methods to it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import polars as pl

from ...columns import ColumnType
from ...definition import FeatureDefinition
from ...errors import InputError, InputProblem, StoreError, UnknownFeatureError
from ...frames import Increment, IncrementFrame, to_polars
from ...graph import FeatureGraph, FeaturePlan
from ...hashing import HashAlgorithm, Hasher
from ...spec import feature_key_of
from ..sqlite import frame_columns
from ..sqlite import resolve as common
from ..sqlite.codec import empty_frame, now_us
from ..front import StoreFront
from ..pages import PAGE_SIZE
from ..validate import ROW as VALIDATE_ROW
from ..validate import prepare, prepare_samples
from . import recorded
from . import resolve as _resolve
from . import write as _write
from .audit import AuditLog
from .connection import describe_target, mask
from .opening import StoreConnection
from .pages import PostgresSamplePages
from .reads import Reads
from .history import PostgresHistory
from .snapshots import Snapshots
from .stored_rows import StoredRows
from .trace import PostgresTraceQueries

if TYPE_CHECKING:
    from ...explain.model import Explanation
    from .connection import PgConnection


class PostgreSQLMetadataStore(StoreFront, StoreConnection, Snapshots, StoredRows, AuditLog, PostgresTraceQueries):
    """`PostgreSQLMetadataStore(connection_string, hash_algorithm="xxhash64", hash_truncation_length=None)`.

    Use it as `with store: ...` (opens for reading and writing) or `store.open("r")`. Without an
    explicit hash setting a store keeps the one it was created with.
    """

    kind = "postgresql"

    def __init__(
        self,
        connection_string: str | None = None,
        hash_algorithm: str | HashAlgorithm | None = None,
        hash_truncation_length: int | None = None,
        *,
        graph: FeatureGraph | None = None,
        project: str | None = None,
        name: str | None = None,
        **options: Any,
    ):
        url = connection_string or options.pop("url", None)
        if options:
            raise TypeError(f"unknown option(s) {', '.join(sorted(options))}")
        if not url:
            raise StoreError("a PostgreSQL store needs a connection string (postgresql://user@host/database)")
        self.url = str(url)
        self.path = mask(self.url)
        self.name = name
        self.project = project
        self._requested = (
            HashAlgorithm.parse(hash_algorithm) if hash_algorithm is not None else None,
            hash_truncation_length,
        )
        self.hasher = Hasher(self._requested[0] or HashAlgorithm.XXHASH64, hash_truncation_length)
        self._graph = graph
        self._conn: PgConnection | None = None
        self._open_reads: Reads | None = None  # the reads connection(s), while open
        self._mode: str | None = None
        self._depth = 0
        self._lock = threading.RLock()
        self.info: dict[str, str] = {}
        self._resolved_as_of: dict[str, int] = {}
        self._columns_cache: tuple[int, frame_columns.Recorded] | None = None
        self._effective_cache: dict[int, tuple[tuple[int, int, bool, int], FeatureGraph, FeatureGraph]] = {}

    @property
    def where(self) -> str:
        return describe_target(self.url)

    @property
    def requested_hash(self) -> tuple[HashAlgorithm | None, int | None]:
        """The hash setting asked for when this object was made ((None, None): the database's own)."""
        return self._requested

    # ----- the graph -------------------------------------------------------------------------
    def graph(self, feature: Any = None) -> FeatureGraph:
        if self._graph is not None:
            return self._graph
        g = getattr(feature, "_mx_graph", None)
        return g if g is not None else FeatureGraph.get_active()

    def use_graph(self, graph: FeatureGraph | None) -> None:
        self._graph = graph

    def resolved_as_of(self, feature: Any) -> int | None:
        return self._resolved_as_of.get(feature_key_of(feature).to_string())

    def _plan(self, feature: Any) -> tuple[FeatureGraph, FeaturePlan]:
        graph = self.graph(feature)
        key = feature_key_of(feature).to_string()
        if key not in graph:
            raise UnknownFeatureError(key, graph.keys)
        graph = self.effective_graph(graph)
        return graph, graph.feature_plan(key)

    def _recorded_columns(self) -> frame_columns.Recorded:
        with self._lock:
            stamp = recorded.stamp(self)
            if self._columns_cache is None or self._columns_cache[0] != stamp:
                self._columns_cache = (stamp, recorded.read_all(self))
            return self._columns_cache[1]

    def effective_graph(self, graph: FeatureGraph | None = None) -> FeatureGraph:
        graph = graph if graph is not None else self.graph()
        rec = self._recorded_columns()
        if not rec:
            return graph
        key = (id(graph), len(graph), graph._plan is None, self._columns_cache[0] if self._columns_cache else 0)
        cached = self._effective_cache.get(id(graph))
        if cached is not None and cached[0] == key and cached[1] is graph:
            return cached[2]
        out = frame_columns.overlay(graph, rec)
        self._effective_cache[id(graph)] = (key, graph, out)
        return out

    # ----- writing ---------------------------------------------------------------------------
    def write_metadata(
        self,
        feature: Any,
        df: Any,
        *,
        materialization_id: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        inputs_as_of: int | None = None,
        delete_ids: Any = None,
        within: Callable[[Any], None] | None = None,
    ) -> int:
        """Validate and store rows as the latest rows of their ids, in one transaction."""
        graph, plan = self._plan(feature)
        gp = graph.plan()
        frame = to_polars(df, plan.name)
        plan, new_columns, dropped = self._frame_plan(plan, frame)
        if dropped:
            frame = frame.drop(dropped)
        rows = prepare(frame, plan, self.hasher, dedupe_identical=not plan.is_root).drop(VALIDATE_ROW)
        if materialization_id is not None:
            rows = rows.with_columns(pl.lit(materialization_id).alias("metaxy_materialization_id"))
        doomed = self._id_frame(plan.definition, delete_ids) if delete_ids is not None else None
        return _write.write(
            self,
            gp,
            plan,
            rows,
            new_columns=new_columns,
            materialization_id=materialization_id,
            progress=progress,
            inputs_as_of=inputs_as_of if inputs_as_of is not None else self._resolved_as_of.get(plan.name),
            doomed=doomed,
            within=within,
            snapshot_graph=self.graph(feature),
        )

    write = write_metadata

    def _frame_plan(
        self, plan: FeaturePlan, frame: pl.DataFrame
    ) -> tuple[FeaturePlan, dict[str, ColumnType], list[str]]:
        definition, new_columns, dropped = frame_columns.columns_for_frame(
            plan, frame, self._recorded_columns().get(plan.name, {})
        )
        return (dataclasses.replace(plan, definition=definition) if new_columns else plan), new_columns, dropped

    def frame_plan(self, feature: Any, frame: Any) -> FeaturePlan:
        _graph, plan = self._plan(feature)
        return self._frame_plan(plan, to_polars(frame, plan.name))[0]

    # ----- deleting --------------------------------------------------------------------------
    def _delete_in(
        self,
        conn: PgConnection,
        definition: FeatureDefinition,
        table: str,
        fv_id: int,
        target: pl.DataFrame,
        *,
        soft: bool,
    ) -> int:
        """StoreFront's hook: delete `target` now, inside the caller's transaction."""
        return _write.delete_rows(self, conn, definition, table, fv_id, target, soft=soft, now=now_us())

    # ----- resolving -------------------------------------------------------------------------
    def _note_resolved(self, feature: str) -> None:
        self._resolved_as_of[feature] = self._snap_rows("SELECT coalesce(max(id), 0) FROM _metaxy_writes")[0][0]

    def resolve_update(
        self,
        feature: Any,
        samples: Any = None,
        *,
        lazy: bool = False,
        versioning_engine: str | None = None,
        skip_comparison: bool = False,
        **unsupported: Any,
    ) -> Increment:
        """Which samples of `feature` are added, changed or removed relative to its upstream (SPEC 4)."""
        given = sorted(k for k, v in unsupported.items() if v is not None)
        if given:
            raise InputError(
                feature_key_of(feature).to_string(),
                [
                    InputProblem(
                        f"resolve_update does not support {', '.join(given)} here; filter the increment's frames instead"
                    )
                ],
            )
        graph, plan = self._plan(feature)
        gp = graph.plan()
        if samples is None and plan.is_root:
            common.root_samples(plan, None)

        def read_removed(keys: pl.DataFrame | None) -> pl.DataFrame:
            if keys is None:
                return common.removed_frame(plan, empty_frame(plan.definition, plan.definition.field_keys))
            with self._reads.snapshot():
                rows = self._read_rows(plan.definition, plan.feature_version, None, False, False, False, keys=keys)
            return common.removed_frame(plan, rows)

        frame = None
        if samples is not None:
            rec = self._recorded_columns().get(plan.name, {})
            untyped = [c for c in plan.key if plan.is_root and not plan.definition.columns[c].declared and c not in rec]
            frame = prepare_samples(to_polars(samples, plan.name), plan, self.hasher, untyped)
        with self._reads.snapshot():
            if skip_comparison:
                if frame is not None:
                    expected = frame
                else:
                    self._note_resolved(plan.name)
                    # (inc0's removed samples are not used here: none are read)
                    inc0 = _resolve.resolve(self, gp, plan, lambda _keys: pl.DataFrame())
                    expected = pl.concat([inc0.added.to_polars(), inc0.changed.to_polars()], how="vertical")
                inc = Increment(
                    plan.name,
                    tuple(plan.key),
                    IncrementFrame(expected),
                    IncrementFrame(expected.clear()),
                    IncrementFrame(read_removed(None)),
                )
            elif frame is not None:
                self._note_resolved(plan.name)
                current = self._current_rows(plan)
                inc = common.compare(plan, frame, current, read_removed)
            else:
                inc = _resolve.resolve(self, gp, plan, read_removed)
        return common.with_data_versions(inc, plan, self.hasher)

    def waiting_on(self, feature: Any) -> list[str]:
        _graph, plan = self._plan(feature)
        return [d.upstream for d in plan.deps if not d.optional and self._table(d.upstream) is None]

    def resolve_plan(self, feature: Any) -> tuple[FeatureGraph, FeaturePlan]:
        """The graph as this store resolves it (with the columns it recorded) and the feature's plan."""
        return self._plan(feature)

    def resolve_keys(self, feature: Any) -> tuple[Increment, pl.DataFrame]:
        """resolve_update by key only, and the feature's current rows it compared with (key,
        provenance by field, WRITE_ID), from one snapshot; records what it saw."""
        graph, plan = self._plan(feature)
        return _resolve.resolve_keys(self, graph.plan(), plan)

    def sample_pages(self, graph: FeatureGraph | None = None, *, page_size: int = PAGE_SIZE) -> PostgresSamplePages:
        """Pages of current samples on a connection of their own (store/postgres/pages.py); the store
        need not be open."""
        return PostgresSamplePages(self.url, graph if graph is not None else self.graph(), page_size=page_size)

    def history(self) -> "PostgresHistory":
        """The reads explanations make (store/postgres/history.py)."""
        return PostgresHistory(self)

    def explain(self, feature: Any, increment: Increment | None = None, *, keys_only: bool = False) -> Explanation:
        from ...explain.build import explain

        return explain(self, feature, increment, keys_only=keys_only)

    def pending_counts(self, feature: Any) -> dict[str, int]:
        graph, plan = self._plan(feature)
        if plan.is_root:
            return {"added": 0, "changed": 0, "removed": 0}
        return _resolve.counts(self, graph.plan(), plan)

    def __repr__(self) -> str:
        return f"PostgreSQLMetadataStore({self.path!r}, hash={self.hasher.describe()})"
