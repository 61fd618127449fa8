"""The graph snapshots a SQLite store records (push_graph) and reads back."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ...graph import FeatureGraph
from . import frame_columns
from . import codec  # codec.now_us, looked up at each call (tests freeze the clock there)
from .handle import StoreMembers


class Snapshots(StoreMembers):
    """Mixed into SQLiteMetadataStore: the graph snapshots a store records (push_graph) and reads back."""

    def _record_snapshot(self, conn: sqlite3.Connection, graph: FeatureGraph) -> int:
        pv = graph.project_version
        row = conn.execute("SELECT id FROM _metaxy_snapshots WHERE project_version = ?", (pv,)).fetchone()
        if row:
            known: int = row[0]
            return known
        snap = graph.to_snapshot()
        cur = conn.execute(
            "INSERT INTO _metaxy_snapshots (project_version, project, recorded_at, graph) VALUES (?, ?, ?, ?)",
            (pv, self.project, codec.now_us(), json.dumps(snap)),
        )
        snap_id = cur.lastrowid
        assert snap_id is not None  # an INSERT's rowid
        for f in snap["features"]:
            conn.execute(
                "INSERT OR IGNORE INTO _metaxy_feature_versions (feature_key, feature_version, snapshot_id) "
                "VALUES (?, ?, ?)",
                (f["key"], f["feature_version"], snap_id),
            )
        return snap_id

    def push_graph(self, graph: FeatureGraph | None = None) -> dict[str, Any]:
        """Record the graph's snapshot (as `metaxy push`); returns {id, project_version, new}."""
        graph = graph or self.graph()
        graph.plan()
        with self._transaction() as conn:
            known = conn.execute(
                "SELECT id FROM _metaxy_snapshots WHERE project_version = ?", (graph.project_version,)
            ).fetchone()
            snap_id = self._record_snapshot(conn, graph)
        return {"id": snap_id, "project_version": graph.project_version, "new": known is None}

    def snapshots(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, project_version, project, recorded_at FROM _metaxy_snapshots ORDER BY id"
        ).fetchall()
        return [{"id": r[0], "project_version": r[1], "project": r[2], "recorded_at": r[3]} for r in rows]

    def snapshot(self, which: int | str | None = None) -> dict[str, Any] | None:
        """A recorded graph snapshot by id or project version (prefix); the latest by default."""
        if which is None:
            row = self.conn.execute("SELECT graph FROM _metaxy_snapshots ORDER BY id DESC LIMIT 1").fetchone()
        elif isinstance(which, int):
            row = self.conn.execute("SELECT graph FROM _metaxy_snapshots WHERE id = ?", (which,)).fetchone()
        else:
            row = self.conn.execute(
                "SELECT graph FROM _metaxy_snapshots WHERE project_version LIKE ? || '%' ORDER BY id DESC LIMIT 1",
                (which,),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def stored_graph(self) -> FeatureGraph:
        """The latest recorded graph, for browsing a store without its code."""
        snap = self.snapshot()
        return (
            frame_columns.overlay(FeatureGraph.from_snapshot(snap), self._recorded_columns())
            if snap
            else FeatureGraph()
        )
