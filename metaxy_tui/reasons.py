"""Building an explanation's per-sample frame in bulk (see explain.py): upstream changes since
each sample's inputs, joined with every sample at once; texts and nested JSON made in polars."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import polars as pl

from . import jsontext
from .columns import PROVENANCE_BY_FIELD, pbf_column
from .explain import KINDS, SHOWN, DefinitionChange
from .frames import Increment
from .graph import DepPlan, FeatureGraph, FeaturePlan
from .keys import FieldKey
from .store import history


def _history(store):
    """The store's own reads of rows as they were (a PostgreSQL store brings its own, same results)."""
    return getattr(store, "explain_queries", history)
from .store.history import AS_OF, THEN_UNTIL, THEN_WRITE

if TYPE_CHECKING:
    from .store.sqlite_store import SQLiteMetadataStore

SID = "__sid"  # a changed or removed sample's row number, to group its upstream changes by
NESTED = ("__fields", "__upstream", "__definition")


# ----- JSON and text in polars ------------------------------------------------------------------------

def _enc(e: pl.Expr) -> pl.Expr:
    return jsontext.value(e)


def _plain(df: pl.DataFrame, columns: list[str]) -> bool:
    """Whether polars writes these columns' values as Python's str() does."""
    return all(df.schema[c] == pl.String or df.schema[c].is_integer() for c in columns)


def _enc_struct(columns: list[str], df: pl.DataFrame) -> pl.Expr:
    """A JSON object of `columns` (as json.dumps(default=str) writes the values)."""
    return jsontext.obj(df, columns)


def _who(df: pl.DataFrame, columns: list[str]) -> pl.Expr:
    """", ".join(str(v) for each id value), as UpstreamChange.describe writes it."""
    parts = [pl.col(c).cast(pl.String) if _plain(df, [c]) else
             pl.col(c).map_elements(str, return_dtype=pl.String, skip_nulls=False) for c in columns]
    return pl.concat_str(parts, separator=", ")


def _short(e: pl.Expr) -> pl.Expr:
    return (pl.when(e.is_null()).then(pl.lit("∅")).when(e.str.len_chars() <= 12).then(e)
            .otherwise(e.str.slice(0, 10) + pl.lit("…")))


def _json_list(items: list[pl.Expr]) -> pl.Expr:
    return jsontext.array(items)


def _text_list(items: list[pl.Expr], sep: str) -> pl.Expr:
    if not items:
        return pl.lit("")
    return pl.concat_list(items).list.drop_nulls().list.join(sep)


def _listed(descs: pl.Expr, n: pl.Expr) -> pl.Expr:
    """The first SHOWN descriptions joined by "; ", and "; and N more"."""
    more = pl.when(n > SHOWN).then(pl.lit("; and ") + (n - SHOWN).cast(pl.String) + pl.lit(" more")).otherwise(pl.lit(""))
    return descs.list.head(SHOWN).list.join("; ") + more


# ----- explaining -----------------------------------------------------------------------------------

def distinct_keys(df: pl.DataFrame, key: list[str], plan: FeaturePlan) -> pl.DataFrame:
    if not df.height or not all(c in df.columns for c in key):
        return pl.DataFrame(schema={c: df.schema.get(c, plan.definition.columns[c].polars) for c in key})
    return df.select(key).unique(maintain_order=True)


def _with_nested(frame: pl.DataFrame, fields: pl.Expr | str = "[]", upstream: pl.Expr | str = "[]",
                 definition: pl.Expr | str = "[]") -> pl.DataFrame:
    as_expr = lambda v: pl.lit(v) if isinstance(v, str) else v  # noqa: E731
    return frame.with_columns(as_expr(fields).alias("__fields"), as_expr(upstream).alias("__upstream"),
                              as_expr(definition).alias("__definition"))


# ----- upstream changes, for every changed and removed sample at once ----------------------------------

def _used_fields(plan: FeaturePlan, d: DepPlan) -> list[str]:
    return sorted({FieldKey(uf).struct_name for ps in plan.field_parents.values() for u, uf in ps if u == d.upstream})


