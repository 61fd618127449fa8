"""Pilot tests of the sample detail screen: what it shows, navigation, every key binding."""

from __future__ import annotations

import pytest
from rich.console import Console
from textual.widgets import OptionList, Static

from metaxy_tui.service.project import open_project
from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.screens.sample_detail import SampleDetailScreen

SIZE = (120, 40)


async def settle(pilot, rounds: int = 3) -> None:
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


@pytest.fixture
def app(demo_store):
    project = open_project(db=demo_store)
    yield MetaxyApp(project)
    project.close()


async def open_detail(pilot, feature: str, ids: dict) -> SampleDetailScreen:
    await settle(pilot)
    screen = SampleDetailScreen(pilot.app.project, feature, ids)
    await pilot.app.push_screen(screen)
    await settle(pilot)
    return screen


def plain(static: Static) -> str:
    """What a Static shows, as plain text (rich renderables rendered wide, whitespace squeezed)."""
    console = Console(width=200, color_system=None)
    with console.capture() as capture:
        console.print(static.content)
    return " ".join(capture.get().split())


def body_text(screen: SampleDetailScreen) -> str:
    return plain(screen.query_one("#detail-body", Static))


def option_texts(screen: SampleDetailScreen) -> list[str]:
    links = screen.query_one("#detail-links", OptionList)
    return [str(links.get_option_at_index(i).prompt) for i in range(links.option_count)]


async def test_shows_provenance_versions_times_and_history(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, "video/chunk", {"video_id": "v0001", "chunk_id": 2})
        detail = screen.detail
        assert detail is not None and detail.state == "current"
        title = plain(screen.query_one("#detail-title", Static))
        assert "video/chunk" in title and "video_id=v0001 · chunk_id=2" in title and "current" in title
        text = body_text(screen)
        for expected in (
            "provenance by field",
            "audio",
            "frames",
            detail.provenance,
            "= provenance",
            detail.current_feature_version[:8],
            "(current)",
            "history · 1 stored row",
            "latest",
            "chunks/v0001/0002.mp4",
            "video.audio",
        ):
            assert expected in text, expected


async def test_links_upstream_and_downstream_by_lineage(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, "video/chunk", {"video_id": "v0001", "chunk_id": 2})
        options = option_texts(screen)
        assert options[0].startswith("↑ upstream video · expansion on video_id=v0001 · its parent")
        assert "video_id=v0001" in options[1] and "data version" in options[1]
        assert any(o.startswith("↓ downstream video/face_detection · identity") for o in options)
        assert any(o.startswith("↓ downstream video/transcript · identity") for o in options)
        assert [r.feature for r in screen.links] == ["video", "video/face_detection", "video/transcript"]
        assert screen.highlighted_link().feature == "video"  # the first sample, not a heading


async def test_enter_navigates_and_escape_goes_back(app):
    async with app.run_test(size=SIZE) as pilot:
        first = await open_detail(pilot, "video/chunk", {"video_id": "v0001", "chunk_id": 2})
        await pilot.press("enter")  # the parent video
        await settle(pilot)
        video = app.screen
        assert isinstance(video, SampleDetailScreen) and video is not first
        assert video.ref.feature == "video" and video.ref.ids == {"video_id": "v0001"}
        # the video's children: 55 chunks, listed in order
        children = [r for r in video.links if r.feature == "video/chunk"]
        assert len(children) == 55 and children[2].ids == {"video_id": "v0001", "chunk_id": 2}
        await pilot.press("down", "down", "enter")  # chunk 2 again
        await settle(pilot)
        assert app.screen.ref.ids == {"video_id": "v0001", "chunk_id": 2}
        await pilot.press("escape")
        assert app.screen is video
        await pilot.press("escape")
        assert app.screen is first
        await pilot.press("escape")
        assert not isinstance(app.screen, SampleDetailScreen)


async def test_aggregation_lists_every_member(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, "speaker/embedding", {"speaker_id": "spk_019"})
        members = [r for r in screen.links if r.feature == "audio"]
        assert len(members) == 7 and members[0].ids == {"audio_id": "a0001"}
        options = option_texts(screen)
        assert "aggregation on speaker_id=spk_019 · the members of its group · 7" in options[0]
        assert "(default " in options[1]  # each member's data version by field
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.ref.ids == {"audio_id": "a0001"}
        down = [r for r in app.screen.links if r.feature == "speaker/embedding"]
        assert down == [screen.ref]


async def test_history_and_state_of_a_deleted_sample(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, "audio", {"audio_id": "a0300"})
        assert screen.detail.state == "deleted"
        assert "deleted" in plain(screen.query_one("#detail-title", Static))
        text = body_text(screen)
        assert "history · 2 stored rows" in text and "soft delete" in text and "deleted" in text
        changed = await open_detail(pilot, "audio", {"audio_id": "a0001"})
        assert "history · 2 stored rows" in body_text(changed) and "superseded by write" in body_text(changed)


async def test_unknown_sample_is_explained(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, "audio", {"audio_id": "zzz"})
        assert screen.detail.state == "not stored"
        assert option_texts(screen) == ["nothing is stored under these ids"]
        await pilot.press("enter")  # nothing to open
        assert app.screen is screen


async def test_errors_are_shown(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, "no/such", {"x": 1})
        assert "UnknownFeatureError" in body_text(screen) or "no/such" in body_text(screen)


async def test_reload_copy_and_focus_keys(app):
    async with app.run_test(size=(80, 24)) as pilot:  # small: the body scrolls, so it takes focus
        screen = await open_detail(pilot, "video/chunk", {"video_id": "v0003", "chunk_id": 4})
        old = screen.detail
        await pilot.press("r")
        await settle(pilot)
        assert screen.detail is not old and screen.detail.ref == old.ref
        await pilot.press("c")
        assert app.clipboard == "video_id=v0003 · chunk_id=4"
        assert app.focused.id == "detail-links"
        await pilot.press("tab")
        assert app.focused.id != "detail-links"
