"""`trace` and `diff --impact`: on the demo store (in process) and on the clips pipeline, an
aggregation + expansion project run as real subprocesses (tests/fixtures/trace_pipeline)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import SAMPLE_DATA, env, mx
from tests.cli.test_cli_commands import ok, one_error, run

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "trace_pipeline"


def done(p: subprocess.CompletedProcess) -> str:
    """A subprocess's output, once it succeeded."""
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    return p.stdout


# ----- the demo ------------------------------------------------------------------------------------


def test_trace_text_on_the_demo(demo_store):
    out = ok(run(demo_store, "trace", "video/chunk", "video_id=v0007,chunk_id=0"))
    lines = out.splitlines()
    assert lines[0] == "video/chunk  video_id=v0007 · chunk_id=0  stale"
    assert "changed upstream: frames moved" in lines[1]
    assert "frames " in lines[3] and "✗ moved" in lines[3] and "audio " in lines[3]
    assert "↑ computed from" in out and "└─ video · expansion on video_id=v0007 · its parent · 1 sample" in out
    assert "├─ video/face_detection · identity on video_id=v0007 · chunk_id=0" in out
    assert "faces ← video/chunk.frames" in out and "text ← video/chunk.audio" in out


def test_trace_json_of_an_aggregation_member(demo_store):
    data = json.loads(ok(run(demo_store, "trace", "audio", "a0002", "--format", "json")))
    assert data["feature"] == "audio" and data["ids"] == {"audio_id": "a0002"} and data["depth"] is None
    sample = data["sample"]
    assert sample["state"] == "current" and sample["upstream"] == []
    [group] = sample["downstream"]
    assert (group["feature"], group["lineage"], group["relation"]) == (
        "speaker/embedding",
        "aggregation",
        "the group it belongs to",
    )
    [speaker] = group["samples"]
    assert speaker["ids"] == {"speaker_id": group["on"]["speaker_id"]}
    assert set(speaker) >= {"state", "detail", "provenance", "data_version", "feature_version", "fields"}


def test_trace_limit_depth_and_several_ids(demo_store):
    data = json.loads(
        ok(
            run(
                demo_store,
                "trace",
                "speaker/embedding",
                "spk_011",
                "spk_001",
                "--limit",
                "3",
                "--depth",
                "1",
                "--format",
                "json",
            )
        )
    )
    assert [d["ids"]["speaker_id"] for d in data] == ["spk_011", "spk_001"]
    members = data[0]["sample"]["upstream"][0]
    assert members["relation"] == "the members of its group"
    assert members["shown"] == 3 and members["more"] == members["total"] - 3 > 0
    assert "upstream" not in members["samples"][0]  # --depth 1: the members are not walked further
    text = ok(run(demo_store, "trace", "speaker/embedding", "spk_011", "--limit", "3"))
    assert f"└─ … and {members['more']:,} more (--limit)" in text


def test_trace_errors(demo_store):
    assert "unknown feature 'nope'" in one_error(run(demo_store, "trace", "nope", "x"))
    msg = one_error(run(demo_store, "trace", "audio", "zzz"))
    assert "audio has no sample audio_id=zzz (its first ids: audio_id=a0001" in msg
    assert "several columns" in one_error(run(demo_store, "trace", "video/chunk", "v0001"), code=2)
    assert "'x' is not a int" in one_error(run(demo_store, "trace", "video/chunk", "video_id=v0001,chunk_id=x"))
    assert run(demo_store, "trace", "audio").exit_code == 2  # an id is required


def video_project(tmp_path: Path, demo_store: Path) -> Path:
    target = tmp_path / "video_demo"
    shutil.copytree(SAMPLE_DATA / "video_demo", target, ignore=shutil.ignore_patterns("__pycache__", "*.db*"))
    shutil.copyfile(demo_store, target / "demo.db")
    return target


