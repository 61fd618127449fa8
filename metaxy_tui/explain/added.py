"""Why samples are added (never computed, a new upstream sample, a new feature version) and the
reasons of a root feature's given samples (see explain/build.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import polars as pl

from ..columns import PROVENANCE_BY_FIELD, pbf_column
from ..frames import Increment
from ..graph import FeatureGraph, FeaturePlan
from ..store.records import FV_ID, THEN_UNTIL, THEN_WRITE, WRITE_ID
from .changes import used_fields
from ..vocabulary import IncrementStatus, ReasonKind
from .model import KINDS, DefinitionChange
from .text import _enc, _enc_struct, _json_list, _listed, _short, _text_list, _who, _with_nested

if TYPE_CHECKING:
    from ..store.interface import MetadataStore


# ----- added ----------------------------------------------------------------------------------------


def added_reasons(store: "MetadataStore", graph: FeatureGraph, plan: FeaturePlan, added: pl.DataFrame) -> pl.DataFrame:
    key = list(plan.key)
    gp = graph.plan()
    fv_now = store.history().feature_version_id(plan.name, plan.feature_version)
    frame = added.with_columns(
        pl.lit(None, pl.String).alias("__what"),
        pl.lit(None, pl.String).alias("__defjson"),
        pl.lit(False).alias("__deleted"),
    )
    first = store.history().first_as_of(plan.name)
    if first is not None:
        stored = store.history().latest_any_version(plan, added)
        other = (
            stored.filter(pl.col(FV_ID) != (fv_now if fv_now is not None else -1))
            .sort(WRITE_ID)
            .unique(subset=key, keep="last")
        )
        if other.height:
            texts = {}
            for fv_old in other.get_column(FV_ID).unique().to_list():
                changes = _definition_changes(store, graph, plan, fv_old)
                what = "; ".join(c.describe() for c in changes) or "the definition changed"
                texts[fv_old] = (what, json.dumps([c.to_dict() for c in changes]))
            other = other.select(
                key
                + [
                    pl.col(FV_ID)
                    .replace_strict({k: v[0] for k, v in texts.items()}, return_dtype=pl.String)
                    .alias("__what2"),
                    pl.col(FV_ID)
                    .replace_strict({k: v[1] for k, v in texts.items()}, return_dtype=pl.String)
                    .alias("__defjson2"),
                ]
            )
            frame = (
                frame.join(other, on=key, how="left")
                .with_columns(pl.col("__what2").alias("__what"), pl.col("__defjson2").alias("__defjson"))
                .drop("__what2", "__defjson2")
            )
        if fv_now is not None:
            tomb = (
                stored.filter((pl.col(FV_ID) == fv_now) & pl.col("metaxy_deleted_at").is_not_null())
                .select(key)
                .unique()
            )  # one per sample: an expansion's parent has one tombstone per child, per delete
            if tomb.height:
                frame = (
                    frame.join(tomb.with_columns(pl.lit(True).alias("__tomb")), on=key, how="left")
                    .with_columns(pl.col("__tomb").fill_null(False).alias("__deleted"))
                    .drop("__tomb")
                )
    # upstream samples that did not exist yet in the state the feature was first computed from
    frame = frame.with_columns(
        pl.lit(0, pl.UInt32).alias("__n"),
        pl.lit(None, pl.String).alias("__listed"),
        pl.lit("[]").alias("__upjson"),
        pl.lit(None, pl.String).alias("__feats"),
    )
    if first is not None:
        newer = []
        for d in plan.deps:
            fields = used_fields(plan, d)
            then, now = store.history().upstream_changes(gp, d, first, fields, frame.select(list(d.on)))
            existed = then.filter((pl.col(THEN_WRITE) <= first) & (pl.col(THEN_UNTIL) > first))
            ident = list(dict.fromkeys([*d.on, *d.upstream_ids]))
            fresh = now.join(existed.select(ident), on=ident, how="anti")
            if not fresh.height:
                continue
            ids = list(d.upstream_ids)
            fresh = added.join(fresh, on=list(d.on), how="inner").sort(ids)
            newer.append(
                fresh.select(
                    key
                    + [
                        pl.lit(d.upstream).alias("__feature"),
                        (pl.lit(d.upstream + " ") + _who(fresh, ids) + pl.lit(" appeared")).alias("__desc"),
                        pl.concat_str(
                            [
                                pl.lit('{"feature": ' + json.dumps(d.upstream) + ', "ids": '),
                                _enc_struct(ids, fresh),
                                pl.lit(', "change": "added", "fields": {}}'),
                            ]
                        ).alias("__json"),
                    ]
                )
            )
        if newer:
            all_new = pl.concat(newer, how="vertical_relaxed")
            per = all_new.group_by(key, maintain_order=True).agg(
                pl.len().alias("__n2"),
                pl.col("__desc"),
                pl.col("__json"),
                pl.col("__feature").unique().sort().str.join(", ").alias("__feats2"),
            )
            per = per.with_columns(
                _listed(pl.col("__desc"), pl.col("__n2")).alias("__listed2"),
                (pl.lit("[") + pl.col("__json").list.join(", ") + pl.lit("]")).alias("__upjson2"),
            )
            frame = (
                frame.join(per.drop("__desc", "__json"), on=key, how="left")
                .with_columns(
                    pl.col("__n2").fill_null(0).alias("__n"),
                    pl.col("__listed2").alias("__listed"),
                    pl.col("__upjson2").fill_null("[]").alias("__upjson"),
                    pl.col("__feats2").alias("__feats"),
                )
                .drop("__n2", "__listed2", "__upjson2", "__feats2")
            )
    old = pl.col("__what").is_not_null()
    gone_here = ~old & pl.col("__deleted")
    new_up = ~old & ~gone_here & (pl.col("__n") > 0)
    frame = frame.with_columns(
        pl.lit(IncrementStatus.ADDED).alias("status"),
        pl.when(old)
        .then(pl.lit(ReasonKind.FEATURE_VERSION))
        .when(gone_here)
        .then(pl.lit(ReasonKind.DELETED_HERE))
        .when(new_up)
        .then(pl.lit(ReasonKind.NEW_UPSTREAM))
        .otherwise(pl.lit(ReasonKind.NEVER_COMPUTED))
        .alias("kind"),
        pl.when(old)
        .then(pl.lit("stored under an older feature version: ") + pl.col("__what"))
        .when(gone_here)
        .then(pl.lit(KINDS[ReasonKind.DELETED_HERE]))
        .when(new_up)
        .then(pl.col("__listed"))
        .otherwise(pl.lit(KINDS[ReasonKind.NEVER_COMPUTED]))
        .alias("summary"),
        pl.when(old)
        .then(pl.lit("added · feature version changed (") + pl.col("__what") + pl.lit(")"))
        .when(gone_here)
        .then(pl.lit("added · " + KINDS[ReasonKind.DELETED_HERE]))
        .when(new_up)
        .then(pl.lit("added · new upstream sample in ") + pl.col("__feats"))
        .otherwise(pl.lit("added · " + KINDS[ReasonKind.NEVER_COMPUTED]))
        .alias("group"),
    )
    return _with_nested(
        frame,
        "[]",
        pl.when(new_up).then(pl.col("__upjson")).otherwise(pl.lit("[]")),
        pl.when(old).then(pl.col("__defjson")).otherwise(pl.lit("[]")),
    )


def _definition_changes(
    store: "MetadataStore", graph: FeatureGraph, plan: FeaturePlan, fv_old_id: int
) -> list[DefinitionChange]:
    snap = store.history().snapshot_of_version(fv_old_id)
    if snap is None:
        return []
    old_graph = FeatureGraph.from_snapshot(snap)
    if plan.name not in old_graph:
        return []
    old = old_graph.feature_plan(plan.name)
    out = []
    old_fields = {f.key.to_string(): f for f in old.definition.spec.fields}
    for spec in plan.definition.spec.fields:
        fk = spec.key.to_string()
        o = old_fields.get(fk)
        new_v = plan.field_versions[fk]
        if o is None:
            out.append(DefinitionChange(fk, None, spec.code_version, None, new_v, "new field"))
            continue
        old_v = old.field_versions[fk]
        if old_v == new_v:
            continue
        if o.code_version != spec.code_version:
            cause = f"code_version {o.code_version} → {spec.code_version}"
        else:
            ups = _moved_parents(old_graph, graph, plan, old, fk)
            cause = "upstream field " + ", ".join(ups) + " changed version" if ups else "its dependencies changed"
        out.append(DefinitionChange(fk, o.code_version, spec.code_version, old_v, new_v, cause))
    for fk in old_fields:
        if fk not in {f.key.to_string() for f in plan.definition.spec.fields}:
            out.append(
                DefinitionChange(fk, old_fields[fk].code_version, None, old.field_versions[fk], None, "field removed")
            )
    return out


def _moved_parents(
    old_graph: FeatureGraph, graph: FeatureGraph, plan: FeaturePlan, old: FeaturePlan, fk: str
) -> list[str]:
    """Parent fields whose version differs, followed up to the field whose code_version changed."""
    out = []
    old_parents = set(old.field_parents.get(fk, ()))
    new_parents = set(plan.field_parents[fk])
    for up, uf in sorted(new_parents | old_parents):
        if (up, uf) not in old_parents:
            out.append(f"{up}.{uf} (new dependency)")
            continue
        if (up, uf) not in new_parents:
            out.append(f"{up}.{uf} (dependency dropped)")
            continue
        if up not in old_graph or up not in graph:
            continue
        o, n = old_graph.feature_plan(up), graph.feature_plan(up)
        if o.field_versions.get(uf) != n.field_versions.get(uf):
            o_spec = {f.key.to_string(): f for f in o.definition.spec.fields}.get(uf)
            n_spec = {f.key.to_string(): f for f in n.definition.spec.fields}.get(uf)
            if o_spec and n_spec and o_spec.code_version != n_spec.code_version:
                out.append(f"{up}.{uf} (code_version {o_spec.code_version} → {n_spec.code_version})")
            else:
                deeper = _moved_parents(old_graph, graph, n, o, uf)
                out.append(f"{up}.{uf}" + (f" (via {', '.join(deeper)})" if deeper else ""))
    return out


# ----- root features (samples given) ----------------------------------------------------------------


def root_reasons(
    store: "MetadataStore",
    plan: FeaturePlan,
    inc: Increment,
    key: list[str],
    added: pl.DataFrame,
    changed: pl.DataFrame,
    removed: pl.DataFrame,
) -> list[pl.DataFrame]:
    out = []
    if added.height:
        out.append(
            _with_nested(
                added.with_columns(
                    pl.lit(IncrementStatus.ADDED).alias("status"),
                    pl.lit(ReasonKind.NEVER_COMPUTED).alias("kind"),
                    pl.lit("a new sample").alias("summary"),
                    pl.lit("added · new sample").alias("group"),
                )
            )
        )
    if changed.height:
        fields = plan.definition.field_keys
        stored = store.history().current_rows(plan, changed)
        new = (
            inc.changed.to_polars()
            .select(key + [PROVENANCE_BY_FIELD])
            .unique(subset=key, keep="first", maintain_order=True)
        )
        frame = changed.join(stored, on=key, how="left").join(new, on=key, how="left")
        moves, texts, names = [], [], []
        for f in fields:
            then, now = pl.col(pbf_column(f)), pl.col(PROVENANCE_BY_FIELD).struct.field(f)
            moved = then.ne_missing(now)
            moves.append(
                pl.when(moved).then(
                    pl.concat_str(
                        [
                            pl.lit('{"field": ' + json.dumps(f) + ', "then": '),
                            _enc(then),
                            pl.lit(', "now": '),
                            _enc(now),
                            pl.lit(', "because": []}'),
                        ]
                    )
                )
            )
            texts.append(
                pl.when(moved).then(pl.concat_str([pl.lit(f + " "), _short(then), pl.lit(" → "), _short(now)]))
            )
            names.append(pl.when(moved).then(pl.lit(f)))
        frame = frame.with_columns(
            pl.lit(IncrementStatus.CHANGED).alias("status"),
            pl.lit(ReasonKind.UPSTREAM_CHANGED).alias("kind"),
            (pl.lit("provenance changed: ") + _text_list(texts, "; ")).alias("summary"),
            (pl.lit("changed · ") + _text_list(names, ", ") + pl.lit(" provenance")).alias("group"),
        )
        out.append(_with_nested(frame, _json_list(moves)))
    if removed.height:
        out.append(
            _with_nested(
                removed.with_columns(
                    pl.lit(IncrementStatus.REMOVED).alias("status"),
                    pl.lit(ReasonKind.UPSTREAM_GONE).alias("kind"),
                    pl.lit("not in the samples given").alias("summary"),
                    pl.lit("removed · not in the samples given").alias("group"),
                )
            )
        )
    return out
