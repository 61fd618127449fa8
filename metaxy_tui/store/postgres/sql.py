"""The SQL of a resolve: each dep's values by key, their join, the hashes, the comparison.

For a derived feature, per dep:

- identity and expansion: the upstream's live rows, with the key (`on`) columns, one value
  column per upstream field read (its data version: `COALESCE(dvbf, pbf)`), and optionally
  the kept columns;
- aggregation: one row per group (`GROUP BY on`, members whose `on` is null left out), one
  value per field: the members' data versions in upstream-id order, joined by "|"
  (`string_agg(v, '|' ORDER BY ids)`, an ordered aggregate: each group's string is built once,
  linear in its size).

The deps are joined on the key columns they share (required deps inner, optional left, all
optional full), as store/resolve.py joins them in polars. Where the hash algorithm runs in
PostgreSQL (md5, sha256) the group values, field hashes and row provenance are computed here
and compared with the feature's stored provenance in the same statement: only pending rows
leave the server. Otherwise (xxhash) the value strings travel and the client hashes them.

Names inside the statements are short aliases (`k0`, `v1_0`, `m3`, ...): user column names
and field names are never cut at 63 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ...columns import DELETED_AT, PROVENANCE, ColumnType, dvbf_column, pbf_column
from ...graph import DepPlan, FeaturePlan, GraphPlan
from ...hashing import HashAlgorithm, Hasher
from ...keys import FieldKey
from .codec import column_expr, text_expr
from .layout import FV, ROW, SUPERSEDED, WRITE, q
from .reads import literal

IN_SQL = (HashAlgorithm.MD5, HashAlgorithm.SHA256)
ADDED, CHANGED, REMOVED = 1, 2, 3


def hashes_in_sql(hasher: Hasher) -> bool:
    return hasher.algorithm in IN_SQL


def hash_sql(hasher: Hasher, expr: str) -> str:
    """H(expr) in SQL: the same string `Hasher.hash` gives (md5 and sha256 only)."""
    if hasher.algorithm is HashAlgorithm.MD5:
        out = f"md5({expr})"
    elif hasher.algorithm is HashAlgorithm.SHA256:
        out = f"encode(sha256(convert_to({expr}, 'UTF8')), 'hex')"
    else:
        raise ValueError(f"{hasher.algorithm.value} does not run in PostgreSQL")
    return f"left({out}, {int(hasher.truncation)})" if hasher.truncation else out


@dataclass(frozen=True)
class Place:
    """Where a feature version's rows are: its table, feature version id, and stored columns."""

    table: str | None
    fv_id: int | None
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def stored(self) -> bool:
        return self.table is not None and self.fv_id is not None

    def live(self, alias: str = "") -> str:
        a = f"{alias}." if alias else ""
        assert self.fv_id is not None  # (asked of a stored place only)
        return f"{a}{q(FV)} = {int(self.fv_id)} AND {a}{q(SUPERSEDED)} IS NULL AND {a}{q(DELETED_AT)} IS NULL"


def value_column(upstream: str, field_name: str) -> str:
    return f"__v:{upstream}.{field_name}"


def keys_relation(keys: pl.DataFrame, types: dict[str, ColumnType], names: dict[str, str]) -> str:
    """A relation of `keys`' rows (columns renamed by `names`), sent as one JSON literal."""
    cols = list(keys.columns)
    text = keys.select([_as_text(c, types[c]).alias(names[c]) for c in cols]).write_json()
    defs = ", ".join(f"{names[c]} text" for c in cols)
    casts = ", ".join(f"{names[c]}::{_sql_type(types[c])} AS {names[c]}" for c in cols)
    return f"(SELECT {casts} FROM json_to_recordset({literal(text)}::json) AS j({defs}))"


def _as_text(c: str, t: ColumnType) -> pl.Expr:
    e = pl.col(c)
    if t.name == "bytes":
        return pl.concat_str([pl.lit("\\x"), e.bin.encode("hex")])
    if t.name == "datetime":
        return e.dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
    if t.name == "date":
        return e.dt.strftime("%Y-%m-%d")
    return e.cast(pl.String)


def _sql_type(t: ColumnType) -> str:
    return {
        "str": 'text COLLATE "C"',
        "int": "bigint",
        "float": "float8",
        "bool": "boolean",
        "datetime": "timestamp",
        "date": "date",
        "bytes": "bytea",
    }[t.name]