def test_diff_code_impact_on_the_demo(tmp_path, demo_store):
    project = video_project(tmp_path, demo_store)
    features = project / "video_demo" / "features.py"
    code = features.read_text()
    assert code.count('fields=["audio", "frames"],') == 2
    # the chunk's frames field gets a code version of its own
    features.write_text(
        code.replace(
            """        # no field deps: each field maps to the video field with the same key
        fields=["audio", "frames"],""",
            """        fields=["audio", mx.FieldSpec(key="frames", code_version="2")],""",
        )
    )
    out = done(mx(tmp_path, "diff", "code", "--impact", cwd=project))
    assert out.splitlines()[0].endswith("-> code")
    assert "impact of field frames (code version): 7,666 stale" in out
    assert "video/chunk [frames]: 3,833 samples (e.g. video_id=v0001 · chunk_id=0;" in out
    assert "video/face_detection [faces]: 3,833 samples" in out
    assert "unaffected: video/transcript: reads only video/chunk.audio" in out
    assert "blast radius: 7,666 stored samples in 2 features would be stale" in out

    data = json.loads(done(mx(tmp_path, "diff", "--impact", "--format", "json", cwd=project)))
    chunk = next(c for c in data["changes"] if c["feature"] == "video/chunk")
    [impact] = chunk["impact"]
    assert (impact["field"], impact["change"], impact["total"]) == ("frames", "code_version", 7666)
    assert [(s["feature"], s["fields"], s["count"]) for s in impact["stale"]] == [
        ("video/chunk", ["frames"], 3833),
        ("video/face_detection", ["faces"], 3833),
    ]
    assert len(impact["stale"][0]["sample_ids"]) == 5
    assert data["impact"]["total"] == 7666
    faces = next(c for c in data["changes"] if c["feature"] == "video/face_detection")
    assert faces["impact"] == []  # moved by the chunk's change, counted there
    r = mx(tmp_path, "diff", "--impact", "--format", "mermaid", cwd=project)
    assert r.returncode == 2 and "--impact shows in the terminal and json" in r.stderr


# ----- an aggregation + expansion pipeline ------------------------------------------------------


@pytest.fixture
def clips(tmp_path) -> Path:
    project = tmp_path / "clips"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("__pycache__", "*.db*"))
    done = subprocess.run(
        [sys.executable, "build.py"], cwd=project, env=env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return project


def test_trace_across_aggregation_and_expansion(tmp_path, clips):
    data = json.loads(done(mx(tmp_path, "trace", "doc", "d02", "--format", "json", cwd=clips)))
    down = {link["feature"]: link for link in data["sample"]["downstream"]}
    assert down["author/profile"]["lineage"] == "aggregation" and down["author/profile"]["on"] == {"author": "alice"}
    assert down["author/profile"]["samples"][0]["state"] == "stale"
    pages = down["doc/page"]
    assert pages["lineage"] == "expansion" and [s["ids"] for s in pages["samples"]] == [
        {"page_id": "d02-p1"},
        {"page_id": "d02-p2"},
    ]  # children keyed by their own id
    assert pages["samples"][0]["downstream"][0]["samples"][0]["state"] == "current"

    out = done(mx(tmp_path, "trace", "author/profile", "bob", cwd=clips))
    assert out.splitlines()[0] == "author/profile  author=bob  stale"
    assert "└─ doc · aggregation on author=bob · the members of its group · 1 sample" in out
    out = done(mx(tmp_path, "trace", "doc/page", "d05-p1", cwd=clips))
    assert "orphaned" in out.splitlines()[0] and "no live sample of doc matches" in out
    out = done(mx(tmp_path, "trace", "doc", "d06", "--depth", "1", cwd=clips))
    assert "aggregation on author=null" in out and "it belongs to no group" in out
    assert "… further down not walked (--depth)" in out


def test_diff_impact_of_the_clips_pipeline(tmp_path, clips):
    features = clips / "clips" / "features.py"
    code = features.read_text()
    old = 'key="doc", id_columns=["doc_id"], fields=["text", "meta"]'
    assert old in code
    features.write_text(
        code.replace(
            old, 'key="doc", id_columns=["doc_id"], fields=["text", mx.FieldSpec(key="meta", code_version="2")]'
        )
    )
    data = json.loads(done(mx(tmp_path, "diff", "code", "--impact", "--format", "json", cwd=clips)))
    [impact] = next(c for c in data["changes"] if c["feature"] == "doc")["impact"]
    assert [(s["feature"], s["fields"], s["count"]) for s in impact["stale"]] == [
        ("doc", ["meta"], 5),
        ("doc/page", ["meta"], 14),
    ]
    assert [u.split(":")[0] for u in impact["unaffected"]] == ["author/profile", "doc/page_embedding"]
