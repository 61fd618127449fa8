"""SVG snapshots (120x40) of the Samples tab and the sample detail screen.

The demo store is built with a frozen clock (conftest's frozen_demo) and a fixed materialization id, so times and
ids in the pictures never change. The panel is hosted by a small app of its own so that
changes to the rest of the browser do not touch these snapshots.
"""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Input

from metaxy_tui.service.project import open_project
from metaxy_tui.tui.screens.sample_detail import SampleDetailScreen
from metaxy_tui.tui.widgets.sample_table import SampleTable
from metaxy_tui.tui.widgets.samples_panel import SamplesPanel

SIZE = (120, 40)


class PanelApp(App[None]):
    """The Samples panel on a screen of its own."""

    TITLE = "metaxy-tui"

    def __init__(self, project, feature: str) -> None:
        super().__init__()
        self.project = project
        self.feature = feature

    def compose(self) -> ComposeResult:
        yield Header()
        yield SamplesPanel(self.project, id="samples-panel")
        yield Footer()

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = False
        self.query_one(SamplesPanel).show_feature(self.feature)
        self.query_one(SampleTable).focus()


@pytest.fixture
def project(frozen_demo, tmp_path):
    import shutil

    copy = tmp_path / "demo.db"
    shutil.copyfile(frozen_demo, copy)
    p = open_project(db=copy)
    yield p
    p.close()


async def settle(pilot, rounds: int = 4) -> None:
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def test_samples_panel(snap_compare, project):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("down", "down", "right")

    assert snap_compare(PanelApp(project, "video/chunk"), terminal_size=SIZE, run_before=run_before)


def test_samples_panel_sorted_and_filtered(snap_compare, project):
    async def run_before(pilot):
        await settle(pilot)
        table = pilot.app.query_one(SampleTable)
        table.move_cursor(column=table.view.column_index("duration_s"))
        await pilot.press("o", "o")
        await settle(pilot)
        await pilot.press("slash", *"bike", "enter")
        await settle(pilot)

    assert snap_compare(PanelApp(project, "video"), terminal_size=SIZE, run_before=run_before)


def test_samples_panel_export_bar(snap_compare, project):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)

    assert snap_compare(PanelApp(project, "audio"), terminal_size=SIZE, run_before=run_before)


def test_samples_panel_jump_bar(snap_compare, project):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("g", *"v0042, 7")
        await settle(pilot)

    assert snap_compare(PanelApp(project, "video/chunk"), terminal_size=SIZE, run_before=run_before)


def _detail(feature: str, ids: dict):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.app.push_screen(SampleDetailScreen(pilot.app.project, feature, ids))
        await settle(pilot)

    return run_before


def test_sample_detail_identity_and_expansion(snap_compare, project):
    assert snap_compare(
        PanelApp(project, "video/chunk"),
        terminal_size=SIZE,
        run_before=_detail("video/chunk", {"video_id": "v0007", "chunk_id": 2}),
    )


def test_sample_detail_aggregation(snap_compare, project):
    assert snap_compare(
        PanelApp(project, "speaker/embedding"),
        terminal_size=SIZE,
        run_before=_detail("speaker/embedding", {"speaker_id": "spk_019"}),
    )


def test_sample_detail_history_of_a_deleted_sample(snap_compare, project):
    assert snap_compare(
        PanelApp(project, "audio"), terminal_size=SIZE, run_before=_detail("audio", {"audio_id": "a0300"})
    )
