"""The audit log names where a recompute ran; stores made before that column existed still open."""

from __future__ import annotations

import sqlite3

from metaxy_tui.service import review
from metaxy_tui.service.demo import open_demo_project
from metaxy_tui.store import SQLiteMetadataStore


def columns(path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[1] for r in conn.execute("PRAGMA table_info(_metaxy_audit)")]
    finally:
        conn.close()


def test_an_older_store_reads_without_the_column_and_gains_it_on_the_first_write_open(demo_store):
    project = open_demo_project(demo_store)
    review.accept(project, "speaker/embedding")
    project.close()
    conn = sqlite3.connect(demo_store)  # the layout before executors were recorded
    conn.execute("ALTER TABLE _metaxy_audit DROP COLUMN executor")
    conn.close()
    assert "executor" not in columns(demo_store)

    with SQLiteMetadataStore(demo_store).open("r") as store:
        log = store.audit_log()
    assert log.height == 1 and log.row(0, named=True)["executor"] is None
    assert "executor" not in columns(demo_store)  # reading changes nothing

    project = open_demo_project(demo_store)  # write mode: the column is added
    try:
        assert columns(demo_store)[-1] == "executor"
        review.recompute(project, "speaker/embedding")
        log = project.store.audit_log()
        assert log.get_column("executor").to_list() == ["local", None]
    finally:
        project.close()
