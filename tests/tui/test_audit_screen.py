"""Pilot tests of the audit screen: newest first, filters, one entry in full."""

from __future__ import annotations

import json

import pytest
from textual.app import App

from metaxy_tui.service import review
from metaxy_tui.tui.screens.audit import AuditScreen
from metaxy_tui.tui.screens.confirm import ConfirmScreen
from metaxy_tui.tui.widgets.review_audit_table import AuditTable, entry_text, format_duration


@pytest.fixture
def audited(project):
    """A failed recompute, then everything approved: one entry per action, the failure oldest."""

    def broken(rows):
        raise RuntimeError("GPU on fire")

    review.recompute(project, "video/chunk", fn=broken)
    review.approve_all_pending(project)
    return project


class Host(App[None]):
    def __init__(self, project, feature=None) -> None:
        super().__init__()
        self.project, self.feature = project, feature

    def on_mount(self) -> None:
        self.push_screen(AuditScreen(self.project, self.feature))


async def settle(pilot) -> None:
    for _ in range(50):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if all(w.is_finished for w in pilot.app.workers):
            await pilot.pause()
            return
    raise AssertionError("workers did not settle")


async def test_entries_newest_first_with_every_column(audited):
    log = review.audit_log(audited).to_dicts()
    async with Host(audited).run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, AuditScreen)
        table = screen.query_one(AuditTable)
        assert table.row_count == len(log) >= 5
        assert [e["id"] for e in screen.entries] == sorted((e["id"] for e in log), reverse=True)
        assert [str(c.label) for c in table.columns.values()] == [
            "time",
            "user",
            "action",
            "feature",
            "version",
            "samples",
            "duration",
            "outcome",
        ]
        first = [c.plain for c in table.get_row_at(0)]
        newest = log[0]
        assert first[2] == newest["action"] and first[3] == newest["feature"]
        assert first[4] == newest["feature_version"][:8] and first[7] == "ok"
        oldest = [c.plain for c in table.get_row_at(table.row_count - 1)]
        assert oldest[2:4] == ["recompute", "video/chunk"] and oldest[7] == "failed"


async def test_filters_by_feature_and_action(audited):
    async with Host(audited).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        screen.set_filters(feature="video/chunk")
        await settle(pilot)
        assert {e["feature"] for e in screen.entries} == {"video/chunk"}
        assert len(screen.entries) == 2
        screen.set_filters(feature="video/chunk", action="recompute")
        await settle(pilot)
        assert [e["outcome"] for e in screen.entries] == ["ok", "failed"]
        screen.set_filters(action="delete_removed")
        await settle(pilot)
        assert {e["action"] for e in screen.entries} == {"delete_removed"}
        screen.set_filters(feature="video/transcript", action="accept")
        await settle(pilot)
        assert screen.entries == []
        assert "nothing matches" in str(screen.query_one("#audit-count").render())


async def test_feature_filter_is_a_select_driven_by_keys(audited):
    async with Host(audited).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        await pilot.press("f")
        assert screen.focused.id == "filter-feature"
        await pilot.press("enter", "down", "enter")  # the first feature of the list
        await settle(pilot)
        first = list(audited.graph.keys)[0]
        assert screen.feature == first
        assert all(e["feature"] == first for e in screen.entries)


async def test_opened_for_one_feature_and_enter_shows_the_failure(audited):
    async with Host(audited, "video/chunk").run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert {e["feature"] for e in screen.entries} == {"video/chunk"}
        await pilot.press("end", "enter")  # the oldest: the failed recompute
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmScreen) and modal.has_class("-error")
        text = modal.body_text
        assert "GPU on fire" in text and "Traceback" in text
        assert screen.entries[-1]["feature_version"] in text  # the full version, not 8 characters
        await pilot.press("escape")
        await pilot.press("home", "enter")
        await settle(pilot)
        ok = pilot.app.screen
        ids = json.loads(screen.entries[0]["ids"])
        assert isinstance(ok, ConfirmScreen) and "sample ids" in ok.body_text
        assert f"video_id={ids[0]['video_id']}" in ok.body_text


async def test_an_empty_log_says_where_entries_come_from(project):
    async with Host(project).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert screen.entries == []
        assert "nothing recorded yet" in str(screen.query_one("#audit-count").render())
        await pilot.press("enter")  # nothing to show: no modal
        assert pilot.app.screen is screen
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, AuditScreen)


async def test_audit_actions_are_in_the_command_palette(project):
    async with Host(project).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        titles = {c.title for c in pilot.app.screen.get_system_commands()}
        assert {"Show audit entry", "Filter audit by feature", "Filter audit by action", "Back"} <= titles


def test_entry_text_and_durations():
    entry = {
        "id": 7,
        "at": None,
        "user": "ana",
        "action": "accept",
        "feature": "f",
        "feature_version": "a" * 64,
        "n_samples": 2,
        "ids": json.dumps([{"k": 1}, {"k": 2}]),
        "duration_s": 0.25,
        "outcome": "ok",
        "detail": None,
    }
    text = entry_text(entry).plain
    assert "#7" in text and "a" * 64 in text and "k=1" in text and "k=2" in text
    assert format_duration(0.25) == "250 ms" and format_duration(12.34) == "12.3 s"
    assert format_duration(125) == "2:05 min"
