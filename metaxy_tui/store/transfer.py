"""Copying a whole store to another one (`metaxy-tui copy --from A --to B`), SQLite or PostgreSQL
either way, store-neutrally.

Each store exports its content in a logical form both understand (store/sqlite/transfer.py,
store/postgres/transfer.py): the system tables as plain rows (`Content`: snapshots, feature
versions, features, recorded columns, the writes log, the audit log and its ids), and each
feature table's rows, every version of every sample (superseded rows and tombstones included),
as ordered polars batches of `BATCH_ROWS` rows: the user columns in their polars types, the
provenance and data version columns, `metaxy_created_at`/`updated_at`/`deleted_at`
(microseconds), and FV (the source's feature version id), WRITE (its write id) and SUPERSEDED
(the write that replaced the row, or null), in the order the rows were written.

The target loads all of it in ONE transaction (`Target`): a failure or a cancel (the progress
callback raising) leaves it exactly as it was. A feature's table is created on the target by
replaying, in write order, the definitions it was written with (from the snapshots the source
recorded), so its columns and indexes are the ones the target's own writes would have made.

Ids. Into an empty target every id is kept: snapshots, feature versions, writes (so resolved
as-of states and explanations agree) and audit entries. With `merge=True` the source's content
is appended after the target's: a snapshot already there (same project version) and a feature
version already there (same feature and version) are reused, others get new ids; the source's
writes are renumbered after the target's last write (id + offset, order and gaps kept, and
`inputs_as_of` shifted alike); audit entries are appended with new ids. A sample (feature
version and ids) that is live in both ends live with the source's row: its first source row
supersedes the target's latest row, as a later write would. A merge is refused, before
anything is written, when the hash settings differ or a column recorded from the data is typed
differently in the two stores.

Not supported (refused with a message, nothing written): a feature column whose type changed
between feature versions (each store keeps such a column in its own untyped form).
"""

from __future__ import annotations

import json
import time
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
from ..errors import StoreError
from ..graph import FeatureGraph
from ..hashing import HashAlgorithm, Hasher
from .postgres.write import group_orders, key_order  # what a store's own write indexes (both stores alike)
from .records import FV_ID, WRITE_ID
from .sqlite.frame_columns import overlay
from .sqlite.upkeep import aggregation_orders

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


# ----- what a feature's table holds ------------------------------------------------------------


@dataclass
class TablePlan:
    key: str
    table: str
    columns: dict[str, ColumnType]  # user columns, every version's
    fields: list[str]  # fields with provenance columns, every version's
    replay: list[tuple[FeatureDefinition, list[str], list[tuple[str, ...]], tuple[str, ...]]]
    current: tuple[FeatureDefinition, int, list[Any]] | None  # the latest written version: definition, fv id, orders


def _graphs(content: Content) -> dict[int, FeatureGraph]:
    recorded: dict[str, dict[str, ColumnType]] = {}
    for key, col, typ, nullable, _at in content.columns:
        recorded.setdefault(key, {})[col] = ColumnType(typ, bool(nullable), declared=False)
    out = {}
    for snap_id, _pv, _project, _at, graph in content.snapshots:
        out[snap_id] = overlay(FeatureGraph.from_snapshot(json.loads(graph)), recorded)
    return out


def table_plans(content: Content, where: str) -> list[TablePlan]:
    """Each stored feature's table: its columns over every written version, and the definitions to
    create it with, in the order the source's writes used them."""
    graphs = _graphs(content)
    fv_of = {r[0]: (r[1], r[2]) for r in content.feature_versions}
    plans = []
    for key, table, _created in content.features:
        seen: list[tuple[int, int]] = []
        for w in content.writes:
            if w[1] == key and w[2] == "write" and w[3] is not None and w[4] is not None and (w[3], w[4]) not in seen:
                seen.append((w[3], w[4]))
        columns: dict[str, ColumnType] = {}
        fields: list[str] = []
        replay = []
        current = None
        for fv_id, snap_id in seen:
            graph = graphs.get(snap_id)
            if graph is None or key not in graph:
                raise StoreError(f"{where}: feature {key} was written under snapshot {snap_id}, which does not hold it")
            gp = graph.plan()
            plan = gp[key]
            if fv_of.get(fv_id, (None, None))[1] != plan.feature_version:
                raise StoreError(f"{where}: feature {key}'s version {fv_id} does not match snapshot {snap_id}")
            for c, t in plan.definition.columns.items():
                had = columns.get(c)
                if had is not None and had.name != t.name:
                    raise StoreError(
                        f"{where}: column {c!r} of feature {key} changed type between feature versions "
                        f"({had.name}, {t.name}); copy cannot move such a feature yet"
                    )
                if had is None or t.nullable:
                    columns[c] = t
            for f in plan.definition.field_keys:
                if f not in fields:
                    fields.append(f)
            replay.append((plan.definition, list(plan.definition.field_keys), group_orders(gp, key), key_order(plan)))
            current = (plan.definition, fv_id, aggregation_orders(gp, key))
        plans.append(TablePlan(key, table, columns, fields, replay, current))
    return plans


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