def upstream_changes(store: "SQLiteMetadataStore", gp, plan: FeaturePlan, current: pl.DataFrame) -> pl.DataFrame:
    """One row per (sample, upstream change): key columns, `__dep` (index), `__feature`, `__change`,
    `__json` (UpstreamChange.to_dict as JSON), `__desc` (its describe()), and per upstream field
    `__mu:<upstream>.<field>`: whether the change moved that field."""
    key = list(plan.key)
    samples = current.select(key + [SID, AS_OF]).filter(pl.col(AS_OF).is_not_null())
    out = []
    if not samples.height:
        return pl.DataFrame()
    since = samples.get_column(AS_OF).min()
    for i, d in enumerate(plan.deps):
        fields = _used_fields(plan, d)
        on = list(d.on)
        ids = [c for c in d.upstream_ids if c not in key]
        then, now = _history(store).upstream_changes(store, gp, d, since, fields, samples.select(on))
        per = samples.join(then, on=on, how="inner").filter(
            (pl.col(THEN_WRITE) <= pl.col(AS_OF)) & (pl.col(THEN_UNTIL) > pl.col(AS_OF)))
        fresh = samples.join(now, on=on, how="inner").filter(pl.col(THEN_WRITE) > pl.col(AS_OF))
        values = [f"__v:{f}" for f in fields]
        # a sample's upstream rows, then and now, paired by the upstream ids (beyond the sample's key)
        keep = [SID] + ids + values
        both = per.select(keep).with_columns(pl.lit(True).alias("__was")).join(
            fresh.select(keep).with_columns(pl.lit(True).alias("__is")), on=[SID] + ids,
            how="full", coalesce=True, suffix="__now")
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
        field_json = [pl.when(is_changed & pl.col(f"__m:{f}")).then(
            pl.concat_str([pl.lit(json.dumps(f) + ': {"then": '), _enc(pl.col(f"__v:{f}")), pl.lit(', "now": '),
                           _enc(pl.col(f"__v:{f}__now")), pl.lit("}")])) for f in fields]
        moved_text = [pl.when(pl.col(f"__m:{f}")).then(
            pl.concat_str([pl.lit(f + " "), _short(pl.col(f"__v:{f}")), pl.lit(" → "), _short(pl.col(f"__v:{f}__now"))]))
            for f in fields]
        who = _who(both, id_cols)
        desc = (pl.when(pl.col("__change") == "added").then(pl.lit(d.upstream + " ") + who + pl.lit(" appeared"))
                .when(pl.col("__change") == "removed").then(pl.lit(d.upstream + " ") + who + pl.lit(" is gone"))
                .otherwise(pl.lit(d.upstream + " ") + who + pl.lit(" changed (") + _text_list(moved_text, "; ")
                           + pl.lit(")")))
        as_json = pl.concat_str([pl.lit('{"feature": ' + json.dumps(d.upstream) + ', "ids": '), _enc_struct(id_cols, both),
                                 pl.lit(', "change": '), _enc(pl.col("__change")), pl.lit(', "fields": {'),
                                 _text_list(field_json, ", "), pl.lit("}}")])
        # per dep: which kinds of change (a bit each) and which of its fields a changed row moved
        code = pl.col("__change").replace_strict(CHANGE_BITS, return_dtype=pl.UInt8)
        flags = [(~is_changed | pl.col(f"__m:{f}")).alias(f"__mu:{d.upstream}.{f}") for f in fields]
        flags += [(is_changed & pl.col(f"__m:{f}")).alias(f"__mf:{i}:{f}") for f in fields]
        out.append(both.sort(id_cols).select(
            [SID] + [pl.lit(d.upstream).alias("__feature"), pl.col("__change"), code.alias(f"__ck:{i}"),
                     as_json.alias("__json"), desc.alias("__desc")] + flags))
    if not out:
        return pl.DataFrame()
    return pl.concat(out, how="diagonal_relaxed").with_columns(
        pl.col("^__(mu|mf):.*$").fill_null(False), pl.col("^__ck:.*$").fill_null(0))


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
        per = changes.group_by(SID, maintain_order=True).agg(
            pl.len().alias("__n"), pl.col("__desc").head(SHOWN).str.join("; ").alias("__listed"),
            (pl.lit("[") + pl.col("__json").str.join(", ") + pl.lit("]")).alias("__upjson"),
            *[pl.col(c).any() for c in flags], *[pl.col(c).bitwise_or() for c in codes])
        more = pl.lit("; and ") + (pl.col("__n") - SHOWN).cast(pl.String) + pl.lit(" more")
        per = per.with_columns(pl.when(pl.col("__n") > SHOWN).then(pl.col("__listed") + more)
                               .otherwise(pl.col("__listed")).alias("__listed"))
    else:  # one change per sample (an identity's usual case): nothing to aggregate
        per = changes.select(SID, pl.lit(1, pl.UInt32).alias("__n"), pl.col("__desc").alias("__listed"),
                             (pl.lit("[") + pl.col("__json") + pl.lit("]")).alias("__upjson"), *flags, *codes)
    # the group's part for each upstream feature (sorted by name): its moved fields and its kinds of change
    parts = []
    for i, d in sorted(enumerate(plan.deps), key=lambda x: x[1].upstream):
        if f"__ck:{i}" not in per.columns:
            continue
        moved = _text_list([pl.when(pl.col(c)).then(pl.lit(c.split(":", 2)[2]))
                            for c in sorted(flags) if c.startswith(f"__mf:{i}:")], "/")
        parts.append(pl.when(pl.col(f"__ck:{i}") > 0).then(
            pl.lit(d.upstream) + pl.when(moved != "").then(pl.lit(".") + moved).otherwise(pl.lit("")) + pl.lit(" ")
            + _kinds_text(pl.col(f"__ck:{i}"), d.kind == "aggregation")))
    return per.with_columns(_text_list(parts, "; ").alias("__parts"))


