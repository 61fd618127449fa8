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

Reads go through the store's sample pages (a connection of their own); call from a worker thread.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from ..columns import (
    CREATED_AT,
    DATA_VERSION,
    DELETED_AT,
    MATERIALIZATION_ID,
    PROVENANCE,
    UPDATED_AT,
    dvbf_column,
    pbf_column,
)
from ..errors import UnknownFeatureError
from ..graph import DepPlan, FeaturePlan
from ..store.interface import SamplePages
from ..store.records import HistoryEntry
from .project import Project
from .samples import format_ids, open_pages
from ..vocabulary import LineageKind

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
            return {
                LineageKind.IDENTITY: "the same sample upstream",
                LineageKind.AGGREGATION: "the members of its group",
                LineageKind.EXPANSION: "its parent",
            }[LineageKind(self.kind)]
        return {
            LineageKind.IDENTITY: "the same sample downstream",
            LineageKind.AGGREGATION: "the group it belongs to",
            LineageKind.EXPANSION: "its children",
        }[LineageKind(self.kind)]


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


def sample_detail(project: Project, feature: str, ids: dict[str, Any], *, link_limit: int = LINK_LIMIT) -> SampleDetail:
    """The detail of the sample of `feature` with these id values."""
    graph = project.graph
    if feature not in graph:
        raise UnknownFeatureError(feature, graph.keys)
    plan = graph.feature_plan(feature)
    missing = [c for c in plan.definition.id_columns if c not in ids]
    if missing:
        raise ValueError(f"{feature}: missing id column {', '.join(missing)}")
    ids = {c: ids[c] for c in plan.definition.id_columns}
    with closing(open_pages(project)) as pages:
        return _detail(pages, project, plan, ids, link_limit)


def _detail(
    pages: SamplePages, project: Project, plan: FeaturePlan, ids: dict[str, Any], link_limit: int
) -> SampleDetail:
    d = plan.definition
    ref = SampleRef(plan.name, ids)
    history, history_total = pages.sample_history(plan, ids, HISTORY_LIMIT)
    stored = pages.sample_row(plan, ids)
    row = stored.columns if stored is not None else None
    if stored is not None and stored.current_version and row[DELETED_AT] is None:  # type: ignore[index]
        state, description = "current", "the latest row under the current feature version"
    elif stored is not None and stored.current_version:
        state, description = "deleted", "soft-deleted: its tombstone row under the current feature version"
    elif stored is not None:
        state = "earlier version"
        description = "no row under the current feature version: the most recent stored row"
    else:
        state, description = "not stored", "no stored row has these ids"
    fields = []
    for spec in d.spec.fields:
        fk = spec.key.to_string()
        sk = spec.key.struct_name
        fields.append(
            FieldProvenance(
                sk,
                row.get(pbf_column(sk)) if row else None,
                row.get(dvbf_column(sk)) if row else None,
                plan.field_versions[fk],
                spec.code_version,
                [f"{u}.{f}" for u, f in plan.field_parents[fk]],
            )
        )
    fields.sort(key=lambda f: f.field)
    upstream: list[LinkedGroup] = []
    downstream: list[LinkedGroup] = []
    if row is not None:
        for dep in plan.deps:
            upstream.append(_upstream(pages, project, dep, row, link_limit))
        for name in plan.downstream:
            downstream.append(_downstream(pages, project, plan, project.graph.feature_plan(name), row, link_limit))
    return SampleDetail(
        ref=ref,
        state=state,
        description=description,
        # in the table's column order (a graph read from a snapshot lists them alphabetically)
        values={c: v for c, v in row.items() if c in d.columns and c not in d.id_columns} if row else {},
        column_types=dict(d.columns),
        provenance=row.get(PROVENANCE) if row else None,
        data_version=row.get(DATA_VERSION) if row else None,
        fields=fields,
        feature_version=stored.feature_version if stored else None,
        current_feature_version=plan.feature_version,
        created_at=row.get(CREATED_AT) if row else None,
        updated_at=row.get(UPDATED_AT) if row else None,
        deleted_at=row.get(DELETED_AT) if row else None,
        materialization_id=row.get(MATERIALIZATION_ID) if row else None,
        history=history,
        history_total=history_total,
        upstream=upstream,
        downstream=downstream,
    )


# ----- links ---------------------------------------------------------------------------------


def _linked(
    pages: SamplePages, plan: FeaturePlan, match: dict[str, Any], fields: list[str], limit: int
) -> tuple[list[LinkedSample], int, str]:
    """Current rows of `plan`'s feature whose columns equal `match`, ordered by id."""
    d = plan.definition
    rows, total, note = pages.linked_rows(plan, match, fields, limit)
    out = [
        LinkedSample(
            SampleRef(plan.name, {c: r.values[c] for c in d.id_columns}),
            r.provenance,
            r.data_version,
            r.data_version_by_field,
            {c: v for c, v in r.values.items() if c not in d.id_columns},
        )
        for r in rows
    ]
    return out, total, note


def _upstream(pages: SamplePages, project: Project, dep: DepPlan, row: dict[str, Any], limit: int) -> LinkedGroup:
    up = project.graph.feature_plan(dep.upstream)
    # dep.on are downstream names; dep.columns maps them to the upstream's columns
    match = {dep.columns[c]: row.get(c) for c in dep.on}
    group = LinkedGroup(dep.upstream, "upstream", dep.kind, match)
    if any(v is None for v in match.values()):
        group.note = "this row has no value for " + ", ".join(c for c, v in match.items() if v is None)
        return group
    fields = up.definition.field_keys
    group.samples, group.total, group.note = _linked(pages, up, match, fields, limit)
    return group


def _downstream(
    pages: SamplePages, project: Project, plan: FeaturePlan, down: FeaturePlan, row: dict[str, Any], limit: int
) -> LinkedGroup:
    dep = down.dep(plan.name)
    match = {c: row.get(dep.columns[c]) for c in dep.on}
    group = LinkedGroup(down.name, "downstream", dep.kind, match)
    group.samples, group.total, group.note = _linked(pages, down, match, down.definition.field_keys, limit)
    return group


__all__ = [
    "SampleDetail",
    "SampleRef",
    "LinkedGroup",
    "LinkedSample",
    "HistoryEntry",
    "FieldProvenance",
    "sample_detail",
]
