"""Every action of the main screen is in the command palette, and runs from it."""

from __future__ import annotations

from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.screens.browser import BrowserScreen
from metaxy_tui.tui.widgets.samples_panel import SamplesPanel


async def settle(pilot):
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_palette_lists_every_browser_action(project):
    app = MetaxyApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for wanted in (
            "Help",
            "Refresh statuses",
            "Show feature",
            "Show samples",
            "Show lineage",
            "Import samples",
            "Review pending work",
            "Audit log",
            "Filter samples",
            "Sort samples",
            "Go to a sample id",
            "Export samples",
            "Reset samples view",
        ):
            assert wanted in titles, wanted


async def test_filter_samples_from_the_palette(project):
    app = MetaxyApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Filter samples")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BrowserScreen)
        assert screen.query_one("TabbedContent").active == "samples"
        panel = screen.query_one(SamplesPanel)
        focused = app.focused
        assert focused is not None and panel in focused.ancestors_with_self
