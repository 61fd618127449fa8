"""Rich output in a terminal, plain output when piped: real subprocesses, the terminal a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.helpers import AUDIO_UPDATE, COMMAND

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")


def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("METAXY") and k not in ("NO_COLOR", "TERM")}
    e.update(
        PYTHONDONTWRITEBYTECODE="1",
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        COLUMNS="160",
        LINES="50",
        TERM="xterm-256color",
    )
    return e


def in_terminal(tmp_path: Path, *args: str, timeout: float = 60) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal (stdin not a terminal); (exit status, everything shown)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(
            [*COMMAND, *args], cwd=tmp_path, env=env(tmp_path), stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
        )
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
    finally:
        os.close(master)
    code = p.wait(timeout=max(1.0, deadline - time.monotonic()))
    return code, out.decode("utf-8", "replace")


def piped(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMMAND, *args],
        cwd=tmp_path,
        env=env(tmp_path),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def test_status_is_a_rich_table_in_a_terminal_and_plain_when_piped(tmp_path, demo_store):
    code, shown = in_terminal(tmp_path, "--db", str(demo_store), "status")
    assert code == 0, shown
    assert "┃" in shown and "━" in shown and "\x1b[1m" in shown  # box drawing, bold header
    assert "speaker/embedding" in shown and "\t" not in shown
    p = piped(tmp_path, "--db", str(demo_store), "status")
    assert p.returncode == 0
    assert p.stdout.splitlines()[0] == "feature\tstatus\trows\tadded\tchanged\tremoved"
    assert "\x1b[" not in p.stdout and "┃" not in p.stdout


def test_errors_in_a_terminal_are_one_line_too(tmp_path):
    code, shown = in_terminal(tmp_path, "--db", str(tmp_path / "nope.db"), "list")
    assert code == 1
    assert shown.strip().splitlines() == [
        f"metaxy-tui: error: no store at {tmp_path / 'nope.db'} (run "
        f"`metaxy-tui demo --db {tmp_path / 'nope.db'}` to build one, or open a "
        "project folder with a metaxy.toml)"
    ]


LONG_COMMANDS = {  # what shows a progress bar in a terminal -> (arguments, its label, the closing line)
    "import": (["import", "audio", str(AUDIO_UPDATE)], "importing into audio", "3 samples written to audio"),
    "export": (["export", "audio", "-o", "{tmp}/audio.csv"], "exporting audio", "301 rows of audio written"),
    "approve": (["approve", "--all-pending", "--yes"], "approve all", "delete_removed speaker/embedding: 1 of 1"),
    "copy": (["copy", "--to", "{tmp}/copy.db"], "copy: ", "copied to {tmp}/copy.db: 6 features, 11,969 rows"),
}


@pytest.mark.parametrize("command", list(LONG_COMMANDS))
def test_long_operations_show_a_progress_bar_in_a_terminal(tmp_path, demo_store, command):
    args, label, closing = LONG_COMMANDS[command]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    closing = closing.replace("{tmp}", str(tmp_path))
    code, shown = in_terminal(tmp_path, "--db", str(demo_store), *args)
    assert "internal error" not in shown, shown
    assert code == 0, shown
    assert label in shown and "━" in shown  # the bar, drawn (then cleared) on the terminal
    assert closing in shown


@pytest.mark.parametrize("command", list(LONG_COMMANDS))
def test_long_operations_when_piped_print_no_bar(tmp_path, demo_store, command):
    args, label, closing = LONG_COMMANDS[command]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    closing = closing.replace("{tmp}", str(tmp_path))
    p = piped(tmp_path, "--db", str(demo_store), *args)
    assert p.returncode == 0, p.stderr
    assert closing in p.stdout
    assert label not in p.stdout + p.stderr and "\x1b[" not in p.stdout + p.stderr
