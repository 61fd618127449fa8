"""Pilot tests of the review loop on the demo store: explain, select, confirm, act, audit.

Each test drives the real screens (keys, confirmation modals, workers) on a private copy of
the demo store, then checks the store itself through the service.
"""

from __future__ import annotations

import asyncio
import threading

import polars as pl
from textual.app import App

from metaxy_tui.service import review
from metaxy_tui.service.demo import load_demo_modules
from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.screens.audit import AuditScreen
from metaxy_tui.tui.screens.browser import BrowserScreen
from metaxy_tui.tui.screens.confirm import ConfirmScreen
from metaxy_tui.tui.screens.review import ReviewScreen
from metaxy_tui.tui.widgets.action_progress import ActionProgress, format_seconds, rate_text
from metaxy_tui.tui.widgets.feature_tree import FeatureTree
from metaxy_tui.tui.widgets.review_detail import ReviewDetail, render_reason
from metaxy_tui.tui.widgets.review_groups import ReviewGroups
from metaxy_tui.tui.widgets.review_model import ReasonGroup, ReviewModel
from metaxy_tui.tui.widgets.review_samples import PAGE, PAGE_AHEAD, SHOWN_MAX, ReviewSamples
from metaxy_tui.tui.widgets.review_selection import Selection

NOTHING = {"added": 0, "changed": 0, "removed": 0}


# ----- helpers --------------------------------------------------------------------------------


async def settle(pilot) -> None:
    """Wait until no worker runs (handlers of a worker's messages may start the next one)."""
    app = pilot.app
    for _ in range(50):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if all(w.is_finished for w in app.workers):
            await pilot.pause()
            return
    raise AssertionError("workers did not settle")


class Host(App[None]):
    """Shows one review screen on its own; keeps what it was dismissed with."""

    def __init__(self, project, feature: str, **kwargs) -> None:
        super().__init__()
        self.project, self.feature, self.kwargs = project, feature, kwargs
        self.dismissed: list[bool] = []

    def on_mount(self) -> None:
        self.push_screen(ReviewScreen(self.project, self.feature, **self.kwargs), self.dismissed.append)


async def open_review(pilot, project=None) -> ReviewScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen)
    assert screen.model is not None
    return screen


def counts(project, feature: str) -> dict[str, int]:
    return project.store.pending_counts(feature)


def speaker_of(project, audio_id: str) -> str:
    return project.store.read_metadata("audio").filter(pl.col("audio_id") == audio_id).item(0, "speaker_id")


def change_root(project, feature: str, id_column: str, id_value: str, fields: dict[str, str]) -> None:
    """Write one root sample again with new provenance for some fields (an upstream change)."""
    row = project.store.read_metadata(feature).filter(pl.col(id_column) == id_value)
    pbf = dict(row.item(0, "metaxy_provenance_by_field")) | fields
    row = row.drop("metaxy_provenance", "metaxy_data_version_by_field", "metaxy_data_version")
    project.store.write_metadata(
        feature, row.with_columns(pl.lit(pl.Series([pbf])).alias("metaxy_provenance_by_field"))
    )


def highlight_group(screen: ReviewScreen, startswith: str) -> ReasonGroup:
    assert screen.model is not None
    names = [g.name for g in screen.model.groups]
    index = next(i for i, n in enumerate(names) if n.startswith(startswith))
    screen.query_one(ReviewGroups).highlighted = index
    return screen.model.groups[index]


async def confirm(pilot, *, expect: str | None = None, choice: str | None = None) -> ConfirmScreen:
    """The confirmation on screen: check its text, then press its focused (or named) choice."""
    await settle(pilot)
    modal = pilot.app.screen
    assert isinstance(modal, ConfirmScreen), modal
    if expect is not None:
        assert expect in modal.body_text, modal.body_text
    if choice is not None:
        await pilot.click(f"#choice-{choice}")
    else:
        await pilot.press("enter")
    await settle(pilot)
    return modal


