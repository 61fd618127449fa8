"""What every approval action shares (recompute, accept, delete removed): its result, the samples
it selects, its audit entry. review.py runs the actions; recompute.py runs a recompute's batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ..graph import FeaturePlan
from .project import Project

Progress = Callable[[int, int], None]  # (samples done, samples in all)
DEFAULT_BATCH = 500  # samples per transaction when recomputing


class Cancelled(Exception):
    """Raised inside a batch to roll it back when the user cancels."""


@dataclass
class ActionResult:
    action: str  # recompute | accept | delete_removed
    feature: str
    requested: int
    done: int = 0
    outcome: str = "ok"  # ok | cancelled | failed | nothing to do
    seconds: float = 0.0
    batches: int = 0
    error: str | None = None
    traceback: str | None = None
    failing: list[dict] = field(default_factory=list)
    skipped: int = 0
    note: str | None = None
    executor: str | None = None  # recompute: where its batches ran (local, ray)
    failed_batches: int = 0  # recompute: batches whose samples are in `failing` (the others committed)

    def describe(self) -> str:
        on = f" on {self.executor}" if self.executor not in (None, "local") else ""
        head = f"{self.action} {self.feature}{on}: {self.done} of {self.requested} samples, {self.outcome}"
        if self.skipped:
            head += f" ({self.skipped} skipped: {self.note})"
        if self.error:
            head += f" — {self.error}"
        if self.failed_batches > 1:
            head += f" (and {self.failed_batches - 1} more failing batches)"
        return head

    def to_dict(self) -> dict:
        return {
            "action": self.action,
            "feature": self.feature,
            "requested": self.requested,
            "done": self.done,
            "outcome": self.outcome,
            "seconds": round(self.seconds, 3),
            "batches": self.batches,
            "error": self.error,
            "failing": self.failing,
            "skipped": self.skipped,
            "note": self.note,
            "executor": self.executor,
            "failed_batches": self.failed_batches,
        }


# ----- selecting samples --------------------------------------------------------------------


def _keys_frame(plan: FeaturePlan, keys: list[dict] | None) -> pl.DataFrame | None:
    if keys is None:
        return None
    key = list(plan.key)
    return pl.DataFrame(
        [{c: k[c] for c in key} for k in keys], schema={c: plan.definition.columns[c].polars for c in key}
    )


def _select(df: pl.DataFrame, key: list[str], keys: pl.DataFrame | None) -> pl.DataFrame:
    return df if keys is None else df.join(keys, on=key, how="semi")


def _added_or_changed(project: Project, plan: FeaturePlan, keys: list[dict] | None) -> pl.DataFrame:
    """The rows of a fresh resolve's added and changed samples, only those of `keys` when given."""
    inc = project.store.resolve_update(plan.name)
    return _select(
        pl.concat([inc.added.to_polars(), inc.changed.to_polars()], how="diagonal_relaxed"),
        list(plan.key),
        _keys_frame(plan, keys),
    )


def _distinct(df: pl.DataFrame, key: list[str]) -> list[dict]:
    return df.select(key).unique(maintain_order=True).to_dicts() if df.height else []


def _audit(project: Project, result: ActionResult, plan: FeaturePlan, ids: list[dict]) -> None:
    detail = result.error
    if result.traceback:
        detail = (detail or "") + "\n" + result.traceback
    project.store.record_audit(
        action=result.action,
        feature=result.feature,
        feature_version=plan.feature_version,
        ids=ids,
        duration_s=result.seconds,
        outcome=result.outcome,
        detail=detail,
        executor=result.executor,
    )


def _leftover_children(
    project: Project, plan: FeaturePlan, parents: pl.DataFrame, out: pl.DataFrame
) -> pl.DataFrame | None:
    """Stored children of recomputed parents that the new output no longer has."""
    ids = list(plan.definition.id_columns)
    stored = project.store.read_metadata(plan.name, columns=ids).join(parents, on=list(plan.key), how="semi")
    gone = stored.join(out.select(ids), on=ids, how="anti")
    return gone if gone.height else None


def ids_text(ids: list[dict[str, Any]], limit: int = 8) -> str:
    shown = [", ".join(str(v) for v in k.values()) for k in ids[:limit]]
    more = len(ids) - len(shown)
    return "; ".join(shown) + (f" and {more} more" if more > 0 else "")
