"""What a feature's deps contribute to its resolve, read from the fastest place that holds it.

Per dep, two frames:

- its values by key: one row per key of the feature (identity and expansion: the upstream
  row; aggregation: the group) with one value column per upstream field read, the data
  version (an aggregation's: the hash of the members' data versions, see store/sqlite/groups.py),
  and, unless `lean`, the kept columns of identity and expansion rows;
- for an aggregation, unless `lean`, its members: the kept columns of every upstream row
  whose `on` value is not null.

Rows come from the feature version's columnar copy (store/sqlite/chunks.py) or from SQL; group
values from the stored digests, else built from the members in polars (SQLite's window
numbers them; each group's string is made once).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from ...columns import DELETED_AT, PROVENANCE, ColumnType, PolarsType, dvbf_column, pbf_column
from ...graph import DepPlan, FeaturePlan, GraphPlan
from ...hashing import Hasher
from ...keys import quote, quote_all
from . import chunks, groups
from .codec import Typed, load_dtype
from .reader import CopyRead, FrameFn, Query, Reader, columnar_frame, split_by_rowid
from .schema import FV, SUPERSEDED, WRITE

if TYPE_CHECKING:
    from .handle import ReadPlan
    from .handle import StoreHandle


def value_column(upstream: str, field: str) -> str:
    return f"__v:{upstream}.{field}"


def latest_condition(alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    return f"{a}{quote(FV)} = ? AND {a}{quote(SUPERSEDED)} IS NULL AND {a}{quote(DELETED_AT)} IS NULL"


def _not_null(columns: Iterable[str]) -> pl.Expr:
    return pl.all_horizontal([pl.col(c).is_not_null() for c in columns])


def copy_read(
    table: str,
    fv_id: int,
    n: int,
    columns: dict[str, str],
    types: Mapping[str, Typed],
    fields: dict[str, str] | None = None,
    *,
    where: str = "",
    where_params: tuple[Any, ...] = (),
    post: FrameFn | None = None,
    each: FrameFn | None = None,
    extra: dict[str, tuple[str, str]] | None = None,
) -> CopyRead:
    """Rows of a feature version: `columns` (output name -> stored column, typed by `types`), and per
    `fields` item (output name -> field) the field's data version; the same through SQL as fallback.

    `extra` adds integer system columns (output name -> (chunks column, SQL expression)); `where`
    (with `where_params`) narrows the SQL fallback (the caller narrows the copy alike).
    """
    fields = fields or {}
    extra = extra or {}
    sources = list(
        dict.fromkeys([*columns.values(), *(c for f in fields.values() for c in (pbf_column(f), dvbf_column(f)))])
    )
    stored: dict[str, PolarsType] = {src: load_dtype(types[out]) for out, src in columns.items()}  # (dtypes kept)
    stored.update({c: pl.String for f in fields.values() for c in (pbf_column(f), dvbf_column(f))})
    select = {out: pl.col(src) for out, src in columns.items()}
    select.update({out: groups.value_expr(f) for out, f in fields.items()})
    out_types = dict(types) | {out: pl.String for out in fields} | {out: pl.Int64 for out in extra}
    for out, (chunk_col, _sql) in extra.items():
        sources.append(chunk_col)
        select[out] = pl.col(chunk_col)
    sql_cols = [f"{quote(src)} AS {quote(out)}" for out, src in columns.items()]
    sql_cols += [
        f"COALESCE({quote(dvbf_column(f))}, {quote(pbf_column(f))}) AS {quote(out)}" for out, f in fields.items()
    ]
    sql_cols += [f"{sql_expr} AS {quote(out)}" for out, (_c, sql_expr) in extra.items()]
    sql = f"SELECT {', '.join(sql_cols)} FROM {quote(table)} WHERE {latest_condition()}{where}"
    return CopyRead(
        table,
        fv_id,
        sources,
        stored,
        select,
        out_types,
        split_by_rowid(sql, [fv_id, *where_params], out_types, n, quote(table)),
        post=post,
        each=each,
    )


# ----- aggregation groups ------------------------------------------------------------------------------


@dataclass
class GroupRead:
    """Each group's value per field: from the stored digests when they are complete, else built
    from the members (the columnar copy, or SQL with the window numbering them)."""

    dep: DepPlan
    table: str
    fv_id: int
    n: int
    types: dict[str, ColumnType]  # the dep's kept columns (downstream names)
    hasher: Hasher
    expected_rows: int = 0

    def run(self, reader: Reader, conn: sqlite3.Connection) -> pl.DataFrame:
        d = self.dep
        on_src = [d.columns[c] for c in d.on]
        order_src = [d.columns[c] for c in d.upstream_ids]
        values = {value_column(d.upstream, f): f for f in d.fields}
        gset = groups.available(conn, self.table, on_src, order_src, self.fv_id, list(d.fields))
        if gset is not None:
            q = Query(
                groups.read_sql(gset, list(d.fields)),
                [self.fv_id],
                {s: self.types[c] for c, s in zip(d.on, on_src)}
                | {groups.digest_column(f): pl.String for f in d.fields},
                self.n // 4,
            )
            df = reader.read(q, conn)
            return df.rename(
                {s: c for s, c in zip(on_src, d.on)} | {groups.digest_column(f): v for v, f in values.items()}
            )
        members, numbered = self._members(reader, conn, on_src, order_src, values)
        built = groups.group_strings(members, list(d.on), ["__rn"] if numbered else list(d.upstream_ids), list(values))
        return groups.hashed(built, list(values), self.hasher).drop(groups.MEMBERS)

    def _members(
        self, reader: Reader, conn: sqlite3.Connection, on_src: list[str], order_src: list[str], values: dict[str, str]
    ) -> tuple[pl.DataFrame, bool]:
        d = self.dep
        cols = {c: d.columns[c] for c in dict.fromkeys([*d.on, *d.upstream_ids])}
        types = {c: self.types[c] for c in cols}
        read = copy_read(self.table, self.fv_id, self.n, cols, types, values)
        raw = chunks.read_live(conn, self.table, self.fv_id, read.sources, expected=read.stored)
        if raw is not None:
            frame = raw.select([e.alias(n) for n, e in read.select.items()])
            return frame.filter(_not_null(d.on)), False
        # no copy: SQLite's window numbers each group's members in id order; polars joins them
        window = f"PARTITION BY {quote_all(on_src)} ORDER BY {quote_all(order_src)}"
        select = [f"{quote(s)} AS {quote(c)}" for c, s in zip(d.on, on_src)]
        select += [
            f"COALESCE({quote(dvbf_column(f))}, {quote(pbf_column(f))}) AS {quote(v)}" for v, f in values.items()
        ]
        not_null = " AND ".join(f"{quote(s)} IS NOT NULL" for s in on_src)
        sql = (
            f"SELECT {', '.join(select)}, row_number() OVER ({window}) AS __rn FROM {quote(self.table)} "
            f"WHERE {latest_condition()} AND {not_null}"
        )
        q = Query(
            sql,
            [self.fv_id],
            {c: self.types[c] for c in d.on} | {v: pl.String for v in values} | {"__rn": pl.Int64},
            self.n,
        )
        return reader.read(q, conn), True


# ----- planning a dep's reads ----------------------------------------------------------------------------


def plan_values(
    store: "StoreHandle",
    gp: GraphPlan,
    d: DepPlan,
    hasher: Hasher,
    lean: bool,
    reads: "ReadPlan",
    each: FrameFn | None = None,
) -> int:
    """The dep's values by key (see the module docstring); returns the frame's index in `reads`.

    `each` (identity and expansion) transforms the rows chunk by chunk as they are read.
    """
    up = gp[d.upstream]
    updef = up.definition
    if d.kind == "aggregation" or lean:
        columns = {c: d.columns[c] for c in d.on}
    else:
        columns = dict(d.columns)
    types = {down: updef.columns[src] for down, src in d.columns.items()}
    values = {value_column(d.upstream, f): f for f in d.fields}
    schema = {c: types[c] for c in columns} | {v: pl.String for v in values}
    table, fv_id, n = store._latest_location(d.upstream, up.feature_version)
    if table is None or fv_id is None:
        empty = reads.add_empty(schema)
        if each is not None:
            reads.builders[empty] = (lambda b: lambda r: each(b(r)))(reads.builders[empty])
        return empty
    if d.kind == "aggregation":
        if not d.fields:
            read = copy_read(table, fv_id, n, columns, types, post=lambda f: f.filter(_not_null(d.on)).unique())
            return reads.add([read], lambda r: r[0])
        return reads.add([GroupRead(d, table, fv_id, n, types, hasher, n)], lambda r: r[0])
    return reads.add([copy_read(table, fv_id, n, columns, {c: types[c] for c in columns}, values, each=each)], _concat)


def plan_members(
    store: "StoreHandle", gp: GraphPlan, d: DepPlan, reads: "ReadPlan", each: FrameFn | None = None
) -> int:
    """A dep's upstream rows (kept columns; for an aggregation, its members), `on` not null; `each`
    transforms them chunk by chunk."""
    up = gp[d.upstream]
    types = {down: up.definition.columns[src] for down, src in d.columns.items()}
    table, fv_id, n = store._latest_location(d.upstream, up.feature_version)
    if table is None or fv_id is None:
        empty = reads.add_empty(types)
        if each is not None:
            reads.builders[empty] = (lambda b: lambda r: each(b(r)))(reads.builders[empty])
        return empty
    not_null = "".join(f" AND {quote(d.columns[c])} IS NOT NULL" for c in d.on)
    keep = (lambda f: each(f.filter(_not_null(d.on)))) if each is not None else (lambda f: f.filter(_not_null(d.on)))
    read = copy_read(table, fv_id, n, dict(d.columns), types, where=not_null, each=keep)
    return reads.add([read], lambda r: r[0])


def plan_current(
    store: "StoreHandle", plan: FeaturePlan, reads: "ReadPlan", mixed: str, *, with_fields: bool = False
) -> int:
    """The key columns and provenance of the feature's latest rows; one row per key.

    `with_fields` adds each field's provenance and the write that stored the row (what an
    explanation compares against), read in the same pass.
    """
    key = list(plan.key)
    types = {c: plan.definition.columns[c] for c in key} | {PROVENANCE: pl.String}
    columns = {c: c for c in key} | {PROVENANCE: PROVENANCE}
    extra = {}
    if with_fields:
        columns |= {pbf_column(f): pbf_column(f) for f in plan.definition.field_keys}
        types |= {pbf_column(f): pl.String for f in plan.definition.field_keys}
        extra = {WRITE: (chunks.WRITE_ID, quote(WRITE))}
    schema = types | {c: pl.Int64 for c in extra}
    table, fv_id, n = store._latest_location(plan.name, plan.feature_version)
    if table is None or fv_id is None:
        return reads.add_empty(schema)

    def per_key(cur: pl.DataFrame) -> pl.DataFrame:
        if key != list(plan.definition.id_columns):
            # expansion: many children share a parent key; they agree unless a write was partial
            cur = cur.group_by(key, maintain_order=True).agg(
                pl.when(pl.col(PROVENANCE).n_unique() == 1)
                .then(pl.col(PROVENANCE).first())
                .otherwise(pl.lit(mixed))
                .alias(PROVENANCE),
                *[pl.col(c).first() for c in cur.columns if c not in key and c != PROVENANCE],
            )
        return cur

    read = copy_read(table, fv_id, n, columns, types, post=per_key, extra=extra)
    return reads.add([read], lambda r: r[0])


def _concat(parts: list[pl.DataFrame]) -> pl.DataFrame:
    return parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical", rechunk=False)


__all__ = [
    "value_column",
    "latest_condition",
    "plan_values",
    "plan_members",
    "plan_current",
    "copy_read",
    "GroupRead",
    "columnar_frame",
]
