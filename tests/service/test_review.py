"""The review loop on the demo: why samples are stale, recompute, accept, delete removed, audit."""

from __future__ import annotations

import polars as pl

from metaxy_tui.service import review
from metaxy_tui.service.demo import open_demo_project

A0001_NEW = {"default": "changed-a0001-for-test"}


def speaker_of(project, audio_id: str) -> str:
    return project.store.read_metadata("audio").filter(pl.col("audio_id") == audio_id).item(0, "speaker_id")


def change_audio(project, audio_id: str, pbf: dict) -> None:
    row = project.store.read_metadata("audio").filter(pl.col("audio_id") == audio_id)
    # a frame read back carries its data versions: drop them, or they would stay (early cutoff)
    row = row.drop("metaxy_provenance", "metaxy_data_version_by_field", "metaxy_data_version")
    project.store.write_metadata(
        "audio", row.with_columns(pl.lit(pl.Series([pbf])).alias("metaxy_provenance_by_field"))
    )


def catch_up(project, feature):
    """Bring a feature up to date through the review actions themselves."""
    review.recompute(project, feature)
    review.delete_removed(project, feature)
    assert project.store.pending_counts(feature) == {"added": 0, "changed": 0, "removed": 0}


def test_reason_names_the_changed_recording_and_recompute_clears_it(project):
    catch_up(project, "speaker/embedding")
    speaker = speaker_of(project, "a0001")
    change_audio(project, "a0001", A0001_NEW)

    ex = review.explain(project, "speaker/embedding")
    reason = ex.for_key({"speaker_id": speaker})
    assert reason is not None and reason.status == "changed" and reason.kind == "upstream_changed"
    assert any(
        u.feature == "audio" and u.ids == {"audio_id": "a0001"} and u.change == "changed" for u in reason.upstream
    )
    assert "a0001" in reason.summary
    assert [m.field for m in reason.fields] == ["embedding"] and reason.fields[0].because == ["audio.default"]

    result = review.recompute(project, "speaker/embedding", [{"speaker_id": speaker}])
    assert result.outcome == "ok" and result.done == 1
    assert project.store.pending_counts("speaker/embedding") == {"added": 0, "changed": 0, "removed": 0}
    log = project.store.audit_log(feature="speaker/embedding")
    entry = log.row(0, named=True)
    assert entry["action"] == "recompute" and entry["outcome"] == "ok" and entry["n_samples"] == 1
    assert speaker in entry["ids"] and entry["feature_version"] == project.graph.feature_version("speaker/embedding")
    assert entry["user"] and entry["duration_s"] >= 0


def test_a_failing_batch_is_reported_with_its_ids_and_the_others_commit(project):
    before = project.store.pending_counts("video/chunk")
    n = before["added"] + before["changed"]
    assert n >= 3
    calls = []

    def flaky(rows: pl.DataFrame) -> pl.DataFrame:
        calls.append(rows)
        if len(calls) == 2:
            raise RuntimeError("GPU on fire")
        from video_demo.pipeline import compute_chunks

        return compute_chunks(rows)

    result = review.recompute(project, "video/chunk", batch_size=1, fn=flaky)
    failing = calls[1].get_column("video_id")[0]
    assert result.outcome == "failed" and "GPU on fire" in result.error and "RuntimeError" in result.traceback
    assert result.failing == [{"video_id": failing}] and result.failed_batches == 1
    assert result.done == n - 1 and result.batches == n - 1 and result.executor == "local"
    after = project.store.pending_counts("video/chunk")
    assert after["added"] + after["changed"] == 1
    assert review.recompute(project, "video/chunk").done == 1  # the failed sample is still pending, nothing else
    entry = project.store.audit_log(feature="video/chunk").row(1, named=True)
    assert entry["outcome"] == "failed" and "GPU on fire" in entry["detail"] and entry["executor"] == "local"
    assert f"failing samples (1, in 1 batch): {failing}" in entry["detail"] and entry["n_samples"] == n - 1


