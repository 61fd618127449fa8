"""Recompute on Ray (SPEC 9): same rows as a local recompute, failures and cancel per batch.

The tests connect to one real local Ray per session (`ray_address`, tests/ray_cluster.py), as
`--ray-address` does; one test starts a local Ray of its own and checks that it is shut down.
"""

from __future__ import annotations

import faulthandler
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from metaxy_tui import executors
from metaxy_tui.executors.ray_executor import RayExecutor, code_to_ship
from metaxy_tui.service import review
from metaxy_tui.service.demo import open_demo_project

FLAKY = Path(__file__).resolve().parents[1] / "ray_project"
TIMES = ["metaxy_created_at", "metaxy_updated_at", "metaxy_deleted_at", "metaxy_materialization_id"]


@pytest.fixture
def flaky(monkeypatch):
    """The test project's own compute module (not installed: the executor ships it)."""
    monkeypatch.syspath_prepend(str(FLAKY))
    monkeypatch.delitem(sys.modules, "ray_flaky", raising=False)
    import ray_flaky

    return ray_flaky


def rows(project, feature: str) -> pl.DataFrame:
    """Every row of a feature (history and deletions too), without the times of writing."""
    df = project.store.read_metadata(feature, include_history=True, include_deleted=True)
    df = df.drop([c for c in TIMES if c in df.columns])
    return df.sort(df.columns)


def pending(project, feature: str) -> int:
    counts = project.store.pending_counts(feature)
    return counts["added"] + counts["changed"]


@pytest.mark.ray
def test_ray_writes_the_same_rows_as_local(demo_store, tmp_path, ray_address):
    other = tmp_path / "ray.db"
    shutil.copyfile(demo_store, other)
    local, on_ray = open_demo_project(demo_store), open_demo_project(other)
    try:
        executor = RayExecutor(ray_address)
        done_local = review.approve_all_pending(local, batch_size=8)
        done_ray = review.approve_all_pending(on_ray, batch_size=8, executor=executor)
        assert [(r.action, r.feature, r.done, r.outcome) for r in done_ray] == [
            (r.action, r.feature, r.done, r.outcome) for r in done_local
        ]
        assert sum(r.batches for r in done_ray if r.action == "recompute") > 10  # many batches, out of order
        assert executor.used and not executor._connected  # connected once for the walk, then closed
        for feature in local.graph.keys:
            assert_frame_equal(rows(on_ray, feature), rows(local, feature))
            assert pending(on_ray, feature) == 0
        log = on_ray.store.audit_log(action="recompute")
        assert set(log.get_column("executor")) == {"ray"}
        assert set(local.store.audit_log(action="recompute").get_column("executor")) == {"local"}
        assert set(on_ray.store.audit_log(action="delete_removed").get_column("executor").to_list()) == {None}
    finally:
        local.close()
        on_ray.close()


@pytest.mark.ray
def test_a_failing_batch_is_reported_with_its_ids_and_the_rest_commit(project, ray_address, flaky):
    n = pending(project, "video/chunk")
    result = review.recompute(
        project, "video/chunk", batch_size=1, fn=flaky.chunks_raising, executor=RayExecutor(ray_address)
    )
    assert result.outcome == "failed" and result.executor == "ray"
    assert result.failing == [{"video_id": flaky.RAISING}] and result.failed_batches == 1
    assert result.error == "RuntimeError: GPU on fire"
    assert "ray_flaky.py" in result.traceback and "chunks_raising" in result.traceback  # the worker's traceback
    assert result.done == n - 1 and result.batches == n - 1
    assert pending(project, "video/chunk") == 1
    entry = project.store.audit_log(feature="video/chunk").row(0, named=True)
    assert entry["executor"] == "ray" and entry["outcome"] == "failed" and entry["n_samples"] == n - 1
    assert f"failing samples (1, in 1 batch): {flaky.RAISING}" in entry["detail"]


@pytest.mark.ray
def test_a_lost_worker_fails_its_batch_only(project, ray_address, flaky):
    n = pending(project, "video/chunk")
    result = review.recompute(
        project, "video/chunk", batch_size=1, fn=flaky.chunks_crashing, executor=RayExecutor(ray_address, max_retries=0)
    )
    assert result.outcome == "failed" and result.failing == [{"video_id": flaky.CRASHING}]
    assert "Worker" in result.error or "died" in result.error, result.error
    assert result.done == n - 1 and pending(project, "video/chunk") == 1


