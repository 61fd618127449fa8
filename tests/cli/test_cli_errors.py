"""Errors as real subprocesses: one line on stderr, no traceback, the documented exit status
(1 bad input or failed action, 2 usage, 70 a bug of ours), and every store byte for byte as it was.
"""

from __future__ import annotations

import os
import select
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.helpers import AUDIO_UPDATE, COMMAND, env, mx


def one_error(p: subprocess.CompletedProcess, code: int = 1) -> str:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("metaxy-tui: error: "), lines
    return lines[0][len("metaxy-tui: error: ") :]


def usage_error(p: subprocess.CompletedProcess) -> str:
    """click's usage errors: exit 2, 'Usage: ...' and one 'Error: ...' line, no traceback."""
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and p.stdout == ""
    errors = [line for line in p.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and p.stderr.startswith("Usage: metaxy-tui"), p.stderr
    return errors[0]


# ----- --db that is not a store of ours --------------------------------------------------------------


def make_store(kind: str, tmp_path: Path, demo_store: Path) -> Path:
    path = tmp_path / f"{kind}.db"
    if kind == "other_program":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
        conn.commit()
        conn.close()
    elif kind == "random_bytes":
        path.write_bytes(os.urandom(64 * 1024))
    elif kind == "truncated":
        data = demo_store.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "newer_layout":
        shutil.copyfile(demo_store, path)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA user_version = 99")
        conn.commit()
        conn.close()
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    elif kind == "directory":
        path.mkdir()
    return path


STORE_CASES = {  # kind -> words the message must contain
    "missing": ["no store at"],
    "directory": ["is a directory"],
    "other_program": ["another program", "invoices", "not a metaxy-tui store"],
    "random_bytes": ["not a usable SQLite database"],
    "truncated": ["not a usable SQLite database"],
    "newer_layout": ["newer metaxy-tui", "99"],
}
STORE_COMMANDS = {
    "status": ["status"],
    "approve": ["approve", "--all-pending", "--yes"],
    "import": ["import", "audio", str(AUDIO_UPDATE)],
}


def snapshot(path: Path) -> bytes | str | None:
    if path.is_dir():
        return "dir:" + ",".join(sorted(p.name for p in path.iterdir()))
    return path.read_bytes() if path.exists() else None


@pytest.mark.parametrize("command", list(STORE_COMMANDS))
@pytest.mark.parametrize("kind", list(STORE_CASES))
def test_a_db_that_is_not_ours_is_refused_untouched(tmp_path, demo_store, kind, command):
    path = make_store(kind, tmp_path, demo_store) if kind != "missing" else tmp_path / "nope.db"
    before = snapshot(path)
    msg = one_error(mx(tmp_path, "--db", str(path), *STORE_COMMANDS[command]))
    assert str(path) in msg
    for words in STORE_CASES[kind]:
        assert words in msg, msg
    assert snapshot(path) == before
    if kind == "missing":
        assert not path.exists() and not Path(str(path) + "-wal").exists()


# ----- metaxy.toml problems --------------------------------------------------------------------------


def project_with(tmp_path: Path, demo_store: Path, toml: str) -> tuple[Path, Path]:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "metaxy.toml").write_text(toml)
    shutil.copyfile(demo_store, folder / "store.db")
    return folder, folder / "store.db"


STORE_TABLE = '\n[stores.dev]\ntype = "sqlite"\n[stores.dev.config]\npath = "store.db"\n'


@pytest.mark.parametrize("command", ["list", "approve"])
def test_broken_toml(tmp_path, demo_store, command):
    folder, store = project_with(tmp_path, demo_store, 'project = "x\nentrypoints = [\n' + STORE_TABLE)
    before = store.read_bytes()
    args = ["list"] if command == "list" else ["approve", "--all-pending", "--yes"]
    msg = one_error(mx(tmp_path, "--config", str(folder / "metaxy.toml"), *args))
    assert str(folder / "metaxy.toml") in msg and "not valid TOML" in msg and "line 1" in msg
    # found from the current folder, the same
    msg = one_error(mx(tmp_path, *args, cwd=folder))
    assert "metaxy.toml" in msg and "not valid TOML" in msg
    assert store.read_bytes() == before


@pytest.mark.parametrize("command", ["status", "push"])
def test_missing_entrypoint_module(tmp_path, demo_store, command):
    folder, store = project_with(
        tmp_path, demo_store, 'project = "x"\nentrypoints = ["no_such_pkg.features"]\n' + STORE_TABLE
    )
    before = store.read_bytes()
    msg = one_error(mx(tmp_path, "--config", str(folder / "metaxy.toml"), command))
    assert "metaxy.toml" in msg and "'no_such_pkg.features'" in msg and "not found" in msg
    assert store.read_bytes() == before


def test_missing_config_file(tmp_path):
    msg = one_error(mx(tmp_path, "--config", str(tmp_path / "nope.toml"), "list"))
    assert msg == f"{tmp_path / 'nope.toml'}: no such configuration file"


