"""An approval's blast radius: the approved samples' moved fields walked down to the downstream
samples linked to them, read from the store by key."""

from __future__ import annotations

import time
from typing import Any

import polars as pl

from ...explain import SampleReason
from ...graph import GraphPlan
from ...vocabulary import IncrementStatus, ReasonKind
from ..project import Project
from .fields import _unaffected, _via
from .model import SAMPLE_IDS, BlastRadius, StaleFeature


def sample_moves(project: Project, feature: str, reasons: list[SampleReason]) -> list[tuple[dict, list[str]]]:
    """Per approved sample, its key and the fields whose provenance the approval moves: the
    fields a changed sample's explanation names, the changed definitions of a new feature
    version, every field of a sample never computed."""
    plan = project.graph.feature_plan(feature)
    by_name = {s.key.struct_name: s.key.to_string() for s in plan.definition.spec.fields}
    every = sorted(plan.field_parents)
    out = []
    for r in reasons:
        if r.status not in (IncrementStatus.ADDED, IncrementStatus.CHANGED):
            continue
        if r.status == IncrementStatus.CHANGED and r.fields:
            moved = {by_name.get(m.field, m.field) for m in r.fields}
        elif r.kind == ReasonKind.FEATURE_VERSION and r.definition:
            moved = {by_name.get(d.field, d.field) for d in r.definition}
        else:
            moved = set(every)
        out.append((dict(r.key), sorted(f for f in moved if f in plan.field_parents)))
    return out


def approval_impact(
    project: Project, feature: str, moves: list[tuple[dict[str, Any], list[str]]], *, sample: int = SAMPLE_IDS
) -> BlastRadius:
    """Downstream samples that would become stale once these samples (the feature's key
    columns, as the review gives them, each with the fields it moves) are recomputed or
    accepted. Samples moving the same fields walk down together; a downstream sample counts
    once however many approved samples reach it."""
    start = time.perf_counter()
    gp = project.graph.plan()
    fields = sorted({f for _k, fs in moves for f in fs})
    radius = BlastRadius(feature, len(moves), fields)
    by_fields: dict[tuple[str, ...], list[dict]] = {}
    for key, fs in moves:
        if fs:
            by_fields.setdefault(tuple(fs), []).append(key)
    rows: dict[str, list[pl.DataFrame]] = {}
    moved: dict[str, set[str]] = {feature: set(fields)}
    for moving, keys in by_fields.items():
        for down, (frame, reached) in _walk(project, gp, feature, keys, set(moving)).items():
            rows.setdefault(down, []).append(frame)
            moved.setdefault(down, set()).update(reached)
    for down in gp.downstream_closure(feature):
        if down not in rows:
            continue
        ids = list(gp[down].definition.id_columns)
        frames = [f.select(ids) for f in rows[down] if f.height]
        hit = pl.concat(frames, how="vertical").unique() if frames else pl.DataFrame()
        examples = hit.sort(ids).head(sample).to_dicts() if hit.height else []
        _version, note = _version_read(project, down)
        radius.stale.append(
            StaleFeature(down, sorted(moved[down]), _via(gp, down, moved[down], moved), hit.height, examples, note)
        )
    radius.unaffected = _unaffected(gp, moved) if moves else []
    radius.seconds = time.perf_counter() - start
    return radius


def _walk(
    project: Project, gp: GraphPlan, feature: str, keys: list[dict], fields: set[str]
) -> dict[str, tuple[pl.DataFrame, set[str]]]:
    """From samples of `feature` moving `fields`, down: per reached feature, the rows reached
    (the columns its own downstream matches on) and the fields that move."""
    store = project.store
    plan = gp[feature]
    key_cols = [c for c in plan.key if c in keys[0]]
    first = pl.DataFrame(
        [{c: k.get(c) for c in key_cols} for k in keys], schema={c: plan.definition.columns[c].polars for c in key_cols}
    )
    frontier: dict[str, tuple[pl.DataFrame, set[str]]] = {feature: (first, fields)}
    out: dict[str, tuple[pl.DataFrame, set[str]]] = {}
    for down in gp.downstream_closure(feature):
        dplan = gp[down]
        reached: set[str] = set()
        parts: list[pl.DataFrame] = []
        everything = False
        for dep in dplan.deps:
            if dep.upstream not in frontier:
                continue
            up_keys, up_moved = frontier[dep.upstream]
            reads = {
                f for f, ps in dplan.field_parents.items() if any(u == dep.upstream and uf in up_moved for u, uf in ps)
            }
            if not reads:
                continue
            reached |= reads
            cols = [c for c in dep.on if dep.columns[c] in up_keys.columns]
            if not cols:
                everything = True  # nothing narrows the link: every sample is reached
                continue
            parts.append(up_keys.select([pl.col(dep.columns[c]).alias(c) for c in cols]))
        if not reached:
            continue
        version, _note = _version_read(project, down)
        wanted = _columns_needed(gp, down)
        if everything or not parts:
            found = _all_rows(store, down, wanted, version)
        else:
            frames = [store.rows_by_keys(down, p, wanted, feature_version=version) for p in parts]
            found = pl.concat(frames, how="vertical").unique(maintain_order=True) if len(frames) > 1 else frames[0]
        frontier[down] = out[down] = (found, reached)
    return out


def _version_read(project: Project, feature: str) -> tuple[str | None, str]:
    """Which feature version holds the samples to count: the current one, or (when its
    definition changed and nothing is stored under it yet) the stored snapshot's."""
    if project.store.count_live(feature):
        return None, ""
    stored = project.stored_graph
    if feature in stored:
        version = stored.feature_version(feature)
        if version != project.graph.feature_version(feature):
            return version, "already pending: its definition changed since these were stored"
    return None, ""


def _columns_needed(gp: GraphPlan, feature: str) -> list[str]:
    """The feature's id columns and every column its downstream features match it on."""
    p = gp[feature]
    cols = list(p.definition.id_columns)
    for name in p.downstream:
        dep = gp[name].dep(feature)
        cols += [dep.columns[c] for c in dep.on if dep.columns[c] not in cols]
    return cols


def _all_rows(store, feature: str, columns: list[str], version: str | None) -> pl.DataFrame:
    """Every live sample's `columns` (a link that no key narrows)."""
    df = store.read_metadata(feature, feature_version=version, columns=columns)
    return df if isinstance(df, pl.DataFrame) else pl.DataFrame(df)
