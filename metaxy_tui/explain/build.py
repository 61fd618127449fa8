"""Explaining an increment: the reasons of every pending sample, built in bulk (see explain/model.py
for why it costs about what the resolve costs).

Written over the store interface only (`resolve_plan`, `resolve_keys`, `history()`): any store
that implements it explains the same way.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import polars as pl

from ..columns import PROVENANCE_BY_FIELD
from ..frames import Increment
from ..graph import FeatureGraph
from . import added as build_added
from . import changes as build_changes
from .model import NESTED, Explanation, _frame_of
from .text import SID, distinct_keys
from ..vocabulary import LineageKind

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ..store.interface import MetadataStore


def explain(
    store: "MetadataStore", feature: Any, increment: Increment | None = None, *, keys_only: bool = False
) -> Explanation:
    """Why each sample of `increment` (default: a fresh resolve_update) is pending.

    `keys_only`, without an increment: resolve by key only (no member rows or kept columns),
    which is all an explanation needs; the Explanation's increment then holds one row per sample.
    """
    started = time.perf_counter()
    graph: FeatureGraph
    graph, plan = store.resolve_plan(feature)
    gp = graph.plan()
    stored: pl.DataFrame | None = None  # the feature's current rows, when the resolve read them
    if increment is not None:
        inc = increment
    elif keys_only and not plan.is_root:
        inc, stored = store.resolve_keys(feature)
    else:
        inc = store.resolve_update(plan.name)
    history = store.history()
    key = list(plan.key)
    added = distinct_keys(inc.added.to_polars(), key, plan)
    changed = distinct_keys(inc.changed.to_polars(), key, plan)
    removed = distinct_keys(inc.removed.to_polars(), key, plan)
    parts: list[pl.DataFrame] = []
    notes: list[str] = []
    if plan.is_root:
        parts += build_added.root_reasons(store, plan, inc, key, added, changed, removed)
    else:
        if added.height:
            parts.append(build_added.added_reasons(store, graph, plan, added))
        if changed.height or removed.height:
            wanted = pl.concat([changed, removed], how="vertical_relaxed")
            if stored is not None:
                current = history.with_as_of(plan, stored.join(wanted, on=key, how="semi"))
            else:
                current = history.current_rows(plan, wanted)
            current = current.with_row_index(SID)
            changes = build_changes.upstream_changes(store, gp, plan, current)
            if changed.height:
                expected = (
                    inc.changed.to_polars()
                    .select(key + [PROVENANCE_BY_FIELD])
                    .unique(subset=key, keep="first", maintain_order=True)
                )
                parts.append(build_changes.changed_reasons(plan, changed, current, expected, changes))
            if removed.height:
                parts.append(
                    build_changes.removed_reasons(
                        store, gp, plan, removed.join(current.select(key + [SID]), on=key, how="left"), changes
                    )
                )
        for d in plan.deps:
            if d.kind == LineageKind.AGGREGATION:
                n = history.null_on_rows(gp, d)
                if n:
                    notes.append(
                        f"{n:,} sample{'s' if n != 1 else ''} of {d.upstream} {'have' if n != 1 else 'has'} "
                        f"no {', '.join(d.on)} (null): {'they belong' if n != 1 else 'it belongs'} to no group "
                        "and are left out"
                    )
    columns = ["status", "kind", *key, "summary", "group", *NESTED.values()]
    frame = (
        pl.concat([p.select(columns) for p in parts], how="vertical_relaxed")
        if parts
        else _frame_of([], key).select(columns)
    )
    log.debug("explained %s: %d reasons in %.3f s", plan.name, frame.height, time.perf_counter() - started)
    return Explanation(plan.name, inc, frame=frame, notes=notes)
