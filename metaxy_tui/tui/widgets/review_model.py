"""What the review screen shows: a feature's pending samples, grouped by reason.

Built in a worker from the service's Explanation, so the UI thread only reads it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ...explain import Explanation, SampleReason

Key = tuple[Any, ...]

STATUS_STYLE = {"added": "green", "changed": "yellow", "removed": "red"}
STATUSES = ("added", "changed", "removed")


@dataclass
class ReasonGroup:
    name: str  # "changed · embedding ← audio.default members changed"
    status: str  # added | changed | removed
    reasons: list[SampleReason]
    keys: frozenset[Key] = frozenset()  # the reasons' keys (filled by ReviewModel, in the worker)

    @property
    def label(self) -> str:
        """The group name without its leading status (the colour and the count carry it)."""
        head = f"{self.status} · "
        return self.name[len(head):] if self.name.startswith(head) else self.name


@dataclass
class ReviewModel:
    feature: str
    key_columns: list[str]
    groups: list[ReasonGroup]
    pending_upstream: list[str] = field(default_factory=list)
    has_compute: bool = True
    downstream: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    all_keys: list[Key] = field(default_factory=list)  # aligned with all_reasons()
    group_of: dict[Key, int] = field(default_factory=dict)  # key -> index of its group
    waiting_on: list[str] = field(default_factory=list)  # upstream never written

    def __post_init__(self) -> None:
        # keys computed once, here (off the UI thread): selecting among a million samples is set arithmetic
        for g in self.groups:
            if len(g.keys) != len(g.reasons):
                g.keys = frozenset(self.key_of(r) for r in g.reasons)
        if len(self.all_keys) != self.total:
            self.all_keys = [self.key_of(r) for g in self.groups for r in g.reasons]
        if len(self.group_of) != self.total:
            self.group_of = {k: i for i, g in enumerate(self.groups) for k in g.keys}
        self._index = {g.name: i for i, g in enumerate(self.groups)}

    def index(self, group: ReasonGroup) -> int:
        return self._index[group.name]

    @classmethod
    def build(cls, explanation: Explanation, *, pending_upstream: list[str], has_compute: bool,
              downstream: list[str], waiting_on: list[str] | None = None) -> "ReviewModel":
        key_columns = list(explanation.increment.key)
        seen: set[Key] = set()
        unique: list[SampleReason] = []
        # one reason per sample: an expansion's reasons can repeat once per stored child
        for r in explanation.reasons:
            k = tuple(r.key.get(c) for c in key_columns)
            if k not in seen:
                seen.add(k)
                unique.append(r)
        deduped = Explanation(explanation.feature, explanation.increment, unique)
        groups = [ReasonGroup(name, rs[0].status, rs) for name, rs in deduped.groups().items()]
        counts = Counter(r.status for r in unique)
        return cls(explanation.feature, key_columns, groups, list(pending_upstream), has_compute,
                   list(downstream), {s: counts.get(s, 0) for s in STATUSES}, waiting_on=list(waiting_on or []))

    @property
    def total(self) -> int:
        return sum(len(g.reasons) for g in self.groups)

    def key_of(self, reason: SampleReason) -> Key:
        return tuple(reason.key.get(c) for c in self.key_columns)

    def key_text(self, reason: SampleReason) -> str:
        return ", ".join(str(reason.key.get(c)) for c in self.key_columns)

    def group(self, name: str | None) -> ReasonGroup | None:
        i = self._index.get(name) if name is not None else None
        return self.groups[i] if i is not None else None

    def all_reasons(self) -> list[SampleReason]:
        return [r for g in self.groups for r in g.reasons]
