"""SQLiteMetadataStore: one SQLite file holding every feature's samples and the graph."""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from .. import __version__
from ..columns import DELETED_AT, FEATURE_VERSION, PROVENANCE, UPDATED_AT, dvbf_column, pbf_column
from ..definition import FeatureDefinition
from ..errors import InputError, InputProblem, StoreError, StoreFormatError, UnknownFeatureError
from ..frames import Increment, IncrementFrame, MetadataFrame, apply_filters, is_filter, to_polars
from ..graph import FeatureGraph, FeaturePlan
from ..hashing import HashAlgorithm, Hasher
from ..keys import quote, quote_all
from ..spec import feature_key_of
from . import frame_columns
from . import resolve as _resolve
from . import schema as _schema
from . import upkeep
from .codec import decode_rows, empty_frame, keys_in, now_us, table_types
from .reader import Reader
from .trace_queries import TraceQueries
from .validate import ROW, prepare, prepare_samples
from .write import insert_rows, match_ids, stage_ids

BUSY_TIMEOUT_S = 30.0


class SQLiteMetadataStore(TraceQueries):
    """`SQLiteMetadataStore(path, hash_algorithm="xxhash64", hash_truncation_length=None)`.

    Use it as `with store: ...` (opens for reading and writing) or `store.open("r")`.
    Without an explicit hash setting a store keeps the one it was created with.
    """

    def __init__(self, path: str | os.PathLike, hash_algorithm: str | HashAlgorithm | None = None,
                 hash_truncation_length: int | None = None, *, graph: FeatureGraph | None = None,
                 project: str | None = None, name: str | None = None):
        self.path = str(path)
        self.name = name
        self.project = project
        self._requested = (HashAlgorithm.parse(hash_algorithm) if hash_algorithm is not None else None,
                           hash_truncation_length)
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
        self._effective_cache: dict[int, tuple] = {}

    # ----- opening and closing ---------------------------------------------------------------
    def open(self, mode: str = "w") -> "OpenStore":
        """Open for reading ("r") or reading and writing ("w"); `with store.open("r"):` closes at the end."""
        if mode not in ("r", "w"):
            raise ValueError(f"mode must be 'r' or 'w', got {mode!r}")
        with self._lock:
            if self._conn is not None:
                if mode == "w" and self._mode == "r":
                    raise StoreError(f"{self.path} is open read-only")
                self._depth += 1
            else:
                self._connect(mode)
                self._depth = 1
            return OpenStore(self)

    def _connect(self, mode: str) -> None:
        memory = self.path == ":memory:"
        defaults = {"application": "metaxy-tui", "created_with": __version__,
                    "hash_algorithm": self.hasher.algorithm.value,
                    "hash_truncation_length": str(self.hasher.truncation or "")}
        if not memory:
            p = Path(self.path)
            if p.exists() and not p.is_file():
                raise StoreError(f"{self.path} is a directory, not a store file")
            if mode == "r" and not p.exists():
                raise StoreError(f"no store at {self.path}")
            if mode == "w" and not p.exists():
                p.parent.mkdir(parents=True, exist_ok=True)
                _schema.create_store_file(p, defaults)
        as_uri = mode == "r" and not memory
        target = _schema.readonly_uri(self.path) if as_uri else self.path
        side_files = [] if memory else [Path(self.path + s) for s in ("-wal", "-shm")]
        had = {p for p in side_files if p.exists()}
        try:
            conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_S, uri=as_uri)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open {self.path}: {e}") from None
        try:
            conn.execute("PRAGMA busy_timeout = %d" % int(BUSY_TIMEOUT_S * 1000))
            # refuse a file of another program before changing anything in it (WAL included)
            info = self._check_format(conn, mode)
            if mode == "w" and not memory:
                _schema.ensure_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA temp_store = MEMORY")
            if mode == "w":  # 32 MB: enough for 1,000,000-row index updates; readers keep SQLite's 2 MB (the
                conn.execute("PRAGMA cache_size = -32768")  # columnar copy's blobs would only fill it)
            self.hasher.register(conn)
            if mode == "w":
                conn.execute("BEGIN IMMEDIATE")
                try:
                    info = _schema.check_or_initialise(conn, self.path, create=True, info=defaults)
                    _schema.ensure_audit(conn)
                    conn.execute(frame_columns.DDL)
                    _schema.ensure_layout(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            elif not info:
                # an empty file (its creation never finished): read it as an empty store
                _schema.temp_layout(conn)
            self._has_columns_table = memory or mode == "w" or frame_columns.exists(conn)
            if memory and mode == "r":
                conn.execute(frame_columns.DDL)
        except sqlite3.DatabaseError as e:
            conn.close()
            _remove_new_side_files(side_files, had)
            raise StoreFormatError(f"{self.path} is not a usable SQLite database ({e})") from None
        except StoreFormatError:
            conn.close()
            _remove_new_side_files(side_files, had)
            raise
        except BaseException:
            conn.close()
            raise
        self._adopt_hash_settings(info)
        self.info = info
        self._conn = conn
        self._mode = mode
        self._reader = Reader(conn, None if memory else str(Path(self.path).resolve()), self._lock)

    def _check_format(self, conn: sqlite3.Connection, mode: str) -> dict[str, str]:
        """The store's info, read in one read transaction; {} for an empty file."""
        for attempt in (1, 2):
            try:
                conn.execute("BEGIN")
                try:
                    return _schema.check_or_initialise(conn, self.path, create=False, info={})
                finally:
                    conn.execute("COMMIT")
            except sqlite3.OperationalError as e:
                # a hot journal (a first creation killed mid-way, by an older version) needs a
                # writer to roll it back: do that once, if we may write the file
                if attempt == 1 and mode == "r" and "readonly" in str(e) and os.access(self.path, os.W_OK):
                    _schema.recover(self.path)
                    continue
                raise
        raise AssertionError("unreachable")

    def _adopt_hash_settings(self, info: dict[str, str]) -> None:
        if not info:
            return
        stored = Hasher(info["hash_algorithm"], int(info["hash_truncation_length"]) if info.get(
            "hash_truncation_length") else None)
        algo, trunc = self._requested
        if (algo is not None and (algo != stored.algorithm or trunc != stored.truncation)) or (
                algo is None and trunc is not None and trunc != stored.truncation):
            raise StoreError(
                f"{self.path} hashes with {stored.describe()}, but "
                f"{Hasher(algo or stored.algorithm, trunc).describe()} was asked "
                "for; open it with its own setting (or without one)")
        self.hasher = stored

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            self._depth -= 1
            if self._depth > 0:
                return
            if self._reader is not None:
                self._reader.close()
            self._conn.close()
            self._conn = None
            self._reader = None
            self._mode = None
            self._columns_cache = None
            self._effective_cache.clear()

    def __enter__(self) -> "SQLiteMetadataStore":
        with self._lock:
            if self._conn is not None:
                self._depth += 1
                return self
        self.open("w")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    @property
    def writable(self) -> bool:
        return self._mode == "w"

    def last_write_id(self) -> int:
        """Grows with every write and delete: a cheap way to notice that the store changed."""
        return self._write_counter()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self.path} is not open: use `with store:` or store.open()")
        return self._conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; everything in it lands, or nothing does."""
        if self._mode != "w":
            raise StoreError(f"store {self.path} is open read-only" if self._conn else
                             f"store {self.path} is not open: use `with store:` or store.open('w')")
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any], types: dict, *, expected_rows: int = 0) -> pl.DataFrame:
        assert self._reader is not None, "store is not open"
        return self._reader.frame(sql, params, types, expected_rows=expected_rows)

    def _write_counter(self) -> int:
        with self._lock:
            return self.conn.execute("SELECT coalesce(max(id), 0) FROM _metaxy_writes").fetchone()[0]

    def _has_latest(self, table: str, fv_id: int) -> bool:
        with self._lock:
            return self.conn.execute(f"SELECT 1 FROM {quote(table)} WHERE {_resolve.latest_condition()} LIMIT 1",
                                     (fv_id,)).fetchone() is not None

    def _read_many(self, queries: list) -> list[pl.DataFrame]:
        """Several queries that must see one state of the store (see store/reader.py)."""
        assert self._reader is not None, "store is not open"
        return self._reader.frames(queries)

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
        """Columns typed by the data (see store/frame_columns.py), read again only when one was added."""
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

    def _record_snapshot(self, conn: sqlite3.Connection, graph: FeatureGraph) -> int:
        pv = graph.project_version
        row = conn.execute("SELECT id FROM _metaxy_snapshots WHERE project_version = ?", (pv,)).fetchone()
        if row:
            return row[0]
        snap = graph.to_snapshot()
        cur = conn.execute("INSERT INTO _metaxy_snapshots (project_version, project, recorded_at, graph) "
                           "VALUES (?, ?, ?, ?)", (pv, self.project, now_us(), json.dumps(snap)))
        snap_id = cur.lastrowid
        for f in snap["features"]:
            conn.execute("INSERT OR IGNORE INTO _metaxy_feature_versions (feature_key, feature_version, snapshot_id) "
                         "VALUES (?, ?, ?)", (f["key"], f["feature_version"], snap_id))
        return snap_id

    def push_graph(self, graph: FeatureGraph | None = None) -> dict:
        """Record the graph's snapshot (as `metaxy push`); returns {id, project_version, new}."""
        graph = graph or self.graph()
        graph.plan()
        with self._transaction() as conn:
            known = conn.execute("SELECT id FROM _metaxy_snapshots WHERE project_version = ?",
                                 (graph.project_version,)).fetchone()
            snap_id = self._record_snapshot(conn, graph)
        return {"id": snap_id, "project_version": graph.project_version, "new": known is None}

    def snapshots(self) -> list[dict]:
        rows = self.conn.execute("SELECT id, project_version, project, recorded_at FROM _metaxy_snapshots "
                                 "ORDER BY id").fetchall()
        return [{"id": r[0], "project_version": r[1], "project": r[2], "recorded_at": r[3]} for r in rows]

    def snapshot(self, which: int | str | None = None) -> dict | None:
        """A recorded graph snapshot by id or project version (prefix); the latest by default."""
        if which is None:
            row = self.conn.execute("SELECT graph FROM _metaxy_snapshots ORDER BY id DESC LIMIT 1").fetchone()
        elif isinstance(which, int):
            row = self.conn.execute("SELECT graph FROM _metaxy_snapshots WHERE id = ?", (which,)).fetchone()
        else:
            row = self.conn.execute("SELECT graph FROM _metaxy_snapshots WHERE project_version LIKE ? || '%' "
                                    "ORDER BY id DESC LIMIT 1", (which,)).fetchone()
        return json.loads(row[0]) if row else None

    def stored_graph(self) -> FeatureGraph:
        """The latest recorded graph, for browsing a store without its code."""
        snap = self.snapshot()
        return frame_columns.overlay(FeatureGraph.from_snapshot(snap), self._recorded_columns()) if snap \
            else FeatureGraph()

    # ----- locations -------------------------------------------------------------------------
    def _table(self, key: str) -> str | None:
        row = self.conn.execute("SELECT table_name FROM _metaxy_features WHERE feature_key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _fv_id(self, key: str, feature_version: str) -> int | None:
        row = self.conn.execute("SELECT id FROM _metaxy_feature_versions WHERE feature_key = ? AND feature_version = ?",
                                (key, feature_version)).fetchone()
        return row[0] if row else None

    def _latest_location(self, key: str, feature_version: str) -> tuple[str | None, int | None, int]:
        """(table, feature version id, an upper bound of its row count) or Nones."""
        with self._lock:
            table = self._table(key)
            fv_id = self._fv_id(key, feature_version) if table else None
            n = 0
            if table and fv_id is not None:
                n = self._row_bound(table)
            return table, fv_id, n

    def _row_bound(self, table: str) -> int:
        """An upper bound of the table's row count (its largest rowid), to size reads."""
        with self._lock:
            return self.conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {quote(table)}").fetchone()[0]

    # ----- writing ---------------------------------------------------------------------------
    def write_metadata(self, feature: Any, df: Any, *, materialization_id: str | None = None,
                       progress: Callable[[int, int], None] | None = None, inputs_as_of: int | None = None,
                       delete_ids: Any = None, within: Callable[[sqlite3.Connection], None] | None = None) -> int:
        """Validate and store rows as the latest rows of their ids. Returns the number written.

        `inputs_as_of` is the last write id the rows' upstream was read at; by default the
        one of this store's latest resolve_update of the feature. `delete_ids` (id columns)
        are soft-deleted in the same transaction. `progress(done, total)` is called per batch
        inside the transaction: raising from it cancels the whole write. `within(conn)` runs
        last inside the transaction (the audit log uses it).
        """
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
            table = _schema.ensure_feature_table(conn, plan.definition, fields, now, _group_orders(gp, plan.name),
                                                 key_order=_key_order(plan))
            write_id = conn.execute(
                "INSERT INTO _metaxy_writes (feature_key, kind, feature_version_id, snapshot_id, at, n_rows, "
                "materialization_id, inputs_as_of) VALUES (?, 'write', ?, ?, ?, ?, ?, ?)",
                (plan.name, fv_id, snap_id, now, rows.height, materialization_id,
                 inputs_as_of if inputs_as_of is not None else self._resolved_as_of.get(plan.name))).lastrowid
            inserted = insert_rows(conn, table, plan.definition, fields, rows, fv_id=fv_id, write_id=write_id,
                                   now=now, progress=progress)
            # the columnar copy and group digests, in this same transaction (store/upkeep.py)
            upkeep.after_insert(conn, table, plan.definition, fv_id, write_id, inserted, self.hasher,
                                upkeep.aggregation_orders(gp, plan.name))
            n = inserted.height
            if doomed is not None and doomed.height:
                self._delete_rows(conn, plan.definition, table, fv_id, doomed, soft=True, now=now)
            if within is not None:
                within(conn)
        return n

    write = write_metadata

    def _frame_plan(self, plan: FeaturePlan, frame: pl.DataFrame) -> tuple[FeaturePlan, dict, list[str]]:
        definition, new_columns, dropped = frame_columns.columns_for_frame(
            plan, frame, self._recorded_columns().get(plan.name, {}))
        return (dataclasses.replace(plan, definition=definition) if new_columns else plan), new_columns, dropped

    def frame_plan(self, feature: Any, frame: Any) -> FeaturePlan:
        """The feature's plan for writing `frame`: with the columns it carries that the class does
        not annotate, typed from the frame (SPEC 1); raises InputError for names it cannot hold."""
        _graph, plan = self._plan(feature)
        return self._frame_plan(plan, to_polars(frame, plan.name))[0]

    # ----- reading ---------------------------------------------------------------------------
    def _definition_for_read(self, feature: Any) -> tuple[FeatureDefinition, str | None]:
        """A feature's definition and current version: from code, else from the stored graph."""
        plan = self._read_plan(feature)
        return plan.definition, plan.feature_version

    def read_metadata(self, feature: Any, *, filters: Any = None, columns: Sequence[str] | None = None,
                      feature_version: str | None = None, all_feature_versions: bool = False,
                      include_history: bool = False, include_deleted: bool = False,
                      current_only: bool | None = None, latest_only: bool | None = None,
                      include_soft_deleted: bool | None = None, with_feature_history: bool | None = None,
                      with_sample_history: bool | None = None, allow_fallback: bool = True) -> MetadataFrame:
        """The feature's latest rows under its current feature version, as a polars frame.

        `all_feature_versions` (Metaxy: with_feature_history, or current_only=False) reads every
        feature version; `feature_version=` one given version; `include_history` (Metaxy:
        with_sample_history, or latest_only=False) adds superseded rows; `include_deleted`
        (include_soft_deleted) adds soft-deleted rows; `filters` is a polars or narwhals
        expression (or a list of them); `columns` picks columns (Metaxy 0.1.11 too returns only
        those). The frame is a polars DataFrame that also answers Metaxy's lazy frame calls
        (`.collect().to_polars()`).
        """
        if current_only is not None:
            all_feature_versions = not current_only
        if with_feature_history is not None:
            all_feature_versions = with_feature_history
        if latest_only is not None:
            include_history = not latest_only
        if with_sample_history is not None:
            include_history = with_sample_history
        if include_soft_deleted is not None:
            include_deleted = include_soft_deleted
        definition, current_fv = self._definition_for_read(feature)
        key = definition.name
        with self._lock:
            df = self._read_rows(definition, current_fv, feature_version, all_feature_versions,
                                 include_history, include_deleted)
        if filters is not None:
            df = apply_filters(df, filters, key)
        if columns is not None:
            missing = [c for c in columns if c not in df.columns]
            if missing:
                raise InputError(key, [InputProblem(f"unknown column (available: {', '.join(df.columns)})", c)
                                       for c in missing])
            df = df.select(list(columns))
        return MetadataFrame(df)

    read = read_metadata

    def _read_rows(self, definition: FeatureDefinition, current_fv: str | None, feature_version: str | None,
                   all_versions: bool, history: bool, deleted: bool, *, keys: pl.DataFrame | None = None
                   ) -> pl.DataFrame:
        """Rows as read_metadata returns them; `keys` (some of the id columns) limits them in SQL."""
        table = self._table(definition.name)
        fields = definition.field_keys
        if table is None:
            return empty_frame(definition, fields)
        stored_cols = _schema.table_columns(self.conn, table)
        where: list[str] = []
        params: list[Any] = []
        if not all_versions:
            fv_id = self._fv_id(definition.name, feature_version or current_fv or "")
            if fv_id is None:
                return empty_frame(definition, fields)
            where.append(f"{quote(_schema.FV)} = ?")
            params.append(fv_id)
        else:
            fields = sorted({c.split(".", 1)[1] for c in stored_cols if c.startswith("metaxy_provenance_by_field.")})
        if not history:
            where.append(f"{quote(_schema.SUPERSEDED)} IS NULL")
        if not deleted:
            where.append(f"{quote(DELETED_AT)} IS NULL")
        if keys is not None:
            cond, encoded = keys_in(list(keys.columns), keys, definition.columns)
            where.append(cond)
            params.append(encoded)
        wanted = [c for c in definition.columns if c in stored_cols]
        wanted += [c for f in fields for c in (pbf_column(f), dvbf_column(f)) if c in stored_cols]
        wanted += [c for c in stored_cols if c.startswith("metaxy_") and "." not in c] + [_schema.FV, _schema.WRITE]
        sql = (f"SELECT {quote_all(wanted)} FROM {quote(table)}"
               + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY rowid")
        n = self._row_bound(table)
        raw = self._reader.frame(sql, params, table_types(definition, wanted), expected_rows=n)  # type: ignore[union-attr]
        fv_names = dict(self.conn.execute("SELECT id, feature_version FROM _metaxy_feature_versions "
                                          "WHERE feature_key = ?", (definition.name,)).fetchall())
        pvs = dict(self.conn.execute("SELECT w.id, s.project_version FROM _metaxy_writes w JOIN _metaxy_snapshots s "
                                     "ON s.id = w.snapshot_id WHERE w.feature_key = ?", (definition.name,)).fetchall())
        return decode_rows(raw, definition, fields, fv_names, pvs)

    # ----- deleting --------------------------------------------------------------------------
    def delete_metadata(self, feature: Any, ids: Any = None, *, filters: Any = None, soft: bool = True,
                        with_feature_history: bool = False, with_sample_history: bool = False,
                        within: Callable[[sqlite3.Connection], None] | None = None) -> int:
        """Soft-delete (hide until written again) or hard-delete (remove the stored rows of) samples
        of the current feature version; older versions' rows are untouched (SPEC 5).

        `ids` is a list of dicts or a frame with the id columns, or with the increment's key
        columns (for an expansion, the parent's `on` columns: all of that parent's children);
        `filters` a polars or narwhals expression (or a list of them) over the latest rows, also
        accepted in place of `ids` as Metaxy's `store.delete(feature, filters)` passes them.
        Returns the number of samples deleted (visible samples that went away).
        """
        if ids is not None and filters is None and is_filter(ids):
            ids, filters = None, ids
        plan = self._read_plan(feature)
        definition = plan.definition
        key = definition.name
        id_cols = definition.id_columns
        if with_feature_history:
            raise InputError(key, [InputProblem("deletes act on the current feature version only; older "
                                                "versions' rows stay as history")])
        if (ids is None) == (filters is None):
            raise InputError(key, [InputProblem("delete needs exactly one of ids= or filters=")])
        table = self._table(key)
        fv_id = self._fv_id(key, plan.feature_version) if table else None
        if table is None or fv_id is None:
            return 0
        if filters is not None:
            target = self.read_metadata(feature, filters=filters).select(id_cols)
        else:
            target = self._target_ids(plan, ids)
        if target.height == 0:
            return 0
        with self._transaction() as conn:
            n = self._delete_rows(conn, definition, table, fv_id, target, soft=soft, now=now_us())
            if within is not None:
                within(conn)
            return n

    def _read_plan(self, feature: Any) -> FeaturePlan:
        """The feature's plan for reading: from the code, else from the stored graph."""
        graph = self.graph(feature)
        key = feature_key_of(feature).to_string()
        if key in graph:
            return self.effective_graph(graph).feature_plan(key)
        stored = self.stored_graph()
        if key in stored:
            return stored.feature_plan(key)
        raise UnknownFeatureError(key, sorted(set(graph.keys) | set(stored.keys)))

    def _target_ids(self, plan: FeaturePlan, ids: Any) -> pl.DataFrame:
        """Id columns of the samples `ids` names: by id, or by the increment's key (an expansion's
        parent), looked up among the current rows."""
        definition = plan.definition
        frame = to_polars(ids, definition.name)
        if all(c in frame.columns for c in definition.id_columns) or set(plan.key) == set(definition.id_columns):
            return self._id_frame(definition, frame)
        key = list(plan.key)
        if not all(c in frame.columns for c in key):
            missing = [c for c in definition.id_columns if c not in frame.columns]
            raise InputError(definition.name, [InputProblem(
                f"missing id column (or give the parent's columns {', '.join(key)} to delete all its children)", c)
                for c in missing])
        try:
            keys = frame.select(key).unique().cast({c: definition.columns[c].polars for c in key})
        except pl.exceptions.PolarsError as e:
            raise InputError(definition.name, [InputProblem(f"keys do not match the column types: {e}")]) from None
        rows = self._read_rows(definition, plan.feature_version, None, False, False, False, keys=keys)
        return rows.select(list(definition.id_columns))

    def _id_frame(self, definition: FeatureDefinition, ids: Any) -> pl.DataFrame:
        key = definition.name
        id_cols = definition.id_columns
        target = to_polars(ids, key)
        missing = [c for c in id_cols if c not in target.columns]
        if missing:
            raise InputError(key, [InputProblem("missing id column", c) for c in missing])
        try:
            return target.select(id_cols).unique().cast({c: definition.columns[c].polars for c in id_cols})
        except pl.exceptions.PolarsError as e:
            raise InputError(key, [InputProblem(f"ids do not match the id column types: {e}")]) from None

    def _delete_rows(self, conn: sqlite3.Connection, definition: FeatureDefinition, table: str, fv_id: int,
                     target: pl.DataFrame, *, soft: bool, now: int) -> int:
        """Delete the samples in `target` (id columns) of feature version `fv_id`, inside the
        caller's transaction; returns how many visible samples went."""
        id_cols = definition.id_columns
        write_id = conn.execute("INSERT INTO _metaxy_writes (feature_key, kind, feature_version_id, at, n_rows) "
                                "VALUES (?, ?, ?, ?, 0)",
                                (definition.name, "soft_delete" if soft else "hard_delete", fv_id, now)).lastrowid
        staged = stage_ids(conn, target, {c: definition.columns[c] for c in id_cols})
        cond = match_ids(quote(table), staged, id_cols)
        t = quote(table)
        live = f"{quote(_schema.FV)} = ? AND {quote(_schema.SUPERSEDED)} IS NULL AND {quote(DELETED_AT)} IS NULL"
        if soft:
            # a tombstone row supersedes the latest row, so history shows when it went
            n = conn.execute(f"UPDATE {t} SET {quote(_schema.SUPERSEDED)} = ? WHERE {live} AND {cond}",
                             (write_id, fv_id)).rowcount
            cols = _schema.table_columns(conn, table)
            copied = [c for c in cols if c not in (DELETED_AT, UPDATED_AT, _schema.WRITE, _schema.SUPERSEDED)]
            conn.execute(f"INSERT INTO {t} ({quote_all(copied)}, {quote(DELETED_AT)}, {quote(UPDATED_AT)}, "
                         f"{quote(_schema.WRITE)}) SELECT {quote_all(copied)}, ?, ?, ? FROM {t} "
                         f"WHERE {quote(_schema.SUPERSEDED)} = ?", (now, now, write_id, write_id))
        else:
            n = conn.execute(f"SELECT count(*) FROM {t} WHERE {live} AND {cond}", (fv_id,)).fetchone()[0]
            this_version = f"{quote(_schema.FV)} = {int(fv_id)} AND {cond}"
            removed_groups = upkeep.before_delete(conn, table, this_version)
            gone = [r[0] for r in conn.execute(f"DELETE FROM {t} WHERE {this_version} RETURNING rowid")]
        conn.execute("UPDATE _metaxy_writes SET n_rows = ? WHERE id = ?", (n, write_id))
        if soft:
            upkeep.after_delete(conn, table, definition, fv_id, write_id, self.hasher)
        else:
            upkeep.after_delete(conn, table, definition, fv_id, write_id, self.hasher,
                                removed_rowids=pl.Series(gone, dtype=pl.Int64), removed_groups=removed_groups)
        conn.execute(f"DROP TABLE {staged}")
        return n

    delete = delete_metadata

    # ----- resolving -------------------------------------------------------------------------
    def resolved_as_of(self, feature: Any) -> int | None:
        """The last write id visible when `feature` was last resolved by this store object (None
        before): rows computed from that increment were computed from the upstream as of it."""
        return self._resolved_as_of.get(feature_key_of(feature).to_string())

    def resolve_update(self, feature: Any, samples: Any = None, *, lazy: bool = False,
                       versioning_engine: str | None = None, skip_comparison: bool = False,
                       **unsupported: Any) -> Increment:
        """Which samples of `feature` are added, changed or removed relative to its upstream.

        A root needs `samples` (its id columns and provenance; other columns pass through). An
        upstream never written reads as empty, so a feature waiting on it has nothing to do (SPEC 4;
        Metaxy 0.1.11 raises): see `waiting_on`.
        As in Metaxy, `skip_comparison=True` returns every expected sample as added; `lazy` and
        `versioning_engine` are accepted (frames are always computed here, in SQLite and polars).
        """
        given = sorted(k for k, v in unsupported.items() if v is not None)
        if given:
            raise InputError(feature_key_of(feature).to_string(), [InputProblem(
                f"resolve_update does not support {', '.join(given)} here; filter the increment's frames instead")])
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
            untyped = [c for c in plan.key if plan.is_root and not plan.definition.columns[c].declared
                       and c not in recorded]
            frame = prepare_samples(to_polars(samples, plan.name), plan, self.hasher, untyped)
        if skip_comparison:  # every expected sample, as added
            expected = frame if frame is not None else _resolve.resolve_frames(self, gp, plan, self.hasher)[0]
            inc = Increment(plan.name, tuple(plan.key), IncrementFrame(expected), IncrementFrame(expected.clear()),
                            IncrementFrame(read_removed(None)))
        elif frame is not None:
            expected, current = _resolve.resolve_frames(self, gp, plan, self.hasher, expected=frame)
            inc = _resolve.compare(plan, expected, current, read_removed)
        else:
            inc = _resolve.resolve(self, gp, plan, self.hasher, read_removed)
        return _resolve.with_data_versions(inc, plan, self.hasher)

    def waiting_on(self, feature: Any) -> list[str]:
        """The feature's required upstream features that have never been written: they read as
        empty, so until they are written the feature has nothing to compute (SPEC 4)."""
        _graph, plan = self._plan(feature)
        return [d.upstream for d in plan.deps if not d.optional and self._table(d.upstream) is None]

    def explain(self, feature: Any, increment: Increment | None = None, *, keys_only: bool = False):
        """Why each sample of the feature's increment is added, changed or removed (an Explanation).

        `keys_only`: resolve by key only (see explain.explain), for a caller that needs no rows.
        """
        from ..explain import explain

        return explain(self, feature, increment, keys_only=keys_only)

    def pending_counts(self, feature: Any) -> dict[str, int]:
        """Distinct samples added, changed and removed: resolve_update's counts, reading only keys."""
        graph, plan = self._plan(feature)
        if plan.is_root:
            return {"added": 0, "changed": 0, "removed": 0}
        expected, current = _resolve.resolve_frames(self, graph.plan(), plan, self.hasher, lean=True)
        return _resolve.counts(plan, expected, current)

    # ----- the audit log ---------------------------------------------------------------------
    def record_audit(self, *, action: str, feature: str, feature_version: str | None, ids: list[dict],
                     duration_s: float, outcome: str, detail: str | None = None, user: str | None = None,
                     executor: str | None = None) -> int:
        """Append one finished entry to the audit log (its own transaction)."""
        with self._transaction() as conn:
            audit_id = self._start_audit(conn, action, feature, feature_version, user, outcome, executor)
            self.audit_batch(conn, audit_id, ids, duration_s)
            conn.execute("UPDATE _metaxy_audit SET detail = ? WHERE id = ?", (detail, audit_id))
            return audit_id

    def start_audit(self, *, action: str, feature: str, feature_version: str | None, user: str | None = None,
                    executor: str | None = None) -> int:
        """An entry for a long action, marked `running` until finish_audit; batches add to it.
        `executor` names where a recompute's batches ran (local, ray)."""
        with self._transaction() as conn:
            return self._start_audit(conn, action, feature, feature_version, user, "running", executor)

    def _start_audit(self, conn: sqlite3.Connection, action: str, feature: str, feature_version: str | None,
                     user: str | None, outcome: str, executor: str | None = None) -> int:
        return conn.execute(
            "INSERT INTO _metaxy_audit (at, user, action, feature_key, feature_version, n_samples, duration_s, "
            "outcome, executor) VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?)",
            (now_us(), user or current_user(), action, feature, feature_version, outcome, executor)).lastrowid

    def audit_batch(self, tx: sqlite3.Connection, audit_id: int, ids: list[dict], duration_s: float) -> None:
        """Add samples to an entry, inside the transaction that wrote them (so a kill never
        leaves written samples the log does not name)."""
        if ids:
            tx.execute("INSERT INTO _metaxy_audit_ids (audit_id, ids) VALUES (?, ?)",
                       (audit_id, json.dumps(ids, default=str)))
        tx.execute("UPDATE _metaxy_audit SET n_samples = n_samples + ?, duration_s = ? WHERE id = ?",
                   (len(ids), duration_s, audit_id))

    def finish_audit(self, audit_id: int, *, outcome: str, duration_s: float, detail: str | None = None) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE _metaxy_audit SET outcome = ?, duration_s = ?, detail = ? WHERE id = ?",
                         (outcome, duration_s, detail, audit_id))

    def audit_log(self, *, feature: str | None = None, since_us: int | None = None, action: str | None = None,
                  limit: int | None = None) -> pl.DataFrame:
        """Audit entries, newest first; `ids` is a JSON array of the samples' keys.

        `outcome` is ok, failed, cancelled, nothing to do, or running (still running, or
        interrupted: a process killed mid-way leaves its committed batches recorded);
        `executor` is where a recompute's batches ran (local, ray; null for other actions and
        for entries written before it was recorded).
        """
        where, params = [], []
        if feature is not None:
            where.append("feature_key = ?")
            params.append(feature)
        if since_us is not None:
            where.append("at >= ?")
            params.append(since_us)
        if action is not None:
            where.append("action = ?")
            params.append(action)
        ids = ("(SELECT json_group_array(json(j.value)) FROM _metaxy_audit_ids i, json_each(i.ids) j "
               "WHERE i.audit_id = a.id)")
        types = {"id": pl.Int64, "at": pl.Int64, "user": pl.String, "action": pl.String, "feature": pl.String,
                 "feature_version": pl.String, "n_samples": pl.Int64, "ids": pl.String, "duration_s": pl.Float64,
                 "outcome": pl.String, "detail": pl.String, "executor": pl.String}
        if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_metaxy_audit_ids' UNION ALL "
                                 "SELECT 1 FROM sqlite_temp_master WHERE name = '_metaxy_audit_ids'").fetchone():
            return pl.DataFrame(schema=types).with_columns(pl.col("at").cast(pl.Datetime("us", "UTC")))
        with self._lock:
            # a store written before executors were recorded, opened read-only, lacks the column
            executor = "executor" if _schema.audit_has_executor(self.conn) else "NULL AS executor"
            sql = (f"SELECT id, at, user, action, feature_key AS feature, feature_version, n_samples, {ids} AS ids, "
                   f"duration_s, outcome, detail, {executor} FROM _metaxy_audit a"
                   + (" WHERE " + " AND ".join(where) if where else "")
                   + " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else ""))
            df = self._reader.frame(sql, params, types)  # type: ignore[union-attr]
        return df.with_columns(pl.from_epoch(pl.col("at"), time_unit="us").dt.replace_time_zone("UTC"))

    # ----- small queries ---------------------------------------------------------------------
    def count(self, feature: Any, *, feature_version: str | None = None) -> int:
        definition, current_fv = self._definition_for_read(feature)
        table = self._table(definition.name)
        fv_id = self._fv_id(definition.name, feature_version or current_fv or "") if table else None
        if fv_id is None:
            return 0
        return self.conn.execute(f"SELECT count(*) FROM {quote(table)} WHERE {_resolve.latest_condition()}",
                                 (fv_id,)).fetchone()[0]

    def stored_feature_versions(self, feature: Any) -> list[dict]:
        key = feature_key_of(feature).to_string()
        rows = self.conn.execute(
            "SELECT fv.feature_version, fv.snapshot_id, s.recorded_at FROM _metaxy_feature_versions fv "
            "JOIN _metaxy_snapshots s ON s.id = fv.snapshot_id WHERE fv.feature_key = ? ORDER BY fv.id", (key,))
        return [{"feature_version": r[0], "snapshot_id": r[1], "recorded_at": r[2]} for r in rows]

    def __repr__(self) -> str:
        return f"SQLiteMetadataStore({self.path!r}, hash={self.hasher.describe()})"


def _remove_new_side_files(paths: list[Path], had: set[Path]) -> None:
    """A refused file keeps no -wal/-shm that opening it made (left empty by SQLite)."""
    for p in paths:
        if p not in had:
            with contextlib.suppress(OSError):
                if p.exists() and p.stat().st_size in (0, 32768):
                    p.unlink()


class OpenStore:
    """What `store.open(mode)` returns: the store, plus a `with` block that closes it again."""

    def __init__(self, store: SQLiteMetadataStore):
        self.store = store

    def __enter__(self) -> SQLiteMetadataStore:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def _group_orders(gp, upstream: str) -> list[tuple[str, ...]]:
    """How aggregation deps of downstream features read `upstream`: on columns, then ids."""
    out = []
    for name in gp[upstream].downstream:
        d = gp[name].dep(upstream)
        if d.kind == "aggregation":
            order = tuple(d.columns[c] for c in d.on) + tuple(d.columns[c] for c in d.upstream_ids)
            if order not in out:
                out.append(order)
    return out


def _key_order(plan: FeaturePlan) -> tuple[str, ...]:
    """Columns for an index serving lookups by the feature's key (its deps' `on` columns) when
    the id index cannot: an expansion's children by their parent, for traces (empty otherwise)."""
    key, ids = tuple(plan.key), tuple(plan.definition.id_columns)
    if plan.is_root or ids[:len(key)] == key:
        return ()
    return key + tuple(c for c in ids if c not in key)


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER", "unknown")


__all__ = ["SQLiteMetadataStore", "IncrementFrame", "FEATURE_VERSION", "PROVENANCE"]
