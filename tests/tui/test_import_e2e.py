"""End to end: open the demo, import new and changed audio rows, see the statuses change."""

from __future__ import annotations

from textual.widgets import Input, Select

from metaxy_tui.service.demo import demo_dir, open_demo_project
from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.screens.browser import BrowserScreen
from metaxy_tui.tui.screens.import_screen import ImportScreen
from metaxy_tui.tui.widgets.feature_tree import FeatureTree

AUDIO_UPDATE = demo_dir() / "data" / "audio_update.csv"


async def settle(app, pilot) -> None:
    for _ in range(3):
        ours = [w for w in app.workers if w.group.startswith("import-") or w.group == "statuses"]
        if ours:
            await app.workers.wait_for_complete(ours)
        await pilot.pause()


async def import_audio_update(app, pilot, provenance: str) -> str:
    await pilot.press("i")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ImportScreen)
    screen.query_one("#path", Input).value = str(AUDIO_UPDATE)
    screen.query_one("#path", Input).focus()
    await pilot.press("enter")
    await settle(app, pilot)
    if provenance != "auto":
        screen.query_one("#provenance", Select).value = provenance
        await settle(app, pilot)
    counts = str(screen.query_one("#summary").render())
    await pilot.press("ctrl+s")
    await pilot.pause()
    await pilot.press("enter")
    await settle(app, pilot)
    assert isinstance(app.screen, BrowserScreen)
    return counts


async def test_importing_new_and_changed_audio_moves_the_statuses(demo_store):
    project = open_demo_project(demo_store)
    app = MetaxyApp(project)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            tree = app.screen.query_one(FeatureTree)
            before = tree.status("speaker/embedding")
            assert (before.kind, before.added, before.changed, before.removed) == ("pending", 1, 4, 1)
            assert tree.status("audio").rows == 301

            # provenance from each row's content: the five rows make_pending_work wrote come back changed
            counts = await import_audio_update(app, pilot, "content")
            assert "3 added · 5 changed · 0 unchanged" in counts
            await app.workers.wait_for_complete()
            await pilot.pause()
            after = tree.status("speaker/embedding")
            assert tree.status("audio").rows == 304
            # spk_001 and spk_023 gain a recording; spk_011, spk_019, spk_039, spk_041 and spk_012 move
            assert (after.added, after.changed, after.removed) == (1, 6, 1)
            assert after.label == "1 added · 6 changed · 1 removed"

            # the same file again with its own provenance column: all eight rows change back
            counts = await import_audio_update(app, pilot, "auto")
            assert "0 added · 8 changed · 0 unchanged" in counts
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert tree.status("audio").rows == 304
            assert tree.status("speaker/embedding").label == "1 added · 6 changed · 1 removed"
    finally:
        project.close()
