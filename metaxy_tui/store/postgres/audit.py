"""The audit log on PostgreSQL: the same entries and columns as the SQLite store's; the queries,
and the store's methods over them (the AuditLog mixin)."""

from __future__ import annotations

import getpass
import json
import os
from typing import TYPE_CHECKING, Any

import polars as pl

from ..sqlite.codec import now_us
from .connection import psycopg_module
from .handle import StoreMembers

if TYPE_CHECKING:
    from .connection import PgConnection

TYPES = {
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


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER", "unknown")


def start(
    conn: PgConnection,
    action: str,
    feature: str,
    feature_version: str | None,
    user: str | None,
    outcome: str,
    executor: str | None = None,
) -> int:
    row = conn.execute(
        'INSERT INTO _metaxy_audit (at, "user", action, feature_key, feature_version, n_samples, duration_s, '
        "outcome, executor) VALUES (%s, %s, %s, %s, %s, 0, 0, %s, %s) RETURNING id",
        (now_us(), user or current_user(), action, feature, feature_version, outcome, executor),
    ).fetchone()
    assert row is not None  # INSERT ... RETURNING: one row
    audit_id: int = row[0]
    return audit_id


def batch(tx: PgConnection, audit_id: int, ids: list[dict[str, Any]], duration_s: float) -> None:
    """Samples of an entry, inside the transaction that wrote them."""
    if ids:
        tx.execute(
            "INSERT INTO _metaxy_audit_ids (audit_id, ids) VALUES (%s, %s)", (audit_id, json.dumps(ids, default=str))
        )
    tx.execute(
        "UPDATE _metaxy_audit SET n_samples = n_samples + %s, duration_s = %s WHERE id = %s",
        (len(ids), duration_s, audit_id),
    )


def log(
    conn: PgConnection, *, feature: str | None, since_us: int | None, action: str | None, limit: int | None
) -> pl.DataFrame:
    """Entries newest first; `ids` is one JSON array of every batch's samples (compact, as SQLite's
    json_group_array writes it)."""
    where, params = [], []
    for cond, value in (("feature_key = %s", feature), ("at >= %s", since_us), ("action = %s", action)):
        if value is not None:
            where.append(cond)
            params.append(value)
    sql = (
        'SELECT id, at, "user", action, feature_key, feature_version, n_samples, duration_s, outcome, detail, '
        "executor FROM _metaxy_audit"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY id DESC"
        + (" LIMIT %s" if limit else "")
    )
    entries = conn.execute(sql, [*params, *([int(limit)] if limit else [])]).fetchall()
    batches: dict[int, list[Any]] = {}
    if entries:
        for audit_id, ids in conn.execute(
            "SELECT audit_id, ids FROM _metaxy_audit_ids WHERE audit_id = ANY(%s) ORDER BY seq",
            ([e[0] for e in entries],),
        ).fetchall():
            batches.setdefault(audit_id, []).extend(json.loads(ids))
    rows = [
        {
            "id": e[0],
            "at": e[1],
            "user": e[2],
            "action": e[3],
            "feature": e[4],
            "feature_version": e[5],
            "n_samples": e[6],
            "ids": json.dumps(batches.get(e[0], []), separators=(",", ":")),
            "duration_s": e[7],
            "outcome": e[8],
            "detail": e[9],
            "executor": e[10],
        }
        for e in entries
    ]
    df = pl.DataFrame(rows, schema=TYPES) if rows else pl.DataFrame(schema=TYPES)
    return df.with_columns(pl.from_epoch(pl.col("at"), time_unit="us").dt.replace_time_zone("UTC"))


class AuditLog(StoreMembers):
    """Mixed into PostgreSQLMetadataStore: the audit log (who ran which action on which samples, when,
    and how it ended)."""

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
        with self._transaction() as conn:
            audit_id = start(conn, action, feature, feature_version, user, outcome, executor)
            self.audit_batch(conn, audit_id, ids, duration_s)
            conn.execute("UPDATE _metaxy_audit SET detail = %s WHERE id = %s", (detail, audit_id))
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
        with self._transaction() as conn:
            return start(conn, action, feature, feature_version, user, "running", executor)

    def audit_batch(self, tx: Any, audit_id: int, ids: list[dict[str, Any]], duration_s: float) -> None:
        batch(tx, audit_id, ids, duration_s)

    def finish_audit(self, audit_id: int, *, outcome: str, duration_s: float, detail: str | None = None) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE _metaxy_audit SET outcome = %s, duration_s = %s, detail = %s WHERE id = %s",
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
        with self._lock:
            conn = self.conn
            idle = conn.info.transaction_status == psycopg_module().pq.TransactionStatus.IDLE
            try:
                return log(conn, feature=feature, since_us=since_us, action=action, limit=limit)
            finally:
                if idle:
                    conn.rollback()