def audit(project, feature: str | None = None) -> list[dict]:
    return review.audit_log(project, feature=feature).to_dicts()


# ----- the whole loop -------------------------------------------------------------------------


def import_audio(project, path, audio_id: str) -> None:
    """What importing one recording from a file writes (the import screen is tested elsewhere)."""
    _, pipeline = load_demo_modules()
    project.store.write_metadata("audio", pipeline.read_audio(path).filter(pl.col("audio_id") == audio_id))


async def test_changed_recording_explained_recomputed_and_audited(project):
    _, pipeline = load_demo_modules()
    import_audio(project, None, "a0001")  # a0001 as first delivered (audio.parquet)
    review.recompute(project, "speaker/embedding")
    review.delete_removed(project, "speaker/embedding")
    assert counts(project, "speaker/embedding") == NOTHING
    speaker = speaker_of(project, "a0001")
    import_audio(project, pipeline.DATA_DIR / "audio_update.csv", "a0001")  # a0001 changed

    app = MetaxyApp(project)
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(pilot)
        browser = app.screen
        assert isinstance(browser, BrowserScreen)
        tree = browser.query_one(FeatureTree)
        tree.select_feature("speaker/embedding")
        await settle(pilot)
        assert tree.status("speaker/embedding").kind == "pending"

        await pilot.press("v")
        screen = await open_review(pilot)
        model = screen.model
        assert model.counts == {"added": 0, "changed": 1, "removed": 0}
        [group] = model.groups
        assert group.status == "changed" and "audio" in group.name
        [reason] = group.reasons
        assert reason.key == {"speaker_id": speaker} and "a0001" in reason.summary
        shown = screen.query_one(ReviewSamples)
        assert shown.row_count == 1 and shown.highlighted_reason is reason
        detail = screen.query_one(ReviewDetail)
        assert detail.reason is reason
        text = render_reason(reason).plain
        assert "audio_id=a0001 changed" in text and "because audio.default moved" in text

        await pilot.press("r")
        modal = await confirm(pilot, expect="Recompute 1 sample of speaker/embedding")
        assert "No downstream features are affected" in modal.body_text
        assert counts(project, "speaker/embedding") == NOTHING
        assert screen.wrote and screen.results[-1].outcome == "ok"
        assert screen.model is not None and screen.model.total == 0

        entry = audit(project, "speaker/embedding")[0]
        assert entry["action"] == "recompute" and entry["outcome"] == "ok" and entry["n_samples"] == 1
        assert speaker in entry["ids"]

        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is browser
        assert tree.status("speaker/embedding").kind == "up_to_date"

        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)
        assert app.screen.entries[0]["action"] == "recompute"


async def test_reasons_are_grouped_with_counts_and_selection_marks(project):
    async with Host(project, "speaker/embedding").run_test(size=(120, 40)) as pilot:
        screen = await open_review(pilot)
        model = screen.model
        assert model.counts == {"added": 1, "changed": 4, "removed": 1}
        assert [g.status for g in model.groups] == ["added", "changed", "changed", "removed"]
        assert sum(len(g.reasons) for g in model.groups) == 6
        # with nothing selected, actions apply to the highlighted group
        group = highlight_group(screen, "changed · embedding ← audio.default")
        await pilot.pause()
        assert screen._targets().description == "the highlighted group (3 samples)"
        screen.query_one(ReviewSamples).focus()
        await pilot.press("space")
        assert screen.selection.count(model) == 1
        await pilot.press("g")
        assert screen.selection.group_state(group, model) == "all" and screen.selection.count(model) == 3
        await pilot.press("g")
        assert screen.selection.count(model) == 0
        await pilot.press("A")
        assert screen.selection.count(model) == 6 and screen._targets().everything
        await pilot.press("A")
        assert screen.selection.count(model) == 0