# ----- changed --------------------------------------------------------------------------------------

def changed_reasons(plan: FeaturePlan, changed: pl.DataFrame, current: pl.DataFrame, expected: pl.DataFrame,
                     changes: pl.DataFrame) -> pl.DataFrame:
    key = list(plan.key)
    specs = plan.definition.spec.fields
    # in key order, as the feature's latest-row index lists them
    frame = changed.sort(key).join(current, on=key, how="left").join(expected, on=key, how="left")
    if changes.height:
        frame = frame.join(_per_sample(plan, changes), on=SID, how="left")
    else:
        frame = frame.with_columns(pl.lit(None, pl.UInt32).alias("__n"), pl.lit(None, pl.String).alias("__listed"),
                                   pl.lit(None, pl.String).alias("__upjson"), pl.lit(None, pl.String).alias("__parts"))
    moves, names, because = [], [], []
    for spec in specs:
        f = spec.key.struct_name
        then = pl.col(pbf_column(f)) if pbf_column(f) in frame.columns else pl.lit(None, pl.String)
        now = pl.col(PROVENANCE_BY_FIELD).struct.field(f)
        moved = then.ne_missing(now)
        parents = sorted(f"{u}.{FieldKey(uf).struct_name}" for u, uf in plan.field_parents[spec.key.to_string()])
        items = [pl.when(pl.col(f"__mu:{p}").fill_null(False)).then(pl.lit(json.dumps(p))) for p in parents
                 if f"__mu:{p}" in frame.columns]
        because = _json_list(items)
        moves.append(pl.when(moved).then(pl.concat_str([
            pl.lit('{"field": ' + json.dumps(spec.key.to_string()) + ', "then": '), _enc(then), pl.lit(', "now": '),
            _enc(now), pl.lit(', "because": '), because, pl.lit("}")])))
        names.append(pl.when(moved).then(pl.lit(spec.key.to_string())))
    moved_names = _text_list(names, ", ")
    what = pl.when(moved_names == "").then(pl.lit("provenance")).otherwise(moved_names)
    has_ups = pl.col("__n").fill_null(0) > 0
    frame = frame.with_columns(
        pl.lit("changed").alias("status"),
        pl.when(has_ups).then(pl.lit("upstream_changed")).otherwise(pl.lit("unknown_inputs")).alias("kind"),
        pl.when(has_ups).then(what + pl.lit(" moved: ") + pl.col("__listed"))
        .otherwise(what + pl.lit("; the upstream it was computed from is no longer in the store")).alias("summary"),
        pl.when(has_ups).then(pl.lit("changed · ") + what + pl.lit(" ← ") + pl.col("__parts"))
        .otherwise(pl.lit("changed · " + KINDS["unknown_inputs"])).alias("group"),
    )
    return _with_nested(frame, _json_list(moves), pl.col("__upjson").fill_null("[]"))


