"""Small lookups for tracing one sample and for measuring a change's blast radius.

A trace walks from one sample to the samples it was computed from and the samples it feeds,
a page of them at a time; an impact counts and samples the ids a change would make stale.
Neither may read a whole feature: every lookup here is one indexed SQL query (checked with
EXPLAIN QUERY PLAN in tests/test_trace_queries.py), so a trace costs milliseconds whether the
feature holds a hundred rows or a million.

- by id: the latest-row index `(_mx_fv, id columns) WHERE _mx_superseded IS NULL`;
- by `on` columns: an aggregation's members through its covering index `(_mx_fv, on, ids,
  data versions)`, a child of an expansion (or any feature whose key is not its id columns)
  through the key index `(_mx_fv, key, ids)` that `ensure_feature_table` makes;
- pages in id order, by keyset (`(ids) > (last ids)`), never by OFFSET.

The contract, for this store and any other (a PostgreSQL store implements the same methods):
values given and returned are the values the store holds (the ones the samples table and the
sample detail use: for SQLite, ISO text for datetimes and 0/1 for booleans); what one method
returns, the others accept. "Live" rows are the latest row of each id under one feature
version (the feature's current one unless `feature_version=` names another), soft-deleted
ones left out. Nothing here writes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import polars as pl

from ...columns import (
    DATA_VERSION,
    DELETED_AT,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
    UPDATED_AT,
    ColumnType,
    PolarsType,
    dvbf_column,
    pbf_column,
)
from ...errors import InputError, InputProblem
from ...graph import DepPlan, FeaturePlan, GraphPlan
from ...keys import quote, quote_all
from ...spec import feature_key_of
from ..records import SamplePage, StoredSample
from . import resolve as _resolve
from .codec import keys_in, table_types
from .schema import FV, SUPERSEDED, WRITE, table_columns
from .handle import StoreMembers


IN_CHUNK = 400  # keys per `IN (VALUES ...)`: far below SQLite's limit on bound parameters


class TraceQueries(StoreMembers):
    """Mixed into SQLiteMetadataStore: the public lookups a trace and an impact use."""

    # ----- where a feature lives -----------------------------------------------------------
    def _plans_for(self, feature: Any) -> tuple[GraphPlan, FeaturePlan]:
        """The graph plan a feature is read with (its code's, else the stored graph's) and its plan."""
        key = feature_key_of(feature).to_string()
        graph = self.graph(feature)
        if key in graph:
            gp = self.effective_graph(graph).plan()
            return gp, gp[key]
        plan = self._read_plan(feature)  # the stored graph's (raises UnknownFeatureError)
        return self.stored_graph().plan(), plan

    def _where(self, plan: FeaturePlan, feature_version: str | None) -> tuple[str | None, int | None, set[str], str]:
        """(table, feature version id, the table's columns, a note when nothing is stored)."""
        with self._lock:
            table = self._table(plan.name)
            if table is None:
                return None, None, set(), f"{plan.name} has no stored samples yet"
            fv_id = self._fv_id(plan.name, feature_version or plan.feature_version)
            if fv_id is None:
                which = "that feature version" if feature_version else "its current feature version"
                return table, None, set(), f"{plan.name} has no samples under {which}"
            return table, fv_id, set(table_columns(self.conn, table)), ""

    # ----- reading a sample ----------------------------------------------------------------
    @staticmethod
    def _id_value(t: ColumnType, text: str) -> Any:
        """StoreFront.parse_ids's hook: text typed by a user -> the value SQLite holds."""
        return _stored_value(t, text)

    def find_sample(self, feature: Any, ids: Mapping[str, Any]) -> StoredSample | None:
        """The sample with these id values: its latest row under the current feature version (a
        soft-deleted sample gives its tombstone, `deleted=True`); failing that, its most
        recently written row under any version (`current_version=False`); None when no row
        of the ids was ever stored. `ids` must give every id column."""
        _gp, plan = self._plans_for(feature)
        id_cols = plan.definition.id_columns
        missing = [c for c in id_cols if c not in ids]
        if missing:
            raise InputError(plan.name, [InputProblem("missing id column", c) for c in missing])
        table, fv_id, present, _note = self._where(plan, None)
        if table is None:
            return None
        present = present or set(table_columns(self.conn, table))
        match = " AND ".join(f"{quote(c)} = ?" for c in id_cols)
        params = [ids[c] for c in id_cols]
        rows: list[StoredSample] = []
        if fv_id is not None:
            rows = self._samples(
                plan,
                table,
                present,
                f"{quote(FV)} = ? AND {quote(SUPERSEDED)} IS NULL AND {match}",
                [fv_id, *params],
                "",
                None,
            )
        if not rows:
            rows = self._samples(plan, table, present, match, params, f" ORDER BY {quote(WRITE)} DESC, rowid DESC", 1)
        return rows[0] if rows else None

    def linked_samples(
        self,
        feature: Any,
        match: Mapping[str, Any],
        *,
        limit: int = 50,
        after: Mapping[str, Any] | None = None,
        feature_version: str | None = None,
    ) -> SamplePage:
        """Live samples of `feature` whose columns equal `match` (column -> value; e.g. an
        aggregation's `on` columns give the members of one group), in id order: at most
        `limit` of them, those after the id values `after` (a page's `after` cursor), and
        `total`, how many match in all. A null in `match` matches nothing."""
        _gp, plan = self._plans_for(feature)
        table, fv_id, present, note = self._where(plan, feature_version)
        if table is None or fv_id is None:
            return SamplePage([], 0, note)
        absent = [c for c in match if c not in present]
        if absent:
            return SamplePage([], 0, f"{plan.name} has no column {', '.join(absent)}")
        if any(v is None for v in match.values()):
            return SamplePage([], 0, "")
        where = [_resolve.latest_condition()] + [f"{quote(c)} = ?" for c in match]
        params: list[Any] = [fv_id, *match.values()]
        with self._lock:
            total = self.conn.execute(
                f"SELECT count(*) FROM {quote(table)} WHERE {' AND '.join(where)}", params
            ).fetchone()[0]
        # id columns that `match` fixes take no part in the order: the index then serves both
        # the equality and the keyset (a row-value over every id column made SQLite range-scan
        # the whole feature from the cursor on)
        id_cols = [c for c in plan.definition.id_columns if c not in match] or list(plan.definition.id_columns)
        if after is not None:
            where.append(f"({quote_all(id_cols)}) > ({', '.join('?' for _ in id_cols)})")
            params += [after[c] for c in id_cols]
        order = f" ORDER BY {', '.join(quote(c) for c in id_cols)}"
        limit = max(0, int(limit))
        samples = self._samples(plan, table, present, " AND ".join(where), params, order, limit + 1)
        return SamplePage(
            samples[:limit], total, "" if total else f"no live sample of {plan.name} matches", more=len(samples) > limit
        )

    def count_live(self, feature: Any, *, feature_version: str | None = None) -> int:
        """How many live samples the feature has (under its current version unless told): the
        count `store.count` gives, taken as the latest rows (the latest-row index alone: 0.1 s
        for 1,000,000 rows) minus the soft-deleted ones (their own partial index), instead of
        reading every row's deletion time (0.2-0.25 s)."""
        _gp, plan = self._plans_for(feature)
        table, fv_id, _present, _note = self._where(plan, feature_version)
        if table is None or fv_id is None:
            return 0
        latest = f"{quote(FV)} = ? AND {quote(SUPERSEDED)} IS NULL"
        with self._lock:
            n: int = self.conn.execute(f"SELECT count(*) FROM {quote(table)} WHERE {latest}", (fv_id,)).fetchone()[0]
            gone: int = self.conn.execute(
                f"SELECT count(*) FROM {quote(table)} WHERE {latest} AND {quote(DELETED_AT)} IS NOT NULL", (fv_id,)
            ).fetchone()[0]
        return n - gone

    def first_ids(self, feature: Any, *, feature_version: str | None = None, limit: int = 5) -> list[dict[str, Any]]:
        """The id values of the first `limit` live samples (in id order): a few examples."""
        _gp, plan = self._plans_for(feature)
        table, fv_id, _present, _note = self._where(plan, feature_version)
        if table is None or fv_id is None:
            return []
        id_cols = plan.definition.id_columns
        with self._lock:
            rows = self.conn.execute(
                f"SELECT {quote_all(id_cols)} FROM {quote(table)} WHERE {_resolve.latest_condition()} "
                f"ORDER BY {quote_all(id_cols)} LIMIT ?",
                (fv_id, max(0, int(limit))),
            ).fetchall()
        return [dict(zip(id_cols, r)) for r in rows]

    def rows_by_keys(
        self, feature: Any, keys: pl.DataFrame, columns: Sequence[str], *, feature_version: str | None = None
    ) -> pl.DataFrame:
        """`columns` of the live samples whose values in `keys`' columns equal one of its rows.

        Unlike the lookups above, this one is frame-shaped, as `read_metadata`: `keys` holds
        columns of the feature in their polars types and the result comes back typed the same
        way (one row per sample). It serves a walk from many samples at once (an approval's
        downstream); one query, the keys travel as one parameter.
        """
        _gp, plan = self._plans_for(feature)
        d = plan.definition
        table, fv_id, present, _note = self._where(plan, feature_version)
        types = {c: d.columns[c] for c in columns}
        if table is None or fv_id is None or not keys.height or any(c not in present for c in keys.columns):
            return pl.DataFrame(schema={c: t.polars for c, t in types.items()})
        keys = keys.unique().cast({c: d.columns[c].polars for c in keys.columns})
        cond, encoded = keys_in(list(keys.columns), keys, d.columns)
        select = ", ".join(quote(c) if c in present else f"NULL AS {quote(c)}" for c in columns)
        sql = f"SELECT {select} FROM {quote(table)} WHERE {_resolve.latest_condition()} AND {cond}"
        with self._lock:
            assert self._reader is not None, "store is not open"
            return self._reader.frame(sql, [fv_id, encoded], table_types(d, list(columns)), expected_rows=keys.height)

    # ----- what the upstream gives ---------------------------------------------------------
    def expected_provenance(
        self, feature: Any, keys: Sequence[Mapping[str, Any]]
    ) -> dict[tuple[Any, ...], tuple[str, dict[str, str]]]:
        """The provenance the current upstream gives each of a few samples of a derived feature.

        `keys` name samples by the feature's key (its deps' `on` columns: for an expansion, the
        parent's). Returns {key values in key order: (row provenance, {field: provenance})},
        computed as resolve_update computes it, from the live upstream rows matching each key
        (an aggregation reads every member of the group); a key whose required upstream has no
        live row is absent. A stored sample whose provenance differs is stale. A root feature
        gives {}.
        """
        gp, plan = self._plans_for(feature)
        if plan.is_root or not keys:
            return {}
        key = list(plan.key)
        wanted = list({tuple(k.get(c) for c in key): None for k in keys})
        wanted = [k for k in wanted if all(v is not None for v in k)]
        out: dict[tuple[Any, ...], tuple[str, dict[str, str]]] = {}
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            frames = [self._dep_values(gp, plan, d, [dict(zip(key, k)) for k in chunk]) for d in plan.deps]
            expected = _resolve._expected(plan, frames, self.hasher, True)
            by_field_type = expected.schema[PROVENANCE_BY_FIELD]
            assert isinstance(by_field_type, pl.Struct)
            fields = [f for f in by_field_type.fields]
            for r in expected.iter_rows(named=True):
                by_field = r[PROVENANCE_BY_FIELD] or {f.name: None for f in fields}
                out[tuple(r[c] for c in key)] = (r[PROVENANCE], dict(by_field))
        return out

    def _dep_values(self, gp: GraphPlan, plan: FeaturePlan, d: DepPlan, keys: list[dict[str, Any]]) -> pl.DataFrame:
        """One dep's frame for `_expected`: its `on` columns and one value column per field it
        reads, for the upstream rows matching `keys` (an aggregation: one row per group, the
        members' data versions joined in id order and hashed, as resolve does)."""
        up = gp[d.upstream]
        on_types = {c: up.definition.columns[d.columns[c]] for c in d.on}
        schema = {c: t.polars for c, t in on_types.items()} | {
            _resolve.value_column(d.upstream, f): pl.String for f in d.fields
        }
        table, fv_id, present, _note = self._where(up, None)
        if table is None or fv_id is None:
            return pl.DataFrame(schema=schema)
        on_src = [d.columns[c] for c in d.on]
        group_keys = list({tuple(k[c] for c in d.on): None for k in keys})
        values = [
            f"coalesce({quote(dvbf_column(f))}, {quote(pbf_column(f))})" if pbf_column(f) in present else "''"
            for f in d.fields
        ]
        select = [f"{quote(s)} AS {quote(c)}" for s, c in zip(on_src, d.on)] + [
            f"{v} AS {quote(_resolve.value_column(d.upstream, f))}" for v, f in zip(values, d.fields)
        ]
        cond, params = _in_values(on_src, group_keys)
        order = on_src + [d.columns[c] for c in d.upstream_ids]
        sql = (
            f"SELECT {', '.join(select)} FROM {quote(table)} WHERE {_resolve.latest_condition()} AND {cond} "
            f"ORDER BY {quote_all(order)}"
        )
        with self._lock:
            rows = self.conn.execute(sql, [fv_id, *params]).fetchall()
        names = list(d.on) + [_resolve.value_column(d.upstream, f) for f in d.fields]
        dtypes = {n: _stored_dtype(on_types[n]) if n in on_types else pl.String for n in names}
        frame = pl.DataFrame({n: [r[i] for r in rows] for i, n in enumerate(names)}, schema=dtypes)
        if d.kind == "aggregation":
            vcols = [_resolve.value_column(d.upstream, f) for f in d.fields]
            frame = frame.group_by(list(d.on), maintain_order=True).agg([pl.col(v).str.join("|") for v in vcols])
            frame = frame.with_columns([self.hasher.expr(pl.col(v)).alias(v) for v in vcols])
        return frame

    # ----- one state of the store ----------------------------------------------------------
    @contextlib.contextmanager
    def consistent_reads(self) -> Iterator[None]:
        """Lookups inside the block see one state of the store (one read transaction), so a
        trace never mixes rows from before and after a write that lands meanwhile."""
        with self._lock:
            conn = self.conn
            own = not conn.in_transaction
            if own:
                conn.execute("BEGIN")
            try:
                yield
            finally:
                if own:
                    conn.execute("COMMIT")

    # ----- rows ----------------------------------------------------------------------------
    def _samples(
        self,
        plan: FeaturePlan,
        table: str,
        present: set[str],
        where: str,
        params: Sequence[Any],
        order: str,
        limit: int | None,
    ) -> list[StoredSample]:
        d = plan.definition
        cols = [c for c in d.columns if c in present]
        fields = [f for f in d.field_keys if pbf_column(f) in present]
        select = (
            [quote(c) for c in cols]
            + [
                quote(PROVENANCE),
                f"coalesce({quote(DATA_VERSION)}, {quote(PROVENANCE)})",
                quote(FV),
                quote(WRITE),
                quote(DELETED_AT),
                quote(UPDATED_AT),
            ]
            + [quote(pbf_column(f)) for f in fields]
            + [f"coalesce({quote(dvbf_column(f))}, {quote(pbf_column(f))})" for f in fields]
        )
        sql = f"SELECT {', '.join(select)} FROM {quote(table)} WHERE {where}{order}" + (
            " LIMIT ?" if limit is not None else ""
        )
        with self._lock:
            rows = self.conn.execute(sql, [*params, *([limit] if limit is not None else [])]).fetchall()
            versions = (
                dict(
                    self.conn.execute(
                        "SELECT id, feature_version FROM _metaxy_feature_versions WHERE feature_key = ?", (plan.name,)
                    ).fetchall()
                )
                if rows
                else {}
            )
        n, k = len(cols), len(fields)
        out = []
        for r in rows:
            values = dict(zip(cols, r[:n]))
            prov, dv, fv, write, deleted, updated = r[n : n + 6]
            fv_name = versions.get(fv)
            out.append(
                StoredSample(
                    plan.name,
                    {c: values.get(c) for c in d.id_columns},
                    {c: v for c, v in values.items() if c not in d.id_columns},
                    prov,
                    dv,
                    dict(zip(fields, r[n + 6 : n + 6 + k])),
                    dict(zip(fields, r[n + 6 + k :])),
                    fv_name,
                    fv_name == plan.feature_version,
                    deleted is not None,
                    write,
                    updated,
                )
            )
        return out


def _in_values(columns: list[str], rows: list[tuple[Any, ...]]) -> tuple[str, list[Any]]:
    """`(columns) IN (VALUES (?, ...), ...)` and its parameters (an index on the columns serves it)."""
    target = quote(columns[0]) if len(columns) == 1 else f"({quote_all(columns)})"
    one = "(" + ", ".join("?" for _ in columns) + ")"
    return f"{target} IN (VALUES {', '.join(one for _ in rows)})", [v for r in rows for v in r]


def _stored_dtype(t: ColumnType) -> PolarsType:
    """The polars dtype of a value as SQLite holds it (datetimes and dates are ISO text, booleans 0/1)."""
    return {"datetime": pl.String, "date": pl.String, "bool": pl.Int64}.get(t.name, t.polars)


def _stored_value(t: ColumnType, text: str) -> Any:
    """Text typed by a user -> the value SQLite holds for a column of type `t` (ValueError if it is not one)."""
    name = t.name
    if name == "int":
        return int(text)
    if name == "float":
        return float(text)
    if name == "bool":
        low = text.strip().lower()
        if low in ("true", "1", "yes"):
            return 1
        if low in ("false", "0", "no"):
            return 0
        raise ValueError(text)
    if name == "datetime":
        value = dt.datetime.fromisoformat(text.strip())
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if name == "date":
        return dt.date.fromisoformat(text.strip()).isoformat()
    if name == "bytes":
        return bytes.fromhex(text)
    return text


__all__ = ["TraceQueries", "StoredSample", "SamplePage"]
