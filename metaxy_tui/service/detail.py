"""Everything about one sample: its provenance by field, its history, and the samples
upstream and downstream of it.

Lineage decides which samples are linked, and one query shape covers all three kinds: a
dep's `on` columns (downstream names) map to upstream columns, and

- upstream of a row R, through dep d: the upstream's current rows whose `on` columns equal
  R's (identity: the one row with the same key; aggregation: every member of R's group;
  expansion: R's parent);
- downstream of a row U, for each feature D depending on U's feature: D's current rows whose
  `on` columns equal U's (identity: the same key; aggregation: the group row; expansion: the
  children).

Reads use their own read-only connection; call from a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from ..columns import (CREATED_AT, DATA_VERSION, DELETED_AT, MATERIALIZATION_ID, PROVENANCE, UPDATED_AT,
                       dvbf_column, pbf_column)
from ..errors import UnknownFeatureError
from ..graph import DepPlan, FeaturePlan
from ..keys import quote
from ..store.sqlite.resolve import latest_condition
from ..store.sqlite.schema import FV, SUPERSEDED, WRITE, table_columns
from .project import Project
from .samples import feature_version_names, format_ids, open_readonly, table_location

LINK_LIMIT = 200  # linked samples listed per dep; the rest are counted
HISTORY_LIMIT = 500


@dataclass(frozen=True)
class SampleRef:
    """A sample: a feature and the values of its id columns."""

    feature: str
    ids: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.feature} {format_ids(self.ids)}"


@dataclass
class FieldProvenance:
    field: str  # the field key as stored (struct name)
    provenance: str | None
    data_version: str | None  # None: the same as the provenance
    field_version: str  # the definition's current field version
    code_version: str
    parents: list[str]  # "<upstream>.<field>"


@dataclass
class HistoryEntry:
    """One stored row of the sample, oldest first."""

    write_id: int | None
    kind: str  # write | soft_delete | hard_delete | ?
    at: int | None  # the write's time, µs UTC
    feature_version: str
    current_version: bool
    provenance: str | None
    data_version: str | None  # None: the same as the provenance
    created_at: int | None
    updated_at: int | None
    deleted_at: int | None
    superseded_by: int | None
    materialization_id: str | None

    @property
    def state(self) -> str:
        if self.deleted_at is not None:
            return "deleted" if self.superseded_by is None else "deleted, then written again"
        if self.superseded_by is not None:
            return f"superseded by write {self.superseded_by}"
        return "latest" if self.current_version else "latest under an earlier version"


@dataclass
class LinkedSample:
    """An upstream or downstream sample, with what flows along the link."""

    ref: SampleRef
    provenance: str | None
    data_version: str | None  # the row's data version (provenance when not set)
    data_version_by_field: dict[str, str | None]
    values: dict[str, Any]  # its user columns (not ids)


@dataclass
class LinkedGroup:
    """The samples linked through one dep (upstream) or one downstream feature."""

    feature: str
    direction: str  # upstream | downstream
    kind: str  # identity | aggregation | expansion
    on: dict[str, Any]  # the matched columns, in the linked feature's names, with their values
    samples: list[LinkedSample] = field(default_factory=list)
    total: int = 0  # all matches (samples holds at most LINK_LIMIT)
    note: str = ""  # why there is nothing to show

    @property
    def relation(self) -> str:
        if self.direction == "upstream":
            return {"identity": "the same sample upstream", "aggregation": "the members of its group",
                    "expansion": "its parent"}[self.kind]
        return {"identity": "the same sample downstream", "aggregation": "the group it belongs to",
                "expansion": "its children"}[self.kind]


@dataclass
class SampleDetail:
    ref: SampleRef
    state: str  # current | deleted | earlier version | not stored
    description: str  # one line saying which row is shown
    values: dict[str, Any]  # user columns (ids excluded)
    column_types: dict[str, Any]
    provenance: str | None
    data_version: str | None  # None: the same as the provenance
    fields: list[FieldProvenance]
    feature_version: str | None  # the shown row's
    current_feature_version: str
    created_at: int | None
    updated_at: int | None
    deleted_at: int | None
    materialization_id: str | None
    history: list[HistoryEntry]
    history_total: int
    upstream: list[LinkedGroup]
    downstream: list[LinkedGroup]

    @property
    def found(self) -> bool:
        return self.state != "not stored"


def sample_detail(project: Project, feature: str, ids: dict[str, Any], *,
                  link_limit: int = LINK_LIMIT) -> SampleDetail:
    """The detail of the sample of `feature` with these id values."""
    graph = project.graph
    if feature not in graph:
        raise UnknownFeatureError(feature, graph.keys)
    plan = graph.feature_plan(feature)
    missing = [c for c in plan.definition.id_columns if c not in ids]
    if missing:
        raise ValueError(f"{feature}: missing id column {', '.join(missing)}")
    ids = {c: ids[c] for c in plan.definition.id_columns}
    with closing(open_readonly(project.path)) as conn:
        return _detail(conn, project, plan, ids, link_limit)


def _detail(conn: sqlite3.Connection, project: Project, plan: FeaturePlan, ids: dict[str, Any],
            link_limit: int) -> SampleDetail:
    d = plan.definition
    ref = SampleRef(plan.name, ids)
    table, fv_id = table_location(conn, plan.name, plan.feature_version)
    fv_names = feature_version_names(conn, plan.name)
    history, history_total = _history(conn, table, ids, fv_id, fv_names) if table else ([], 0)
    row = _current_row(conn, table, fv_id, ids) if table and fv_id is not None else None
    if row is not None and row[DELETED_AT] is None:
        state, description = "current", "the latest row under the current feature version"
    elif row is not None:
        state, description = "deleted", "soft-deleted: its tombstone row under the current feature version"
    elif history:
        row = _last_row(conn, table, ids)  # type: ignore[arg-type]
        state = "earlier version"
        description = "no row under the current feature version: the most recent stored row"
    else:
        state, description = "not stored", "no stored row has these ids"
    fields = []
    for spec in d.spec.fields:
        fk = spec.key.to_string()
        sk = spec.key.struct_name
        fields.append(FieldProvenance(
            sk, row.get(pbf_column(sk)) if row else None, row.get(dvbf_column(sk)) if row else None,
            plan.field_versions[fk], spec.code_version, [f"{u}.{f}" for u, f in plan.field_parents[fk]]))
    fields.sort(key=lambda f: f.field)
    upstream: list[LinkedGroup] = []
    downstream: list[LinkedGroup] = []
    if row is not None:
        for dep in plan.deps:
            upstream.append(_upstream(conn, project, dep, row, link_limit))
        for name in plan.downstream:
            downstream.append(_downstream(conn, project, plan, project.graph.feature_plan(name), row, link_limit))
    return SampleDetail(
        ref=ref, state=state, description=description,
        # in the table's column order (a graph read from a snapshot lists them alphabetically)
        values={c: v for c, v in row.items() if c in d.columns and c not in d.id_columns} if row else {},
        column_types=dict(d.columns),
        provenance=row.get(PROVENANCE) if row else None,
        data_version=row.get(DATA_VERSION) if row else None,
        fields=fields,
        feature_version=fv_names.get(row.get(FV)) if row else None,
        current_feature_version=plan.feature_version,
        created_at=row.get(CREATED_AT) if row else None,
        updated_at=row.get(UPDATED_AT) if row else None,
        deleted_at=row.get(DELETED_AT) if row else None,
        materialization_id=row.get(MATERIALIZATION_ID) if row else None,
        history=history, history_total=history_total, upstream=upstream, downstream=downstream)


# ----- rows ----------------------------------------------------------------------------------

def _match(columns: Sequence[str], alias: str = "t") -> str:
    return " AND ".join(f"{alias}.{quote(c)} = ?" for c in columns)


def _as_dicts(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _current_row(conn: sqlite3.Connection, table: str, fv_id: int, ids: dict[str, Any]) -> dict[str, Any] | None:
    """The latest row under the current version (a tombstone when soft-deleted)."""
    cur = conn.execute(f"SELECT t.rowid AS _rowid, * FROM {quote(table)} AS t WHERE t.{quote(FV)} = ? "
                       f"AND t.{quote(SUPERSEDED)} IS NULL AND {_match(list(ids))}", (fv_id, *ids.values()))
    rows = _as_dicts(cur)
    return rows[-1] if rows else None


def _last_row(conn: sqlite3.Connection, table: str, ids: dict[str, Any]) -> dict[str, Any] | None:
    """The most recently written row of the id, whatever its version or state."""
    rows = _as_dicts(conn.execute(f"SELECT t.rowid AS _rowid, * FROM {quote(table)} AS t WHERE {_match(list(ids))} "
                                  f"ORDER BY t.{quote(WRITE)} DESC, t.rowid DESC LIMIT 1", tuple(ids.values())))
    return rows[0] if rows else None


def _history(conn: sqlite3.Connection, table: str, ids: dict[str, Any], fv_id: int | None,
             fv_names: dict[int, str]) -> tuple[list[HistoryEntry], int]:
    """Every stored row of the id: all versions, superseded rows and tombstones, by write."""
    match = _match(list(ids))
    total = conn.execute(f"SELECT count(*) FROM {quote(table)} AS t WHERE {match}", tuple(ids.values())).fetchone()[0]
    cur = conn.execute(
        f"SELECT t.{quote(WRITE)}, w.kind, w.at, t.{quote(FV)}, t.{quote(PROVENANCE)}, t.{quote(DATA_VERSION)}, "
        f"t.{quote(CREATED_AT)}, t.{quote(UPDATED_AT)}, t.{quote(DELETED_AT)}, t.{quote(SUPERSEDED)}, "
        f"t.{quote(MATERIALIZATION_ID)} FROM {quote(table)} AS t "
        f"LEFT JOIN _metaxy_writes AS w ON w.id = t.{quote(WRITE)} WHERE {match} "
        f"ORDER BY t.{quote(WRITE)} DESC, t.rowid DESC LIMIT ?", (*ids.values(), HISTORY_LIMIT))
    out = [HistoryEntry(write_id=r[0], kind=r[1] or "?", at=r[2], feature_version=fv_names.get(r[3], "?"),
                        current_version=(r[3] == fv_id), provenance=r[4], data_version=r[5], created_at=r[6],
                        updated_at=r[7], deleted_at=r[8], superseded_by=r[9], materialization_id=r[10])
           for r in cur.fetchall()]
    out.reverse()
    return out, total


# ----- links ---------------------------------------------------------------------------------

def _linked(conn: sqlite3.Connection, plan: FeaturePlan, match: dict[str, Any], fields: Sequence[str],
            limit: int) -> tuple[list[LinkedSample], int, str]:
    """Current rows of `plan`'s feature whose columns equal `match`, ordered by id."""
    d = plan.definition
    table, fv_id = table_location(conn, plan.name, plan.feature_version)
    if table is None or fv_id is None:
        note = (f"{plan.name} has no stored samples yet" if table is None else
                f"{plan.name} has no samples under its current feature version")
        return [], 0, note
    present = set(table_columns(conn, table))
    if any(c not in present for c in match):
        return [], 0, f"{plan.name} has no column {', '.join(c for c in match if c not in present)}"
    where = f"{latest_condition('t')} AND {_match(list(match))}"
    params = (fv_id, *match.values())
    total = conn.execute(f"SELECT count(*) FROM {quote(table)} AS t WHERE {where}", params).fetchone()[0]
    fields = [f for f in fields if pbf_column(f) in present]
    cols = [c for c in d.columns if c in present]
    select = ([f"t.{quote(c)}" for c in cols] + [f"t.{quote(PROVENANCE)}",
              f"coalesce(t.{quote(DATA_VERSION)}, t.{quote(PROVENANCE)})"]
              + [f"coalesce(t.{quote(dvbf_column(f))}, t.{quote(pbf_column(f))})" for f in fields])
    rows = conn.execute(f"SELECT {', '.join(select)} FROM {quote(table)} AS t WHERE {where} "
                        f"ORDER BY {', '.join(f't.{quote(c)}' for c in d.id_columns)} LIMIT ?",
                        (*params, limit)).fetchall()
    out = []
    n = len(cols)
    for r in rows:
        values = dict(zip(cols, r[:n]))
        out.append(LinkedSample(
            SampleRef(plan.name, {c: values[c] for c in d.id_columns}), r[n], r[n + 1],
            dict(zip(fields, r[n + 2:])), {c: v for c, v in values.items() if c not in d.id_columns}))
    note = "" if total else f"no current sample of {plan.name} matches"
    return out, total, note