# ----- removed --------------------------------------------------------------------------------------

def removed_reasons(store: "SQLiteMetadataStore", gp, plan: FeaturePlan, removed: pl.DataFrame,
                     changes: pl.DataFrame) -> pl.DataFrame:
    key = list(plan.key)
    frame = removed.sort(key)
    required = [d for d in plan.deps if not d.optional]
    if changes.height:
        gone = changes.filter((pl.col("__change") == "removed")
                              & pl.col("__feature").is_in([d.upstream for d in required]))
        if gone.height:
            frame = frame.join(_per_sample(plan, gone).select(SID, "__n", "__listed", "__upjson"), on=SID,
                               how="left")
    for c, t in (("__n", pl.UInt32), ("__listed", pl.String), ("__upjson", pl.String)):
        if c not in frame.columns:
            frame = frame.with_columns(pl.lit(None, t).alias(c))
    versions = []
    for d in required:
        alive = _history(store).alive_in_other_versions(store, gp, d, removed)
        flag = f"__v:{d.upstream}"
        frame = frame.join(alive.unique().with_columns(pl.lit(True).alias(flag)), on=list(d.on), how="left") \
            if alive.height else frame.with_columns(pl.lit(None, pl.Boolean).alias(flag))
        versions.append(pl.when(pl.col(flag).fill_null(False)).then(pl.lit(d.upstream)))
    names = _text_list(versions, ", ")
    if changes.height:
        feats = changes.filter(pl.col("__change") == "removed").group_by(SID).agg(
            pl.col("__feature").unique().sort().str.join(", ").alias("__feats"))
        frame = frame.join(feats, on=SID, how="left")
    else:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("__feats"))
    has_ups = pl.col("__n").fill_null(0) > 0
    is_version = (names != "") & ~has_ups
    all_deps = ", ".join(d.upstream for d in plan.deps)
    frame = frame.with_columns(
        pl.lit("removed").alias("status"),
        pl.when(is_version).then(pl.lit("upstream_version")).otherwise(pl.lit("upstream_gone")).alias("kind"),
        pl.when(is_version).then(names + pl.lit(" has a new feature version and has not been recomputed for this "
                                                "sample: it counts as missing until then"))
        .when(has_ups).then(pl.col("__listed")).otherwise(pl.lit("its upstream samples are gone")).alias("summary"),
        pl.when(is_version).then(pl.lit("removed · ") + names + pl.lit(" has a new feature version"))
        .otherwise(pl.lit("removed · upstream sample gone from ")
                   + pl.col("__feats").fill_null(pl.lit(all_deps))).alias("group"),
    )
    return _with_nested(frame, "[]", pl.when(is_version).then(pl.lit("[]")).otherwise(pl.col("__upjson").fill_null("[]")))


# ----- added ----------------------------------------------------------------------------------------

