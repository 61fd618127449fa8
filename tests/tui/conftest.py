"""Snapshots with their hashes checked and masked (see hash_check.py).

`snap_compare` here wraps pytest-textual-snapshot's: before the screenshot is compared or
stored, each hash-like token on it must be derivable independently from the project's graph
and store (or be listed in `literals=`), and is then masked.
"""

from __future__ import annotations

import inspect
import itertools
import uuid

import pytest

from metaxy_tui.service.project import Project
from tests.tui import hash_check


START_US = 1_767_225_600_000_000  # 2026-01-01 00:00:00 UTC


@pytest.fixture(scope="session")
def frozen_demo(tmp_path_factory):
    """The demo store built with a frozen clock and a fixed materialization id: times and ids in
    pictures never change."""
    from metaxy_tui.service.demo import build_demo

    path = tmp_path_factory.mktemp("frozen") / "demo.db"
    clock = itertools.count(START_US, 1_000_000)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("metaxy_tui.store.sqlite.codec.now_us", lambda: next(clock))
        mp.setattr("metaxy_tui.store.sqlite.store.now_us", lambda: next(clock))
        mp.setattr(uuid, "uuid4", lambda: uuid.UUID(int=0x5A3D1E))
        build_demo(path)
    return path


def find_project(app) -> Project | None:
    project = getattr(app, "project", None)
    if isinstance(project, Project):
        return project
    for screen in reversed(app.screen_stack):
        for node in (screen, *screen.walk_children()):
            project = getattr(node, "project", None)
            if isinstance(project, Project):
                return project
    return None


def known_hashes(project: Project | None) -> set[str]:
    if project is None:
        return set()
    known = hash_check.definition_versions(project.graph)
    if project.path != ":memory:":
        derived, stored = hash_check.store_values(project.path)
        known |= derived | stored
    return known


@pytest.fixture
def snap_compare(snap_compare, monkeypatch):
    import textual._doc as doc

    original = doc.take_svg_screenshot

    def compare(app, press=(), terminal_size=(80, 24), run_before=None, *, literals=()):
        seen: dict = {}
        problems: list[str] = []

        async def capture(pilot) -> None:
            if run_before is not None:
                result = run_before(pilot)
                if inspect.isawaitable(result):
                    await result
            seen["project"] = find_project(pilot.app)
            # the key footer redraws when the screen publishes a bindings change, which a late
            # focus change (a worker's table taking focus) may not have done yet on a loaded
            # machine: publish it and let the footer draw, so the picture shows the keys that apply
            pilot.app.screen.refresh_bindings()
            await pilot.pause()
            await pilot.wait_for_scheduled_animations()
            await pilot.wait_for_animation()  # a scroll still gliding leaves its thumb between cells
            await pilot.pause()

        def screenshot(*args, **kwargs) -> str:
            svg = original(*args, **kwargs)
            problems.extend(hash_check.check(svg, known_hashes(seen.get("project")), literals))
            return hash_check.mask(svg)

        monkeypatch.setattr(doc, "take_svg_screenshot", screenshot)
        try:
            matched = snap_compare(app, press=press, terminal_size=terminal_size, run_before=capture)
        finally:
            monkeypatch.setattr(doc, "take_svg_screenshot", original)
        assert not problems, f"hashes on screen that no independent derivation gives: {problems}"
        return matched

    return compare