# ----- the copy ----------------------------------------------------------------------------------


def _col(rows: list[tuple[Any, ...]], columns: tuple[str, ...], name: str) -> list[Any]:
    i = columns.index(name)
    return [r[i] for r in rows]


def copy_content(
    source: Source,
    target: Target,
    *,
    merge: bool = False,
    progress: Progress | None = None,
) -> CopySummary:
    """Copy everything `source` holds into `target` in the target's one open transaction, then
    commit; on any error (or the progress callback raising) roll back and re-raise."""
    started = time.perf_counter()
    summary = CopySummary(source.where, target.where, merged=merge)
    try:
        content = source.content()
        plans = table_plans(content, source.where)
        there = target.existing()
        if not there.empty and not merge:
            raise StoreError(
                f"{target.where} already holds a store with data; pass --merge to add this one to it, "
                "or choose an empty target"
            )
        if not there.empty and (there.hash_algorithm, there.hash_truncation) != (
            content.hash_algorithm,
            content.hash_truncation,
        ):
            raise StoreError(
                f"cannot merge: {source.where} hashes with {content.hasher.describe()}, {target.where} with "
                f"{there.hasher.describe()}"
            )
        if there.empty and (there.hash_algorithm, there.hash_truncation) != (
            content.hash_algorithm,
            content.hash_truncation,
        ):
            target.set_hash(content.hash_algorithm, content.hash_truncation)
        mapping = _ids(content, there, source.where, target.where)
        _load_system(content, there, target, mapping)
        summary.write_offset = mapping.write_offset
        totals = {p.table: source.row_count(p.table) for p in plans}
        total = sum(totals.values())
        done = 0
        if progress is not None:
            progress("rows", 0, total)
        current: dict[str, list[Any]] = {}
        tables = {}
        for p in plans:  # every table first, as the source's writes made them
            for definition, fields, orders, key_order in p.replay:
                tables[p.key] = target.ensure_table(definition, fields, _created_at(content, p.key), orders, key_order)
        for p in plans:
            if not p.replay:
                continue
            table = tables[p.key]
            definition = p.replay[-1][0]
            for batch in source.rows(p.table, p.columns, p.fields):
                batch = mapping.rows(batch)
                target.insert_rows(table, definition, p.columns, batch, merge=merge and not there.empty)
                done += batch.height
                if progress is not None:
                    progress(f"rows of {p.key}", done, total)
            if p.current is not None:
                d, fv, orders = p.current
                current.setdefault(table, []).append((d, mapping.fv[fv], orders))
            summary.features += 1
        if progress is not None:
            progress("derived data", done, total)
        target.finish(current, content.hasher)
        if progress is not None:
            progress("committing", total, total)
        target.commit()
    except BaseException:
        target.rollback()
        raise
    summary.rows = done
    summary.writes = len(content.writes)
    summary.snapshots = len(content.snapshots)
    summary.audit_entries = len(content.audit)
    summary.seconds = time.perf_counter() - started
    return summary


def _created_at(content: Content, key: str) -> int:
    for k, _t, created in content.features:
        if k == key:
            return int(created)
    return 0


