"""SVG snapshots of the review screen, its modals, the progress overlay and the audit screen.

Each screen is shown on its own (not over the browser) so that changes elsewhere do not churn
these snapshots. What varies between runs is pinned: the audit entries' time, user and
duration are written fixed (and shown in UTC), the progress overlay reads a fake clock, and
the failure modal shows a fixed result instead of a real traceback (which names paths).
Update with `pytest --snapshot-update` after looking at the report.
"""

from __future__ import annotations

import time

import pytest
from textual.app import App

from metaxy_tui.service.review import ActionResult
from metaxy_tui.tui.screens.audit import AuditScreen
from metaxy_tui.tui.screens.review import ReviewScreen
from metaxy_tui.tui.widgets.action_progress import ActionProgress

FIXED_AT_US = 1_767_225_600_000_000  # 2026-01-01 00:00:00 UTC


class Host(App[None]):
    def __init__(self, screen_factory) -> None:
        super().__init__()
        self.screen_factory = screen_factory

    def on_mount(self) -> None:
        self.push_screen(self.screen_factory())


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def settle(pilot) -> None:
    """Workers done, their messages handled, and tables measured (a DataTable sizes its columns when idle)."""
    for _ in range(50):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if all(w.is_finished for w in pilot.app.workers):
            break
    for _ in range(3):
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()


def settled_then_keys(*keys: str):
    """A run_before: settle, press the keys, settle again."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


def review_app(project, feature="speaker/embedding", **kwargs) -> Host:
    return Host(lambda: ReviewScreen(project, feature, **kwargs))


def test_review_80x24(snap_compare, project):
    assert snap_compare(review_app(project), terminal_size=(80, 24), run_before=settle)


def test_review_160x50_changed_sample(snap_compare, project):
    highlight_changed = settled_then_keys("down", "tab")
    assert snap_compare(review_app(project), terminal_size=(160, 50), run_before=highlight_changed)


def test_review_nothing_pending_upstream_waiting(snap_compare, project):
    assert snap_compare(review_app(project, "video/face_detection"), terminal_size=(100, 30), run_before=settle)


def test_recompute_confirmation(snap_compare, project):
    confirm_all = settled_then_keys("A", "r")
    assert snap_compare(review_app(project, ray_address=""), terminal_size=(120, 40), run_before=confirm_all)


def test_recompute_confirmation_on_ray_80x24(snap_compare, project, monkeypatch):
    """The executor choice at the smallest size: Ray picked, an address typed, the buttons still on screen."""
    monkeypatch.setattr(ReviewScreen, "notify", lambda *a, **k: None)  # "working out the blast radius…" fades in 2 s
    confirm_on_ray = settled_then_keys("A", "r", "shift+tab", "right", "space", "tab", *"head:6379")
    assert snap_compare(
        review_app(project, "video/chunk", ray_address=""), terminal_size=(80, 24), run_before=confirm_on_ray
    )


def test_failure_modal(snap_compare, project):
    result = ActionResult(
        "recompute",
        "video/chunk",
        4,
        done=3,
        outcome="failed",
        batches=3,
        error="RuntimeError: GPU on fire",
        traceback=(
            'Traceback (most recent call last):\n  File "pipeline.py", line 12, in compute_chunks\n'
            '    raise RuntimeError("GPU on fire")\nRuntimeError: GPU on fire\n'
        ),
        failing=[{"video_id": "v0007"}],
        executor="ray",
        failed_batches=1,
    )

    async def fail(pilot):
        await settle(pilot)
        pilot.app.screen.show_failure(result)
        await pilot.pause()

    assert snap_compare(review_app(project, "video/chunk"), terminal_size=(100, 30), run_before=fail)


def test_progress_overlay(snap_compare, project):
    now = [100.0]

    async def halfway(pilot):
        await settle(pilot)
        progress = pilot.app.screen.query_one(ActionProgress)
        progress.clock = lambda: now[0]
        progress.start("Recompute · video/chunk", 1200)
        now[0] += 30.0
        progress.advance(500, 1200)
        await pilot.pause()

    assert snap_compare(review_app(project, "video/chunk"), terminal_size=(100, 30), run_before=halfway)


def _fixed_audit(project) -> None:
    store = project.store
    entries = [
        (
            "recompute",
            "video/chunk",
            [{"video_id": "v0007"}],
            0.8,
            "failed",
            "RuntimeError: GPU on fire\nTraceback (most recent call last):\n  ...\nRuntimeError: GPU on fire",
        ),
        ("recompute", "video/chunk", [{"video_id": f"v{i:04d}"} for i in (7, 42, 99, 121)], 2.5, "ok", None),
        ("accept", "speaker/embedding", [{"speaker_id": "spk_012"}, {"speaker_id": "spk_019"}], 0.04, "ok", None),
        ("delete_removed", "speaker/embedding", [{"speaker_id": "spk_040"}], 0.02, "ok", None),
        ("recompute", "video/face_detection", [], 0.0, "cancelled", None),
    ]
    for i, (action, feature, ids, seconds, outcome, detail) in enumerate(entries):
        entry = store.record_audit(
            action=action,
            feature=feature,
            feature_version=project.graph.feature_version(feature),
            ids=ids,
            duration_s=seconds,
            outcome=outcome,
            detail=detail,
            user="ana",
        )
        with store._transaction() as conn:
            conn.execute("UPDATE _metaxy_audit SET at = ? WHERE id = ?", (FIXED_AT_US + i * 61_000_000, entry))


def test_audit_screen(snap_compare, project, utc):
    _fixed_audit(project)
    assert snap_compare(Host(lambda: AuditScreen(project)), terminal_size=(120, 30), run_before=settle)


def test_audit_entry(snap_compare, project, utc):
    _fixed_audit(project)

    async def open_failed(pilot):
        await settle(pilot)
        await pilot.press("end", "enter")
        await pilot.pause()

    assert snap_compare(Host(lambda: AuditScreen(project)), terminal_size=(100, 30), run_before=open_failed)


def test_audit_80x24(snap_compare, project, utc):
    _fixed_audit(project)
    assert snap_compare(Host(lambda: AuditScreen(project, "video/chunk")), terminal_size=(80, 24), run_before=settle)
