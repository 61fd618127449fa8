"""Columns that come from the data rather than the class, as the PostgreSQL store records them.

The same rules as store/frame_columns.py (SPEC 1), on the `_metaxy_columns` table of
layout.py: the first write carrying an unannotated column records its type, later writes and
reads of any feature version agree on it, and a frame typing it otherwise is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ...columns import ColumnType
from ...errors import InputError, InputProblem
from ..sqlite.frame_columns import Recorded

if TYPE_CHECKING:
    from .connection import PgConnection
    from .handle import PgHandle

TABLE = "_metaxy_columns"


def stamp(store: "PgHandle") -> int:
    """Changes whenever a column is recorded (rows are never removed)."""
    n: int = store._query(f"SELECT count(*) FROM {TABLE}")[0][0]
    return n


def read_all(store: "PgHandle") -> Recorded:
    out: Recorded = {}
    for key, col, t, nullable in store._query(
        f"SELECT feature_key, column_name, type, nullable FROM {TABLE} ORDER BY seq"
    ):
        out.setdefault(key, {})[col] = ColumnType(t, bool(nullable), declared=False)
    return out


def record(conn: PgConnection, feature: str, columns: Mapping[str, ColumnType], now: int) -> None:
    """Record new columns inside the write's transaction; a column another writer typed otherwise
    since this write was planned is refused."""
    rows = conn.execute(
        f"SELECT column_name, type FROM {TABLE} WHERE feature_key = %s AND column_name = ANY(%s)",
        (feature, list(columns)),
    ).fetchall()
    for col, t in rows:
        if t != columns[col].name:
            raise InputError(
                feature,
                [
                    InputProblem(
                        f"is stored as {t} (typed by an earlier write), this frame holds {columns[col].name}", col
                    )
                ],
            )
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {TABLE} (feature_key, column_name, type, nullable, added_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (feature_key, column_name) DO NOTHING",
            [(feature, c, t.name, bool(t.nullable), now) for c, t in columns.items()],
        )
