"""PostgreSQL's reads of one sample for its detail: its latest stored row, its history (every
row of its ids) and the current rows of a feature that link to it, with values as the SQLite
store holds them (stored_values.py). `PostgresSampleDetail` is a part of `PostgresSamplePages`
(pages.py), on the pages' connection and lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...columns import (
    CREATED_AT,
    DATA_VERSION,
    DELETED_AT,
    MATERIALIZATION_ID,
    PROVENANCE,
    UPDATED_AT,
    dvbf_column,
    pbf_column,
)
from ...definition import FeatureDefinition
from ...graph import FeaturePlan
from ..records import HistoryEntry, LinkedRow, StoredRow
from ..sample_records import history_entries, linked_rows_of, no_current_table_note
from .codec import column_expr
from .feature_tables import feature_version_names
from .layout import FV, ROW, SUPERSEDED, WRITE, ident, q
from .stored_values import _pg_type_name, bind, cast, stored_value_sql

if TYPE_CHECKING:
    from .connection import PgConnection

BOOKKEEPING = {FV, WRITE, ROW, SUPERSEDED}


class PostgresSampleDetail:
    """One sample's rows and links (SamplePages' detail reads). Worker threads only."""

    _lock: threading.Lock

    # PostgresSamplePages' connection and reads (the caller holds the lock)
    def _connection(self) -> PgConnection:
        raise NotImplementedError

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _present(self, table: str) -> dict[str, str]:
        raise NotImplementedError

    def _location(self, feature: str, feature_version: str) -> tuple[str | None, int | None]:
        raise NotImplementedError

    def _match(
        self, definition: FeatureDefinition, ids: dict[str, Any], present: dict[str, str]
    ) -> tuple[str, list[Any]]:
        parts, params = [], []
        for c, v in ids.items():
            t = definition.columns.get(c)
            parts.append(f"{column_expr(c, t, present, 't')} = {cast(t)}")
            params.append(bind(v, t))
        return " AND ".join(parts) or "true", params

    def _stored_select(self, definition: FeatureDefinition, present: dict[str, str]) -> tuple[list[str], list[str]]:
        """(names, expressions) of a table's columns but the bookkeeping, as SQLite holds the values."""
        names = {
            ident(c): c
            for c in [
                *definition.columns,
                *(pbf_column(f) for f in definition.field_keys),
                *(dvbf_column(f) for f in definition.field_keys),
            ]
        }
        out_names, exprs = [], []
        for pg_name, pg_type in present.items():
            if pg_name in BOOKKEEPING:
                continue
            out_names.append(names.get(pg_name, pg_name))
            exprs.append(stored_value_sql(f"t.{q(pg_name)}", _pg_type_name(pg_type)))
        return out_names, exprs

    def sample_row(self, plan: FeaturePlan, ids: dict[str, Any]) -> StoredRow | None:
        """The sample's latest row under the current feature version (a tombstone when
        soft-deleted); failing that its most recently written row of any version; None when no
        row of the ids was stored."""
        d = plan.definition
        with self._lock:
            table, fv_id = self._location(plan.name, plan.feature_version)
            if table is None:
                return None
            present = self._present(table)
            names, exprs = self._stored_select(d, present)
            match, params = self._match(d, ids, present)
            select = ", ".join([f"t.{q(FV)}", *exprs])
            fv_names = feature_version_names(self._connection(), plan.name)
            if fv_id is not None:
                rows = self._run(
                    f"SELECT {select} FROM {q(table)} AS t WHERE t.{q(FV)} = %s AND "
                    f"t.{q(SUPERSEDED)} IS NULL AND {match} ORDER BY t.{q(WRITE)}, t.{q(ROW)}",
                    [fv_id, *params],
                )
                if rows:
                    return StoredRow(dict(zip(names, rows[-1][1:])), fv_names.get(rows[-1][0]), True)
            rows = self._run(
                f"SELECT {select} FROM {q(table)} AS t WHERE {match} "
                f"ORDER BY t.{q(WRITE)} DESC, t.{q(ROW)} DESC LIMIT 1",
                params,
            )
        return StoredRow(dict(zip(names, rows[0][1:])), fv_names.get(rows[0][0]), False) if rows else None

    def sample_history(self, plan: FeaturePlan, ids: dict[str, Any], limit: int) -> tuple[list[HistoryEntry], int]:
        """Every stored row of the ids, oldest first (the latest `limit` of them), and how many there are."""
        with self._lock:
            table, fv_id = self._location(plan.name, plan.feature_version)
            if table is None:
                return [], 0
            present = self._present(table)
            fv_names = feature_version_names(self._connection(), plan.name)
            match, params = self._match(plan.definition, ids, present)
            total = self._run(f"SELECT count(*) FROM {q(table)} AS t WHERE {match}", params)[0][0]
            rows = self._run(
                f"SELECT t.{q(WRITE)}, w.kind, w.at, t.{q(FV)}, t.{q(PROVENANCE)}, t.{q(DATA_VERSION)}, "
                f"t.{q(CREATED_AT)}, t.{q(UPDATED_AT)}, t.{q(DELETED_AT)}, t.{q(SUPERSEDED)}, "
                f"t.{q(MATERIALIZATION_ID)} FROM {q(table)} AS t "
                f"LEFT JOIN _metaxy_writes AS w ON w.id = t.{q(WRITE)} WHERE {match} "
                f"ORDER BY t.{q(WRITE)} DESC, t.{q(ROW)} DESC LIMIT %s",
                [*params, limit],
            )
        return history_entries(rows, fv_names, fv_id), total

    def linked_rows(
        self, plan: FeaturePlan, match: dict[str, Any], fields: Sequence[str], limit: int
    ) -> tuple[list[LinkedRow], int, str]:
        """Current rows of `plan`'s feature whose columns equal `match`, in id order (at most
        `limit`), how many match, and a note when none can."""
        d = plan.definition
        with self._lock:
            table, fv_id = self._location(plan.name, plan.feature_version)
            if table is None or fv_id is None:
                return [], 0, no_current_table_note(plan.name, table)
            present = self._present(table)
            if any(ident(c) not in present for c in match):
                return [], 0, f"{plan.name} has no column {', '.join(c for c in match if ident(c) not in present)}"
            cond, mparams = self._match(d, match, present)
            where = f"t.{q(FV)} = %s AND t.{q(SUPERSEDED)} IS NULL AND t.{q(DELETED_AT)} IS NULL AND {cond}"
            params = [fv_id, *mparams]
            total = self._run(f"SELECT count(*) FROM {q(table)} AS t WHERE {where}", params)[0][0]
            fields = [f for f in fields if ident(pbf_column(f)) in present]
            cols = [c for c in d.columns if ident(c) in present]

            def dv(f: str) -> str:  # the field's data version (its provenance when none was given)
                if ident(dvbf_column(f)) in present:
                    return f"coalesce(t.{q(dvbf_column(f))}, t.{q(pbf_column(f))})"
                return f"t.{q(pbf_column(f))}"

            select = (
                [stored_value_sql(column_expr(c, d.columns[c], present, "t"), d.columns[c].name) for c in cols]
                + [f"t.{q(PROVENANCE)}", f"coalesce(t.{q(DATA_VERSION)}, t.{q(PROVENANCE)})"]
                + [dv(f) for f in fields]
            )
            order = ", ".join(column_expr(c, d.columns[c], present, "t") for c in d.id_columns)
            rows = self._run(
                f"SELECT {', '.join(select)} FROM {q(table)} AS t WHERE {where} ORDER BY {order} LIMIT %s",
                [*params, limit],
            )
        return linked_rows_of(rows, cols, fields, total, plan.name)
