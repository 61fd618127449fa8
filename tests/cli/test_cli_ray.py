"""`approve --recompute --executor ray [--ray-address ADDR]`: Ray is optional, the cluster is real.

The subprocess runs from a copy of the demo project, as a user's project (its package is not
installed: the executor ships it to the workers); the cluster is the session's local Ray.
"""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from click.testing import CliRunner

from metaxy_tui.cli import cli
from tests.cli.helpers import SAMPLE_DATA, mx
from tests.helpers import store_digest


def project_copy(tmp_path, demo_store):
    target = tmp_path / "video_demo"
    shutil.copytree(SAMPLE_DATA / "video_demo", target, ignore=shutil.ignore_patterns("__pycache__", "*.db*"))
    shutil.copyfile(demo_store, target / "demo.db")
    return target


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_without_ray_it_says_how_to_install_it_and_changes_nothing(demo_store, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    before = store_digest(demo_store)
    r = invoke("--db", str(demo_store), "approve", "video/chunk", "--recompute", "--all", "--executor", "ray", "--yes")
    assert r.exit_code == 1
    assert 'pip install "metaxy-tui[ray]"' in r.output and "nothing was changed" in r.output
    assert store_digest(demo_store) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["video/chunk", "--accept", "--all", "--executor", "ray"], "--executor ray goes with --recompute"),
        (
            ["video/chunk", "--recompute", "--all", "--executor", "local", "--ray-address", "h:1"],
            "--ray-address goes with --executor ray",
        ),
    ],
)
def test_executor_options_that_do_not_fit_are_usage_errors(demo_store, args, message):
    r = invoke("--db", str(demo_store), "approve", *args, "--yes")
    assert r.exit_code == 2 and message in r.output


@pytest.mark.ray
def test_recompute_on_an_existing_cluster(tmp_path, demo_store, ray_address):
    project = project_copy(tmp_path, demo_store)
    p = mx(
        tmp_path,
        "approve",
        "video/chunk",
        "--recompute",
        "--all",
        "--ray-address",
        ray_address,
        "--batch-size",
        "1",
        "--yes",
        cwd=project,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "recompute video/chunk on ray: 4 of 4 samples, ok"
    assert f"batches ran on ray (the Ray cluster at {ray_address}, 2 CPUs)" in p.stderr
    entry = json.loads(mx(tmp_path, "history", "--format", "json", "--limit", "1", cwd=project).stdout)[0]
    assert (entry["action"], entry["executor"], entry["n_samples"], entry["outcome"]) == ("recompute", "ray", 4, "ok")
    table = mx(tmp_path, "history", "--limit", "1", cwd=project).stdout
    assert "recompute (ray)" in table


@pytest.mark.ray
def test_all_pending_on_ray_in_process(tmp_path, demo_store, ray_address, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", ray_address)  # Ray's own variable names the cluster
    r = invoke("--db", str(demo_store), "approve", "--all-pending", "--executor", "ray", "--yes")
    assert r.exit_code == 0, r.output
    assert "recompute video/transcript on ray" in r.output and "failed" not in r.output
    r = invoke("--db", str(demo_store), "status", "--assert-in-sync")
    assert r.exit_code == 0, r.output
