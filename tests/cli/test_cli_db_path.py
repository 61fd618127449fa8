"""`--db PATH` with a path that does not exist yet (issue 13, item 4).

Commands that write (import, demo, approve, push) create the store there, with the features of
the project in the current folder; commands that only read (status, list, resolve, the TUI)
refuse with "no store at PATH" and create nothing, so a typo leaves no file behind.
Real subprocesses: loading a project registers its features in the process.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.helpers import SAMPLE_DATA, mx


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def video_project(tmp_path: Path) -> Path:
    """A copy of sample_data/video_demo with no store."""
    target = tmp_path / "video_demo"
    shutil.copytree(SAMPLE_DATA / "video_demo", target, ignore=shutil.ignore_patterns("__pycache__", "*.db*"))
    return target


def statuses(tmp_path: Path, db: Path, cwd: Path) -> dict[str, dict]:
    p = mx(tmp_path, "--db", str(db), "status", "--format", "json", cwd=cwd)
    assert p.returncode == 0, p.stderr
    return {row["feature"]: row for row in json.loads(p.stdout)}


FEATURES = {"audio", "speaker/embedding", "video", "video/chunk", "video/face_detection", "video/transcript"}


def test_import_creates_the_store_with_the_projects_features(tmp_path, video_project):
    db = tmp_path / "new" / "fresh.db"
    p = mx(tmp_path, "--db", str(db), "import", "audio", "data/audio_update.csv", cwd=video_project)
    assert p.returncode == 0, p.stderr
    rows = statuses(tmp_path, db, video_project)
    assert set(rows) == FEATURES
    assert rows["audio"]["rows"] == sum(1 for _ in (video_project / "data" / "audio_update.csv").open()) - 1
    # read from elsewhere, without the code: the store recorded its graph
    assert set(statuses(tmp_path, db, tmp_path)) == FEATURES


@pytest.mark.parametrize("args", [["approve", "--all-pending", "--yes"], ["push"]])
def test_writers_create_the_store_with_the_projects_features(tmp_path, video_project, args):
    db = tmp_path / "fresh.db"
    p = mx(tmp_path, "--db", str(db), *args, cwd=video_project)
    assert p.returncode == 0, p.stderr
    assert set(statuses(tmp_path, db, tmp_path)) == FEATURES


def test_demo_honours_the_global_db(tmp_path):
    db = tmp_path / "demo here.db"
    p = mx(tmp_path, "--db", str(db), "demo", "--no-tui")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(db)
    assert set(statuses(tmp_path, db, tmp_path)) == FEATURES


READERS = [
    ["status"],
    ["list"],
    ["resolve", "speaker/embedding"],
    ["describe", "audio"],
    ["history"],
    ["import", "audio", "data/audio_update.csv", "--dry-run"],
    [],
]  # []: the TUI


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a) or "tui")
def test_readers_refuse_a_missing_store_even_in_a_project_folder(tmp_path, video_project, args):
    db = tmp_path / "typo.db"
    before = files(video_project)
    p = mx(tmp_path, "--db", str(db), *args, cwd=video_project)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [p.stderr.strip()]
    assert p.stderr.startswith(f"metaxy-tui: error: no store at {db}")
    assert files(tmp_path) == ["video_demo"] and files(video_project) == before


def test_a_mistyped_feature_creates_nothing(tmp_path, video_project):
    db = tmp_path / "fresh.db"
    p = mx(tmp_path, "--db", str(db), "import", "audoi", "data/audio_update.csv", cwd=video_project)
    assert p.returncode == 1 and "unknown feature 'audoi'" in p.stderr
    p = mx(tmp_path, "--db", str(db), "approve", "audoi", "--accept", "--all", "--yes", cwd=video_project)
    assert p.returncode == 1 and "unknown feature 'audoi'" in p.stderr
    assert files(tmp_path) == ["video_demo"]


def test_writers_outside_a_project_refuse_and_create_nothing(tmp_path):
    db = tmp_path / "fresh.db"
    p = mx(tmp_path, "--db", str(db), "import", "audio", str(SAMPLE_DATA / "video_demo" / "data" / "audio_update.csv"))
    assert p.returncode == 1
    assert p.stderr.startswith(f"metaxy-tui: error: no store at {db}, and no project here to create it with")
    assert files(tmp_path) == []
