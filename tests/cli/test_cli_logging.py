"""The engine's log: `metaxy-tui --verbose` shows it on stderr (stdout stays the answer); the TUI
writes it to metaxy-tui.log in the user log folder."""

from __future__ import annotations

import logging

from metaxy_tui.service import logs
from metaxy_tui.service.project import open_project
from tests.cli.helpers import mx


def test_verbose_logs_what_the_engine_does_on_stderr_and_leaves_stdout_alone(demo_store, tmp_path):
    quiet = mx(tmp_path, "--db", str(demo_store), "resolve", "speaker/embedding", "--format", "json")
    loud = mx(tmp_path, "--db", str(demo_store), "--verbose", "resolve", "speaker/embedding", "--format", "json")
    assert quiet.returncode == loud.returncode == 0, (quiet.stderr, loud.stderr)
    assert quiet.stderr == ""
    assert loud.stdout == quiet.stdout
    lines = loud.stderr.splitlines()
    assert any(
        " DEBUG metaxy_tui.store.sqlite.store: opened " in line and "demo.db (read-only)" in line for line in lines
    ), lines
    assert any(
        " DEBUG metaxy_tui.store.sqlite.store: resolved speaker/embedding: {'added': " in line for line in lines
    ), lines
    assert any(" INFO metaxy_tui.service.project: opened " in line for line in lines), lines


def test_the_tui_log_goes_to_a_file_in_the_user_log_folder(demo_store, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    logger = logging.getLogger(logs.LOGGER)
    before = list(logger.handlers), logger.level
    try:
        path = logs.log_to_file(verbose=True)
        assert path == tmp_path / "state" / "metaxy-tui" / "log" / "metaxy-tui.log"
        project = open_project(db=demo_store, mode="r")
        project.store.resolve_update("speaker/embedding")
        project.close()
        for handler in logger.handlers:
            handler.flush()
        text = path.read_text()
        assert "INFO metaxy_tui.service.project: opened " in text
        assert "DEBUG metaxy_tui.store.sqlite.store: resolved speaker/embedding" in text
    finally:
        for handler in [h for h in logger.handlers if h not in before[0]]:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(before[1])
