"""Where PostgreSQL holds a feature's samples, as the sample pages and the detail look it up:
the feature's table and the ids of its stored feature versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import PgConnection


def table_location(conn: PgConnection, feature: str, feature_version: str) -> tuple[str | None, int | None]:
    """(table name, id of `feature_version`) or Nones when nothing was stored."""
    row = conn.execute("SELECT table_name FROM _metaxy_features WHERE feature_key = %s", (feature,)).fetchone()
    if row is None:
        return None, None
    fv = conn.execute(
        "SELECT id FROM _metaxy_feature_versions WHERE feature_key = %s AND feature_version = %s",
        (feature, feature_version),
    ).fetchone()
    return row[0], (fv[0] if fv else None)


def feature_version_names(conn: PgConnection, feature: str) -> dict[int, str]:
    return dict(
        conn.execute(
            "SELECT id, feature_version FROM _metaxy_feature_versions WHERE feature_key = %s", (feature,)
        ).fetchall()
    )
