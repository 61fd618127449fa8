"""A project on a PostgreSQL store, through the command line and the seed's pipeline (SPEC 8, 9):
`type = "postgresql"` in metaxy.toml, `--db postgresql://...`, and the one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import psycopg
import pytest

from tests.cli.helpers import COMMAND, SAMPLE_DATA
from tests.test_seed_pipeline import ADDED, CHANGED, FIRST, RERUN, apply_patch, matches

PG_TOML = """project = "example_aggregation"
entrypoints = ["example_aggregation.features"]

[stores.dev]
type = "postgresql"
[stores.dev.config]
hash_algorithm = "xxhash64"
"""


def env(tmp_path: Path, url: str | None = None) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("METAXY")}
    e.update(
        PYTHONDONTWRITEBYTECODE="1", XDG_DATA_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path / "home"), COLUMNS="200"
    )
    if url:
        e["METAXY_STORE_URL"] = url
    return e


def run(args: list[str], cwd: Path, environ: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, env=environ, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=180
    )


def project(tmp_path: Path, name: str, toml: str | None = None) -> Path:
    dest = tmp_path / name
    shutil.copytree(SAMPLE_DATA / "speakers", dest, ignore=shutil.ignore_patterns("*.db*", "__pycache__"))
    if toml is not None:
        (dest / "metaxy.toml").write_text(toml)
    return dest


def pipeline(dest: Path, environ: dict[str, str]) -> list[str]:
    p = run([sys.executable, "pipeline.py"], dest, environ)
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


def test_the_seed_pipeline_prints_the_same_on_a_postgresql_store(tmp_path, pg_url):
    dest = project(tmp_path, "speakers", PG_TOML)
    e = env(tmp_path, pg_url)
    steps = [("first run", pipeline(dest, e), FIRST), ("rerun", pipeline(dest, e), RERUN)]
    apply_patch(dest, "01_update_audio_provenance.patch")
    steps.append(("a1 provenance changed", pipeline(dest, e), CHANGED))
    apply_patch(dest, "02_add_audio.patch")
    steps += [("a5 added", pipeline(dest, e), ADDED), ("rerun after all", pipeline(dest, e), RERUN)]
    for name, lines, expected in steps:
        assert matches(lines, expected), f"{name}: printed {lines!r}"
    assert not list(dest.glob("*.db")) and not (tmp_path / "xdg").exists()  # the rows are in PostgreSQL
    # the command line opens the same store by its name in metaxy.toml
    status = run([*COMMAND, "--store", "dev", "status", "--format", "json"], dest, e)
    assert status.returncode == 0, status.stderr
    rows = {r["feature"]: r for r in json.loads(status.stdout)}
    assert set(rows) == {"audio", "speaker/embedding"}
    assert not rows["speaker/embedding"].get("added") and not rows["speaker/embedding"].get("changed")
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM audio WHERE _mx_superseded IS NULL").fetchone()[0] == 5


def test_commands_on_postgresql_answer_as_on_sqlite(tmp_path, pg_url):
    """status, list, resolve, import, approve and export: `--db postgresql://...` and `--db FILE` give
    the same answers after the same steps."""
    sqlite_dir = project(tmp_path, "on_sqlite")
    pg_dir = project(tmp_path, "on_pg", PG_TOML)
    pipeline(sqlite_dir, env(tmp_path))
    pipeline(pg_dir, env(tmp_path, pg_url))
    csv = tmp_path / "more_audio.csv"
    csv.write_text("audio_id,speaker_id,duration_seconds,path\na9,s2,3.5,a9.wav\na1,s1,2.0,a1_new.wav\n")
    outputs = {}
    for kind, cwd, db in (("sqlite", sqlite_dir, str(sqlite_dir / "metadata.db")), ("pg", pg_dir, pg_url)):
        e = env(tmp_path)

        def mx(*args: str, kind=kind, cwd=cwd, db=db, e=e) -> str:
            p = run([*COMMAND, "--db", db, *args], cwd, e)
            assert p.returncode == 0, f"{kind} {args}: {p.stderr}"
            assert "Traceback" not in p.stderr
            return p.stdout

        got = {"list": mx("list"), "status0": json.loads(mx("status", "--format", "json"))}
        got["import"] = json.loads(mx("import", "audio", str(csv), "--json"))
        got["resolve"] = mx("resolve", "speaker/embedding")
        got["status1"] = json.loads(mx("status", "--format", "json"))
        mx("approve", "speaker/embedding", "--accept", "--all", "--yes")
        got["status2"] = json.loads(mx("status", "--format", "json"))
        out = tmp_path / f"audio_{kind}.csv"
        mx("export", "audio", "-o", str(out), "--sort", "duration_seconds", "--descending", "--filter", "s")
        got["export"] = pl.read_csv(out).drop("metaxy_created_at", "metaxy_updated_at").rows()
        history = run([*COMMAND, "--db", db, "history", "--json"], cwd, e)
        got["history"] = (
            [(h["action"], h["feature"], h["n_samples"], h["outcome"]) for h in json.loads(history.stdout)]
            if history.returncode == 0
            else history.stderr
        )
        outputs[kind] = got
    assert outputs["pg"]["import"]["added"] == 1 and outputs["pg"]["import"]["changed"] == 1
    assert len(outputs["pg"]["export"]) == 5
    for part in ("list", "status0", "import", "resolve", "status1", "status2", "history", "export"):
        a, b = outputs["sqlite"][part], outputs["pg"][part]
        if isinstance(a, dict) and "file" in a:
            a, b = {k: v for k, v in a.items() if k != "file"}, {k: v for k, v in b.items() if k != "file"}
        assert a == b, f"{part} differs:\nsqlite: {a}\npostgresql: {b}"
    pending = {r["feature"]: r for r in outputs["pg"]["status1"]}
    assert pending["speaker/embedding"]["changed"] >= 1
    assert all(not r.get("added") and not r.get("changed") for r in outputs["pg"]["status2"])


def one_line_error(p: subprocess.CompletedProcess) -> str:
    assert p.returncode != 0
    assert "Traceback" not in p.stderr, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("metaxy-tui: error:"), p.stderr
    return lines[0]


def tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()
        ]


@pytest.mark.parametrize("command", [["status"], ["list"], ["import", "audio", "x.csv"]])
def test_bad_connections_are_one_line_errors(tmp_path, pg_server, command):
    dest = project(tmp_path, "p")
    (dest / "x.csv").write_text("audio_id,speaker_id,duration_seconds,path\na1,s1,1.0,a.wav\n")
    e = env(tmp_path)
    cases = {
        "bad url": ("postgresql://host:notaport/db", "invalid"),
        "server down": (f"postgresql://postgres@/postgres?host={tmp_path / 'no_server_here'}", "cannot reach"),
        "missing database": (pg_server.url("no_such_database"), 'the database "no_such_database" does not exist'),
    }
    for name, (url, wanted) in cases.items():
        line = one_line_error(run([*COMMAND, "--db", url, *command], dest, e))
        assert wanted in line, f"{name}: {line}"
        assert "***" in line or "@" not in line.split("error:", 1)[1] or "password" not in line
    with psycopg.connect(pg_server.admin_url) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = 'no_such_database'").fetchone() is None


def test_a_foreign_or_newer_database_is_refused_untouched(tmp_path, pg_server):
    dest = project(tmp_path, "p")
    (dest / "x.csv").write_text("audio_id,speaker_id,duration_seconds,path\na1,s1,1.0,a.wav\n")
    e = env(tmp_path)
    foreign = pg_server.new_database()
    with psycopg.connect(foreign) as conn:
        conn.execute("CREATE TABLE users (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO users VALUES (1, 'ada')")
    for command in (["status"], ["import", "audio", "x.csv"], ["push"]):
        line = one_line_error(run([*COMMAND, "--db", foreign, *command], dest, e))
        assert "another program" in line and "users" in line
    assert tables(foreign) == ["users"]
    newer = pg_server.new_database()
    p = run([*COMMAND, "--db", newer, "import", "audio", "x.csv"], dest, e)
    assert p.returncode == 0, p.stderr
    with psycopg.connect(newer) as conn:
        conn.execute("UPDATE _metaxy_info SET value = '99' WHERE key = 'layout'")
        before = conn.execute("SELECT count(*) FROM audio").fetchone()[0]
    for command in (["status"], ["import", "audio", "x.csv"]):
        line = one_line_error(run([*COMMAND, "--db", newer, *command], dest, e))
        assert "newer metaxy-tui" in line
    with psycopg.connect(newer) as conn:
        assert conn.execute("SELECT count(*) FROM audio").fetchone()[0] == before