@dataclass
class _Mapping:
    snapshots: dict[int, int]
    fv: dict[int, int]
    write_offset: int
    new_snapshots: set[int]
    new_fvs: set[int]
    audit_offset: int

    def write(self, w: int | None) -> int | None:
        return None if w is None else w + self.write_offset

    def rows(self, batch: pl.DataFrame) -> pl.DataFrame:
        if not self.write_offset and all(k == v for k, v in self.fv.items()):
            return batch
        return batch.with_columns(
            pl.col(FV).replace_strict(self.fv, return_dtype=pl.Int64),
            pl.col(WRITE) + self.write_offset,
            pl.col(SUPERSEDED) + self.write_offset,
        )


def _ids(content: Content, there: Content, source: str, target: str) -> _Mapping:
    """How the source's ids map into the target (kept when it is empty; see the module docstring)."""
    if there.empty:
        return _Mapping(
            {r[0]: r[0] for r in content.snapshots},
            {r[0]: r[0] for r in content.feature_versions},
            0,
            {r[0] for r in content.snapshots},
            {r[0] for r in content.feature_versions},
            0,
        )
    recorded = {(r[0], r[1]): r[2] for r in there.columns}
    for key, col, typ, _n, _at in content.columns:
        have = recorded.get((key, col))
        if have is not None and have != typ:
            raise StoreError(
                f"cannot merge: column {col!r} of feature {key} is {typ} in {source} but {have} in {target}"
            )
    by_pv = {r[1]: r[0] for r in there.snapshots}
    next_snap = max([r[0] for r in there.snapshots] or [0]) + 1
    snaps: dict[int, int] = {}
    new_snaps = set()
    for r in content.snapshots:
        if r[1] in by_pv:
            snaps[r[0]] = by_pv[r[1]]
        else:
            snaps[r[0]] = next_snap
            new_snaps.add(r[0])
            next_snap += 1
    by_fv = {(r[1], r[2]): r[0] for r in there.feature_versions}
    next_fv = max([r[0] for r in there.feature_versions] or [0]) + 1
    fvs: dict[int, int] = {}
    new_fvs = set()
    for r in content.feature_versions:
        if (r[1], r[2]) in by_fv:
            fvs[r[0]] = by_fv[(r[1], r[2])]
        else:
            fvs[r[0]] = next_fv
            new_fvs.add(r[0])
            next_fv += 1
    offset = max([r[0] for r in there.writes] or [0])
    audit_offset = max([r[0] for r in there.audit] or [0])
    return _Mapping(snaps, fvs, offset, new_snaps, new_fvs, audit_offset)


def _load_system(content: Content, there: Content, target: Target, m: _Mapping) -> None:
    target.insert(
        "_metaxy_snapshots",
        SNAPSHOT_COLUMNS,
        [(m.snapshots[r[0]], *r[1:]) for r in content.snapshots if r[0] in m.new_snapshots],
    )
    target.insert(
        "_metaxy_feature_versions",
        FEATURE_VERSION_COLUMNS,
        [(m.fv[r[0]], r[1], r[2], m.snapshots[r[3]]) for r in content.feature_versions if r[0] in m.new_fvs],
    )
    known = {r[0] for r in there.features}
    target.insert("_metaxy_features", FEATURE_COLUMNS, [r for r in content.features if r[0] not in known])
    known_cols = {(r[0], r[1]) for r in there.columns}
    target.insert("_metaxy_columns", RECORDED_COLUMNS, [r for r in content.columns if (r[0], r[1]) not in known_cols])
    target.insert(
        "_metaxy_writes",
        WRITE_COLUMNS,
        [
            (
                m.write(r[0]),
                r[1],
                r[2],
                None if r[3] is None else m.fv.get(r[3], r[3]),
                None if r[4] is None else m.snapshots.get(r[4], r[4]),
                *r[5:8],
                m.write(r[8]),
            )
            for r in content.writes
        ],
    )
    target.insert("_metaxy_audit", AUDIT_COLUMNS, [(r[0] + m.audit_offset, *r[1:]) for r in content.audit])
    target.insert("_metaxy_audit_ids", AUDIT_ID_COLUMNS, [(r[0] + m.audit_offset, r[1]) for r in content.audit_ids])


__all__ = ["BATCH_ROWS", "Content", "CopySummary", "Source", "Target", "copy_content", "neutral_schema", "table_plans"]
