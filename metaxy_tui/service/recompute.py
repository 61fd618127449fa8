"""The recompute loop: batches out to an executor, results back into the store, one transaction each.

The loop resolves the feature, cuts the selected samples into batches and hands them to the
executor (this process, or Ray tasks: metaxy_tui/executors/). Whatever ran the function, the
results are written here, by the approving process, as they arrive: each batch in its own
transaction, with its audit rows inside it, so provenance is the same whichever executor ran.

A batch that fails (an exception in the compute function, rows that fail validation, a lost
worker) is reported with its sample ids; the other batches still run and commit. Cancelling
stops taking batches, rolls back the one being written and keeps the committed ones. A
problem of the store itself (a full disk) stops everything.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .. import executors
from ..compute import compute_function, output_rows
from ..errors import InputError
from ..executors import Batch, BatchResult, ComputeTask, Executor, ExecutorUnavailable, project_modules
from ..executors.local import LocalExecutor
from ..graph import FeaturePlan
from .project import Project
from .actions import (
    DEFAULT_BATCH,
    ActionResult,
    Cancelled,
    Progress,
    _added_or_changed,
    _audit,
    _leftover_children,
    ids_text,
)

FAILING_SHOWN = 50  # failing sample ids written into the audit entry's detail


@dataclass(frozen=True)
class ExecutorOption:
    """An executor as the TUI offers it: its name, a label, and why it cannot run here (or None)."""

    name: str
    label: str
    problem: str | None


LABELS = {"local": "local (this process)", "ray": "Ray"}


EXECUTORS = executors.NAMES
DEFAULT_EXECUTOR = executors.DEFAULT


def executor_options() -> list[ExecutorOption]:
    return [ExecutorOption(n, LABELS.get(n, n), executors.unavailable(n)) for n in executors.NAMES]


def executor_problem(name: str) -> str | None:
    """Why executor `name` cannot run here (how to install what it needs), or None."""
    return executors.unavailable(name)


def executor_for(name: str, address: str | None = None) -> Executor:
    """The executor `name` (ray: on the cluster at `address`, or a local Ray started for the run)."""
    return executors.make_executor(name, address=address or None) if name == "ray" else executors.make_executor(name)


def run_recompute(
    project: Project,
    feature: str,
    keys: list[dict] | None = None,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    fn: Callable | None = None,
    executor: Executor | None = None,
) -> ActionResult:
    store = project.store
    plan = project.graph.feature_plan(feature)
    key = list(plan.key)
    start = time.perf_counter()
    executor = executor or LocalExecutor()
    fn = fn or compute_function(project.graph, feature)
    todo = _added_or_changed(project, plan, keys)
    samples = todo.select(key).unique(maintain_order=True)
    result = ActionResult("recompute", feature, samples.height, executor=executor.name)
    if fn is None:
        result.outcome = "failed"
        result.error = (
            f"no compute function is registered for {feature} (register one with @mx.compute, and open "
            "the project with its code: its metaxy.toml must list the module as an entrypoint)"
        )
        result.seconds = time.perf_counter() - start
        _audit(project, result, plan, samples.to_dicts())
        return result
    if samples.height == 0:
        result.outcome = "nothing to do"
        return result
    as_of = store.resolved_as_of(feature)
    task = ComputeTask(feature, fn, project_modules(project.graph, fn))
    n_batches = -(-samples.height // batch_size)

    def batches() -> Iterator[Batch]:
        for i in range(n_batches):
            batch_keys = samples.slice(i * batch_size, batch_size)
            yield Batch(i, batch_keys, todo.join(batch_keys, on=key, how="semi"))

    executor.prepare(task)
    try:
        executor.__enter__()  # a local Ray starts here, before the audit entry exists
    except ExecutorUnavailable:
        raise  # not installed: nothing was tried, nothing is recorded
    except Exception as e:  # e.g. no Ray cluster at that address
        result.outcome, result.error = "failed", f"{executor.name} could not start: {type(e).__name__}: {e}"
        result.seconds = time.perf_counter() - start
        _audit(project, result, plan, [])
        return result
    try:
        # the entry exists from the start; each batch adds its samples inside its own transaction
        audit_id = store.start_audit(
            action="recompute", feature=feature, feature_version=plan.feature_version, executor=executor.name
        )
    except BaseException:
        executor.__exit__(None, None, None)
        raise
    try:
        seen = 0
        results = executor.map(task, batches(), cancelled)
        try:
            for res in results:
                seen += 1
                if cancelled():
                    result.outcome = "cancelled"
                    break
                if not res.ok:
                    _failed(result, res.batch, res.error or "failed", res.traceback)
                    continue
                try:
                    _commit(project, plan, res, as_of, audit_id, start, cancelled)
                except Cancelled:
                    result.outcome = "cancelled"
                    break
                except InputError as e:  # the function's rows do not fit the feature
                    _failed(result, res.batch, f"{type(e).__name__}: {e}", traceback.format_exc())
                    continue
                result.done += res.batch.keys.height
                result.batches += 1
                if progress is not None:
                    progress(result.done, result.requested)
        finally:
            results.close()
        if result.outcome == "ok" and seen < n_batches and cancelled():
            result.outcome = "cancelled"
        elif result.outcome == "ok" and result.failed_batches:
            result.outcome = "failed"
    except Exception as e:  # the store itself (disk full, locked): nothing more can be written
        result.outcome = "failed"
        result.error = f"{type(e).__name__}: {e}"
        result.traceback = traceback.format_exc()
    finally:
        executor.__exit__(None, None, None)
    result.seconds = time.perf_counter() - start
    store.finish_audit(audit_id, outcome=result.outcome, duration_s=result.seconds, detail=_detail(result))
    return result


def _commit(
    project: Project,
    plan: FeaturePlan,
    res: BatchResult,
    as_of: int | None,
    audit_id: int,
    start: float,
    cancelled: Callable[[], bool],
) -> None:
    """Write one batch's output in one transaction, its audit rows included."""
    store = project.store
    rows, batch_keys = res.batch.rows, res.batch.keys
    out = output_rows(plan, rows, res.output)
    expansion = list(plan.key) != list(plan.definition.id_columns)
    leftovers = _leftover_children(project, plan, batch_keys, out) if expansion else None

    def tick(done: int, total: int) -> None:
        if cancelled():
            raise Cancelled()

    def record(conn) -> None:
        store.audit_batch(conn, audit_id, batch_keys.to_dicts(), time.perf_counter() - start)

    store.write_metadata(plan.name, out, inputs_as_of=as_of, progress=tick, delete_ids=leftovers, within=record)


def _failed(result: ActionResult, batch: Batch, error: str, tb: str | None) -> None:
    result.failed_batches += 1
    result.failing += batch.keys.to_dicts()
    if result.error is None:  # the first failure is shown in full; the others by their ids
        result.error, result.traceback = error, tb


def _detail(result: ActionResult) -> str | None:
    if not result.error:
        return None
    text = result.error + "\n" + (result.traceback or "")
    if result.failing:
        text = text.rstrip("\n") + (
            f"\nfailing samples ({len(result.failing)}, in {result.failed_batches} "
            f"batch{'es' if result.failed_batches != 1 else ''}): " + ids_text(result.failing, FAILING_SHOWN)
        )
    return text


__all__ = [
    "DEFAULT_EXECUTOR",
    "EXECUTORS",
    "Executor",
    "ExecutorOption",
    "executor_for",
    "executor_options",
    "executor_problem",
    "run_recompute",
]
