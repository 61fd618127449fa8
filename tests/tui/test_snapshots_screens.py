"""Every screen at 80x24 and 160x50 (issue 13, item 5), as the demo opens and one key away.

The app runs on the frozen demo store from the demo folder, its source named "demo.db (demo)",
so paths, times and ids are stable; hashes are checked and masked by conftest's snap_compare.
At 80x24 titles, key hints and the selected feature's key must show without cuts that hide
what they mean; `test_at_80x24_nothing_that_matters_is_cut` checks the words, the pictures the rest.
"""

from __future__ import annotations

import shutil

import pytest
from textual.widgets import Input

from metaxy_tui.service.demo import demo_dir, open_demo_project
from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.widgets.feature_hint import FeatureHint
from metaxy_tui.tui.widgets.key_footer import KeyFooter
from tests.tui.trees import wait_for_trees

SIZES = {"80x24": (80, 24), "160x50": (160, 50)}
SCREENS = {  # what to press after the demo opened (on speaker/embedding, its first feature with pending work)
    "feature": (),
    "samples": ("s",),
    "detail": ("s", "enter"),
    "lineage": ("l",),
    "review": ("v",),
    "import": ("i",),
    "audit": ("a",),
    "trace": ("s", "t"),
    "definitions": ("D",),
}


@pytest.fixture
def demo_app(frozen_demo, tmp_path, monkeypatch):
    monkeypatch.chdir(demo_dir())
    copy = tmp_path / "demo.db"
    shutil.copyfile(frozen_demo, copy)
    project = open_demo_project(copy)
    project.source = "demo.db (demo)"
    yield MetaxyApp(project)
    project.close()


async def settle(pilot) -> None:
    for _ in range(30):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if all(w.is_finished for w in pilot.app.workers):
            break
    await wait_for_trees(pilot)
    for inp in pilot.app.screen.query(Input):
        inp.cursor_blink = False
    for _ in range(3):
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()


def after(*keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen(snap_compare, demo_app, screen, size):
    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=after(*SCREENS[screen]))


@pytest.mark.parametrize("screen", SCREENS)
async def test_at_80x24_nothing_that_matters_is_cut(demo_app, screen):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        await after(*SCREENS[screen])(pilot)
        shown = demo_app.screen
        footer = shown.query_one(KeyFooter)
        assert "? Help" in footer.text or screen == "import"  # the import form's inputs take q and ?
        assert "^p palette" in footer.text
        for item in footer.items:  # every shown key with its whole description
            assert f"{item.display} {item.description}" in footer.text
        title = f"{shown.title} — {shown.sub_title}" if shown.sub_title else shown.title
        assert len(title) <= 80 - 19, title
        if screen in ("feature", "samples", "lineage"):
            assert shown.query_one(FeatureHint).text.startswith("6 pending in speaker/embedding · v why")
        if screen == "review":
            assert shown.title == "Review · speaker/embedding"
        if screen == "detail":
            assert shown.sub_title == "sample of speaker/embedding"
