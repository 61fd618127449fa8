"""resolve_update through 1:N expansion, and field-level pruning on the video demo shape.

video (root; fields audio, frames) -> video/chunk (expansion on video_id; ids video_id,
chunk_id) -> video/faces (reads chunk.frames only), video/transcript (reads chunk.audio only).
"""

from __future__ import annotations

import polars as pl
import pytest

import metaxy_tui as mx

CHUNKS = 3


def declare():
    class Video(mx.BaseFeature, spec=mx.FeatureSpec(key="video", id_columns=["video_id"], fields=["audio", "frames"])):
        video_id: str
        path: str

    class Chunk(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="video/chunk",
            id_columns=["video_id", "chunk_id"],
            deps=[mx.FeatureDep(Video, lineage=mx.LineageRelationship.expansion(on=["video_id"]))],
            fields=["audio", "frames"],
        ),
    ):
        video_id: str
        chunk_id: int

    class Faces(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="video/faces",
            id_columns=["video_id", "chunk_id"],
            deps=[Chunk],
            fields=[mx.FieldSpec("faces", code_version="1", deps=[mx.FieldDep(feature=Chunk, fields=["frames"])])],
        ),
    ):
        video_id: str
        chunk_id: int

    class Transcript(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="video/transcript",
            id_columns=["video_id", "chunk_id"],
            deps=[Chunk],
            fields=[
                mx.FieldSpec("text", code_version="1", deps=[mx.FieldDep(feature="video/chunk", fields=["audio"])])
            ],
        ),
    ):
        video_id: str
        chunk_id: int

    return Video, Chunk, Faces, Transcript


def videos(*rows) -> pl.DataFrame:
    """videos(("v1", "a1", "f1"), ...): id, audio provenance, frames provenance."""
    return pl.DataFrame(
        [
            {"video_id": v, "path": f"{v}.mp4", "metaxy_provenance_by_field": {"audio": a, "frames": f}}
            for v, a, f in rows
        ]
    )


def split(frame, n: int = CHUNKS) -> pl.DataFrame:
    """What a chunker writes: n children per parent row, each carrying the parent's provenance."""
    rows = [
        {
            "video_id": r["video_id"],
            "chunk_id": k,
            "metaxy_provenance_by_field": r["metaxy_provenance_by_field"],
            "metaxy_provenance": r["metaxy_provenance"],
        }
        for r in frame
        for k in range(n)
    ]
    return pl.DataFrame(rows)


def keys(frame, *cols) -> list:
    df = frame.to_polars() if hasattr(frame, "to_polars") else frame
    return sorted(df.select(list(cols) or ["video_id"]).rows())


@pytest.fixture
def demo(make_store, graph, store_path):
    Video, Chunk, Faces, Transcript = declare()
    store = make_store(store_path)
    store.open("w")
    store.write(Video, videos(("v1", "a1", "f1"), ("v2", "a2", "f2")))
    store.write(Chunk, split(store.resolve_update(Chunk).added))
    for F in (Faces, Transcript):
        store.write(F, store.resolve_update(F).added)
    yield store, Video, Chunk, Faces, Transcript
    store.close()


def test_expansion_first_run_one_row_per_parent(make_store, graph, store_path):
    Video, Chunk, _, _ = declare()
    with make_store(store_path) as store:
        store.write(Video, videos(("v1", "a1", "f1"), ("v2", "a2", "f2")))
        inc = store.resolve_update(Chunk)
        assert inc.key == ("video_id",)
        assert keys(inc.added) == [("v1",), ("v2",)] and len(inc.added) == 2
        assert "path" in inc.added.columns  # the parent's columns come along for the chunker
        store.write(Chunk, split(inc.added))
        assert store.read(Chunk).height == 2 * CHUNKS
        assert store.resolve_update(Chunk).is_empty


def test_children_carry_the_parent_provenance(demo):
    store, _, Chunk, _, _ = demo
    stored = store.read(Chunk)
    per_parent = stored.group_by("video_id").agg(pl.col("metaxy_provenance").n_unique().alias("n"))
    assert per_parent.get_column("n").to_list() == [1, 1]


def test_downstream_of_expansion_is_per_child(demo):
    store, _, Chunk, Faces, _ = demo
    assert keys(store.read(Faces), "video_id", "chunk_id") == [(v, k) for v in ("v1", "v2") for k in range(CHUNKS)]
    assert store.resolve_update(Faces).is_empty


def test_parent_changed_one_row_per_parent(demo):
    store, Video, Chunk, _, _ = demo
    store.write(Video, videos(("v1", "a1", "f1b")))
    inc = store.resolve_update(Chunk)
    assert keys(inc.changed) == [("v1",)] and len(inc.changed) == 1
    assert len(inc.added) == 0 and len(inc.removed) == 0
    store.write(Chunk, split(inc.changed))
    assert store.resolve_update(Chunk).is_empty


def test_new_parent_added(demo):
    store, Video, Chunk, _, _ = demo
    store.write(Video, videos(("v3", "a3", "f3")))
    inc = store.resolve_update(Chunk)
    assert keys(inc.added) == [("v3",)] and len(inc.changed) == 0


