"""The audit log of a SQLite store: who ran which action on which samples, when, and how it ended."""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from typing import Any

import polars as pl

from ...columns import PolarsType
from . import codec  # codec.now_us, looked up at each call (tests freeze the clock there)
from . import schema as _schema
from .handle import StoreMembers


class AuditLog(StoreMembers):
    """Mixed into SQLiteMetadataStore: the audit log (who ran which action on which samples, when, and how it ended)."""

    def record_audit(
        self,
        *,
        action: str,
        feature: str,
        feature_version: str | None,
        ids: list[dict[str, Any]],
        duration_s: float,
        outcome: str,
        detail: str | None = None,
        user: str | None = None,
        executor: str | None = None,
    ) -> int:
        """Append one finished entry to the audit log (its own transaction)."""
        with self._transaction() as conn:
            audit_id = self._start_audit(conn, action, feature, feature_version, user, outcome, executor)
            self.audit_batch(conn, audit_id, ids, duration_s)
            conn.execute("UPDATE _metaxy_audit SET detail = ? WHERE id = ?", (detail, audit_id))
            return audit_id

    def start_audit(
        self,
        *,
        action: str,
        feature: str,
        feature_version: str | None,
        user: str | None = None,
        executor: str | None = None,
    ) -> int:
        """An entry for a long action, marked `running` until finish_audit; batches add to it.
        `executor` names where a recompute's batches ran (local, ray)."""
        with self._transaction() as conn:
            return self._start_audit(conn, action, feature, feature_version, user, "running", executor)

    def _start_audit(
        self,
        conn: sqlite3.Connection,
        action: str,
        feature: str,
        feature_version: str | None,
        user: str | None,
        outcome: str,
        executor: str | None = None,
    ) -> int:
        audit_id = conn.execute(
            "INSERT INTO _metaxy_audit (at, user, action, feature_key, feature_version, n_samples, duration_s, "
            "outcome, executor) VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?)",
            (codec.now_us(), user or current_user(), action, feature, feature_version, outcome, executor),
        ).lastrowid
        assert audit_id is not None  # an INSERT's rowid
        return audit_id

    def audit_batch(self, tx: sqlite3.Connection, audit_id: int, ids: list[dict[str, Any]], duration_s: float) -> None:
        """Add samples to an entry, inside the transaction that wrote them (so a kill never
        leaves written samples the log does not name)."""
        if ids:
            tx.execute(
                "INSERT INTO _metaxy_audit_ids (audit_id, ids) VALUES (?, ?)", (audit_id, json.dumps(ids, default=str))
            )
        tx.execute(
            "UPDATE _metaxy_audit SET n_samples = n_samples + ?, duration_s = ? WHERE id = ?",
            (len(ids), duration_s, audit_id),
        )

    def finish_audit(self, audit_id: int, *, outcome: str, duration_s: float, detail: str | None = None) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE _metaxy_audit SET outcome = ?, duration_s = ?, detail = ? WHERE id = ?",
                (outcome, duration_s, detail, audit_id),
            )

    def audit_log(
        self,
        *,
        feature: str | None = None,
        since_us: int | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> pl.DataFrame:
        """Audit entries, newest first; `ids` is a JSON array of the samples' keys.

        `outcome` is ok, failed, cancelled, nothing to do, or running (still running, or
        interrupted: a process killed mid-way leaves its committed batches recorded);
        `executor` is where a recompute's batches ran (local, ray; null for other actions and
        for entries written before it was recorded).
        """
        where: list[str] = []
        params: list[Any] = []
        if feature is not None:
            where.append("feature_key = ?")
            params.append(feature)
        if since_us is not None:
            where.append("at >= ?")
            params.append(since_us)
        if action is not None:
            where.append("action = ?")
            params.append(action)
        ids = (
            "(SELECT json_group_array(json(j.value)) FROM _metaxy_audit_ids i, json_each(i.ids) j "
            "WHERE i.audit_id = a.id)"
        )
        types: dict[str, PolarsType] = {
            "id": pl.Int64,
            "at": pl.Int64,
            "user": pl.String,
            "action": pl.String,
            "feature": pl.String,
            "feature_version": pl.String,
            "n_samples": pl.Int64,
            "ids": pl.String,
            "duration_s": pl.Float64,
            "outcome": pl.String,
            "detail": pl.String,
            "executor": pl.String,
        }
        if not self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = '_metaxy_audit_ids' UNION ALL "
            "SELECT 1 FROM sqlite_temp_master WHERE name = '_metaxy_audit_ids'"
        ).fetchone():
            return pl.DataFrame(schema=types).with_columns(pl.col("at").cast(pl.Datetime("us", "UTC")))
        with self._lock:
            # a store written before executors were recorded, opened read-only, lacks the column
            executor = "executor" if _schema.audit_has_executor(self.conn) else "NULL AS executor"
            sql = (
                f"SELECT id, at, user, action, feature_key AS feature, feature_version, n_samples, {ids} AS ids, "
                f"duration_s, outcome, detail, {executor} FROM _metaxy_audit a"
                + (" WHERE " + " AND ".join(where) if where else "")
                + " ORDER BY id DESC"
                + (f" LIMIT {int(limit)}" if limit else "")
            )
            assert self._reader is not None  # open: self.conn answered
            df = self._reader.frame(sql, params, types)
        return df.with_columns(pl.from_epoch(pl.col("at"), time_unit="us").dt.replace_time_zone("UTC"))


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER", "unknown")
