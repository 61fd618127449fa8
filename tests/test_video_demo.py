"""The video_demo sample project: materialize, pending work, and what resolve_update reports."""

from __future__ import annotations

import importlib
import math
import time
from pathlib import Path

import polars as pl
import pytest

import metaxy_tui as mx

DEMO = Path(__file__).resolve().parent.parent / "sample_data" / "video_demo"
DERIVED = ["speaker/embedding", "video/chunk", "video/face_detection", "video/transcript"]


@pytest.fixture(scope="module")
def demo():
    """The demo's features in their own graph (other tests may define another `audio`), and its pipeline."""
    from metaxy_tui.service.demo import load_demo_modules

    graph, pipeline = load_demo_modules()
    generate_data = importlib.import_module("video_demo.generate_data")
    yield graph, pipeline, generate_data


@pytest.fixture
def store(demo, tmp_path):
    graph, pipeline, _ = demo
    s = mx.SQLiteMetadataStore(tmp_path / "demo.db", graph=graph)
    pipeline.materialize(s)
    s.open("w")
    yield s
    s.close()


def keys_of(frame, column: str) -> set:
    return set(frame.to_polars().get_column(column).to_list())


def n_chunks(duration_s: float) -> int:
    return max(1, math.ceil(duration_s / 10.0))


def test_materialize_writes_every_feature_and_leaves_nothing_pending(demo, tmp_path):
    graph, pipeline, _ = demo
    store = mx.SQLiteMetadataStore(tmp_path / "demo.db", graph=graph)
    calls = []
    t0 = time.perf_counter()
    report = pipeline.materialize(store, progress=lambda key, done, total: calls.append((key, done, total)))
    elapsed = time.perf_counter() - t0
    assert elapsed < 3.0, f"materialize took {elapsed:.2f} s (target: under 2 s)"

    assert calls[0] == ("", 0, 6) and [c[1] for c in calls] == list(range(7))
    order = [c[0] for c in calls[1:]]
    assert order.index("audio") < order.index("speaker/embedding")
    assert order.index("video") < order.index("video/chunk") < order.index("video/face_detection")

    videos = pipeline.read_videos()
    chunks = sum(n_chunks(d) for d in videos["duration_s"])
    assert {k: v["written"] for k, v in report.items()} == {
        "audio": 300,
        "video": 120,
        "speaker/embedding": 40,
        "video/chunk": chunks,
        "video/face_detection": chunks,
        "video/transcript": chunks,
    }
    with store:
        for key in DERIVED:
            inc = store.resolve_update(key)
            assert inc.is_empty, f"{key}: {inc!r}"
        assert store.resolve_update("audio", samples=pipeline.read_audio()).is_empty
        assert store.resolve_update("video", samples=videos).is_empty
        assert store.count("video/chunk") == chunks
        emb = store.read_metadata("speaker/embedding")
        per_speaker = pipeline.read_audio().group_by("speaker_id").len()
        joined = emb.join(per_speaker, on="speaker_id")
        assert joined.height == 40 and (joined["n_recordings"] == joined["len"]).all()
        assert (emb["n_dim"] == 512).all()
    # a second run finds nothing to do
    again = pipeline.materialize(store)
    assert all(c["written"] == 0 and c["deleted"] == 0 for c in again.values())


def test_chunks_carry_their_video_provenance(store):
    video = store.read_metadata("video", filters=pl.col("video_id") == "v0007")
    chunks = store.read_metadata("video/chunk", filters=pl.col("video_id") == "v0007").sort("chunk_id")
    assert chunks["chunk_id"].to_list() == list(range(n_chunks(video["duration_s"][0])))
    assert chunks["path"][3] == "chunks/v0007/0003.mp4"
    assert chunks["start_s"][3] == 30.0 and chunks["end_s"][3] == 40.0
    assert chunks["end_s"][-1] == video["duration_s"][0]
    # expansion: every chunk carries the provenance computed for its parent video (spec section 3)
    assert chunks["metaxy_provenance"].n_unique() == 1
    parent = video["metaxy_provenance_by_field"][0]
    for field in ("audio", "frames"):
        expected = store.hasher.hash("|".join([field, "__metaxy_initial__", f"video.{field}", parent[field]]))
        assert set(chunks["metaxy_provenance_by_field"].struct.field(field)) == {expected}