async def test_expansion_samples_are_listed_once_per_parent(project):
    async with Host(project, "video/chunk").run_test(size=(120, 40)) as pilot:
        screen = await open_review(pilot)
        assert screen.model.counts == counts(project, "video/chunk")
        assert screen.model.total == 4


# ----- recompute: cancel, failure -------------------------------------------------------------


async def test_cancelling_mid_recompute_keeps_finished_batches(project, monkeypatch):
    _, pipeline = load_demo_modules()
    entered, release = threading.Event(), threading.Event()
    calls = []

    def gated(rows: pl.DataFrame) -> pl.DataFrame:
        calls.append(rows)
        if len(calls) == 2:  # the second batch waits until the user has pressed cancel
            entered.set()
            release.wait(10)
        return pipeline.compute_chunks(rows)

    monkeypatch.setitem(project.graph.computes, "video/chunk", gated)
    before = sum(counts(project, "video/chunk").values())
    assert before == 4
    async with Host(project, "video/chunk", batch_size=1).run_test(size=(120, 40)) as pilot:
        screen = await open_review(pilot)
        await pilot.press("A", "r")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.press("enter")
        assert await asyncio.to_thread(entered.wait, 10)
        await pilot.pause()
        progress = screen.query_one(ActionProgress)
        assert progress.running and screen.running
        await pilot.press("escape")  # cancels; does not leave the screen
        assert progress.has_class("-cancelling")
        release.set()
        await settle(pilot)
        assert not screen.running and not progress.running
        assert pilot.app.screen is screen
        result = screen.results[-1]
        assert result.outcome == "cancelled" and result.done == 1
        assert sum(counts(project, "video/chunk").values()) == before - 1
        # every chunk of a parent carries one provenance: no half-written parent
        chunks = project.store.read_metadata("video/chunk")
        assert (
            chunks.group_by("video_id")
            .agg(pl.col("metaxy_provenance").n_unique())
            .get_column("metaxy_provenance")
            .max()
            == 1
        )
        assert audit(project, "video/chunk")[0]["outcome"] == "cancelled"
        assert screen.model.total == before - 1
        await pilot.press("escape")
    assert pilot.app.dismissed == [True]


async def test_a_raising_compute_function_shows_traceback_and_failing_samples(project, monkeypatch):
    _, pipeline = load_demo_modules()
    calls = []

    def flaky(rows: pl.DataFrame) -> pl.DataFrame:
        calls.append(rows)
        if len(calls) == 2:
            raise RuntimeError("GPU on fire")
        return pipeline.compute_chunks(rows)

    monkeypatch.setitem(project.graph.computes, "video/chunk", flaky)
    async with Host(project, "video/chunk", batch_size=1).run_test(size=(120, 40)) as pilot:
        screen = await open_review(pilot)
        await pilot.press("A", "r")
        await confirm(pilot, expect="in batches of 1")
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmScreen) and modal.has_class("-error")
        text = modal.body_text
        assert "RuntimeError: GPU on fire" in text and "Traceback" in text
        failing = calls[1].get_column("video_id")[0]
        assert "Failing samples" in text and failing in text
        assert "3 of 4 samples were written in 3 batches; 1 batch failed and wrote nothing" in text
        await pilot.press("escape")
        await settle(pilot)
        assert pilot.app.screen is screen and screen.wrote
        assert sum(counts(project, "video/chunk").values()) == 1  # only the failing sample is still pending
        assert screen.model.total == 1
        entry = audit(project, "video/chunk")[0]
        assert entry["outcome"] == "failed" and "GPU on fire" in entry["detail"]


async def test_recompute_without_a_compute_function_is_refused(project, monkeypatch):
    monkeypatch.delitem(project.graph.computes, "speaker/embedding")
    async with Host(project, "speaker/embedding").run_test(size=(120, 40)) as pilot:
        screen = await open_review(pilot)
        assert not screen.model.has_compute
        highlight_group(screen, "changed")
        await pilot.press("r")
        await settle(pilot)
        assert pilot.app.screen is screen and not screen.results


