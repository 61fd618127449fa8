"""Pilot tests of the trace view (t on a sample) and the definition-changes view (D): what they
show, walking the tree both ways, paging, opening a sample's detail, and every key."""

from __future__ import annotations

import copy

import pytest
from rich.console import Console
from textual.widgets import Static

from metaxy_tui.graph import FeatureGraph
from metaxy_tui.service.demo import open_demo_project
from metaxy_tui.service.project import open_project
from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.screens.browser import BrowserScreen
from metaxy_tui.tui.screens.graph_diff import GraphDiffScreen
from metaxy_tui.tui.screens.sample_detail import SampleDetailScreen
from metaxy_tui.tui.screens.trace import TraceScreen
from metaxy_tui.tui.widgets.feature_tree import FeatureTree
from metaxy_tui.tui.widgets.sample_table import SampleTable
from metaxy_tui.tui.widgets.trace_tree import TraceTree

SIZE = (120, 40)


async def settle(pilot, rounds: int = 4) -> None:
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


@pytest.fixture
def app(demo_store):
    project = open_demo_project(demo_store)
    yield MetaxyApp(project)
    project.close()


def plain(static: Static) -> str:
    console = Console(width=200, color_system=None)
    with console.capture() as capture:
        console.print(static.content)
    return " ".join(capture.get().split())


def labels(tree: TraceTree) -> list[str]:
    """Every visible line of the tree, as text."""
    return [str(tree.get_node_at_line(i).label) for i in range(tree.last_line + 1)]


async def open_trace(pilot, feature: str, ids: dict) -> TraceScreen:
    await settle(pilot)
    screen = TraceScreen(pilot.app.project, feature, ids)
    await pilot.app.push_screen(screen)
    await settle(pilot)
    return screen


def cursor_to(tree: TraceTree, text: str) -> None:
    line = next(i for i, label in enumerate(labels(tree)) if text in label)
    tree.cursor_line = line


async def test_t_on_the_samples_table_opens_the_trace_and_escape_goes_back(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one(FeatureTree).select_feature("video/chunk")
        await pilot.press("s")
        await settle(pilot)
        table = app.screen.query_one(SampleTable)
        assert app.focused is table
        await pilot.press("t")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        assert screen.ref.feature == "video/chunk" and screen.ref.ids == {"video_id": "v0001", "chunk_id": 0}
        tree = screen.query_one(TraceTree)
        lines = labels(tree)
        assert lines[0].startswith("● video/chunk  video_id=v0001 · chunk_id=0")
        assert "↑ computed from" in lines and "↓ feeds" in lines
        assert any(line.startswith("video · expansion · 1 sample") for line in lines)
        assert any(line.startswith("video/face_detection · identity") for line in lines)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BrowserScreen)


async def test_t_on_the_detail_opens_the_trace_and_enter_opens_a_nodes_detail(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.push_screen(SampleDetailScreen(app.project, "speaker/embedding", {"speaker_id": "spk_011"}))
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen) and screen.trace is not None
        assert screen.trace.root.state == "stale"
        tree = screen.query_one(TraceTree)
        cursor_to(tree, "audio_id=a0028")
        await pilot.pause()
        info = plain(screen.query_one("#trace-info", Static))
        assert info.startswith("audio audio_id=a0028 current: a root sample")
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, SampleDetailScreen) and detail.ref.ids == {"audio_id": "a0028"}
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_right_walks_on_and_left_folds_back(app, monkeypatch):
    monkeypatch.setattr("metaxy_tui.tui.screens.trace.DEPTH", 1)  # the chunks are walked on demand
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, "video", {"video_id": "v0007"})
        tree = screen.query_one(TraceTree)
        cursor_to(tree, "video_id=v0007 · chunk_id=0")
        chunk = tree.cursor_node
        assert chunk.data.node.walkable and not chunk.children
        await pilot.press("right")
        await settle(pilot)
        assert chunk.is_expanded and [str(c.label).split(" ·")[0] for c in chunk.children] == [
            "video/face_detection",
            "video/transcript",
        ]
        await pilot.press("right")  # into the walked branch
        await pilot.pause()
        assert tree.cursor_node is chunk.children[0]
        await pilot.press("left")  # folds the link
        await pilot.pause()
        assert not chunk.children[0].is_expanded
        await pilot.press("left")  # up to the chunk
        await pilot.pause()
        assert tree.cursor_node is chunk
        await pilot.press("left")
        await pilot.pause()
        assert not chunk.is_expanded


async def test_enter_on_more_reads_the_next_page(app, monkeypatch):
    monkeypatch.setattr("metaxy_tui.tui.screens.trace.PAGE", 4)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, "speaker/embedding", {"speaker_id": "spk_011"})
        tree = screen.query_one(TraceTree)
        assert sum("audio_id=" in line for line in labels(tree)) == 4
        cursor_to(tree, "… 7 more")
        await pilot.press("enter")
        await settle(pilot)
        lines = labels(tree)
        assert sum("audio_id=" in line for line in lines) == 8 and any("… 3 more" in line for line in lines)
        assert "audio_id=" in str(tree.cursor_node.label)  # on the first sample of the new page


async def test_r_traces_again_after_a_write(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, "speaker/embedding", {"speaker_id": "spk_010"})
        assert screen.trace.root.state == "current"
        members = screen.trace.root.upstream_links[0]
        app.project.store.delete_metadata("audio", ids=[members.nodes[0].ref.ids])  # another process, say
        await pilot.press("r")
        await settle(pilot)
        assert screen.trace.root.state == "stale"
        assert screen.trace.root.upstream_links[0].total == members.total - 1


async def test_an_unknown_sample_says_so(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, "audio", {"audio_id": "nope"})
        assert plain(screen.query_one("#trace-info", Static)).startswith("audio has no sample audio_id=nope")


# ----- definition changes (D) -----------------------------------------------------------------------


def bump(project, feature: str, fld: str) -> None:
    snap = copy.deepcopy(project.store.snapshot())
    for f in snap["features"]:
        if f["key"] == feature:
            for spec in f["fields"]:
                if spec["key"] == fld:
                    spec["code_version"] = "2"
    project.code_graph = FeatureGraph.from_snapshot(snap)


async def test_capital_d_shows_each_changes_blast_radius_and_escape_closes_it(demo_store):
    project = open_demo_project(demo_store)
    bump(project, "video", "audio")
    app = MetaxyApp(project)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert "D shows how many samples" in plain(app.screen.query_one("#notice", Static))
            await pilot.press("D")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, GraphDiffScreen) and screen.impact is not None
            text = plain(screen.query_one("#diff-body", Static))
            assert [s.feature for s in screen.impact.features] == ["video", "video/chunk", "video/transcript"]
            assert "video/transcript [text]" in text and "unaffected: video/face_detection: reads only" in text
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, BrowserScreen)
    finally:
        project.close()


async def test_capital_d_without_code_says_why(demo_store):
    project = open_project(db=demo_store)  # read with its recorded graph only
    project.code_graph = None
    app = MetaxyApp(project)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("D")
            await settle(pilot)
            assert isinstance(app.screen, BrowserScreen)
            assert app._notifications and "without its project's code" in list(app._notifications)[-1].message
    finally:
        project.close()
