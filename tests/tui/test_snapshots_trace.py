"""SVG snapshots of the trace view (a stale chunk: its parent above, its two readers below) and of
the definition changes with their blast radius, on the frozen demo store."""

from __future__ import annotations

import copy
import shutil

import pytest

from metaxy_tui.graph import FeatureGraph
from metaxy_tui.service.demo import open_demo_project
from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.screens.graph_diff import GraphDiffScreen
from metaxy_tui.tui.screens.trace import TraceScreen
from metaxy_tui.tui.widgets.trace_tree import TraceTree
from tests.tui import hash_check


@pytest.fixture
def project(frozen_demo, tmp_path):
    target = tmp_path / "demo.db"
    shutil.copyfile(frozen_demo, target)
    p = open_demo_project(target)
    p.source = "demo.db (demo)"
    yield p
    p.close()


async def settle(pilot, rounds: int = 5) -> None:
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def trace_of(feature: str, ids: dict, *keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.app.push_screen(TraceScreen(pilot.app.project, feature, ids))
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


def test_trace_80x24(snap_compare, project):
    run = trace_of("video/chunk", {"video_id": "v0007", "chunk_id": 0}, "down", "down", "down")
    assert snap_compare(MetaxyApp(project), terminal_size=(80, 24), run_before=run)


def test_trace_160x50_aggregation_members(snap_compare, project):
    run = trace_of("speaker/embedding", {"speaker_id": "spk_011"}, "down", "down", "down", "down")
    assert snap_compare(MetaxyApp(project), terminal_size=(160, 50), run_before=run)


def test_trace_tree_is_focused_on_the_traced_sample(project):
    import asyncio

    async def check() -> None:
        app = MetaxyApp(project)
        async with app.run_test(size=(80, 24)) as pilot:
            await trace_of("video/chunk", {"video_id": "v0007", "chunk_id": 0})(pilot)
            assert isinstance(app.focused, TraceTree) and app.focused.cursor_line == 0

    asyncio.run(check())


def test_definitions_80x24(snap_compare, project):
    snap = copy.deepcopy(project.store.snapshot())
    for f in snap["features"]:
        if f["key"] == "video":
            for spec in f["fields"]:
                if spec["key"] == "frames":
                    spec["code_version"] = "2"
    project.code_graph = FeatureGraph.from_snapshot(snap)

    async def run(pilot) -> None:
        await settle(pilot)
        await pilot.app.push_screen(GraphDiffScreen(pilot.app.project))
        await settle(pilot)

    assert snap_compare(
        MetaxyApp(project),
        terminal_size=(80, 24),
        run_before=run,
        literals={v[:8] for v in hash_check.definition_versions(project.code_graph)},
    )