def test_pending_work_speakers(demo, store):
    _, pipeline, gen = demo
    touched = pipeline.make_pending_work(store)
    assert touched["audio_deleted"] == ["a0300"]

    audio = pipeline.read_audio()
    update = pipeline.read_audio(pipeline.DATA_DIR / "audio_update.csv")
    speaker_of = dict(zip(audio["audio_id"], audio["speaker_id"])) | dict(zip(update["audio_id"], update["speaker_id"]))
    old_speakers = set(audio["speaker_id"])
    written = touched["audio_changed"] + touched["audio_added"]
    assert "a0001" in touched["audio_changed"]
    expected_added = {speaker_of[a] for a in written} - old_speakers
    expected_changed = {speaker_of[a] for a in written} & old_speakers
    expected_removed = {speaker_of["a0300"]}
    assert expected_added == {"spk_041"} and expected_removed == {"spk_040"} and len(expected_changed) == 4

    inc = store.resolve_update("speaker/embedding")
    assert keys_of(inc.added, "speaker_id") == expected_added
    assert keys_of(inc.changed, "speaker_id") == expected_changed
    assert keys_of(inc.removed, "speaker_id") == expected_removed
    # aggregation frames hold one row per member recording
    members = inc.changed.to_polars().group_by("speaker_id").len()
    stored = (
        store.read_metadata("audio")
        .filter(pl.col("speaker_id").is_in(list(expected_changed)))
        .group_by("speaker_id")
        .len()
    )
    assert members.sort("speaker_id").equals(stored.sort("speaker_id"))
    assert len(inc.added) == 1  # a0301 only: spk_041's other recording is not written yet


def test_pending_work_prunes_by_field(demo, store):
    _, pipeline, gen = demo
    touched = pipeline.make_pending_work(store)
    frames_changed = set(touched["video_frames_changed"])
    audio_changed = set(touched["video_audio_changed"])
    assert len(frames_changed) == 2 and len(audio_changed) == 1 and not frames_changed & audio_changed

    chunk = store.resolve_update("video/chunk")
    assert keys_of(chunk.added, "video_id") == set(touched["video_added"]) == {"v0121"}
    assert len(chunk.added) == 1  # expansion frames: one row per parent video
    assert keys_of(chunk.changed, "video_id") == frames_changed | audio_changed
    assert len(chunk.removed) == 0

    # the chunk-level models only see the change once the chunks are rewritten
    assert store.resolve_update("video/face_detection").is_empty
    assert store.resolve_update("video/transcript").is_empty
    pipeline.materialize_feature(store, "video/chunk")

    durations = dict(store.read_metadata("video").select("video_id", "duration_s").iter_rows())
    faces = store.resolve_update("video/face_detection")
    assert keys_of(faces.changed, "video_id") == frames_changed
    assert len(faces.changed) == sum(n_chunks(durations[v]) for v in frames_changed)
    assert keys_of(faces.added, "video_id") == {"v0121"}  # the new video's chunks
    assert len(faces.removed) == 0

    text = store.resolve_update("video/transcript")
    assert keys_of(text.changed, "video_id") == audio_changed
    assert len(text.changed) == sum(n_chunks(durations[v]) for v in audio_changed)
    assert keys_of(text.added, "video_id") == {"v0121"}
    assert len(text.removed) == 0


def test_catching_up_after_pending_work(demo, store):
    _, pipeline, _ = demo
    pipeline.make_pending_work(store)
    report = pipeline.materialize(store, roots=False)
    assert set(report) == set(DERIVED)
    assert report["speaker/embedding"]["deleted"] == 1
    for key in DERIVED:
        assert store.resolve_update(key).is_empty, key
    emb = store.read_metadata("speaker/embedding")
    assert "spk_040" not in set(emb["speaker_id"])
    assert emb.filter(pl.col("speaker_id") == "spk_041")["n_recordings"].to_list() == [1]
    assert store.read_metadata("video/face_detection", filters=pl.col("video_id") == "v0121").height == 43


def test_full_materialize_reverts_to_the_data_files(demo, store):
    _, pipeline, _ = demo
    pipeline.make_pending_work(store)
    report = pipeline.materialize(store)
    assert report["audio"]["changed"] == 3 and report["audio"]["added"] == 1  # a0300 comes back
    assert report["audio"]["deleted"] == 2  # a0301, a0302 are not in the files
    assert report["video"]["changed"] == 3 and report["video"]["deleted"] == 1
    for key in DERIVED:
        assert store.resolve_update(key).is_empty, key
    assert store.count("audio") == 300 and store.count("video") == 120


def test_generated_files_match_the_generator(demo):
    _, pipeline, gen = demo
    frames = gen.generate()
    assert frames["videos"].equals(
        pl.read_csv(pipeline.DATA_DIR / "videos.csv", try_parse_dates=True, schema_overrides={"speaker_id": pl.String})
    )
    assert frames["audio"].equals(pl.read_parquet(pipeline.DATA_DIR / "audio.parquet"))
    assert frames["audio_update"].equals(pl.read_csv(pipeline.DATA_DIR / "audio_update.csv", try_parse_dates=True))
    assert frames["videos_update"].equals(pl.read_parquet(pipeline.DATA_DIR / "videos_update.parquet"))
    assert frames["videos"].height == 120 and frames["audio"].height == 300
    assert frames["audio"]["speaker_id"].n_unique() == 40
    update = frames["audio_update"]
    changed = update.filter(pl.col("audio_id").is_in(frames["audio"]["audio_id"].implode()))
    assert changed["audio_id"].to_list() == ["a0001", "a0042", "a0137"] and update.height == 8
