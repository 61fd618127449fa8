"""SQLiteMetadataStore: one SQLite file holding every feature's samples and the graph."""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import polars as pl

from ...columns import FEATURE_VERSION, PROVENANCE, ColumnType
from ...errors import InputError, InputProblem, UnknownFeatureError
from ...frames import Increment, IncrementFrame, to_polars
from ...graph import FeatureGraph, FeaturePlan, GraphPlan
from ...hashing import HashAlgorithm, Hasher
from ...spec import feature_key_of
from ...vocabulary import LineageKind
from . import frame_columns
from . import resolve as _resolve
from . import schema as _schema
from . import upkeep
from .codec import empty_frame, now_us
from ..front import StoreFront
from ..pages import PAGE_SIZE
from .history import SQLiteHistory
from .pages import SQLiteSamplePages
from .reader import Reader
from .audit import AuditLog
from .connection import StoreConnection
from .deletes import Deletes
from .lookups import TraceQueries
from .snapshots import Snapshots
from .stored_rows import StoredRows
from ..validate import ROW, prepare, prepare_samples
from .write import insert_rows

if TYPE_CHECKING:
    from ...explain.model import Explanation

log = logging.getLogger(__name__)


class SQLiteMetadataStore(StoreFront, StoreConnection, StoredRows, Snapshots, Deletes, AuditLog, TraceQueries):
    """`SQLiteMetadataStore(path, hash_algorithm="xxhash64", hash_truncation_length=None)`.

    This class holds the graph, writes and resolves; connection.py (opening, closing,
    transactions), stored_rows.py (where rows are, reading them), snapshots.py, deletes.py,
    audit.py and lookups.py each add one concept's methods to it.

    Use it as `with store: ...` (opens for reading and writing) or `store.open("r")`.
    Without an explicit hash setting a store keeps the one it was created with.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        hash_algorithm: str | HashAlgorithm | None = None,
        hash_truncation_length: int | None = None,
        *,
        graph: FeatureGraph | None = None,
        project: str | None = None,
        name: str | None = None,
    ):
        self.path = str(path)
        self.name = name
        self.project = project
        self._requested = (
            HashAlgorithm.parse(hash_algorithm) if hash_algorithm is not None else None,
            hash_truncation_length,
        )
        self.hasher = Hasher(self._requested[0] or HashAlgorithm.XXHASH64, hash_truncation_length)
        self._graph = graph
        self._conn: sqlite3.Connection | None = None
        self._reader: Reader | None = None
        self._mode: str | None = None
        self._depth = 0
        self._lock = threading.RLock()
        self.info: dict[str, str] = {}
        # feature -> the last write id visible when it was last resolved: rows written
        # afterwards were computed from the upstream as of that write (for explanations)
        self._resolved_as_of: dict[str, int] = {}
        self._has_columns_table = False
        self._columns_cache: tuple[int, frame_columns.Recorded] | None = None
        self._effective_cache: dict[int, tuple[tuple[int, int, bool, int], FeatureGraph, FeatureGraph]] = {}

    @property
    def requested_hash(self) -> tuple[HashAlgorithm | None, int | None]:
        """The hash setting asked for when this object was made ((None, None): the file's own)."""
        return self._requested

    # ----- the graph -------------------------------------------------------------------------
    def graph(self, feature: Any = None) -> FeatureGraph:
        """The graph definitions come from: the store's own, the feature class's, or the active one."""
        if self._graph is not None:
            return self._graph
        g = getattr(feature, "_mx_graph", None)
        return g if g is not None else FeatureGraph.get_active()

    def _plan(self, feature: Any) -> tuple[FeatureGraph, FeaturePlan]:
        """The graph as this store holds it (with the columns it recorded) and the feature's plan."""
        graph = self.graph(feature)
        key = feature_key_of(feature).to_string()
        if key not in graph:
            raise UnknownFeatureError(key, graph.keys)
        graph = self.effective_graph(graph)
        return graph, graph.feature_plan(key)

    def _recorded_columns(self) -> frame_columns.Recorded:
        """Columns typed by the data (see store/sqlite/frame_columns.py), read again only when one was added."""
        with self._lock:
            if not self._has_columns_table:
                return {}
            stamp = frame_columns.stamp(self.conn)
            if self._columns_cache is None or self._columns_cache[0] != stamp:
                self._columns_cache = (stamp, frame_columns.read_all(self.conn))
            return self._columns_cache[1]

    def use_graph(self, graph: FeatureGraph | None) -> None:
        """Read and resolve with `graph` from now on (None: the feature classes' own graphs)."""
        self._graph = graph

    def resolved_as_of(self, feature: Any) -> int | None:
        """The last write id this store's latest resolve_update of `feature` saw."""
        return self._resolved_as_of.get(feature_key_of(feature).to_string())

    def effective_graph(self, graph: FeatureGraph | None = None) -> FeatureGraph:
        """`graph` (by default the store's) with the columns this store recorded from the data:
        frames' columns the classes do not annotate, and the types of id columns they do not annotate."""
        graph = graph if graph is not None else self.graph()
        recorded = self._recorded_columns()
        if not recorded:
            return graph
        key = (id(graph), len(graph), graph._plan is None, self._columns_cache[0] if self._columns_cache else 0)
        cached = self._effective_cache.get(id(graph))
        if cached is not None and cached[0] == key and cached[1] is graph:
            return cached[2]
        out = frame_columns.overlay(graph, recorded)
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
        within: Callable[[sqlite3.Connection], None] | None = None,
    ) -> int:
        """Validate and store rows as the latest rows of their ids. Returns the number written.

        `inputs_as_of` is the last write id the rows' upstream was read at; by default the
        one of this store's latest resolve_update of the feature. `delete_ids` (id columns)
        are soft-deleted in the same transaction. `progress(done, total)` is called per batch
        inside the transaction: raising from it cancels the whole write. `within(conn)` runs
        last inside the transaction (the audit log uses it).
        """
        started = time.perf_counter()
        graph, plan = self._plan(feature)
        gp = graph.plan()
        frame = to_polars(df, plan.name)
        plan, new_columns, dropped = self._frame_plan(plan, frame)
        if dropped:
            frame = frame.drop(dropped)
        rows = prepare(frame, plan, self.hasher, dedupe_identical=not plan.is_root).drop(ROW)
        if materialization_id is not None:
            rows = rows.with_columns(pl.lit(materialization_id).alias("metaxy_materialization_id"))
        fields = plan.definition.field_keys
        doomed = self._id_frame(plan.definition, delete_ids) if delete_ids is not None else None
        with self._transaction() as conn:
            now = now_us()
            snap_id = self._record_snapshot(conn, self.graph(feature))
            if new_columns:
                frame_columns.record(conn, plan.name, new_columns, now)  # refuses a type another writer chose
            fv_id = self._fv_id(plan.name, plan.feature_version)
            table = _schema.ensure_feature_table(
                conn, plan.definition, fields, now, _group_orders(gp, plan.name), key_order=_key_order(plan)
            )
            write_id = conn.execute(
                "INSERT INTO _metaxy_writes (feature_key, kind, feature_version_id, snapshot_id, at, n_rows, "
                "materialization_id, inputs_as_of) VALUES (?, 'write', ?, ?, ?, ?, ?, ?)",
                (
                    plan.name,
                    fv_id,
                    snap_id,
                    now,
                    rows.height,
                    materialization_id,
                    inputs_as_of if inputs_as_of is not None else self._resolved_as_of.get(plan.name),
                ),
            ).lastrowid
            assert (
                fv_id is not None and write_id is not None
            )  # _record_snapshot recorded the version; an INSERT's rowid
            inserted = insert_rows(
                conn, table, plan.definition, fields, rows, fv_id=fv_id, write_id=write_id, now=now, progress=progress
            )
            # the columnar copy and group digests, in this same transaction (store/sqlite/upkeep.py)
            upkeep.after_insert(
                conn,
                table,
                plan.definition,
                fv_id,
                write_id,
                inserted,
                self.hasher,
                upkeep.aggregation_orders(gp, plan.name),
            )
            n = inserted.height
            if doomed is not None and doomed.height:
                self._delete_rows(conn, plan.definition, table, fv_id, doomed, soft=True, now=now)
            if within is not None:
                within(conn)
        log.debug("wrote %d rows of %s (write %d, %.3f s)", n, plan.name, write_id, time.perf_counter() - started)
        return n

    write = write_metadata

    def _frame_plan(
        self, plan: FeaturePlan, frame: pl.DataFrame
    ) -> tuple[FeaturePlan, dict[str, ColumnType], list[str]]:
        definition, new_columns, dropped = frame_columns.columns_for_frame(
            plan, frame, self._recorded_columns().get(plan.name, {})
        )
        return (dataclasses.replace(plan, definition=definition) if new_columns else plan), new_columns, dropped

    def frame_plan(self, feature: Any, frame: Any) -> FeaturePlan:
        """The feature's plan for writing `frame`: with the columns it carries that the class does
        not annotate, typed from the frame (SPEC 1); raises InputError for names it cannot hold."""
        _graph, plan = self._plan(feature)
        return self._frame_plan(plan, to_polars(frame, plan.name))[0]

    # ----- reading (the rows themselves: stored_rows.py) -------------------------------------
    def _reading(self) -> threading.RLock:
        """StoreFront's hook: reads on the store's connection, one thread at a time."""
        return self._lock

    # ----- resolving -------------------------------------------------------------------------
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
        """Which samples of `feature` are added, changed or removed relative to its upstream.

        A root needs `samples` (its id columns and provenance; other columns pass through). An
        upstream never written reads as empty, so a feature waiting on it has nothing to do (SPEC 4;
        Metaxy 0.1.11 raises): see `waiting_on`.
        As in Metaxy, `skip_comparison=True` returns every expected sample as added; `lazy` and
        `versioning_engine` are accepted (frames are always computed here, in SQLite and polars).
        """
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
        started = time.perf_counter()
        graph, plan = self._plan(feature)
        gp = graph.plan()
        self._resolved_as_of[plan.name] = self._write_counter()
        if samples is None and plan.is_root:
            _resolve.root_samples(plan, None)

        def read_removed(keys: pl.DataFrame | None) -> pl.DataFrame:
            if keys is None:
                return _resolve.removed_frame(plan, empty_frame(plan.definition, plan.definition.field_keys))
            rows = self._read_rows(plan.definition, plan.feature_version, None, False, False, False, keys=keys)
            return _resolve.removed_frame(plan, rows)

        frame = None
        if samples is not None:
            recorded = self._recorded_columns().get(plan.name, {})
            untyped = [
                c for c in plan.key if plan.is_root and not plan.definition.columns[c].declared and c not in recorded
            ]
            frame = prepare_samples(to_polars(samples, plan.name), plan, self.hasher, untyped)
        if skip_comparison:  # every expected sample, as added
            expected = frame if frame is not None else _resolve.resolve_frames(self, gp, plan, self.hasher)[0]
            inc = Increment(
                plan.name,
                tuple(plan.key),
                IncrementFrame(expected),
                IncrementFrame(expected.clear()),
                IncrementFrame(read_removed(None)),
            )
        elif frame is not None:
            expected, current = _resolve.resolve_frames(self, gp, plan, self.hasher, expected=frame)
            inc = _resolve.compare(plan, expected, current, read_removed)
        else:
            inc = _resolve.resolve(self, gp, plan, self.hasher, read_removed)
        inc = _resolve.with_data_versions(inc, plan, self.hasher)
        if log.isEnabledFor(logging.DEBUG):  # (the counts read every frame: only when shown)
            log.debug("resolved %s: %s in %.3f s", plan.name, inc.counts, time.perf_counter() - started)
        return inc

    def waiting_on(self, feature: Any) -> list[str]:
        """The feature's required upstream features that have never been written: they read as
        empty, so until they are written the feature has nothing to compute (SPEC 4)."""
        _graph, plan = self._plan(feature)
        return [d.upstream for d in plan.deps if not d.optional and self._table(d.upstream) is None]

    def explain(self, feature: Any, increment: Increment | None = None, *, keys_only: bool = False) -> Explanation:
        """Why each sample of the feature's increment is added, changed or removed (an Explanation).

        `keys_only`: resolve by key only (see explain/build.py), for a caller that needs no rows.
        """
        from ...explain.build import explain

        return explain(self, feature, increment, keys_only=keys_only)

    def resolve_plan(self, feature: Any) -> tuple[FeatureGraph, FeaturePlan]:
        """The graph as this store resolves it (with the columns it recorded) and the feature's plan."""
        return self._plan(feature)

    def resolve_keys(self, feature: Any) -> tuple[Increment, pl.DataFrame]:
        """resolve_update by key only (one row per pending sample), and the feature's current rows
        it read (key, provenance by field, WRITE_ID); records what it saw, as resolve_update does."""
        graph, plan = self._plan(feature)
        self._resolved_as_of[plan.name] = self._write_counter()
        return _resolve.resolve_keys(self, graph.plan(), plan, self.hasher)

    def sample_pages(self, graph: FeatureGraph | None = None, *, page_size: int = PAGE_SIZE) -> SQLiteSamplePages:
        """Pages of current samples on a read-only connection of their own (store/sqlite/pages.py)."""
        return SQLiteSamplePages(self.path, graph if graph is not None else self.graph(), page_size=page_size)

    def history(self) -> SQLiteHistory:
        """The reads explanations make: rows as they were, and what changed since (store/sqlite/history.py)."""
        return SQLiteHistory(self)

    def pending_counts(self, feature: Any) -> dict[str, int]:
        """Distinct samples added, changed and removed: resolve_update's counts, reading only keys."""
        graph, plan = self._plan(feature)
        if plan.is_root:
            return {"added": 0, "changed": 0, "removed": 0}
        expected, current = _resolve.resolve_frames(self, graph.plan(), plan, self.hasher, lean=True)
        return _resolve.counts(plan, expected, current)

    def __repr__(self) -> str:
        return f"SQLiteMetadataStore({self.path!r}, hash={self.hasher.describe()})"


def _group_orders(gp: GraphPlan, upstream: str) -> list[tuple[str, ...]]:
    """How aggregation deps of downstream features read `upstream`: on columns, then ids."""
    out = []
    for name in gp[upstream].downstream:
        d = gp[name].dep(upstream)
        if d.kind == LineageKind.AGGREGATION:
            order = tuple(d.columns[c] for c in d.on) + tuple(d.columns[c] for c in d.upstream_ids)
            if order not in out:
                out.append(order)
    return out


def _key_order(plan: FeaturePlan) -> tuple[str, ...]:
    """Columns for an index serving lookups by the feature's key (its deps' `on` columns) when
    the id index cannot: an expansion's children by their parent, for traces (empty otherwise)."""
    key, ids = tuple(plan.key), tuple(plan.definition.id_columns)
    if plan.is_root or ids[: len(key)] == key:
        return ()
    return key + tuple(c for c in ids if c not in key)


__all__ = ["SQLiteMetadataStore", "IncrementFrame", "FEATURE_VERSION", "PROVENANCE"]