def test_partially_rewritten_parent_stays_changed(demo):
    store, Video, Chunk, _, _ = demo
    store.write(Video, videos(("v1", "a1b", "f1")))
    inc = store.resolve_update(Chunk)
    store.write(Chunk, split(inc.changed).filter(pl.col("chunk_id") == 0))
    assert keys(store.resolve_update(Chunk).changed) == [("v1",)]


def test_children_that_disagree_leave_the_parent_changed_whichever_comes_first(demo):
    """One write holding a child computed from the new parent first, then children kept from the
    old one: the children disagree, so the parent is still changed (not judged by its first child)."""
    store, Video, Chunk, _, _ = demo
    kept = (
        store.read_metadata(Chunk)
        .filter((pl.col("video_id") == "v1") & (pl.col("chunk_id") != 0))
        .select("video_id", "chunk_id", "metaxy_provenance_by_field", "metaxy_provenance")
    )
    store.write(Video, videos(("v1", "a1b", "f1")))
    fresh = split(store.resolve_update(Chunk).changed).filter(pl.col("chunk_id") == 0)
    store.write(Chunk, pl.concat([fresh, kept], how="vertical_relaxed"))
    assert keys(store.resolve_update(Chunk).changed) == [("v1",)]


def test_parent_soft_deleted_children_reported_removed(demo):
    store, Video, Chunk, _, _ = demo
    store.delete(Video, ids=[{"video_id": "v1"}], soft=True)
    inc = store.resolve_update(Chunk)
    assert len(inc.added) == 0 and len(inc.changed) == 0
    assert {r["video_id"] for r in inc.removed} == {"v1"}
    assert store.read(Chunk).filter(pl.col("video_id") == "v1").height == CHUNKS  # never deleted automatically
    store.write(Video, videos(("v1", "a1", "f1")))
    assert store.resolve_update(Chunk).is_empty


def test_parent_hard_deleted(demo):
    store, Video, Chunk, _, _ = demo
    store.delete(Video, ids=[{"video_id": "v2"}], soft=False)
    assert {r["video_id"] for r in store.resolve_update(Chunk).removed} == {"v2"}


def _propagate_chunk(store, Chunk):
    inc = store.resolve_update(Chunk)
    assert keys(inc.changed) == [("v1",)]
    store.write(Chunk, split(inc.changed))


def test_audio_change_leaves_face_detection_untouched(demo):
    store, Video, Chunk, Faces, Transcript = demo
    store.write(Video, videos(("v1", "a1-new", "f1")))
    _propagate_chunk(store, Chunk)
    assert store.resolve_update(Faces).is_empty
    inc = store.resolve_update(Transcript)
    assert keys(inc.changed, "video_id", "chunk_id") == [("v1", k) for k in range(CHUNKS)]
    assert len(inc.added) == 0 and len(inc.removed) == 0


def test_frames_change_leaves_transcript_untouched(demo):
    store, Video, Chunk, Faces, Transcript = demo
    store.write(Video, videos(("v1", "a1", "f1-new")))
    _propagate_chunk(store, Chunk)
    assert store.resolve_update(Transcript).is_empty
    inc = store.resolve_update(Faces)
    assert keys(inc.changed, "video_id", "chunk_id") == [("v1", k) for k in range(CHUNKS)]


def test_chunk_field_provenance_moves_only_for_the_changed_field(demo):
    store, Video, Chunk, _, _ = demo
    before = store.read(Chunk).filter(pl.col("video_id") == "v1").row(0, named=True)["metaxy_provenance_by_field"]
    store.write(Video, videos(("v1", "a1", "f1-new")))
    after = store.resolve_update(Chunk).changed.to_polars().row(0, named=True)["metaxy_provenance_by_field"]
    assert after["audio"] == before["audio"] and after["frames"] != before["frames"]


def test_more_children_than_before(demo):
    """A parent may yield a different number of children on recompute; the children are ids."""
    store, Video, Chunk, Faces, _ = demo
    store.write(Video, videos(("v1", "a1", "f1-new")))
    store.write(Chunk, split(store.resolve_update(Chunk).changed, n=CHUNKS + 1))
    inc = store.resolve_update(Faces)
    assert keys(inc.added, "video_id", "chunk_id") == [("v1", CHUNKS)]
    assert keys(inc.changed, "video_id", "chunk_id") == [("v1", k) for k in range(CHUNKS)]


def test_a_parent_deleted_and_written_again_is_explained_once(demo):
    """Its chunks were removed (a tombstone per chunk): the parent comes back as one added sample,
    with one reason, that it was deleted here."""
    store, Video, Chunk, _, _ = demo
    store.delete(Video, ids=[{"video_id": "v1"}])
    store.delete(Chunk, ids=store.resolve_update(Chunk).removed)
    store.write(Video, videos(("v1", "a1", "f1")))
    inc = store.resolve_update(Chunk)
    assert keys(inc.added) == [("v1",)]
    reasons = store.explain(Chunk).reasons
    assert [(r.status, r.key["video_id"], r.kind) for r in reasons] == [("added", "v1", "deleted_here")]
