"""The seed's pipeline, run end to end in a copy of sample_data/speakers (SPEC §8)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "speakers"

FIRST = [
    "Found 4 new audio recordings",
    "Found 2 speakers that need embedding computation",
    {
        "  Computing embedding for speaker s1 from 2 audio recordings",
        "  Computing embedding for speaker s2 from 2 audio recordings",
    },
    "Writing embeddings for 2 speakers",
]
RERUN = ["No new or changed audio recordings", "Found 0 speakers that need embedding computation"]
CHANGED = [
    "Found 1 changed audio recordings",
    "Found 1 speakers that need embedding computation",
    "  Computing embedding for speaker s1 from 2 audio recordings",
    "Writing embeddings for 1 speakers",
]
ADDED = [
    "Found 1 new audio recordings",
    "Found 1 speakers that need embedding computation",
    "  Computing embedding for speaker s1 from 3 audio recordings",
    "Writing embeddings for 1 speakers",
]


@pytest.fixture
def project(tmp_path):
    dest = tmp_path / "speakers"
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("*.db", "*.db-wal", "*.db-shm", "__pycache__"))
    return dest


def run(project: Path, home: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAXY_")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "pipeline.py"], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def matches(lines: list[str], expected: list) -> bool:
    """Lines in order; a set stands for that many lines in any order."""
    flat: list = []
    for item in expected:
        flat.extend([item] * len(item) if isinstance(item, set) else [item])
    if len(lines) != len(flat):
        return False
    i = 0
    for item in expected:
        if isinstance(item, set):
            if set(lines[i : i + len(item)]) != item:
                return False
            i += len(item)
        else:
            if lines[i] != item:
                return False
            i += 1
    return True


def apply_patch(project: Path, name: str) -> None:
    patch = SAMPLE / "patches" / name
    if shutil.which("patch"):
        subprocess.run(["patch", "-p1", "--quiet", "-i", str(patch)], cwd=project, check=True, timeout=60)
        return
    # no `patch`: apply the hunks' -/+ lines as text replacements
    text = (project / "pipeline.py").read_text()
    old, new = [], []
    for line in patch.read_text().splitlines()[2:]:
        if line.startswith("@@"):
            continue
        body = line[1:]
        if line.startswith("-"):
            old.append(body)
        elif line.startswith("+"):
            new.append(body)
        else:
            old.append(body)
            new.append(body)
    before, after = "\n".join(old), "\n".join(new)
    assert before in text
    (project / "pipeline.py").write_text(text.replace(before, after, 1))


def test_seed_pipeline_end_to_end(project, tmp_path):
    home = tmp_path / "home"
    steps = []
    steps.append(("first run", run(project, home), FIRST))
    steps.append(("rerun", run(project, home), RERUN))
    apply_patch(project, "01_update_audio_provenance.patch")
    steps.append(("a1 provenance changed", run(project, home), CHANGED))
    apply_patch(project, "02_add_audio.patch")
    steps.append(("a5 added", run(project, home), ADDED))
    steps.append(("rerun after all", run(project, home), RERUN))
    for name, lines, expected in steps:
        assert matches(lines, expected), f"{name}: printed {lines!r}"
    assert (project / "metadata.db").is_file()
    assert not (home / "data").exists()  # the store is the one metaxy.toml names