@pytest.mark.parametrize(
    "body", ["def broken(:\n", "import no_such_dependency_xyz\n"], ids=["syntax_error", "missing_dependency"]
)
def test_entrypoint_that_fails_to_import(tmp_path, demo_store, body):
    folder, store = project_with(tmp_path, demo_store, 'project = "x"\nentrypoints = ["feats"]\n' + STORE_TABLE)
    (folder / "feats.py").write_text(body)
    before = store.read_bytes()
    p = mx(tmp_path, "--config", str(folder / "metaxy.toml"), "status")
    assert store.read_bytes() == before
    msg = one_error(p)
    assert "feats" in msg


# ----- bad commands ---------------------------------------------------------------------------------


def test_unknown_feature(tmp_path, demo_store):
    before = demo_store.read_bytes()
    for args in (
        ["describe", "nosuch"],
        ["resolve", "nosuch"],
        ["approve", "nosuch", "--accept", "--all", "--yes"],
        ["graph", "--feature", "nosuch"],
    ):
        msg = one_error(mx(tmp_path, "--db", str(demo_store), *args))
        assert msg.startswith("unknown feature 'nosuch' (known features: audio, speaker/embedding, video,"), msg
    assert demo_store.read_bytes() == before


def test_unknown_option_and_bad_arguments_are_usage_errors(tmp_path, demo_store):
    before = demo_store.read_bytes()
    assert "No such option" in usage_error(mx(tmp_path, "--bogus", "list"))
    assert "No such command" in usage_error(mx(tmp_path, "--db", str(demo_store), "frobnicate"))
    assert "'xml' is not one of" in usage_error(mx(tmp_path, "--db", str(demo_store), "status", "--format", "xml"))
    assert "extra argument" in usage_error(mx(tmp_path, "--db", str(demo_store), "list", "extra"))
    assert "Missing argument 'FEATURE'" in usage_error(mx(tmp_path, "--db", str(demo_store), "describe"))
    assert "--up" in usage_error(mx(tmp_path, "--db", str(demo_store), "graph", "--feature", "video", "--up", "-1"))
    assert "-o" in usage_error(mx(tmp_path, "--db", str(demo_store), "export", "audio"))
    assert demo_store.read_bytes() == before


def test_approve_without_yes_when_stdin_is_not_a_terminal(tmp_path, demo_store):
    before = demo_store.read_bytes()
    for args in (["approve", "speaker/embedding", "--delete-removed", "--all"], ["approve", "--all-pending"]):
        msg = one_error(mx(tmp_path, "--db", str(demo_store), *args))
        assert "not a terminal" in msg and "--yes" in msg
    assert demo_store.read_bytes() == before


def test_graph_up_without_feature(tmp_path, demo_store):
    p = mx(tmp_path, "--db", str(demo_store), "graph", "--up", "1")
    assert p.returncode in (1, 2) and p.stdout == ""
    assert "Traceback" not in p.stderr
    assert "--feature" in p.stderr.strip().splitlines()[-1]


def test_bad_import_file(tmp_path, demo_store):
    before = demo_store.read_bytes()
    msg = one_error(mx(tmp_path, "--db", str(demo_store), "import", "audio", str(tmp_path / "nope.csv")))
    assert msg == f"{tmp_path / 'nope.csv'}: no such file"
    broken = tmp_path / "broken.json"
    broken.write_text('[{"audio_id": "a1", ')
    msg = one_error(mx(tmp_path, "--db", str(demo_store), "import", "audio", str(broken)))
    assert str(broken) in msg
    msg = one_error(mx(tmp_path, "--db", str(demo_store), "import", "speaker/embedding", str(AUDIO_UPDATE)))
    assert "not a root feature" in msg
    assert demo_store.read_bytes() == before


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path, demo_store):
    """`metaxy-tui resolve F | head -1`: no 'Broken pipe' error when the reader goes away."""
    from metaxy_tui.service.demo import open_demo_project

    project = open_demo_project(demo_store)
    try:  # every face detection gone: 3,833 samples to resolve, far more than a pipe holds
        ids = project.store.read_metadata("video/face_detection").select("video_id", "chunk_id")
        project.store.delete_metadata("video/face_detection", ids=ids, soft=False)
    finally:
        project.close()
    db = demo_store
    p = subprocess.Popen(
        [*COMMAND, "--db", str(db), "resolve", "video/face_detection", "--format", "csv"],
        cwd=tmp_path,
        env=env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        first = first_line(p, timeout=120)
        p.stdout.close()  # as `head -1` does
        _out, err = p.communicate(timeout=120)  # stderr only: stdout is closed
    except (subprocess.TimeoutExpired, TimeoutError):
        p.kill()
        p.communicate(timeout=30)
        raise AssertionError("`metaxy-tui resolve` did not write its first line, or did not end, in 120 s") from None
    assert first.startswith(b"status,"), first
    assert err.decode() == "", err
    assert p.returncode in (0, 141), p.returncode


def first_line(p: subprocess.Popen, timeout: float) -> bytes:
    """The first line of a child's stdout, waiting at most `timeout` seconds (TimeoutError)."""
    fd, buf = p.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(fd, 65536)
        if not chunk:
            break  # the child closed its stdout
        buf += chunk
    return buf.split(b"\n", 1)[0] + b"\n" if b"\n" in buf else buf
