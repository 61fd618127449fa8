"""The graph snapshots a PostgreSQL store records (push_graph) and reads back, and the feature
versions they hold."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ...graph import FeatureGraph
from ...spec import feature_key_of
from ..sqlite import frame_columns
from ..sqlite.codec import now_us
from .handle import StoreMembers

if TYPE_CHECKING:
    from .connection import PgConnection


class Snapshots(StoreMembers):
    """Mixed into PostgreSQLMetadataStore: the graph snapshots a store records (push_graph) and reads back."""

    def _record_snapshot(self, conn: PgConnection, graph: FeatureGraph) -> int:
        pv = graph.project_version
        row = conn.execute("SELECT id FROM _metaxy_snapshots WHERE project_version = %s", (pv,)).fetchone()
        if row:
            known: int = row[0]
            return known
        snap = graph.to_snapshot()
        row = conn.execute(
            "INSERT INTO _metaxy_snapshots (project_version, project, recorded_at, graph) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (project_version) DO NOTHING RETURNING id",
            (pv, self.project, now_us(), json.dumps(snap)),
        ).fetchone()
        if row is None:  # another writer recorded it first
            row = conn.execute("SELECT id FROM _metaxy_snapshots WHERE project_version = %s", (pv,)).fetchone()
            assert row is not None  # (recorded: its transaction committed before our insert returned)
            theirs: int = row[0]
            return theirs
        snap_id: int = row[0]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO _metaxy_feature_versions (feature_key, feature_version, snapshot_id) "
                "VALUES (%s, %s, %s) ON CONFLICT (feature_key, feature_version) DO NOTHING",
                [(f["key"], f["feature_version"], snap_id) for f in snap["features"]],
            )
        return snap_id

    def push_graph(self, graph: FeatureGraph | None = None) -> dict[str, Any]:
        graph = graph or self.graph()
        graph.plan()
        with self._transaction() as conn:
            known = conn.execute(
                "SELECT id FROM _metaxy_snapshots WHERE project_version = %s", (graph.project_version,)
            ).fetchone()
            snap_id = self._record_snapshot(conn, graph)
        return {"id": snap_id, "project_version": graph.project_version, "new": known is None}

    def snapshots(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT id, project_version, project, recorded_at FROM _metaxy_snapshots ORDER BY id")
        return [{"id": r[0], "project_version": r[1], "project": r[2], "recorded_at": r[3]} for r in rows]

    def snapshot(self, which: int | str | None = None) -> dict[str, Any] | None:
        if which is None:
            rows = self._query("SELECT graph FROM _metaxy_snapshots ORDER BY id DESC LIMIT 1")
        elif isinstance(which, int):
            rows = self._query("SELECT graph FROM _metaxy_snapshots WHERE id = %s", (which,))
        else:
            rows = self._query(
                "SELECT graph FROM _metaxy_snapshots WHERE starts_with(project_version, %s) ORDER BY id DESC LIMIT 1",
                (which,),
            )
        return json.loads(rows[0][0]) if rows else None

    def stored_graph(self) -> FeatureGraph:
        snap = self.snapshot()
        return (
            frame_columns.overlay(FeatureGraph.from_snapshot(snap), self._recorded_columns())
            if snap
            else FeatureGraph()
        )

    def stored_feature_versions(self, feature: Any) -> list[dict[str, Any]]:
        key = feature_key_of(feature).to_string()
        rows = self._query(
            "SELECT fv.feature_version, fv.snapshot_id, s.recorded_at FROM _metaxy_feature_versions fv "
            "JOIN _metaxy_snapshots s ON s.id = fv.snapshot_id WHERE fv.feature_key = %s ORDER BY fv.id",
            (key,),
        )
        return [{"feature_version": r[0], "snapshot_id": r[1], "recorded_at": r[2]} for r in rows]
