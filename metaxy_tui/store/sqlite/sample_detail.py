"""SQLite's reads of one sample for its detail: its latest stored row, its history (every row
of its ids) and the current rows of a feature that link to it. `SQLiteSampleDetail` is a part
of `SQLiteSamplePages` (pages.py), on the pages' connection and lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

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
from ...graph import FeaturePlan
from ...keys import quote
from ..pages import Interrupted
from ..records import HistoryEntry, LinkedRow, StoredRow
from ..sample_records import history_entries, linked_rows_of, no_current_table_note
from .feature_tables import feature_version_names, table_location
from .resolve import latest_condition
from .schema import FV, SUPERSEDED, WRITE, table_columns


class SQLiteSampleDetail:
    """One sample's rows and links (SamplePages' detail reads). Worker threads only."""

    _lock: threading.Lock

    def _connection(self) -> sqlite3.Connection:
        raise NotImplementedError  # SQLiteSamplePages' read-only connection

    def _rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self._lock:
            try:
                cur = self._connection().execute(sql, tuple(params))
                names = [c[0] for c in cur.description]
                return [dict(zip(names, r)) for r in cur.fetchall()]
            except sqlite3.OperationalError as e:
                if "interrupt" in str(e):
                    raise Interrupted() from None
                raise

    def _stored_row(self, feature: str, row: dict[str, Any], current: bool) -> StoredRow:
        with self._lock:
            names = feature_version_names(self._connection(), feature)
        columns = {c: v for c, v in row.items() if c not in ("_rowid", FV, WRITE, SUPERSEDED)}
        fv_id: int | None = row.get(FV)
        return StoredRow(columns, names.get(fv_id) if fv_id is not None else None, current)

    def sample_row(self, plan: FeaturePlan, ids: dict[str, Any]) -> StoredRow | None:
        """The sample's latest row under the current feature version (a tombstone when
        soft-deleted); failing that its most recently written row of any version; None when no
        row of the ids was stored."""
        with self._lock:
            table, fv_id = table_location(self._connection(), plan.name, plan.feature_version)
        if table is None:
            return None
        if fv_id is not None:
            rows = self._rows(
                f"SELECT t.rowid AS _rowid, * FROM {quote(table)} AS t WHERE t.{quote(FV)} = ? "
                f"AND t.{quote(SUPERSEDED)} IS NULL AND {_match(list(ids))}",
                (fv_id, *ids.values()),
            )
            if rows:
                return self._stored_row(plan.name, rows[-1], True)
        rows = self._rows(
            f"SELECT t.rowid AS _rowid, * FROM {quote(table)} AS t WHERE {_match(list(ids))} "
            f"ORDER BY t.{quote(WRITE)} DESC, t.rowid DESC LIMIT 1",
            tuple(ids.values()),
        )
        return self._stored_row(plan.name, rows[0], False) if rows else None

    def sample_history(self, plan: FeaturePlan, ids: dict[str, Any], limit: int) -> tuple[list[HistoryEntry], int]:
        """Every stored row of the ids, oldest first (the latest `limit` of them), and how many there are."""
        with self._lock:
            conn = self._connection()
            table, fv_id = table_location(conn, plan.name, plan.feature_version)
            if table is None:
                return [], 0
            fv_names = feature_version_names(conn, plan.name)
            match = _match(list(ids))
            total = conn.execute(
                f"SELECT count(*) FROM {quote(table)} AS t WHERE {match}", tuple(ids.values())
            ).fetchone()[0]
            cur = conn.execute(
                f"SELECT t.{quote(WRITE)}, w.kind, w.at, t.{quote(FV)}, t.{quote(PROVENANCE)}, t.{quote(DATA_VERSION)}, "
                f"t.{quote(CREATED_AT)}, t.{quote(UPDATED_AT)}, t.{quote(DELETED_AT)}, t.{quote(SUPERSEDED)}, "
                f"t.{quote(MATERIALIZATION_ID)} FROM {quote(table)} AS t "
                f"LEFT JOIN _metaxy_writes AS w ON w.id = t.{quote(WRITE)} WHERE {match} "
                f"ORDER BY t.{quote(WRITE)} DESC, t.rowid DESC LIMIT ?",
                (*ids.values(), limit),
            )
            out = history_entries(cur.fetchall(), fv_names, fv_id)
        return out, total

    def linked_rows(
        self, plan: FeaturePlan, match: dict[str, Any], fields: Sequence[str], limit: int
    ) -> tuple[list[LinkedRow], int, str]:
        """Current rows of `plan`'s feature whose columns equal `match`, in id order (at most
        `limit`), how many match, and a note when none can."""
        d = plan.definition
        with self._lock:
            conn = self._connection()
            table, fv_id = table_location(conn, plan.name, plan.feature_version)
            if table is None or fv_id is None:
                return [], 0, no_current_table_note(plan.name, table)
            present = set(table_columns(conn, table))
            if any(c not in present for c in match):
                return [], 0, f"{plan.name} has no column {', '.join(c for c in match if c not in present)}"
            where = f"{latest_condition('t')} AND {_match(list(match))}"
            params = (fv_id, *match.values())
            total = conn.execute(f"SELECT count(*) FROM {quote(table)} AS t WHERE {where}", params).fetchone()[0]
            fields = [f for f in fields if pbf_column(f) in present]
            cols = [c for c in d.columns if c in present]
            select = (
                [f"t.{quote(c)}" for c in cols]
                + [f"t.{quote(PROVENANCE)}", f"coalesce(t.{quote(DATA_VERSION)}, t.{quote(PROVENANCE)})"]
                + [f"coalesce(t.{quote(dvbf_column(f))}, t.{quote(pbf_column(f))})" for f in fields]
            )
            rows = conn.execute(
                f"SELECT {', '.join(select)} FROM {quote(table)} AS t WHERE {where} "
                f"ORDER BY {', '.join(f't.{quote(c)}' for c in d.id_columns)} LIMIT ?",
                (*params, limit),
            ).fetchall()
        return linked_rows_of(rows, cols, fields, total, plan.name)


def _match(columns: Sequence[str], alias: str = "t") -> str:
    return " AND ".join(f"{alias}.{quote(c)} = ?" for c in columns)
