"""What changed upstream of each changed or removed sample since it was computed, for all of
them at once, and the reasons made from it (see explain/build.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import polars as pl

from ..columns import PROVENANCE_BY_FIELD, pbf_column
from ..graph import DepPlan, FeaturePlan, GraphPlan
from ..keys import FieldKey
from ..store.records import AS_OF, THEN_UNTIL, THEN_WRITE
from .model import KINDS, SHOWN
from .text import SID, _enc, _enc_struct, _json_list, _short, _text_list, _who, _with_nested
from ..vocabulary import IncrementStatus, LineageKind, ReasonKind

if TYPE_CHECKING:
    from ..store.interface import MetadataStore


# ----- upstream changes, for every changed and removed sample at once ----------------------------------


def used_fields(plan: FeaturePlan, d: DepPlan) -> list[str]:
    return sorted({FieldKey(uf).struct_name for ps in plan.field_parents.values() for u, uf in ps if u == d.upstream})


def upstream_changes(store: "MetadataStore", gp: GraphPlan, plan: FeaturePlan, current: pl.DataFrame) -> pl.DataFrame:
    """One row per (sample, upstream change): key columns, `__dep` (index), `__feature`, `__change`,
    `__json` (UpstreamChange.to_dict as JSON), `__desc` (its describe()), and per upstream field
    `__mu:<upstream>.<field>`: whether the change moved that field."""
    key = list(plan.key)
    samples = current.select(key + [SID, AS_OF]).filter(pl.col(AS_OF).is_not_null())
    out = []
    if not samples.height:
        return pl.DataFrame()
    since = samples.get_column(AS_OF).min()
    assert isinstance(since, int)  # (the samples have an as-of: filtered above)
    for i, d in enumerate(plan.deps):
        fields = used_fields(plan, d)
        on = list(d.on)
        ids = [c for c in d.upstream_ids if c not in key]
        then, now = store.history().upstream_changes(gp, d, since, fields, samples.select(on))
        per = samples.join(then, on=on, how="inner").filter(
            (pl.col(THEN_WRITE) <= pl.col(AS_OF)) & (pl.col(THEN_UNTIL) > pl.col(AS_OF))
        )
        fresh = samples.join(now, on=on, how="inner").filter(pl.col(THEN_WRITE) > pl.col(AS_OF))
        values = [f"__v:{f}" for f in fields]
        # a sample's upstream rows, then and now, paired by the upstream ids (beyond the sample's key)
        keep = [SID] + ids + values
        both = (
            per.select(keep)
            .with_columns(pl.lit(True).alias("__was"))
            .join(
                fresh.select(keep).with_columns(pl.lit(True).alias("__is")),
                on=[SID] + ids,
                how="full",
                coalesce=True,
                suffix="__now",
            )
        )
        both = both.join(samples.select([SID] + [c for c in d.upstream_ids if c in key]), on=SID, how="left")
        if not both.height:
            continue
        was, is_ = pl.col("__was").fill_null(False), pl.col("__is").fill_null(False)
        moved = {f: pl.col(f"__v:{f}").ne_missing(pl.col(f"__v:{f}__now")) for f in fields}
        change = pl.when(was & is_).then(pl.lit("changed")).when(was).then(pl.lit("removed")).otherwise(pl.lit("added"))
        both = both.with_columns(change.alias("__change"), *[m.alias(f"__m:{f}") for f, m in moved.items()])
        any_moved = pl.any_horizontal([pl.col(f"__m:{f}") for f in fields]) if fields else pl.lit(False)
        both = both.filter((pl.col("__change") != "changed") | any_moved)
        if not both.height:
            continue
        id_cols = list(d.upstream_ids)
        is_changed = pl.col("__change") == "changed"
        field_json = [
            pl.when(is_changed & pl.col(f"__m:{f}")).then(
                pl.concat_str(
                    [
                        pl.lit(json.dumps(f) + ': {"then": '),
                        _enc(pl.col(f"__v:{f}")),
                        pl.lit(', "now": '),
                        _enc(pl.col(f"__v:{f}__now")),
                        pl.lit("}"),
                    ]
                )
            )
            for f in fields
        ]
        moved_text = [
            pl.when(pl.col(f"__m:{f}")).then(
                pl.concat_str(
                    [pl.lit(f + " "), _short(pl.col(f"__v:{f}")), pl.lit(" → "), _short(pl.col(f"__v:{f}__now"))]
                )
            )
            for f in fields
        ]
        who = _who(both, id_cols)
        desc = (
            pl.when(pl.col("__change") == "added")
            .then(pl.lit(d.upstream + " ") + who + pl.lit(" appeared"))
            .when(pl.col("__change") == "removed")
            .then(pl.lit(d.upstream + " ") + who + pl.lit(" is gone"))
            .otherwise(
                pl.lit(d.upstream + " ") + who + pl.lit(" changed (") + _text_list(moved_text, "; ") + pl.lit(")")
            )
        )
        as_json = pl.concat_str(
            [
                pl.lit('{"feature": ' + json.dumps(d.upstream) + ', "ids": '),
                _enc_struct(id_cols, both),
                pl.lit(', "change": '),
                _enc(pl.col("__change")),
                pl.lit(', "fields": {'),
                _text_list(field_json, ", "),
                pl.lit("}}"),
            ]
        )
        # per dep: which kinds of change (a bit each) and which of its fields a changed row moved
        code = pl.col("__change").replace_strict(CHANGE_BITS, return_dtype=pl.UInt8)
        flags = [(~is_changed | pl.col(f"__m:{f}")).alias(f"__mu:{d.upstream}.{f}") for f in fields]
        flags += [(is_changed & pl.col(f"__m:{f}")).alias(f"__mf:{i}:{f}") for f in fields]
        out.append(
            both.sort(id_cols).select(
                [
                    pl.col(SID),
                    pl.lit(d.upstream).alias("__feature"),
                    pl.col("__change"),
                    code.alias(f"__ck:{i}"),
                    as_json.alias("__json"),
                    desc.alias("__desc"),
                    *flags,
                ]
            )
        )
    if not out:
        return pl.DataFrame()
    return pl.concat(out, how="diagonal_relaxed").with_columns(
        pl.col("^__(mu|mf):.*$").fill_null(False), pl.col("^__ck:.*$").fill_null(0)
    )


CHANGE_BITS = {"added": 1, "changed": 2, "removed": 4}


def _kinds_text(code: pl.Expr, aggregation: bool) -> pl.Expr:
    """The sorted kinds of change a bit set holds, as the group names them ("members added, ...")."""
    texts = {}
    for bits in range(1, 8):
        kinds = [k for k, b in sorted(CHANGE_BITS.items()) if bits & b]
        texts[bits] = ", ".join(("members " if aggregation else "") + k for k in kinds)
    return code.replace_strict(texts, default="", return_dtype=pl.String)


def _per_sample(plan: FeaturePlan, changes: pl.DataFrame) -> pl.DataFrame:
    """Changes aggregated per sample (SID): `__n`, `__listed` (the summary's list), `__upjson`,
    `__parts` (the group's "<upstream>.<fields> <changes>" parts) and the `__mu:` flags."""
    flags = [c for c in changes.columns if c.startswith(("__mu:", "__mf:"))]
    codes = [c for c in changes.columns if c.startswith("__ck:")]
    if changes.get_column(SID).is_duplicated().any():
        # the strings are joined after the grouping, as lists: joined inside it took 3x as long
        per = changes.group_by(SID, maintain_order=True).agg(
            pl.len().alias("__n"),
            pl.col("__desc").head(SHOWN).alias("__listed"),
            pl.col("__json").alias("__upjson"),
            *[pl.col(c).any() for c in flags],
            *[pl.col(c).bitwise_or() for c in codes],
        )
        per = per.with_columns(
            pl.col("__listed").list.join("; "),
            (pl.lit("[") + pl.col("__upjson").list.join(", ") + pl.lit("]")).alias("__upjson"),
        )
        more = pl.lit("; and ") + (pl.col("__n") - SHOWN).cast(pl.String) + pl.lit(" more")
        per = per.with_columns(
            pl.when(pl.col("__n") > SHOWN)
            .then(pl.col("__listed") + more)
            .otherwise(pl.col("__listed"))
            .alias("__listed")
        )
    else:  # one change per sample (an identity's usual case): nothing to aggregate
        per = changes.select(
            SID,
            pl.lit(1, pl.UInt32).alias("__n"),
            pl.col("__desc").alias("__listed"),
            (pl.lit("[") + pl.col("__json") + pl.lit("]")).alias("__upjson"),
            *flags,
            *codes,
        )
    # the group's part for each upstream feature (sorted by name): its moved fields and its kinds of change
    parts = []
    for i, d in sorted(enumerate(plan.deps), key=lambda x: x[1].upstream):
        if f"__ck:{i}" not in per.columns:
            continue
        moved = _text_list(
            [pl.when(pl.col(c)).then(pl.lit(c.split(":", 2)[2])) for c in sorted(flags) if c.startswith(f"__mf:{i}:")],
            "/",
        )
        parts.append(
            pl.when(pl.col(f"__ck:{i}") > 0).then(
                pl.lit(d.upstream)
                + pl.when(moved != "").then(pl.lit(".") + moved).otherwise(pl.lit(""))
                + pl.lit(" ")
                + _kinds_text(pl.col(f"__ck:{i}"), d.kind == LineageKind.AGGREGATION)
            )
        )
    return per.with_columns(_text_list(parts, "; ").alias("__parts"))


# ----- changed --------------------------------------------------------------------------------------


def changed_reasons(
    plan: FeaturePlan, changed: pl.DataFrame, current: pl.DataFrame, expected: pl.DataFrame, changes: pl.DataFrame
) -> pl.DataFrame:
    key = list(plan.key)
    specs = plan.definition.spec.fields
    # in key order, as the feature's latest-row index lists them
    frame = changed.sort(key).join(current, on=key, how="left").join(expected, on=key, how="left")
    if changes.height:
        frame = frame.join(_per_sample(plan, changes), on=SID, how="left")
    else:
        frame = frame.with_columns(
            pl.lit(None, pl.UInt32).alias("__n"),
            pl.lit(None, pl.String).alias("__listed"),
            pl.lit(None, pl.String).alias("__upjson"),
            pl.lit(None, pl.String).alias("__parts"),
        )
    moves: list[pl.Expr] = []
    names: list[pl.Expr] = []
    for spec in specs:
        f = spec.key.struct_name
        then = pl.col(pbf_column(f)) if pbf_column(f) in frame.columns else pl.lit(None, pl.String)
        now = pl.col(PROVENANCE_BY_FIELD).struct.field(f)
        moved = then.ne_missing(now)
        parents = sorted(f"{u}.{FieldKey(uf).struct_name}" for u, uf in plan.field_parents[spec.key.to_string()])
        items = [
            pl.when(pl.col(f"__mu:{p}").fill_null(False)).then(pl.lit(json.dumps(p)))
            for p in parents
            if f"__mu:{p}" in frame.columns
        ]
        because = _json_list(items)
        moves.append(
            pl.when(moved).then(
                pl.concat_str(
                    [
                        pl.lit('{"field": ' + json.dumps(spec.key.to_string()) + ', "then": '),
                        _enc(then),
                        pl.lit(', "now": '),
                        _enc(now),
                        pl.lit(', "because": '),
                        because,
                        pl.lit("}"),
                    ]
                )
            )
        )
        names.append(pl.when(moved).then(pl.lit(spec.key.to_string())))
    moved_names = _text_list(names, ", ")
    what = pl.when(moved_names == "").then(pl.lit("provenance")).otherwise(moved_names)
    has_ups = pl.col("__n").fill_null(0) > 0
    frame = frame.with_columns(
        pl.lit(IncrementStatus.CHANGED).alias("status"),
        pl.when(has_ups)
        .then(pl.lit(ReasonKind.UPSTREAM_CHANGED))
        .otherwise(pl.lit(ReasonKind.UNKNOWN_INPUTS))
        .alias("kind"),
        pl.when(has_ups)
        .then(what + pl.lit(" moved: ") + pl.col("__listed"))
        .otherwise(what + pl.lit("; the upstream it was computed from is no longer in the store"))
        .alias("summary"),
        pl.when(has_ups)
        .then(pl.lit("changed · ") + what + pl.lit(" ← ") + pl.col("__parts"))
        .otherwise(pl.lit("changed · " + KINDS[ReasonKind.UNKNOWN_INPUTS]))
        .alias("group"),
    )
    return _with_nested(frame, _json_list(moves), pl.col("__upjson").fill_null("[]"))


# ----- removed --------------------------------------------------------------------------------------


def removed_reasons(
    store: "MetadataStore", gp: GraphPlan, plan: FeaturePlan, removed: pl.DataFrame, changes: pl.DataFrame
) -> pl.DataFrame:
    key = list(plan.key)
    frame = removed.sort(key)
    required = [d for d in plan.deps if not d.optional]
    if changes.height:
        gone = changes.filter(
            (pl.col("__change") == "removed") & pl.col("__feature").is_in([d.upstream for d in required])
        )
        if gone.height:
            frame = frame.join(_per_sample(plan, gone).select(SID, "__n", "__listed", "__upjson"), on=SID, how="left")
    for c, t in (("__n", pl.UInt32), ("__listed", pl.String), ("__upjson", pl.String)):
        if c not in frame.columns:
            frame = frame.with_columns(pl.lit(None, t).alias(c))
    versions = []
    for d in required:
        alive = store.history().alive_in_other_versions(gp, d, removed)
        flag = f"__v:{d.upstream}"
        frame = (
            frame.join(alive.unique().with_columns(pl.lit(True).alias(flag)), on=list(d.on), how="left")
            if alive.height
            else frame.with_columns(pl.lit(None, pl.Boolean).alias(flag))
        )
        versions.append(pl.when(pl.col(flag).fill_null(False)).then(pl.lit(d.upstream)))
    names = _text_list(versions, ", ")
    if changes.height:
        feats = (
            changes.filter(pl.col("__change") == "removed")
            .group_by(SID)
            .agg(pl.col("__feature").unique().sort().str.join(", ").alias("__feats"))
        )
        frame = frame.join(feats, on=SID, how="left")
    else:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("__feats"))
    has_ups = pl.col("__n").fill_null(0) > 0
    is_version = (names != "") & ~has_ups
    all_deps = ", ".join(d.upstream for d in plan.deps)
    frame = frame.with_columns(
        pl.lit(IncrementStatus.REMOVED).alias("status"),
        pl.when(is_version)
        .then(pl.lit(ReasonKind.UPSTREAM_VERSION))
        .otherwise(pl.lit(ReasonKind.UPSTREAM_GONE))
        .alias("kind"),
        pl.when(is_version)
        .then(
            names
            + pl.lit(
                " has a new feature version and has not been recomputed for this "
                "sample: it counts as missing until then"
            )
        )
        .when(has_ups)
        .then(pl.col("__listed"))
        .otherwise(pl.lit("its upstream samples are gone"))
        .alias("summary"),
        pl.when(is_version)
        .then(pl.lit("removed · ") + names + pl.lit(" has a new feature version"))
        .otherwise(pl.lit("removed · upstream sample gone from ") + pl.col("__feats").fill_null(pl.lit(all_deps)))
        .alias("group"),
    )
    return _with_nested(
        frame, "[]", pl.when(is_version).then(pl.lit("[]")).otherwise(pl.col("__upjson").fill_null("[]"))
    )
