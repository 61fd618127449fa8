"""Many writers at once on one PostgreSQL store, as separate processes (SPEC 9): no write is lost,
none is seen half-done, and a writer killed mid-write leaves nothing visible."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import psycopg
import pytest

import metaxy_tui as mx
from tests.postgres.writer import SHARED, graph

WRITER = Path(__file__).with_name("writer.py")
WRITERS, ROUNDS, ROWS = 6, 5, 200


def finished(p: subprocess.Popen) -> tuple[int, str]:
    """The writer's exit status and its stderr, waiting at most two minutes."""
    _out, err = p.communicate(timeout=120)
    return p.returncode, err


def first_line(p: subprocess.Popen, timeout: float = 120) -> str:
    """The writer's first line of output, read on a thread so that the wait is bounded."""
    import threading

    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(p.stdout.readline()), daemon=True)  # bounded: joined below
    reader.start()
    reader.join(timeout)
    return got[0] if got else ""


def spawn(url: str, name: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen(
        [sys.executable, str(WRITER), url, name, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_concurrent_writers_lose_no_write(pg_url):
    procs = [spawn(pg_url, f"w{i}", str(ROUNDS), str(ROWS)) for i in range(WRITERS)]
    results = [p.communicate(timeout=300) for p in procs]
    errors = [(p.returncode, err) for p, (_out, err) in zip(procs, results) if p.returncode != 0]
    assert not errors, errors
    store = mx.PostgreSQLMetadataStore(pg_url, graph=graph())
    with store:
        live = store.read("item")
        history = store.read("item", include_history=True)
        # every writer's own ids, and each shared id once
        assert live.height == WRITERS * ROUNDS * (ROWS - SHARED) + SHARED
        # every write of a shared id is kept as history: none was lost to another writer's
        assert history.filter(pl.col("item_id").str.starts_with("shared-")).height == WRITERS * ROUNDS * SHARED
        assert live.get_column("item_id").n_unique() == live.height
        # write ids follow commit order: the live shared rows are the last committed write's
        with psycopg.connect(pg_url) as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM _metaxy_writes ORDER BY id").fetchall()]
            last_item_write = conn.execute("SELECT max(_mx_write) FROM item").fetchone()[0]
            shared_writes = {
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT _mx_write FROM item WHERE item_id LIKE 'shared-%%' AND _mx_superseded IS NULL"
                )
            }
        assert ids == list(range(1, len(ids) + 1))
        assert shared_writes == {last_item_write}
        # the derived feature, materialized by all of them at once, ends in sync
        inc = store.resolve_update("item/copy")
        copies = store.read("item/copy")
        assert copies.height + len(inc.added) == live.height
        assert len(inc.changed) <= SHARED and len(inc.removed) == 0


@pytest.mark.slow
def test_a_writer_killed_mid_write_leaves_nothing_visible(pg_url):
    first = spawn(pg_url, "before", "1", "50")
    code, err = finished(first)
    assert code == 0, err
    with psycopg.connect(pg_url) as conn:
        writes_before = conn.execute("SELECT count(*) FROM _metaxy_writes").fetchone()[0]
        rows_before = conn.execute("SELECT count(*) FROM item").fetchone()[0]
    victim = spawn(pg_url, "victim", "1", "100000", "--hang")
    line = first_line(victim)
    assert line.strip() == "hanging", "the victim did not reach its commit section"
    # meanwhile another writer commits: the victim's open transaction holds nothing it needs
    other = spawn(pg_url, "other", "1", "50")
    code, err = finished(other)
    assert code == 0, err
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    deadline = time.time() + 30
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while (
            time.time() < deadline
            and conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'metaxy-tui' "
                "AND state LIKE 'idle in transaction%%'"
            ).fetchone()[0]
        ):
            time.sleep(0.2)
        assert conn.execute("SELECT count(*) FROM item WHERE writer = 'victim'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM _metaxy_writes").fetchone()[0] > writes_before
        assert conn.execute("SELECT count(*) FROM item").fetchone()[0] > rows_before
    store = mx.PostgreSQLMetadataStore(pg_url, graph=graph())
    with store:
        assert store.read("item").filter(pl.col("writer") == "victim").height == 0
        store.write(
            "item",
            pl.DataFrame({"item_id": ["after"], "writer": ["after"], "metaxy_provenance_by_field": [{"a": "x"}]}),
        )
        assert store.count("item") == 50 - SHARED + 50 - SHARED + SHARED + 1
