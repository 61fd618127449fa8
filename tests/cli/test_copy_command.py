"""`metaxy-tui copy --from A --to B` as a real subprocess: exit statuses, the summary line, one-line
errors with nothing written, and the copy read back by other commands."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.cli.helpers import mx
from tests.helpers import store_digest


def one_error(p: subprocess.CompletedProcess, code: int = 1) -> str:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("metaxy-tui: error: "), lines
    return lines[0][len("metaxy-tui: error: ") :]


def status(tmp_path: Path, db: str) -> list[dict]:
    p = mx(tmp_path, "--db", db, "status", "--format", "json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_copy_to_postgres_and_back(demo_store, tmp_path, pg_url):
    p = mx(tmp_path, "copy", "--from", str(demo_store), "--to", pg_url)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    line = p.stdout.strip()
    assert line.startswith(f"{demo_store} copied to database ") and "6 features, 11,969 rows" in line, line
    assert " writes, 1 snapshots, 0 audit entries in " in line and line.endswith(" s")
    back = tmp_path / "back.db"
    p = mx(tmp_path, "copy", "--from", pg_url, "--to", str(back))
    assert p.returncode == 0, p.stderr
    assert status(tmp_path, str(demo_store)) == status(tmp_path, pg_url) == status(tmp_path, str(back))
    for db in (str(demo_store), pg_url, str(back)):
        r = mx(tmp_path, "--db", db, "resolve", "video/chunk", "--format", "json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["counts"] == {"added": 1, "changed": 3, "removed": 0}


def test_a_target_with_data_is_refused_and_merge_needs_yes(demo_store, tmp_path):
    target = tmp_path / "copy.db"
    assert mx(tmp_path, "copy", "--from", str(demo_store), "--to", str(target)).returncode == 0
    digest = store_digest(target)
    message = one_error(mx(tmp_path, "copy", "--from", str(demo_store), "--to", str(target)))
    assert (
        message
        == f"{target} already holds a store with data; pass --merge to add this one to it, or choose an empty target"
    )
    assert one_error(mx(tmp_path, "copy", "--from", str(demo_store), "--to", str(target), "--merge")) == (
        "not a terminal: pass --yes to confirm --merge"
    )
    assert store_digest(target) == digest
    p = mx(tmp_path, "copy", "--from", str(demo_store), "--to", str(target), "--merge", "--yes")
    assert p.returncode == 0, p.stderr
    assert f"{demo_store} merged into {target}: 6 features, 11,969 rows" in p.stdout
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("SELECT count(*) FROM _metaxy_writes").fetchone()[0] == 18
    finally:
        conn.close()
    assert status(tmp_path, str(target)) == status(tmp_path, str(demo_store))


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing source", "no store at {tmp}/nothing.db"),
        ("same store", "the source and the target are the same store"),
        ("not a store", "{tmp}/other.db is an SQLite database of another program"),
        ("unreachable server", 'database "x" on 127.0.0.1:1: cannot reach the PostgreSQL server'),
        ("unknown store name", "no store at nowhere"),
    ],
)
def test_errors_are_one_line_and_write_nothing(demo_store, tmp_path, case, expected):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    args = {
        "missing source": ["--from", str(tmp_path / "nothing.db"), "--to", str(tmp_path / "new.db")],
        "same store": ["--from", str(demo_store), "--to", str(demo_store)],
        "not a store": ["--from", str(demo_store), "--to", str(other)],
        "unreachable server": ["--from", str(demo_store), "--to", "postgresql://nobody@127.0.0.1:1/x"],
        "unknown store name": ["--from", "nowhere", "--to", str(tmp_path / "new.db")],
    }[case]
    before = {p.name: store_digest(p) for p in (demo_store, other)}
    message = one_error(mx(tmp_path, "copy", *args))
    assert message.startswith(expected.format(tmp=tmp_path)), message
    assert {p.name: store_digest(p) for p in (demo_store, other)} == before
    assert not (tmp_path / "new.db").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_usage(tmp_path):
    p = mx(tmp_path, "copy", "--from", "a.db")
    assert p.returncode == 2 and "Missing option '--to'" in p.stderr
    assert one_error(mx(tmp_path, "copy", "--to", "b.db"), code=2) == (
        "give the store to copy: --from STORE (or the global --db / --store)"
    )
    h = mx(tmp_path, "copy", "--help")
    assert h.returncode == 0
    for text in (
        "--from STORE",
        "--to STORE",
        "--merge",
        "--yes",
        "metaxy-tui copy --from metadata.db --to postgresql://",
    ):
        assert text in h.stdout, text


def test_named_stores_of_metaxy_toml(demo_store, tmp_path, pg_url):
    (tmp_path / "metaxy.toml").write_text(
        'project = "video_demo"\n'
        f'[stores.laptop]\ntype = "sqlite"\n[stores.laptop.config]\npath = "{demo_store}"\n'
        f'[stores.shared]\ntype = "postgresql"\n[stores.shared.config]\nconnection_string = "{pg_url}"\n'
    )
    p = mx(tmp_path, "copy", "--from", "laptop", "--to", "shared")
    assert p.returncode == 0, p.stderr
    assert "copied to database" in p.stdout
    assert status(tmp_path, pg_url) == status(tmp_path, str(demo_store))
    # --from defaults to the global --store (or --db)
    p = mx(tmp_path, "--store", "shared", "copy", "--to", "back.db")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("database ") and "copied to back.db" in p.stdout
    assert status(tmp_path, str(tmp_path / "back.db")) == status(tmp_path, str(demo_store))