class ResolveSQL:
    """Statements for one feature's resolve, given where its upstream and its own rows are."""

    def __init__(self, gp: GraphPlan, plan: FeaturePlan, hasher: Hasher, places: dict[str, Place], own: Place):
        self.gp, self.plan, self.hasher, self.places, self.own = gp, plan, hasher, places, own
        self.in_sql = hashes_in_sql(hasher)
        self.key = list(plan.key)
        names = list(dict.fromkeys([*self.key, *(c for d in plan.deps for c in d.columns)]))
        self.alias = {c: f"x{i}" for i, c in enumerate(names)}

    # ----- types -----------------------------------------------------------------------------------
    def col_type(self, d: DepPlan, name: str) -> ColumnType:
        return self.gp[d.upstream].definition.columns[d.columns[name]]

    def key_types(self) -> dict[str, ColumnType]:
        out: dict[str, ColumnType] = {}
        for d in self.plan.deps:
            for c in d.on:
                out.setdefault(c, self.col_type(d, c))
        return out

    def kept_types(self, d: DepPlan) -> dict[str, ColumnType]:
        return {c: self.col_type(d, c) for c in d.columns}

    def values(self, i: int, d: DepPlan) -> dict[str, str]:
        """Output name -> SQL alias of the dep's value columns."""
        return {value_column(d.upstream, f): f"v{i}_{j}" for j, f in enumerate(d.fields)}

    # ----- one dep -----------------------------------------------------------------------------------
    def dep_relation(
        self, i: int, d: DepPlan, *, kept: bool, keys: pl.DataFrame | None = None, with_values: bool = True
    ) -> str:
        """The dep's values by key (see the module docstring), as a subquery."""
        place = self.places[d.upstream]
        on = list(d.on)
        values = self.values(i, d) if with_values else {}
        if not place.stored:
            cols = [f"NULL::{_sql_type(self.col_type(d, c))} AS {self.alias[c]}" for c in on]
            if kept and d.kind != "aggregation":
                cols += [
                    f"NULL::{_sql_type(t)} AS {self.alias[c]}" for c, t in self.kept_types(d).items() if c not in on
                ]
            cols += [f"NULL::text AS {a}" for a in values.values()]
            if d.kind != "aggregation":
                cols += ["NULL::bigint AS w", "NULL::integer AS r"]
            return f"(SELECT {', '.join(cols)} WHERE false)"
        stored = place.columns
        src = {c: column_expr(d.columns[c], self.col_type(d, c), stored, "u") for c in d.columns}
        dv = {
            a: f"COALESCE({text_expr(dvbf_column(f), stored, 'u')}, {text_expr(pbf_column(f), stored, 'u')})"
            for a, f in zip(values.values(), d.fields)
        }
        where = place.live("u")
        if keys is not None:
            where += (
                f" AND ({', '.join(src[c] for c in on)}) IN (SELECT {', '.join(self.alias[c] for c in on)} FROM "
                f"{keys_relation(keys.select(on).unique(), {c: self.col_type(d, c) for c in on}, self.alias)} AS k)"
            )
        assert place.table is not None  # stored
        table = f"{q(place.table)} AS u"
        if d.kind == "aggregation":
            where += "".join(f" AND {src[c]} IS NOT NULL" for c in on)
            group = ", ".join(src[c] for c in on)
            if not values:
                return f"(SELECT DISTINCT {', '.join(f'{src[c]} AS {self.alias[c]}' for c in on)} FROM {table} WHERE {where})"
            order = ", ".join(src[c] for c in d.upstream_ids)
            aggs = []
            for a, expr in dv.items():
                agg = f"COALESCE(string_agg({expr}, '|' ORDER BY {order}), '')"
                aggs.append(f"{hash_sql(self.hasher, agg) if self.in_sql else agg} AS {a}")
            select = [f"{src[c]} AS {self.alias[c]}" for c in on] + aggs
            return f"(SELECT {', '.join(select)} FROM {table} WHERE {where} GROUP BY {group})"
        select = [f"{src[c]} AS {self.alias[c]}" for c in on]
        if kept:
            select += [f"{src[c]} AS {self.alias[c]}" for c in d.columns if c not in on]
        select += [f"{expr} AS {a}" for a, expr in dv.items()]
        select += [f"u.{q(WRITE)} AS w", f"u.{q(ROW)} AS r"]
        return f"(SELECT {', '.join(select)} FROM {table} WHERE {where})"

    # ----- the expected rows -------------------------------------------------------------------------
    def expected(
        self, *, kept: bool, keys: pl.DataFrame | None = None, with_values: bool = True
    ) -> tuple[str, list[str]]:
        """The deps joined: (FROM clause, the columns it gives, as aliases)."""
        parts: list[str] = []
        have: list[str] = []
        outs: list[str] = []
        all_optional = all(d.optional for d in self.plan.deps)
        for i, d in enumerate(self.plan.deps):
            rel = f"{self.dep_relation(i, d, kept=kept, keys=keys, with_values=with_values)} AS d{i}"
            if not parts:
                parts.append(rel)
            else:
                shared = [self.alias[c] for c in d.on if c in have]
                how = "FULL JOIN" if all_optional else ("LEFT JOIN" if d.optional else "JOIN")
                parts.append(f"{how} {rel} USING ({', '.join(shared)})" if shared else f"CROSS JOIN {rel}")
            have += [c for c in d.on if c not in have]
            cols = [c for c in d.on] + (
                [c for c in d.columns if c not in d.on] if kept and d.kind != "aggregation" else []
            )
            outs += [self.alias[c] for c in cols if self.alias[c] not in outs]
            if with_values:
                outs += list(self.values(i, d).values())
        return " ".join(parts), outs

    def order_by(self) -> str:
        """Rows in the first identity or expansion dep's insertion order (as SQLite reads them)."""
        for i, d in enumerate(self.plan.deps):
            if d.kind != "aggregation":
                return f" ORDER BY d{i}.w, d{i}.r"
        return ""

    def field_hash_exprs(self) -> dict[str, str]:
        """Struct name -> the field's hash over the joined values (SQL)."""
        vals = {}
        for i, d in enumerate(self.plan.deps):
            vals.update({(d.upstream, f): a for (_n, a), f in zip(self.values(i, d).items(), d.fields)})
        out = {}
        for spec in self.plan.definition.spec.fields:
            fk = spec.key.to_string()
            parts = [literal(fk), literal(spec.code_version)]
            for up, uf in self.plan.field_parents[fk]:
                a = vals.get((up, FieldKey(uf).struct_name))
                parts += [literal(f"{up}.{uf}"), f"COALESCE({a}, '')" if a else "''"]
            out[spec.key.struct_name] = hash_sql(self.hasher, f"concat_ws('|', {', '.join(parts)})")
        return out

    # ----- the feature's own rows --------------------------------------------------------------------
    def current(self) -> str:
        """The feature's live rows by key: key aliases, `cprov` (NULL when an expansion's children
        disagree) and `present`."""
        own = self.own
        kt = self.key_types()
        if not own.stored:
            cols = [f"NULL::{_sql_type(kt[c])} AS {self.alias[c]}" for c in self.key]
            return f"(SELECT {', '.join(cols)}, NULL::text AS cprov, 1 AS present WHERE false)"
        assert own.table is not None  # stored
        keys = [column_expr(c, kt[c], own.columns) for c in self.key]
        select = ", ".join(f"{e} AS {self.alias[c]}" for e, c in zip(keys, self.key))
        prov = q(PROVENANCE)
        if self.key != list(self.plan.definition.id_columns):
            return (
                f"(SELECT {select}, CASE WHEN min({prov}) = max({prov}) THEN min({prov}) END AS cprov, 1 AS present "
                f"FROM {q(own.table)} WHERE {own.live()} GROUP BY {', '.join(keys)})"
            )
        return f"(SELECT {select}, {prov} AS cprov, 1 AS present FROM {q(own.table)} WHERE {own.live()})"

    def key_match(self, a: str, b: str) -> str:
        return " AND ".join(f"{a}.{self.alias[c]} = {b}.{self.alias[c]}" for c in self.key)

    # ----- phase 1 -----------------------------------------------------------------------------------
    def pending(
        self,
        *,
        kept: bool,
        keys: pl.DataFrame | None = None,
        lean: bool = False,
        unchanged: bool = False,
        fresh: bool = False,
    ) -> tuple[str, list[str]]:
        """One statement: every pending key (added, changed; removed with only its key), with its
        provenance (in_sql) or with the values to hash and the stored provenance (client hashing).

        Returns (sql, output kinds in order), where kinds are aliases, 'f:<field>', 'prov',
        'state', 'cprov', 'present', 'epresent', and 'w', 'r' (the first identity or expansion dep's
        insertion order: the client sorts by them, cheaper than a sort in PostgreSQL). `fresh`: the
        feature has no live rows, so there is nothing to join them with."""
        frm, outs = self.expected(kept=kept and not lean, keys=keys)
        key_al = [self.alias[c] for c in self.key]
        cur = self.current() if not fresh else self._no_current()
        if keys is not None:
            kt = self.key_types()
            cur = (
                f"(SELECT * FROM {cur} AS c0 WHERE ({', '.join(key_al)}) IN (SELECT {', '.join(key_al)} FROM "
                f"{keys_relation(keys.select(self.key).unique(), kt, self.alias)} AS k))"
            )
        non_key = [a for a in outs if a not in key_al]
        if self.in_sql:
            fh = self.field_hash_exprs()
            fields = sorted(fh)
            hashed = (
                f"SELECT {', '.join(outs)}, "
                + ", ".join(f"{fh[f]} AS f{j}" for j, f in enumerate(fields))
                + f", 1 AS epresent{self._order_cols()} FROM {frm}"
            )
            prov = hash_sql(self.hasher, f"concat_ws('|', {', '.join(f'f{j}' for j in range(len(fields)))})")
            keep = [a for a in non_key if not a.startswith("v")]
            p_cols = ", ".join([*key_al, *keep, *(f"f{j}" for j in range(len(fields)))])
            body = (
                f"WITH e AS ({hashed}), p AS (SELECT {p_cols}, {prov} AS prov, epresent{self._order_names()} FROM e), "
                f"c AS (SELECT * FROM {cur} AS c1) "
            )
            state = (
                f"CASE WHEN c.present IS NULL THEN {ADDED} WHEN p.epresent IS NULL THEN {REMOVED} "
                f"WHEN c.cprov IS DISTINCT FROM p.prov THEN {CHANGED} ELSE 0 END"
            )
            sel = [f"COALESCE(p.{a}, c.{a})" if a in key_al else f"p.{a}" for a in key_al]
            sel += [f"p.{a}" for a in keep] + [f"p.f{j}" for j in range(len(fields))] + ["p.prov", state]
            kinds = [*key_al, *keep, *(f"f:{f}" for f in fields), "prov", "state"]
            if self._order_names():
                sel += ["p.w", "p.r"]
                kinds += ["w", "r"]
            sql = (
                body
                + f"SELECT {', '.join(sel)} FROM p FULL JOIN c ON {self.key_match('p', 'c')} "
                + (
                    ""
                    if unchanged
                    else " WHERE c.present IS NULL OR p.epresent IS NULL OR c.cprov IS DISTINCT FROM p.prov"
                )
            )
            return sql, kinds
        # client hashing: every expected row (its values) and every stored key (its provenance)
        body = f"WITH e AS (SELECT {', '.join(outs)}, 1 AS epresent{self._order_cols()} FROM {frm}), c AS (SELECT * FROM {cur} AS c1) "
        order = ["e.w", "e.r"] if self._order_names() else []
        if fresh:  # nothing stored: every expected row is added, no join
            sel = (
                [f"e.{a}" for a in key_al]
                + [f"e.{a}" for a in non_key]
                + ["e.epresent", "NULL::integer", "NULL::text", *order]
            )
            kinds = [*key_al, *non_key, "epresent", "present", "cprov", *(["w", "r"] if order else [])]
            return body + f"SELECT {', '.join(sel)} FROM e", kinds
        sel = (
            [f"COALESCE(e.{a}, c.{a})" for a in key_al]
            + [f"e.{a}" for a in non_key]
            + ["e.epresent", "c.present", "c.cprov", *order]
        )
        kinds = [*key_al, *non_key, "epresent", "present", "cprov", *(["w", "r"] if order else [])]
        sql = body + f"SELECT {', '.join(sel)} FROM e FULL JOIN c ON {self.key_match('e', 'c')}"
        return sql, kinds

    def _no_current(self) -> str:
        kt = self.key_types()
        cols = [f"NULL::{_sql_type(kt[c])} AS {self.alias[c]}" for c in self.key]
        return f"(SELECT {', '.join(cols)}, NULL::text AS cprov, 1 AS present WHERE false)"

    def _order_cols(self) -> str:
        o = self.order_by()
        return "" if not o else ", " + o.replace(" ORDER BY ", "").replace(".w", ".w AS w").replace(".r", ".r AS r")

    def _order_names(self) -> str:
        return ", w, r" if self.order_by() else ""

    # ----- phase 2 -----------------------------------------------------------------------------------
    def rows(self, i: int, d: DepPlan, keys: pl.DataFrame | None) -> tuple[str, dict[str, ColumnType]]:
        """The dep's kept columns for the given keys (all when None): an identity's or expansion's
        rows, an aggregation's members (`on` not null); in insertion order."""
        place = self.places[d.upstream]
        types = self.kept_types(d)
        if not place.stored:
            return "", types
        assert place.table is not None  # stored
        stored = place.columns
        src = {c: column_expr(d.columns[c], types[c], stored, "u") for c in d.columns}
        where = place.live("u")
        if d.kind == "aggregation":
            where += "".join(f" AND {src[c]} IS NOT NULL" for c in d.on)
        if keys is not None:
            on = list(d.on)
            where += (
                f" AND ({', '.join(src[c] for c in on)}) IN (SELECT {', '.join(self.alias[c] for c in on)} FROM "
                f"{keys_relation(keys.select(on).unique(), {c: types[c] for c in on}, self.alias)} AS k)"
            )
        # the insertion order columns come last: the client sorts by them (cheaper than the server)
        sql = (
            f"SELECT {', '.join(src[c] for c in d.columns)}, u.{q(WRITE)}, u.{q(ROW)} "
            f"FROM {q(place.table)} AS u WHERE {where}"
        )
        return sql, types
