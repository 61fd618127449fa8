"""The blast radius of a definition change and of an approval, computed without writing."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest

from metaxy_tui.graph import FeatureGraph
from metaxy_tui.service import review
from metaxy_tui.service.impact import approval_impact, definition_impact, sample_moves
from metaxy_tui.service.project import open_project
from tests.trace_pipeline import build


def bumped(snapshot: dict, feature: str, fld: str, code_version: str) -> FeatureGraph:
    snap = copy.deepcopy(snapshot)
    for f in snap["features"]:
        if f["key"] == feature:
            for spec in f["fields"]:
                if spec["key"] == fld:
                    spec["code_version"] = code_version
    return FeatureGraph.from_snapshot(snap)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def clips(graph, store_path):
    build(store_path, pending=False).close()
    project = open_project(db=store_path, mode="r")
    yield project
    project.close()


def test_a_field_change_reaches_exactly_the_fields_that_read_it(clips, store_path):
    before = digest(store_path)
    snap = clips.store.snapshot()
    old = FeatureGraph.from_snapshot(snap)
    impact = definition_impact(clips, old, bumped(snap, "doc", "meta", "2"))
    [change] = impact.changes
    assert (change.feature, change.field, change.change) == ("doc", "meta", "code_version")
    assert [(s.feature, s.fields, s.count) for s in change.stale] == [("doc", ["meta"], 6), ("doc/page", ["meta"], 14)]
    assert change.stale[0].sample_ids[:2] == [{"doc_id": "d01"}, {"doc_id": "d02"}]
    assert change.stale[1].via == ["meta ← doc.meta"]
    # the profile and the embeddings read only text: they stay valid
    assert [u.split(":")[0] for u in change.unaffected] == ["author/profile", "doc/page_embedding"]
    assert impact.total == 20 and digest(store_path) == before  # nothing written


def test_a_text_change_moves_the_whole_chain(clips):
    snap = clips.store.snapshot()
    impact = definition_impact(clips, FeatureGraph.from_snapshot(snap), bumped(snap, "doc", "text", "2"))
    assert [(s.feature, s.fields, s.count) for s in impact.features] == [
        ("doc", ["text"], 6),
        ("author/profile", ["summary"], 2),
        ("doc/page", ["text"], 14),
        ("doc/page_embedding", ["vec"], 14),
    ]
    assert impact.changes[0].unaffected == []
    data = impact.to_dict()
    assert data["total"] == 36 and data["features"][3]["via"] == ["vec ← doc/page.text"]


def test_a_downstream_code_change_stays_downstream(clips):
    snap = clips.store.snapshot()
    impact = definition_impact(clips, FeatureGraph.from_snapshot(snap), bumped(snap, "author/profile", "summary", "2"))
    assert [(s.feature, s.count) for s in impact.features] == [("author/profile", 2)]


def test_added_and_removed_features(clips):
    snap = clips.store.snapshot()
    fewer = copy.deepcopy(snap)
    fewer["features"] = [f for f in fewer["features"] if f["key"] != "doc/page_embedding"]
    impact = definition_impact(clips, FeatureGraph.from_snapshot(snap), FeatureGraph.from_snapshot(fewer))
    assert [(c.change, c.note) for c in impact.changes] == [
        ("feature_removed", "its stored samples stay in the store as history")
    ]
    impact = definition_impact(clips, FeatureGraph.from_snapshot(fewer), FeatureGraph.from_snapshot(snap))
    assert impact.changes[0].change == "feature_added" and impact.total == 0


def test_demo_frames_change_leaves_transcripts_alone(project):
    snap = project.store.snapshot()
    impact = definition_impact(project, FeatureGraph.from_snapshot(snap), bumped(snap, "video", "frames", "2"))
    assert [s.feature for s in impact.features] == ["video", "video/chunk", "video/face_detection"]
    assert [u.split(":")[0] for u in impact.changes[0].unaffected] == ["video/transcript"]


def test_approval_reaches_linked_samples_reading_the_moved_fields(project):
    ex = review.explain(project, "video/chunk")
    moves = sample_moves(project, "video/chunk", ex.reasons)
    assert sorted(m for _k, fs in moves for m in fs if _k == {"video_id": "v0007"}) == ["frames"]
    radius = approval_impact(project, "video/chunk", moves)
    faces = next(s for s in radius.stale if s.feature == "video/face_detection")
    transcripts = next(s for s in radius.stale if s.feature == "video/transcript")
    # v0007 and v0042 moved frames (faces), v0099 moved audio (transcripts); v0121 is new (nothing downstream)
    assert {i["video_id"] for i in faces.sample_ids} <= {"v0007", "v0042"}
    assert transcripts.sample_ids[0]["video_id"] == "v0099"
    frames_only = [m for m in moves if m[1] == ["frames"]]
    assert [s.feature for s in approval_impact(project, "video/chunk", frames_only).stale] == ["video/face_detection"]
    n_faces = project.store.count("video/face_detection")
    assert 0 < faces.count < n_faces


def test_approval_without_downstream(project):
    ex = review.explain(project, "speaker/embedding")
    radius = approval_impact(project, "speaker/embedding", sample_moves(project, "speaker/embedding", ex.reasons))
    assert radius.stale == [] and radius.total == 0 and radius.fields == ["embedding"]