# ----- accept, delete removed and the walk downstream ----------------------------------------


async def test_accept_carries_stored_outputs_and_skips_never_computed(project):
    before = project.store.read_metadata("speaker/embedding")
    async with Host(project, "speaker/embedding").run_test(size=(120, 40)) as pilot:
        screen = await open_review(pilot)
        changed = {r.key["speaker_id"] for r in screen.model.all_reasons() if r.status == "changed"}
        await pilot.press("A", "c")
        await confirm(pilot, expect="Accept 4 samples of speaker/embedding")
        assert screen.app.screen is screen
        result = screen.results[-1]
        assert result.action == "accept" and result.outcome == "ok" and result.done == 4 and result.skipped == 1
        assert counts(project, "speaker/embedding") == {"added": 1, "changed": 0, "removed": 1}
        after = project.store.read_metadata("speaker/embedding")
        cols = ["speaker_id", "n_dim", "path", "n_recordings"]
        assert (
            after.filter(pl.col("speaker_id").is_in(changed))
            .select(cols)
            .sort("speaker_id")
            .equals(before.filter(pl.col("speaker_id").is_in(changed)).select(cols).sort("speaker_id"))
        )
        entry = audit(project, "speaker/embedding")[0]
        assert entry["action"] == "accept" and entry["n_samples"] == 4


async def test_accept_confirmation_names_the_skipped(project):
    async with Host(project, "speaker/embedding").run_test(size=(120, 40)) as pilot:
        await open_review(pilot)
        await pilot.press("A", "c")
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmScreen)
        assert "1 sample never computed" in modal.body_text and "skipped" in modal.body_text
        await pilot.press("escape")  # cancel: nothing happens
        await settle(pilot)
        assert counts(project, "speaker/embedding") == {"added": 1, "changed": 4, "removed": 1}


async def test_delete_removed_then_walk_downstream(project):
    review.approve_all_pending(project)
    project.store.delete_metadata("video", ids=[{"video_id": "v0001"}])
    review.recompute(project, "video/chunk")
    assert counts(project, "video/chunk")["removed"] == 1
    async with Host(project, "video/chunk").run_test(size=(120, 40)) as pilot:
        screen = await open_review(pilot)
        highlight_group(screen, "removed")
        await pilot.press("x")
        modal = await confirm(pilot, expect="Soft-delete 1 removed sample of video/chunk")
        assert "video/face_detection, video/transcript" in modal.body_text
        assert counts(project, "video/chunk") == NOTHING
        walk = pilot.app.screen
        assert isinstance(walk, ConfirmScreen) and "Walk downstream" in str(walk._title)
        assert "video/face_detection" in walk.body_text and "video/transcript" in walk.body_text
        await pilot.press("enter")
        await settle(pilot)
        assert pilot.app.screen is screen
        for key in ("video/face_detection", "video/transcript"):
            assert counts(project, key) == NOTHING, key
            assert audit(project, key)[0]["action"] == "delete_removed"
        assert project.store.read_metadata("video/transcript").filter(pl.col("video_id") == "v0001").height == 0


# ----- order: upstream first, approve all -----------------------------------------------------


async def test_upstream_pending_warns_and_upstream_first_goes_in_order(project):
    review.approve_all_pending(project)
    change_root(project, "video", "video_id", "v0007", {"frames": "frames-edit-1"})
    review.recompute(project, "video/chunk")
    change_root(project, "video", "video_id", "v0007", {"frames": "frames-edit-2"})
    assert counts(project, "video/face_detection")["changed"] > 0 and counts(project, "video/chunk")["changed"] == 1
    first = audit(project)[0]["id"]
    async with Host(project, "video/face_detection").run_test(size=(120, 40)) as pilot:
        screen = await open_review(pilot)
        assert screen.model.pending_upstream == ["video/chunk"]
        await pilot.press("A", "r")
        modal = await confirm(pilot, expect="Upstream has pending work: video/chunk")
        assert modal.has_class("-warning")
        entries = [e for e in reversed(audit(project)) if e["id"] > first]
        assert [(e["action"], e["feature"]) for e in entries] == [
            ("recompute", "video/chunk"),
            ("recompute", "video/face_detection"),
        ]
        assert counts(project, "video/chunk") == NOTHING
        assert counts(project, "video/face_detection") == NOTHING
        assert screen.model.pending_upstream == []


