"""Copying a whole store to another one (`metaxy-tui copy --from A --to B`), SQLite or PostgreSQL
either way, store-neutrally.

Each store exports its content in a logical form both understand (store/transfer_form.py:
`Content`, the system tables as rows, and each feature table's rows in ordered batches), from
store/sqlite/transfer.py and store/postgres/transfer.py.

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
from dataclasses import dataclass
from typing import Any

import polars as pl

from ..columns import (
    ColumnType,
)
from ..definition import FeatureDefinition
from ..errors import StoreError
from ..graph import FeatureGraph
from .postgres.write import group_orders, key_order  # what a store's own write indexes (both stores alike)
from .transfer_form import (
    AUDIT_COLUMNS,
    AUDIT_ID_COLUMNS,
    FEATURE_COLUMNS,
    FEATURE_VERSION_COLUMNS,
    FV,
    RECORDED_COLUMNS,
    SNAPSHOT_COLUMNS,
    SUPERSEDED,
    WRITE,
    WRITE_COLUMNS,
    Content,
    CopySummary,
    Progress,
    Source,
    Target,
)
from .sqlite.frame_columns import overlay
from .sqlite.upkeep import aggregation_orders

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


__all__ = ["copy_content", "table_plans"]