def added_reasons(store: "SQLiteMetadataStore", graph: FeatureGraph, plan: FeaturePlan,
                   added: pl.DataFrame) -> pl.DataFrame:
    key = list(plan.key)
    gp = graph.plan()
    fv_now = _history(store).fv_id(store, plan.name, plan.feature_version)
    frame = added.with_columns(pl.lit(None, pl.String).alias("__what"), pl.lit(None, pl.String).alias("__defjson"),
                               pl.lit(False).alias("__deleted"))
    first = _history(store).first_as_of(store, plan.name)
    if first is not None:
        stored = _history(store).latest_any_version(store, plan, added)
        other = stored.filter(pl.col("_mx_fv") != (fv_now if fv_now is not None else -1)).sort("_mx_write") \
            .unique(subset=key, keep="last")
        if other.height:
            texts = {}
            for fv_old in other.get_column("_mx_fv").unique().to_list():
                changes = _definition_changes(store, graph, plan, fv_old)
                what = "; ".join(c.describe() for c in changes) or "the definition changed"
                texts[fv_old] = (what, json.dumps([c.to_dict() for c in changes]))
            other = other.select(key + [
                pl.col("_mx_fv").replace_strict({k: v[0] for k, v in texts.items()}, return_dtype=pl.String)
                .alias("__what2"),
                pl.col("_mx_fv").replace_strict({k: v[1] for k, v in texts.items()}, return_dtype=pl.String)
                .alias("__defjson2")])
            frame = frame.join(other, on=key, how="left").with_columns(
                pl.col("__what2").alias("__what"), pl.col("__defjson2").alias("__defjson")).drop("__what2", "__defjson2")
        if fv_now is not None:
            tomb = stored.filter((pl.col("_mx_fv") == fv_now) & pl.col("metaxy_deleted_at").is_not_null()).select(key) \
                .unique()  # one per sample: an expansion's parent has one tombstone per child, per delete
            if tomb.height:
                frame = frame.join(tomb.with_columns(pl.lit(True).alias("__tomb")), on=key, how="left").with_columns(
                    pl.col("__tomb").fill_null(False).alias("__deleted")).drop("__tomb")
    # upstream samples that did not exist yet in the state the feature was first computed from
    frame = frame.with_columns(pl.lit(0, pl.UInt32).alias("__n"), pl.lit(None, pl.String).alias("__listed"),
                               pl.lit("[]").alias("__upjson"), pl.lit(None, pl.String).alias("__feats"))
    if first is not None:
        newer = []
        for i, d in enumerate(plan.deps):
            fields = _used_fields(plan, d)
            then, now = _history(store).upstream_changes(store, gp, d, first, fields, frame.select(list(d.on)))
            existed = then.filter((pl.col(THEN_WRITE) <= first) & (pl.col(THEN_UNTIL) > first))
            ident = list(dict.fromkeys([*d.on, *d.upstream_ids]))
            fresh = now.join(existed.select(ident), on=ident, how="anti")
            if not fresh.height:
                continue
            ids = list(d.upstream_ids)
            fresh = added.join(fresh, on=list(d.on), how="inner").sort(ids)
            newer.append(fresh.select(key + [
                pl.lit(d.upstream).alias("__feature"),
                (pl.lit(d.upstream + " ") + _who(fresh, ids) + pl.lit(" appeared")).alias("__desc"),
                pl.concat_str([pl.lit('{"feature": ' + json.dumps(d.upstream) + ', "ids": '), _enc_struct(ids, fresh),
                               pl.lit(', "change": "added", "fields": {}}')]).alias("__json")]))
        if newer:
            all_new = pl.concat(newer, how="vertical_relaxed")
            per = all_new.group_by(key, maintain_order=True).agg(
                pl.len().alias("__n2"), pl.col("__desc"), pl.col("__json"),
                pl.col("__feature").unique().sort().str.join(", ").alias("__feats2"))
            per = per.with_columns(_listed(pl.col("__desc"), pl.col("__n2")).alias("__listed2"),
                                   (pl.lit("[") + pl.col("__json").list.join(", ") + pl.lit("]")).alias("__upjson2"))
            frame = frame.join(per.drop("__desc", "__json"), on=key, how="left").with_columns(
                pl.col("__n2").fill_null(0).alias("__n"), pl.col("__listed2").alias("__listed"),
                pl.col("__upjson2").fill_null("[]").alias("__upjson"), pl.col("__feats2").alias("__feats"),
            ).drop("__n2", "__listed2", "__upjson2", "__feats2")
    old = pl.col("__what").is_not_null()
    gone_here = ~old & pl.col("__deleted")
    new_up = ~old & ~gone_here & (pl.col("__n") > 0)
    frame = frame.with_columns(
        pl.lit("added").alias("status"),
        pl.when(old).then(pl.lit("feature_version")).when(gone_here).then(pl.lit("deleted_here"))
        .when(new_up).then(pl.lit("new_upstream")).otherwise(pl.lit("never_computed")).alias("kind"),
        pl.when(old).then(pl.lit("stored under an older feature version: ") + pl.col("__what"))
        .when(gone_here).then(pl.lit(KINDS["deleted_here"])).when(new_up).then(pl.col("__listed"))
        .otherwise(pl.lit(KINDS["never_computed"])).alias("summary"),
        pl.when(old).then(pl.lit("added · feature version changed (") + pl.col("__what") + pl.lit(")"))
        .when(gone_here).then(pl.lit("added · " + KINDS["deleted_here"]))
        .when(new_up).then(pl.lit("added · new upstream sample in ") + pl.col("__feats"))
        .otherwise(pl.lit("added · " + KINDS["never_computed"])).alias("group"),
    )
    return _with_nested(frame, "[]", pl.when(new_up).then(pl.col("__upjson")).otherwise(pl.lit("[]")),
                        pl.when(old).then(pl.col("__defjson")).otherwise(pl.lit("[]")))


