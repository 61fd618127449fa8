"""The recompute dialog's executor choice: local or Ray, remembered, and Ray for real.

Keys: shift+tab reaches the executor choice from the Recompute button, right moves to Ray,
space picks it, tab reaches the address.
"""

from __future__ import annotations

import sys

import pytest
from textual.widgets import Input, RadioButton

from metaxy_tui.tui.screens.recompute_confirm import RecomputeConfirmScreen
from tests.tui.test_review_screen import Host, audit, counts, open_review, settle


async def open_dialog(pilot) -> RecomputeConfirmScreen:
    await open_review(pilot)
    await pilot.press("A", "r")
    await settle(pilot)
    modal = pilot.app.screen
    assert isinstance(modal, RecomputeConfirmScreen), modal
    return modal


async def choose_ray(pilot, address: str) -> None:
    await pilot.press("shift+tab", "right", "space", "tab")
    await pilot.press(*address)


async def test_the_executor_choice_is_offered_and_remembered(project):
    async with Host(project, "video/chunk").run_test(size=(80, 24)) as pilot:
        modal = await open_dialog(pilot)
        screen = pilot.app.screen_stack[-2]
        assert modal.executor == "local" and not modal.query_one("#ray-row").display
        assert "Batches run here" in str(modal.query_one("#executor-note").render())
        await choose_ray(pilot, "head:6379")
        assert modal.executor == "ray" and modal.query_one("#ray-row").display
        assert modal.query_one("#ray-address", Input).has_focus and modal.ray_address == "head:6379"
        await pilot.press("escape")  # nothing runs, the choice stays for the next time
        await settle(pilot)
        assert (screen.executor, screen.ray_address) == ("ray", "head:6379") and not audit(project)
        await pilot.press("r")
        await settle(pilot)
        again = pilot.app.screen
        assert isinstance(again, RecomputeConfirmScreen)
        assert again.query_one("#executor-ray", RadioButton).value and again.ray_address == "head:6379"


async def test_without_ray_installed_ray_is_disabled_and_says_how_to_install(project, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    async with Host(project, "video/chunk", executor="ray").run_test(size=(80, 24)) as pilot:
        modal = await open_dialog(pilot)
        assert modal.executor == "local"  # the remembered choice cannot run here
        assert modal.query_one("#executor-ray", RadioButton).disabled
        assert 'pip install "metaxy-tui[ray]"' in str(modal.query_one("#executor-note").render())
        await pilot.press("enter")  # recompute, locally
        await settle(pilot)
        assert audit(project, "video/chunk")[0]["executor"] == "local"


@pytest.mark.ray
async def test_recompute_on_ray_from_the_dialog(project, ray_address):
    async with Host(project, "video/chunk", batch_size=1).run_test(size=(120, 40)) as pilot:
        await open_dialog(pilot)
        await choose_ray(pilot, ray_address)
        await pilot.press("enter")  # in the address: confirms, as Recompute would
        await settle(pilot)
        screen = pilot.app.screen
        [result] = screen.results
        assert (result.outcome, result.done, result.executor) == ("ok", 4, "ray"), result.describe()
        assert sum(counts(project, "video/chunk").values()) == 0
        entry = audit(project, "video/chunk")[0]
        assert entry["executor"] == "ray" and entry["n_samples"] == 4
        notes = [n.message for n in pilot.app._notifications]
        assert "recompute video/chunk on ray: 4 of 4 samples, ok" in notes