async def test_only_this_feature_skips_the_upstream(project):
    review.approve_all_pending(project)
    change_root(project, "video", "video_id", "v0007", {"frames": "frames-edit-1"})
    review.recompute(project, "video/chunk")
    change_root(project, "video", "video_id", "v0007", {"frames": "frames-edit-2"})
    async with Host(project, "video/face_detection").run_test(size=(120, 40)) as pilot:
        await open_review(pilot)
        await pilot.press("A", "r")
        await confirm(pilot, choice="go")
        assert counts(project, "video/chunk")["changed"] == 1
        assert counts(project, "video/face_detection") == NOTHING


async def test_approve_all_walks_the_graph_in_topological_order(project):
    first = audit(project)[0]["id"] if audit(project) else 0
    async with Host(project, "speaker/embedding").run_test(size=(120, 40)) as pilot:
        screen = await open_review(pilot)
        await pilot.press("P")
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmScreen)
        listed = modal.body_text
        assert listed.index("video/chunk") < listed.index("video/face_detection")
        await pilot.press("enter")
        await settle(pilot)
        order = [e["feature"] for e in reversed(audit(project)) if e["id"] > first and e["action"] == "recompute"]
        assert order.index("video/chunk") < order.index("video/face_detection")
        assert order.index("video/chunk") < order.index("video/transcript")
        for key in ("speaker/embedding", "video/chunk", "video/face_detection", "video/transcript"):
            assert counts(project, key) == NOTHING, key
        assert screen.wrote and screen.model.total == 0
        await pilot.press("escape")
    assert pilot.app.dismissed == [True]


# ----- the rest -------------------------------------------------------------------------------


