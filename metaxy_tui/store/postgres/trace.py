"""The small lookups of a trace and an impact (store/trace_queries.py's contract) on PostgreSQL.

Each is one indexed query with bound values. Values given and returned are the ones the
store holds, as psycopg returns them: ints, floats, booleans, datetimes and dates as Python
values, text as str.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from ...columns import (
    DATA_VERSION,
    DELETED_AT,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
    UPDATED_AT,
    ColumnType,
    dvbf_column,
    pbf_column,
)
from ...errors import InputError, InputProblem
from ...graph import FeaturePlan, GraphPlan
from ...spec import feature_key_of
from ..records import SamplePage, StoredSample
from .codec import column_expr
from .layout import FV, ROW, SUPERSEDED, WRITE, ident, q

if TYPE_CHECKING:
    from psycopg.pq import TransactionStatus

    from .handle import PgHandle


class PostgresTraceQueries:
    """Mixed into PostgreSQLMetadataStore."""

    def _plans_for(self: "PgHandle", feature: Any) -> tuple[GraphPlan, FeaturePlan]:
        key = feature_key_of(feature).to_string()
        graph = self.graph(feature)
        if key in graph:
            gp = self.effective_graph(graph).plan()
            return gp, gp[key]
        plan = self._read_plan(feature)
        return self.stored_graph().plan(), plan

    def _where(
        self: "PgHandle", plan: FeaturePlan, feature_version: str | None
    ) -> tuple[str | None, int | None, dict[str, str], str]:
        table = self._table(plan.name)
        if table is None:
            return None, None, {}, f"{plan.name} has no stored samples yet"
        fv_id = self._fv_id(plan.name, feature_version or plan.feature_version)
        if fv_id is None:
            which = "that feature version" if feature_version else "its current feature version"
            return table, None, {}, f"{plan.name} has no samples under {which}"
        return table, fv_id, self._stored_columns(table), ""

    def _stored_columns(self: "PgHandle", table: str) -> dict[str, str]:
        rows = self._query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON "
            "c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
            "AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (ident(table),),
        )
        return {r[0]: r[1] for r in rows}

    @staticmethod
    def _id_value(t: ColumnType, text: str) -> Any:
        """StoreFront.parse_ids's hook: text typed by a user -> the value PostgreSQL takes."""
        return _value(t, text)

    def find_sample(self: "PgHandle", feature: Any, ids: Mapping[str, Any]) -> StoredSample | None:
        _gp, plan = self._plans_for(feature)
        id_cols = plan.definition.id_columns
        missing = [c for c in id_cols if c not in ids]
        if missing:
            raise InputError(plan.name, [InputProblem("missing id column", c) for c in missing])
        table, fv_id, present, _note = self._where(plan, None)
        if table is None:
            return None
        present = present or self._stored_columns(table)
        match = " AND ".join(f"{q(c)} = %s" for c in id_cols)
        params = [ids[c] for c in id_cols]
        rows: list[StoredSample] = []
        if fv_id is not None:
            rows = self._samples(
                plan,
                table,
                present,
                f"{q(FV)} = %s AND {q(SUPERSEDED)} IS NULL AND {match}",
                [fv_id, *params],
                "",
                None,
            )
        if not rows:
            rows = self._samples(plan, table, present, match, params, f" ORDER BY {q(WRITE)} DESC, {q(ROW)} DESC", 1)
        return rows[0] if rows else None

    def linked_samples(
        self: "PgHandle",
        feature: Any,
        match: Mapping[str, Any],
        *,
        limit: int = 50,
        after: Mapping[str, Any] | None = None,
        feature_version: str | None = None,
    ) -> SamplePage:
        _gp, plan = self._plans_for(feature)
        table, fv_id, present, note = self._where(plan, feature_version)
        if table is None or fv_id is None:
            return SamplePage([], 0, note)
        absent = [c for c in match if ident(c) not in present]
        if absent:
            return SamplePage([], 0, f"{plan.name} has no column {', '.join(absent)}")
        if any(v is None for v in match.values()):
            return SamplePage([], 0, "")
        where = [_live()] + [f"{q(c)} = %s" for c in match]
        params: list[Any] = [fv_id, *match.values()]
        total = self._query(f"SELECT count(*) FROM {q(table)} WHERE {' AND '.join(where)}", params)[0][0]
        id_cols = [c for c in plan.definition.id_columns if c not in match] or list(plan.definition.id_columns)
        if after is not None:
            where.append(f"({', '.join(q(c) for c in id_cols)}) > ({', '.join('%s' for _ in id_cols)})")
            params += [after[c] for c in id_cols]
        order = f" ORDER BY {', '.join(q(c) for c in id_cols)}"
        limit = max(0, int(limit))
        samples = self._samples(plan, table, present, " AND ".join(where), params, order, limit + 1)
        return SamplePage(
            samples[:limit], total, "" if total else f"no live sample of {plan.name} matches", more=len(samples) > limit
        )

    def count_live(self: "PgHandle", feature: Any, *, feature_version: str | None = None) -> int:
        _gp, plan = self._plans_for(feature)
        table, fv_id, _present, _note = self._where(plan, feature_version)
        if table is None or fv_id is None:
            return 0
        n: int = self._query(f"SELECT count(*) FROM {q(table)} WHERE {_live()}", (fv_id,))[0][0]
        return n

    def first_ids(
        self: "PgHandle", feature: Any, *, feature_version: str | None = None, limit: int = 5
    ) -> list[dict[str, Any]]:
        _gp, plan = self._plans_for(feature)
        table, fv_id, _present, _note = self._where(plan, feature_version)
        if table is None or fv_id is None:
            return []
        id_cols = plan.definition.id_columns
        cols = ", ".join(q(c) for c in id_cols)
        rows = self._query(
            f"SELECT {cols} FROM {q(table)} WHERE {_live()} ORDER BY {cols} LIMIT %s", (fv_id, max(0, int(limit)))
        )
        return [dict(zip(id_cols, r)) for r in rows]

    def rows_by_keys(
        self: "PgHandle",
        feature: Any,
        keys: pl.DataFrame,
        columns: Sequence[str],
        *,
        feature_version: str | None = None,
    ) -> pl.DataFrame:
        _gp, plan = self._plans_for(feature)
        d = plan.definition
        table, fv_id, present, _note = self._where(plan, feature_version)
        types = {c: d.columns[c] for c in columns}
        if table is None or fv_id is None or not keys.height or any(ident(c) not in present for c in keys.columns):
            return pl.DataFrame(schema={c: t.polars for c, t in types.items()})
        keys = keys.unique().cast({c: d.columns[c].polars for c in keys.columns})
        kc = list(keys.columns)
        arrays = ", ".join(f"%s::{_array_type(d.columns[c])}" for c in kc)
        cond = f"({', '.join(q(c) for c in kc)}) IN (SELECT * FROM unnest({arrays}))"
        select = ", ".join(column_expr(c, types[c], present) for c in columns)
        sql = f"SELECT {select} FROM {q(table)} WHERE {_live()} AND {cond}"
        rows = self._query(sql, [fv_id, *[keys.get_column(c).to_list() for c in kc]])
        return pl.DataFrame(rows, schema={c: t.polars for c, t in types.items()}, orient="row")

    def expected_provenance(
        self: "PgHandle", feature: Any, keys: Sequence[Mapping[str, Any]]
    ) -> dict[tuple[Any, ...], tuple[str, dict[str, str]]]:
        """As the SQLite store's: computed by the same statements resolve_update runs, limited to `keys`."""
        from . import resolve as _resolve

        gp, plan = self._plans_for(feature)
        if plan.is_root or not keys:
            return {}
        key = list(plan.key)
        wanted = list({tuple(k.get(c) for c in key): None for k in keys})
        wanted = [k for k in wanted if all(v is not None for v in k)]
        if not wanted:
            return {}
        kt = {c: plan.definition.columns[c].polars for c in key}
        frame = pl.DataFrame([dict(zip(key, k)) for k in wanted], schema=kt)
        got = _resolve.expected_for_keys(self, gp, plan, frame)
        out = {}
        for r in got.iter_rows(named=True):
            out[tuple(r[c] for c in key)] = (r[PROVENANCE], dict(r[PROVENANCE_BY_FIELD] or {}))
        return out

    @contextlib.contextmanager
    def consistent_reads(self: "PgHandle") -> Iterator[None]:
        """Lookups inside see one committed state: one REPEATABLE READ transaction on the store's
        connection (unless a write transaction is already open on it)."""
        with self._lock:
            conn = self.conn
            own = conn.info.transaction_status == _idle()
            if own:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield
            finally:
                if own:
                    conn.rollback()

    def _samples(
        self: "PgHandle",
        plan: FeaturePlan,
        table: str,
        present: dict[str, str],
        where: str,
        params: Sequence[Any],
        order: str,
        limit: int | None,
    ) -> list[StoredSample]:
        d = plan.definition
        cols = [c for c in d.columns if ident(c) in present]
        fields = [f for f in d.field_keys if ident(pbf_column(f)) in present]
        select = (
            [column_expr(c, d.columns[c], present) for c in cols]
            + [
                q(PROVENANCE),
                f"coalesce({q(DATA_VERSION)}, {q(PROVENANCE)})",
                q(FV),
                q(WRITE),
                q(DELETED_AT),
                q(UPDATED_AT),
            ]
            + [q(pbf_column(f)) for f in fields]
            + [
                f"coalesce({q(dvbf_column(f))}, {q(pbf_column(f))})"
                if ident(dvbf_column(f)) in present
                else q(pbf_column(f))
                for f in fields
            ]
        )
        sql = f"SELECT {', '.join(select)} FROM {q(table)} WHERE {where}{order}" + (" LIMIT %s" if limit else "")
        rows = self._query(sql, [*params, *([limit] if limit else [])])
        versions = (
            dict(
                self._query(
                    "SELECT id, feature_version FROM _metaxy_feature_versions WHERE feature_key = %s", (plan.name,)
                )
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


def _live() -> str:
    return f"{q(FV)} = %s AND {q(SUPERSEDED)} IS NULL AND {q(DELETED_AT)} IS NULL"


def _idle() -> TransactionStatus:
    import psycopg

    return psycopg.pq.TransactionStatus.IDLE


def _array_type(t: ColumnType) -> str:
    return {
        "str": "text[]",
        "int": "bigint[]",
        "float": "float8[]",
        "bool": "boolean[]",
        "datetime": "timestamp[]",
        "date": "date[]",
        "bytes": "bytea[]",
    }[t.name]


def _value(t: ColumnType, text: str) -> Any:
    """Text typed by a user -> the value this store holds for a column of type `t`."""
    name = t.name
    if name == "int":
        return int(text)
    if name == "float":
        return float(text)
    if name == "bool":
        low = text.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError(text)
    if name == "datetime":
        value = dt.datetime.fromisoformat(text.strip())
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if name == "date":
        return dt.date.fromisoformat(text.strip())
    if name == "bytes":
        return bytes.fromhex(text)
    return text