def test_cancelling_mid_recompute_leaves_a_consistent_store(project):
    pending = sum(project.store.pending_counts("video/chunk").values())
    state = {"batches": 0}

    def progress(done, total):
        state["batches"] += 1

    result = review.recompute(
        project, "video/chunk", batch_size=1, progress=progress, cancelled=lambda: state["batches"] >= 2
    )
    assert result.outcome == "cancelled" and result.done == 2
    counts = project.store.pending_counts("video/chunk")
    assert sum(counts.values()) == pending - 2
    # every chunk of a parent carries one provenance: no half-written parent
    chunks = project.store.read_metadata("video/chunk")
    assert (
        chunks.group_by("video_id").agg(pl.col("metaxy_provenance").n_unique()).get_column("metaxy_provenance").max()
        == 1
    )
    assert project.store.audit_log(feature="video/chunk").row(0, named=True)["outcome"] == "cancelled"


def test_accept_carries_stored_outputs_to_a_new_feature_version(demo_store):
    from metaxy_tui.service.demo import load_demo_modules
    import metaxy_tui as mx

    project = open_demo_project(demo_store)
    catch_up(project, "speaker/embedding")
    before = project.store.read_metadata("speaker/embedding").sort("speaker_id")
    project.close()
    graph, _ = load_demo_modules()
    bumped = mx.FeatureGraph()
    for key in graph.keys:
        d = graph.definition(key)
        if key == "speaker/embedding":
            spec = d.spec.to_dict()
            spec["fields"][0]["code_version"] = "2"
            d = mx.FeatureDefinition.build(mx.FeatureSpec.from_dict(spec), d.columns, d.description, None, "test")
        bumped.add(d)
    store = mx.SQLiteMetadataStore(demo_store, graph=bumped)
    store.open("w")
    from metaxy_tui.service.project import Project

    p2 = Project(store, bumped, bumped, store.stored_graph(), "test")
    ex = review.explain(p2, "speaker/embedding")
    assert ex.counts()["added"] == before.height
    reason = ex.reasons[0]
    assert reason.kind == "feature_version"
    assert reason.definition[0].field == "embedding" and "code_version 1 → 2" in reason.definition[0].cause
    result = review.accept(p2, "speaker/embedding")
    assert result.outcome == "ok" and result.done == before.height and result.skipped == 0
    after = p2.store.read_metadata("speaker/embedding").sort("speaker_id")
    assert after.select("speaker_id", "n_dim", "path", "n_recordings").equals(
        before.select("speaker_id", "n_dim", "path", "n_recordings")
    )
    assert set(after.get_column("metaxy_feature_version")) == {bumped.feature_version("speaker/embedding")}
    assert p2.store.pending_counts("speaker/embedding") == {"added": 0, "changed": 0, "removed": 0}
    p2.close()


def test_accept_skips_samples_never_computed(project):
    counts = project.store.pending_counts("speaker/embedding")
    assert counts["added"] >= 1
    result = review.accept(project, "speaker/embedding")
    assert result.skipped == counts["added"] and result.done == counts["changed"]
    assert project.store.pending_counts("speaker/embedding")["added"] == counts["added"]


def test_delete_removed_and_walk_downstream(project):
    review.approve_all_pending(project)
    project.store.delete_metadata("video", ids=[{"video_id": "v0001"}])
    review.recompute(project, "video/chunk")
    result = review.delete_removed(project, "video/chunk")
    assert result.outcome == "ok" and result.done == 1  # one parent, all of its chunks
    assert project.store.read_metadata("video/chunk").filter(pl.col("video_id") == "v0001").height == 0
    down = review.downstream_removals(project, "video/chunk")
    assert set(down) == {"video/face_detection", "video/transcript"}
    assert down["video/face_detection"] == down["video/transcript"] > 0


def test_pending_upstream_and_approve_all_in_topological_order(project):
    assert "video/chunk" in review.pending_upstream(project, "video/face_detection")
    results = review.approve_all_pending(project)
    order = [r.feature for r in results if r.action == "recompute"]
    assert order.index("video/chunk") < order.index("video/face_detection")
    assert all(r.outcome in ("ok", "nothing to do") for r in results)
    for key in project.graph.plan().order():
        if not project.graph.plan()[key].is_root:
            assert project.store.pending_counts(key) == {"added": 0, "changed": 0, "removed": 0}, key
    assert review.pending_upstream(project, "video/face_detection") == []