async def test_leaving_without_writing_dismisses_false(project):
    async with Host(project, "speaker/embedding").run_test(size=(80, 24)) as pilot:
        await open_review(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("escape")  # cancel the confirmation
        await settle(pilot)
        await pilot.press("escape")  # leave
        await settle(pilot)
    assert pilot.app.dismissed == [False]


async def test_every_action_is_in_the_command_palette(project):
    async with Host(project, "speaker/embedding").run_test(size=(120, 40)) as pilot:
        screen = await open_review(pilot)
        titles = {c.title for c in screen.get_system_commands()}
        assert {
            "Recompute selected",
            "Accept selected",
            "Delete removed",
            "Approve all pending",
            "Select sample",
            "Select group",
            "Select all",
            "Back",
        } <= titles


async def test_a_huge_group_is_capped(project):
    async with Host(project, "speaker/embedding").run_test(size=(120, 40)) as pilot:
        screen = await open_review(pilot)
        model = screen.model
        reason = model.groups[0].reasons[0]
        many = [
            type(reason)(reason.status, reason.kind, {"speaker_id": f"s{i:07d}"}, reason.summary, reason.group)
            for i in range(SHOWN_MAX * 3)
        ]
        big = ReviewModel(
            model.feature,
            model.key_columns,
            [ReasonGroup(reason.group, reason.status, many)],
            counts={"added": len(many), "changed": 0, "removed": 0},
        )
        screen.post_message(ReviewScreen.Explained(big))
        await settle(pilot)
        samples = screen.query_one(ReviewSamples)
        assert samples.row_count == PAGE  # the first page at once, the rest as the cursor comes
        assert samples.border_subtitle == f"showing first {SHOWN_MAX:,} of {SHOWN_MAX * 3:,}"
        samples.focus()
        samples.move_cursor(row=PAGE - PAGE_AHEAD)
        await settle(pilot)
        assert samples.row_count == 2 * PAGE
        assert samples.highlighted_reason is many[PAGE - PAGE_AHEAD]
        samples.scroll_end(animate=False)  # the mouse wheel scrolls the view, not the cursor
        await settle(pilot)
        assert samples.row_count == 3 * PAGE
        await pilot.press("A")  # everything selected: rows added later show it too
        assert screen.selection.count(big) == SHOWN_MAX * 3
        await pilot.press("end")  # the last sample shown of the group, not of the page
        await settle(pilot)
        assert samples.row_count == SHOWN_MAX
        assert samples.highlighted_reason is many[SHOWN_MAX - 1]
        assert str(samples.get_cell(str(SHOWN_MAX - 1), "mark")) == "■"


def test_selection_rules():
    from metaxy_tui.explain import SampleReason

    rs = [
        SampleReason("changed", "upstream_changed", {"k": i}, "", "changed · g1" if i < 3 else "changed · g2")
        for i in range(5)
    ]
    model = ReviewModel(
        "f",
        ["k"],
        [ReasonGroup("changed · g1", "changed", rs[:3]), ReasonGroup("changed · g2", "changed", rs[3:])],
        counts={"added": 0, "changed": 5, "removed": 0},
    )
    sel = Selection()
    assert sel.targets(model, model.groups[1]).description == "the highlighted group (2 samples)"
    sel.toggle_all(model)
    assert sel.targets(model, None).keys("changed") is None  # everything: no key list
    sel.toggle((0,), model)  # unselect one out of "everything"
    assert sel.count(model) == 4 and sel.group_state(model.groups[0], model) == "some"
    assert [r.key for r in sel.targets(model, None).reasons] == [{"k": 1}, {"k": 2}, {"k": 3}, {"k": 4}]
    sel.toggle_group(model.groups[0], model)
    assert sel.count(model) == 5 and sel.group_state(model.groups[1], model) == "all"


def test_rate_and_time_left():
    assert rate_text(0, 10, 0.0) == "0 of 10 samples · starting…"
    assert rate_text(50, 200, 10.0) == "50 of 200 samples · 5.0 samples/s · about 0:30 left"
    assert format_seconds(3725) == "1:02:05"


async def test_the_browser_explains_the_highlighted_feature_ahead_and_the_review_opens_on_it(project, monkeypatch):
    """A pending feature left highlighted is explained in the background (service/explanations.py);
    pressing v then opens the review on that answer, without explaining again."""
    calls: list[str] = []
    real = project.store.explain

    def explain(feature, *args, **kwargs):
        calls.append(str(feature))
        return real(feature, *args, **kwargs)

    monkeypatch.setattr(project.store, "explain", explain)
    app = MetaxyApp(project)
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(pilot)
        browser = app.screen
        assert isinstance(browser, BrowserScreen)
        tree = browser.query_one(FeatureTree)
        pending = [k for k in project.graph.plan().order() if tree.status(k) and tree.status(k).kind == "pending"]
        assert len(pending) >= 2, "the demo has pending work"
        # the demo opens on its first pending feature, and explains it ahead too
        await pilot.pause(0.6)
        await settle(pilot)
        assert calls == [browser.selected_feature]
        calls.clear()
        project.explanations.clear()
        # moving through the tree starts no explanation; staying on a feature does
        tree.select_feature(pending[0])
        tree.select_feature(pending[-1])
        await pilot.pause(0.6)
        await settle(pilot)
        assert calls == [pending[-1]]
        assert project.explanations.has(project, pending[-1])
        await pilot.press("v")
        screen = await open_review(pilot)
        assert screen.feature == pending[-1] and screen.model is not None and screen.model.total
        assert calls == [pending[-1]]