@pytest.mark.ray
def test_cancel_stops_scheduling_and_keeps_committed_batches(project, ray_address):
    n = pending(project, "video/transcript") or 0
    review.recompute(project, "video/chunk")  # transcripts wait on chunks: about a hundred samples then
    n = pending(project, "video/transcript")
    assert n > 20
    state = {"batches": 0}

    def progress(done: int, total: int) -> None:
        state["batches"] += 1

    result = review.recompute(
        project,
        "video/transcript",
        batch_size=5,
        progress=progress,
        cancelled=lambda: state["batches"] >= 2,
        executor=RayExecutor(ray_address, max_in_flight=2),
    )
    assert result.outcome == "cancelled" and result.batches == 2 and result.done == 10
    assert pending(project, "video/transcript") == n - 10
    entry = project.store.audit_log(feature="video/transcript").row(0, named=True)
    assert entry["outcome"] == "cancelled" and entry["n_samples"] == 10 and entry["executor"] == "ray"


class TextualStderr:
    """What a running Textual app puts in sys.stderr: no file descriptor (fileno() is -1)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return -1


@pytest.mark.ray
def test_without_an_address_a_local_ray_is_started_and_shut_down(project, ray_address, monkeypatch):
    import ray

    monkeypatch.setattr(sys, "stderr", TextualStderr())  # as in the TUI, where the recompute dialog starts Ray
    enabled = faulthandler.is_enabled()  # pytest's: with it on, ray.init would not touch sys.stderr
    faulthandler.disable()
    executor = RayExecutor(init_options={"num_cpus": 2, "object_store_memory": 100 * 2**20})
    try:
        result = review.recompute(project, "speaker/embedding", executor=executor)
    finally:
        if enabled:
            faulthandler.enable(file=sys.__stderr__)
    assert result.outcome == "ok" and result.done == 5
    assert executor.describe() == "ray (a local Ray started for this run, 2 CPUs)"
    assert executor.shipped and Path(executor.shipped[0]).name == "video_demo"  # the demo's package travelled
    assert not ray.is_initialized()


@pytest.mark.ray
def test_a_wrong_address_fails_without_writing(project):
    result = review.recompute(project, "speaker/embedding", executor=RayExecutor("127.0.0.1:1"))
    assert result.outcome == "failed" and result.done == 0
    assert result.error.startswith("ray could not start: ConnectionError: no Ray cluster answers at 127.0.0.1:1")
    entry = project.store.audit_log().row(0, named=True)
    assert entry["outcome"] == "failed" and entry["executor"] == "ray" and entry["n_samples"] == 0
    assert pending(project, "speaker/embedding") == 5


# ----- the interface, without a cluster -------------------------------------------------------


def test_what_travels_is_the_projects_code_not_installed_packages(project):
    modules = executors.project_modules(project.graph)
    assert "video_demo.features" in modules and "video_demo.pipeline" in modules
    shipped = [Path(p) for p in code_to_ship(modules + ("polars.dataframe", "json", "metaxy_tui.compute"))]
    assert [p.name for p in shipped] == ["video_demo"] and (shipped[0] / "pipeline.py").is_file()


def test_a_cluster_that_wants_a_token_is_explained():
    from metaxy_tui.executors.ray_executor import _explained

    class AuthenticationError(Exception):
        pass

    try:
        try:
            raise AuthenticationError("RPC error: InvalidAuthToken")
        except AuthenticationError as e:
            raise ConnectionError("Failed to connect to Ray cluster at h:6379") from e
    except ConnectionError as e:
        explained = _explained(e, "h:6379")
    assert "set RAY_AUTH_MODE=token" in str(explained) and "RAY_AUTH_TOKEN" in str(explained)


def test_an_unknown_executor_is_refused():
    with pytest.raises(executors.ExecutorUnavailable, match="unknown executor 'dask'"):
        executors.make_executor("dask")


def test_the_executors_import_neither_textual_nor_ray_until_ray_is_used():
    import subprocess

    code = (
        "import sys, metaxy_tui.executors as e, metaxy_tui.service.recompute as r; e.make_executor('ray'); "
        "r.executor_options(); assert 'textual' not in sys.modules and 'ray' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('textual', 'ray')))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