def _definition_changes(store: "SQLiteMetadataStore", graph: FeatureGraph, plan: FeaturePlan,
                        fv_old_id: int) -> list[DefinitionChange]:
    snap = _history(store).snapshot_of_version(store, fv_old_id)
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
            out.append(DefinitionChange(fk, old_fields[fk].code_version, None, old.field_versions[fk], None,
                                        "field removed"))
    return out


def _moved_parents(old_graph: FeatureGraph, graph: FeatureGraph, plan: FeaturePlan, old: FeaturePlan,
                   fk: str) -> list[str]:
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

def root_reasons(store: "SQLiteMetadataStore", plan: FeaturePlan, inc: Increment, key: list[str],
                  added: pl.DataFrame, changed: pl.DataFrame, removed: pl.DataFrame) -> list[pl.DataFrame]:
    out = []
    if added.height:
        out.append(_with_nested(added.with_columns(
            pl.lit("added").alias("status"), pl.lit("never_computed").alias("kind"), pl.lit("a new sample").alias("summary"),
            pl.lit("added · new sample").alias("group"))))
    if changed.height:
        fields = plan.definition.field_keys
        stored = _history(store).current_rows(store, plan, changed)
        new = inc.changed.to_polars().select(key + [PROVENANCE_BY_FIELD]).unique(subset=key, keep="first",
                                                                                maintain_order=True)
        frame = changed.join(stored, on=key, how="left").join(new, on=key, how="left")
        moves, texts, names = [], [], []
        for f in fields:
            then, now = pl.col(pbf_column(f)), pl.col(PROVENANCE_BY_FIELD).struct.field(f)
            moved = then.ne_missing(now)
            moves.append(pl.when(moved).then(pl.concat_str([pl.lit('{"field": ' + json.dumps(f) + ', "then": '),
                                                             _enc(then), pl.lit(', "now": '), _enc(now),
                                                             pl.lit(', "because": []}')])))
            texts.append(pl.when(moved).then(pl.concat_str([pl.lit(f + " "), _short(then), pl.lit(" → "), _short(now)])))
            names.append(pl.when(moved).then(pl.lit(f)))
        frame = frame.with_columns(
            pl.lit("changed").alias("status"), pl.lit("upstream_changed").alias("kind"),
            (pl.lit("provenance changed: ") + _text_list(texts, "; ")).alias("summary"),
            (pl.lit("changed · ") + _text_list(names, ", ") + pl.lit(" provenance")).alias("group"))
        out.append(_with_nested(frame, _json_list(moves)))
    if removed.height:
        out.append(_with_nested(removed.with_columns(
            pl.lit("removed").alias("status"), pl.lit("upstream_gone").alias("kind"),
            pl.lit("not in the samples given").alias("summary"), pl.lit("removed · not in the samples given").alias("group"))))
    return out
