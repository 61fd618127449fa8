"""SVG snapshots of the import screen at 120x40: empty, a clean file, problems, mapping, confirmation."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from metaxy_tui.service.demo import demo_dir, open_demo_project
from metaxy_tui.tui.app import MetaxyApp
from tests.tui.trees import wait_for_trees

SIZE = (120, 40)
BAD = "../../tests/fixtures/import/bad_values.csv"
UNKNOWN = "../../tests/fixtures/import/unknown_column.csv"


@pytest.fixture
def snapshot_app(demo_store, monkeypatch):
    """The demo app, run from the demo folder so that every shown path is relative and stable."""
    monkeypatch.chdir(demo_dir())
    project = open_demo_project(demo_store)
    project.source = "demo.db (demo)"
    yield MetaxyApp(project)
    project.close()


async def settle(pilot) -> None:
    app = pilot.app
    for _ in range(3):
        # ours, and the path input's suggestion (the file name it completes is in the picture)
        ours = [
            w
            for w in app.workers
            if w.group.startswith("import-") or w.group == "statuses" or isinstance(w.node, Input)
        ]
        if ours:
            await app.workers.wait_for_complete(ours)
        await pilot.pause()
    await wait_for_trees(pilot)


def steps(path: str | None = None, *keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        for inp in pilot.app.screen.query(Input):
            inp.cursor_blink = False
        if path is not None:
            pilot.app.screen.query_one("#path", Input).value = path
            pilot.app.screen.query_one("#path", Input).focus()
            await pilot.press("enter")
            await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    return run_before


def test_import_empty(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=steps())


def test_import_clean_file(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=steps("data/audio_update.csv"))


def test_import_problems_in_place(snap_compare, snapshot_app):
    # the file's own bad value (an int overflow), not a hash
    assert snap_compare(
        snapshot_app, terminal_size=SIZE, run_before=steps(BAD, "down"), literals=["99999999999999999999"]
    )


def test_import_mapping_picker(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=steps(UNKNOWN, "m"))


def test_import_confirmation(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=steps("data/audio_update.csv", "ctrl+s"))
