"""Review and approve pending work: recompute, accept, delete removed — each one audited.

Every action resolves the feature afresh, works on the samples the user selected (by key),
and records one audit entry with its outcome, including failures and cancellations.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import polars as pl

from ..columns import PROVENANCE, PROVENANCE_BY_FIELD, UPDATED_AT
from ..compute import compute_function
from ..errors import MetaxyError
from ..executors import Executor
from ..explain import KINDS, Explanation, SampleReason, short_value
from ..graph import FeaturePlan
from .actions import (
    DEFAULT_BATCH,
    ActionResult,
    Cancelled,
    Progress,
    _added_or_changed,
    _audit,
    _distinct,
    _keys_frame,
    _select,
    ids_text,
)
from .project import Project
from .recompute import run_recompute


def pending_samples(inc, explanation: Explanation | None = None) -> pl.DataFrame:
    """One row per sample: status, key columns, provenance, and (explained) reason and reason_group."""
    key = list(inc.key)
    parts = []
    for status, frame in (("added", inc.added), ("changed", inc.changed), ("removed", inc.removed)):
        df = frame.to_polars()
        if df.height:
            parts.append(
                df.select(key + [PROVENANCE])
                .unique(subset=key, keep="first", maintain_order=True)
                .select(pl.lit(status).alias("status"), *key, pl.col(PROVENANCE).alias("provenance"))
            )
    if not parts:
        return pl.DataFrame(schema={"status": pl.String, **{c: pl.String for c in key}, "provenance": pl.String})
    rows = pl.concat(parts, how="vertical_relaxed")
    if explanation is not None:
        why = explanation.frame.select(
            ["status", *key, pl.col("summary").alias("reason"), pl.col("group").alias("reason_group")]
        )
        rows = rows.join(
            why.unique(subset=["status", *key], keep="first"), on=["status", *key], how="left", maintain_order="left"
        )
    return rows


# ----- what is pending, and why -------------------------------------------------------------


def not_reviewable(project: Project, feature: str | None) -> str | None:
    """Why `feature` has no review to open, in plain words; None when it has one."""
    if project.is_empty:
        return "This store has no features yet: there is nothing to review."
    if feature is None:
        return "No feature is selected: choose one in the feature tree, then review it."
    if feature not in project.graph:
        return f"{feature} is not a feature of this store."
    if project.graph.feature_plan(feature).is_root:
        return (
            f"{feature} is a root feature: it has no upstream to review. Its samples come from "
            "imports and your pipeline's writes."
        )
    return None


def waiting_on(project: Project, feature: str) -> list[str]:
    """Required upstream features never written: until they are, `feature` has nothing to compute."""
    return project.store.waiting_on(feature)


def nothing_pending(feature: str, pending_upstream: list[str], waiting: list[str] | None = None) -> str:
    """What the review says when a derived feature has no pending sample."""
    if waiting:
        return (
            f"{feature} is waiting on {', '.join(waiting)}: nothing has been written there yet, so there is "
            f"nothing to compute for {feature}. Import or write samples upstream first."
        )
    text = f"{feature} has nothing pending: every sample is up to date with its upstream."
    if pending_upstream:
        text += (
            f" Its upstream {', '.join(pending_upstream)} has pending work: once that is recomputed, "
            f"the samples of {feature} that depend on it will be pending here."
        )
    return text


def error_text(error: BaseException) -> str:
    """An error for a screen: our errors say what is wrong in their message; anything else is a bug."""
    if isinstance(error, MetaxyError):
        return str(error)
    if isinstance(error, OSError):  # a file or disk problem: the system's words, without the class
        return f"{error.filename}: {error.strerror}" if error.filename and error.strerror else str(error)
    return f"internal error of metaxy-tui, please report it: {type(error).__name__}: {error}"


def explain(project: Project, feature: str) -> Explanation:
    """Why each sample is pending, resolved by key only: the review pages reasons, never rows
    (a 1,000,000-sample aggregation reads its groups, not its members). Kept until the store
    changes (service/explanations.py): what `prefetch` worked out is answered at once."""
    return project.explanations.get(project, feature, lambda: project.store.explain(feature, keys_only=True))


def prefetch(project: Project, feature: str) -> bool:
    """Explain `feature` ahead of a review, if it is a derived feature; whether it did any work
    (False: nothing to review, or already explained as the store is now)."""
    if not_reviewable(project, feature) is not None or project.explanations.has(project, feature):
        return False
    explain(project, feature)
    return True


def pending_upstream(project: Project, feature: str) -> list[str]:
    """Upstream features (transitively) with pending work, in topological order."""
    plan = project.graph.plan()
    out = []
    for key in plan.upstream_closure(feature):
        if plan[key].is_root:
            continue
        if sum(project.store.pending_counts(key).values()):
            out.append(key)
    return out


def downstream_removals(project: Project, feature: str) -> dict[str, int]:
    """How many samples each downstream feature would now report removed."""
    plan = project.graph.plan()
    out = {}
    for key in plan.downstream_closure(feature):
        n = project.store.pending_counts(key)["removed"]
        if n:
            out[key] = n
    return out


def has_compute(project: Project, feature: str) -> bool:
    return compute_function(project.graph, feature) is not None


# ----- recompute ----------------------------------------------------------------------------


def recompute(
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
    """Run the feature's compute function over the selected added/changed samples, in batches,
    on `executor` (default: this process); see service/recompute.py."""
    return run_recompute(
        project, feature, keys, batch_size=batch_size, progress=progress, cancelled=cancelled, fn=fn, executor=executor
    )


# ----- accept -------------------------------------------------------------------------------


def accept(
    project: Project, feature: str, keys: list[dict] | None = None, *, progress: Progress | None = None
) -> ActionResult:
    """Carry stored outputs forward to the new provenance, without recomputing.

    Only samples with a stored row (under this or an older feature version) are accepted;
    the others are skipped.
    """
    store = project.store
    plan = project.graph.feature_plan(feature)
    key = list(plan.key)
    ids = list(plan.definition.id_columns)
    start = time.perf_counter()
    todo = _added_or_changed(project, plan, keys)
    wanted = todo.select(key + [PROVENANCE_BY_FIELD, PROVENANCE]).unique(subset=key, keep="first")
    result = ActionResult("accept", feature, wanted.height)
    stored = store.read_metadata(feature, all_feature_versions=True)
    if stored.height:
        stored = stored.sort(UPDATED_AT).unique(subset=ids, keep="last")
    user_cols = list(plan.definition.columns)
    carried = stored.select(user_cols).join(wanted, on=key, how="inner") if stored.height else pl.DataFrame()
    accepted = _distinct(carried, key)
    result.skipped = wanted.height - len(accepted)
    if result.skipped:
        result.note = "never computed, nothing stored to carry forward"
    as_of = store.resolved_as_of(feature)
    _audited_step(
        project,
        result,
        plan,
        accepted,
        start,
        lambda within: store.write_metadata(feature, carried, inputs_as_of=as_of, within=within),
    )
    if progress is not None:
        progress(result.done, result.requested)
    return result


# ----- delete removed -----------------------------------------------------------------------


def delete_removed(project: Project, feature: str, keys: list[dict] | None = None) -> ActionResult:
    """Soft-delete the stored rows reported removed (all children, for an expansion)."""
    store = project.store
    plan = project.graph.feature_plan(feature)
    key = list(plan.key)
    start = time.perf_counter()
    removed = _select(store.resolve_update(feature).removed.to_polars(), key, _keys_frame(plan, keys))
    samples = _distinct(removed, key)
    result = ActionResult("delete_removed", feature, len(samples))
    ids = removed.select(key)  # an expansion's parents: delete_metadata removes all of their children
    _audited_step(
        project, result, plan, samples, start, lambda within: store.delete_metadata(feature, ids=ids, within=within)
    )
    return result


def _audited_step(
    project: Project, result: ActionResult, plan: FeaturePlan, ids: list[dict], start: float, step: Callable
) -> None:
    """Run a one-transaction action whose audit entry is written inside that transaction."""
    store = project.store
    if not ids:
        result.outcome = "nothing to do"
        result.seconds = time.perf_counter() - start
        _audit(project, result, plan, ids)
        return
    audit_id = store.start_audit(action=result.action, feature=result.feature, feature_version=plan.feature_version)
    try:
        step(lambda conn: store.audit_batch(conn, audit_id, ids, time.perf_counter() - start))
        result.done, result.batches = len(ids), 1
    except MetaxyError as e:
        result.outcome, result.error = "failed", str(e)
    result.seconds = time.perf_counter() - start
    store.finish_audit(audit_id, outcome=result.outcome, duration_s=result.seconds, detail=result.error)


# ----- everything, in order -----------------------------------------------------------------


def approve_all_pending(
    project: Project,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    batch_size: int = DEFAULT_BATCH,
    features: list[str] | None = None,
    executor: Executor | None = None,
) -> list[ActionResult]:
    """Recompute added/changed and delete removed samples of every feature, upstream first.

    `features` limits the walk to those features (still in topological order): the review
    screen's "upstream first" passes a feature's pending upstream.
    Features without a compute function get their removed samples deleted only, and a note.
    Stops at the first failure or on cancel. Recomputes run on `executor` (default: this
    process), started at most once for the whole walk.
    """
    if executor is None:
        return _approve_all(project, progress, cancelled, batch_size, features, None)
    with executor.held():
        return _approve_all(project, progress, cancelled, batch_size, features, executor)


def _approve_all(
    project: Project,
    progress: Callable[[str, int, int], None] | None,
    cancelled: Callable[[], bool],
    batch_size: int,
    features: list[str] | None,
    executor: Executor | None,
) -> list[ActionResult]:
    results: list[ActionResult] = []
    plan = project.graph.plan()
    for key in plan.order():
        if plan[key].is_root or cancelled() or (features is not None and key not in features):
            continue
        counts = project.store.pending_counts(key)
        wrote = False  # a recompute ran: removals are counted afresh after it
        if counts["added"] + counts["changed"]:
            if has_compute(project, key):
                wrote = True
                r = recompute(
                    project,
                    key,
                    batch_size=batch_size,
                    cancelled=cancelled,
                    executor=executor,
                    progress=_for_feature(progress, key) if progress else None,
                )
            else:
                n = counts["added"] + counts["changed"]
                r = ActionResult(
                    "recompute",
                    key,
                    n,
                    outcome="skipped",
                    skipped=n,
                    note="no compute function is registered: open the project with its code",
                )
            results.append(r)
            if r.outcome in ("failed", "cancelled"):
                break
        if counts["removed"] or (wrote and project.store.pending_counts(key)["removed"]):
            r = delete_removed(project, key)
            results.append(r)
            if r.outcome == "failed":
                break
    return results


def audit_log(
    project: Project,
    *,
    feature: str | None = None,
    action: str | None = None,
    since_us: int | None = None,
    limit: int | None = None,
) -> pl.DataFrame:
    """The audit log, newest first (see SQLiteMetadataStore.audit_log)."""
    return project.store.audit_log(feature=feature, action=action, since_us=since_us, limit=limit)


# the explanation's types, which the review screen shows, are part of what the service offers
__all__ = [
    "KINDS",
    "Explanation",
    "SampleReason",
    "short_value",
    "Progress",
    "DEFAULT_BATCH",
    "pending_samples",
    "Cancelled",
    "ActionResult",
    "not_reviewable",
    "waiting_on",
    "nothing_pending",
    "error_text",
    "explain",
    "pending_upstream",
    "downstream_removals",
    "has_compute",
    "recompute",
    "accept",
    "delete_removed",
    "approve_all_pending",
    "audit_log",
    "ids_text",
]


def _for_feature(progress: Callable[[str, int, int], None], feature: str) -> Progress:
    """A recompute's progress (done, total) reported as the feature's."""
    return lambda done, total: progress(feature, done, total)
