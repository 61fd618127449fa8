"""Per-feature status: up to date, pending work, waiting on upstream, or a root's row count."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..errors import MetaxyError
from .project import Project


@dataclass
class FeatureStatus:
    key: str
    kind: str  # root | up_to_date | pending | waiting | error
    rows: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    waiting_on: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def pending(self) -> int:
        return self.added + self.changed + self.removed

    @property
    def counts_label(self) -> str:
        return f"{self.added} added · {self.changed} changed · {self.removed} removed"

    @property
    def label(self) -> str:
        if self.kind == "error":
            return f"error: {self.error}"
        if self.kind == "root":
            return f"root · {self.rows:,} rows"
        if self.kind == "up_to_date":
            return "up to date"
        if self.kind == "waiting":
            tail = f" · {self.counts_label}" if self.pending else ""
            return f"waiting on {', '.join(self.waiting_on)}{tail}"
        return self.counts_label

    def to_dict(self) -> dict:
        return {
            "feature": self.key,
            "status": self.kind,
            "rows": self.rows,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "waiting_on": list(self.waiting_on),
            "error": self.error,
        }


def iter_statuses(
    project: Project, keys: list[str] | None = None, cancelled: Callable[[], bool] = lambda: False
) -> Iterator[FeatureStatus]:
    """Statuses in topological order (an upstream is known before its downstream)."""
    plan = project.graph.plan()
    store = project.store
    known: dict[str, FeatureStatus] = {}
    for key in plan.order():
        if cancelled():
            return
        fp = plan[key]
        try:
            rows = store.count(key)
            if fp.is_root:
                st = FeatureStatus(key, "root", rows=rows)
            else:
                c = store.pending_counts(key)
                never = store.waiting_on(key)  # upstream never written: nothing to resolve yet
                waiting = never + [
                    d.upstream
                    for d in fp.deps
                    if d.upstream not in never
                    and known.get(d.upstream) is not None
                    and known[d.upstream].kind in ("pending", "waiting")
                ]
                kind = "waiting" if waiting else ("pending" if sum(c.values()) else "up_to_date")
                st = FeatureStatus(key, kind, rows, c["added"], c["changed"], c["removed"], waiting)
        except MetaxyError as e:
            st = FeatureStatus(key, "error", error=str(e))
        known[key] = st
        if keys is None or key in keys:
            yield st


def all_statuses(project: Project) -> dict[str, FeatureStatus]:
    return {s.key: s for s in iter_statuses(project)}
