"""The audit log on PostgreSQL: the same entries and columns as the SQLite store's."""

from __future__ import annotations

import getpass
import json
import os
from typing import TYPE_CHECKING, Any

import polars as pl

from ..sqlite.codec import now_us

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