def _upstream(conn: sqlite3.Connection, project: Project, dep: DepPlan, row: dict[str, Any],
              limit: int) -> LinkedGroup:
    up = project.graph.feature_plan(dep.upstream)
    # dep.on are downstream names; dep.columns maps them to the upstream's columns
    match = {dep.columns[c]: row.get(c) for c in dep.on}
    group = LinkedGroup(dep.upstream, "upstream", dep.kind, match)
    if any(v is None for v in match.values()):
        group.note = "this row has no value for " + ", ".join(c for c, v in match.items() if v is None)
        return group
    fields = up.definition.field_keys
    group.samples, group.total, group.note = _linked(conn, up, match, fields, limit)
    return group


def _downstream(conn: sqlite3.Connection, project: Project, plan: FeaturePlan, down: FeaturePlan,
                row: dict[str, Any], limit: int) -> LinkedGroup:
    dep = down.dep(plan.name)
    match = {c: row.get(dep.columns[c]) for c in dep.on}
    group = LinkedGroup(down.name, "downstream", dep.kind, match)
    group.samples, group.total, group.note = _linked(conn, down, match, down.definition.field_keys, limit)
    return group


__all__ = ["SampleDetail", "SampleRef", "LinkedGroup", "LinkedSample", "HistoryEntry", "FieldProvenance",
           "sample_detail"]
