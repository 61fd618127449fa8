"""`metaxy-tui` on a project's code (global --config / --store), as real subprocesses.

Loading a project imports its entrypoint modules, which register features in the process's
active graph, so these runs get a process each. Every project is a copy in tmp_path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import SAMPLE_DATA, env, mx

# the seed page's `metaxy graph render --format mermaid`: node and edge lines, exactly
SEED_MERMAID = [
    'audio["<div style="text-align:left"><b>audio</b><br/>c9762705<br/><font color="#999">---</font><br/>'
    '- default (80200592)</div>"]',
    'speaker_embedding["<div style="text-align:left"><b>speaker/embedding</b><br/>83296faf<br/>'
    '<font color="#999">---</font><br/>- embedding (8b5b20fb)</div>"]',
    "audio --> speaker_embedding",
]


def ok(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    return p.stdout


def speakers(tmp_path: Path) -> Path:
    """A copy of sample_data/speakers (the seed project) without any store."""
    target = tmp_path / "speakers"
    shutil.copytree(SAMPLE_DATA / "speakers", target, ignore=shutil.ignore_patterns("__pycache__", "*.db*"))
    return target


def video_project(tmp_path: Path, demo_store: Path, *, with_pipeline: bool) -> Path:
    """A copy of sample_data/video_demo whose dev store is a copy of the demo store.

    with_pipeline: the entrypoints name video_demo.pipeline, where the demo's compute functions
    are registered (the shipped metaxy.toml does); without it, only the features module.
    """
    target = tmp_path / "video_demo"
    shutil.copytree(SAMPLE_DATA / "video_demo", target, ignore=shutil.ignore_patterns("__pycache__", "*.db*"))
    toml = (target / "metaxy.toml").read_text()
    assert '"video_demo.pipeline"' in toml
    if not with_pipeline:
        (target / "metaxy.toml").write_text(toml.replace(', "video_demo.pipeline"', ""))
    shutil.copyfile(demo_store, target / "demo.db")
    return target


def test_mermaid_of_the_seed_project_is_the_seeds(tmp_path):
    project = speakers(tmp_path)
    out = ok(mx(tmp_path, "--config", str(project / "metaxy.toml"), "graph", "--format", "mermaid"))
    lines = [line.strip() for line in out.splitlines()]
    assert lines[:4] == ["---", "title: Feature Graph", "---", "flowchart TB"]
    assert [line for line in lines if '["' in line or "-->" in line] == SEED_MERMAID
    assert not (project / "metadata.db").exists()  # reading a project never creates its store


def test_seed_project_from_its_folder_and_python_m(tmp_path):
    project = speakers(tmp_path)
    p = subprocess.run(
        [sys.executable, "-m", "metaxy_tui", "list", "--format", "json"],
        cwd=project,
        env=env(tmp_path),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert json.loads(ok(p)) == [
        {"feature": "audio", "version": "c9762705", "fields": {"default": "80200592"}, "deps": []},
        {"feature": "speaker/embedding", "version": "83296faf", "fields": {"embedding": "8b5b20fb"}, "deps": ["audio"]},
    ]


def test_push_then_diff_shows_a_code_version_bump(tmp_path):
    project = speakers(tmp_path)
    config = ["--config", str(project / "metaxy.toml")]
    out = ok(mx(tmp_path, *config, "push"))
    assert out.strip().startswith("snapshot 1: project version ") and out.strip().endswith(" recorded")
    assert (project / "metadata.db").is_file()
    assert "already recorded" in ok(mx(tmp_path, *config, "push"))
    assert ok(mx(tmp_path, *config, "diff")).splitlines()[1:] == ["no changes"]

    features = project / "example_aggregation" / "features.py"
    code = features.read_text()
    assert code.count('code_version="1"') == 1
    features.write_text(code.replace('code_version="1"', 'code_version="2"'))

    out = ok(mx(tmp_path, *config, "diff"))
    assert out.splitlines()[0].endswith("-> code")
    assert "speaker/embedding: version 83296faf -> " in out
    assert "field embedding: code_version 1 -> 2 (version 8b5b20fb -> " in out
    assert "audio" not in out.replace("audio.default", "")  # the root did not change

    data = json.loads(ok(mx(tmp_path, *config, "diff", "--format", "json")))
    assert set(data) >= {"from", "to", "changes"} and data["to"] == "code"
    [change] = data["changes"]
    assert set(change) >= {"feature", "change", "old_version", "new_version", "fields", "other", "consequence"}
    assert (change["feature"], change["change"]) == ("speaker/embedding", "changed")
    assert change["old_version"].startswith("83296faf") and change["new_version"] != change["old_version"]
    [field] = change["fields"]
    assert set(field) >= {"field", "change", "old_code_version", "new_code_version", "old_version", "new_version"}
    assert (field["field"], field["change"], field["old_code_version"], field["new_code_version"]) == (
        "embedding",
        "changed",
        "1",
        "2",
    )
    assert field["old_version"].startswith("8b5b20fb")

    # recorded, the two snapshots differ the same way, and the code is in sync again
    assert ok(mx(tmp_path, *config, "push")).startswith("snapshot 2: ")
    data12 = json.loads(ok(mx(tmp_path, *config, "diff", "1", "2", "--format", "json")))
    assert data12["changes"][0]["fields"] == data["changes"][0]["fields"]
    assert ok(mx(tmp_path, *config, "diff")).splitlines()[1:] == ["no changes"]


def test_store_option_picks_a_named_store(tmp_path):
    project = speakers(tmp_path)
    toml = project / "metaxy.toml"
    toml.write_text(toml.read_text() + '\n[stores.other]\ntype = "sqlite"\n[stores.other.config]\npath = "other.db"\n')
    ok(mx(tmp_path, "--config", str(toml), "--store", "other", "push"))
    assert (project / "other.db").is_file() and not (project / "metadata.db").exists()
    p = mx(tmp_path, "--config", str(toml), "--store", "nosuch", "status")
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [
        f"metaxy-tui: error: no store named 'nosuch' in {toml.resolve()} (stores: dev, other)"
    ]


def test_approve_recompute_one_speaker_then_history(tmp_path, demo_store):
    project = video_project(tmp_path, demo_store, with_pipeline=True)
    config = ["--config", str(project / "metaxy.toml")]
    out = ok(mx(tmp_path, *config, "approve", "speaker/embedding", "--recompute", "--ids", "spk_019", "--yes"))
    assert out.strip() == "recompute speaker/embedding: 1 of 1 samples, ok"
    [entry] = json.loads(ok(mx(tmp_path, *config, "history", "--format", "json")))
    assert (entry["action"], entry["feature"], entry["n_samples"], entry["ids"], entry["outcome"]) == (
        "recompute",
        "speaker/embedding",
        1,
        [{"speaker_id": "spk_019"}],
        "ok",
    )
    pending = json.loads(ok(mx(tmp_path, *config, "resolve", "speaker/embedding", "--format", "json")))
    assert pending["counts"] == {"added": 1, "changed": 3, "removed": 1}
    assert "spk_019" not in {s["speaker_id"] for s in pending["samples"]}


def test_assert_in_sync_before_and_after_approve_all_pending(tmp_path, demo_store):
    project = video_project(tmp_path, demo_store, with_pipeline=True)
    config = ["--config", str(project / "metaxy.toml")]
    p = mx(tmp_path, *config, "status", "--assert-in-sync")
    assert p.returncode == 1 and "not in sync" in p.stderr
    out = ok(mx(tmp_path, *config, "approve", "--all-pending", "--yes"))
    assert "recompute speaker/embedding: 5 of 5 samples, ok" in out  # the seed's four changed plus spk_041
    assert "delete_removed speaker/embedding: 1 of 1 samples, ok" in out
    assert "recompute video/transcript" in out
    p = mx(tmp_path, *config, "status", "--assert-in-sync", "--format", "json")
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert {s["status"] for s in json.loads(p.stdout)} == {"root", "up_to_date"}
    assert all(e["outcome"] == "ok" for e in json.loads(ok(mx(tmp_path, *config, "history", "--format", "json"))))


@pytest.mark.parametrize("route", ["db", "shipped_config"])
def test_demo_store_recompute_as_documented(tmp_path, demo_store, route):
    if route == "db":
        opts = ["--db", str(demo_store)]
    else:
        opts = ["--config", str(video_project(tmp_path, demo_store, with_pipeline=True) / "metaxy.toml")]
    p = mx(tmp_path, *opts, "approve", "speaker/embedding", "--recompute", "--ids", "spk_019", "--yes")
    assert p.returncode == 0, p.stdout + p.stderr
    ok(mx(tmp_path, *opts, "approve", "--all-pending", "--yes"))
    assert mx(tmp_path, *opts, "status", "--assert-in-sync").returncode == 0
