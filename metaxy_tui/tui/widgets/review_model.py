"""What the review screen shows: a feature's pending samples, grouped by reason.

Built in a worker from the service's Explanation (`ReviewModel.load`, the body of the review
screen's explain worker), so the UI thread only reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...service import review
from ...service.project import Project
from ...service.review import Explanation, SampleReason

Key = tuple[Any, ...]

STATUS_STYLE = {"added": "green", "changed": "yellow", "removed": "red"}
STATUSES = ("added", "changed", "removed")


@dataclass
class ReasonGroup:
    name: str  # "changed · embedding ← audio.default members changed"
    status: str  # added | changed | removed
    reasons: Sequence[SampleReason]  # a list, or the explanation's ReasonList (reasons made as they are shown)
    key_columns: list[str] = field(default_factory=list)  # set by ReviewModel
    _keys: frozenset[Key] | None = field(default=None, repr=False)

    @property
    def keys(self) -> frozenset[Key]:
        """The reasons' keys, made when a selection first needs them, not when the screen opens."""
        if self._keys is None or len(self._keys) != len(self.reasons):
            keys = getattr(self.reasons, "keys", None)
            self._keys = frozenset(
                keys() if callable(keys) else (tuple(r.key.get(c) for c in self.key_columns) for r in self.reasons)
            )
        return self._keys

    @property
    def label(self) -> str:
        """The group name without its leading status (the colour and the count carry it)."""
        head = f"{self.status} · "
        return self.name[len(head) :] if self.name.startswith(head) else self.name


@dataclass
class ReviewModel:
    feature: str
    key_columns: list[str]
    groups: list[ReasonGroup]
    pending_upstream: list[str] = field(default_factory=list)
    has_compute: bool = True
    downstream: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    waiting_on: list[str] = field(default_factory=list)  # upstream never written

    def __post_init__(self) -> None:
        # keys are made when a selection first needs them: opening a million-sample review makes none
        for g in self.groups:
            g.key_columns = self.key_columns
        self._index = {g.name: i for i, g in enumerate(self.groups)}
        self._all_keys: list[Key] | None = None
        self._group_of: dict[Key, int] | None = None

    @property
    def all_keys(self) -> list[Key]:
        """Every reason's key, aligned with all_reasons()."""
        if self._all_keys is None:
            self._all_keys = [
                k
                for g in self.groups
                for k in (
                    g.reasons.keys()
                    if callable(getattr(g.reasons, "keys", None))
                    else [self.key_of(r) for r in g.reasons]
                )
            ]
        return self._all_keys

    @property
    def group_of(self) -> dict[Key, int]:
        """key -> index of its group."""
        if self._group_of is None:
            self._group_of = {k: i for i, g in enumerate(self.groups) for k in g.keys}
        return self._group_of

    def index(self, group: ReasonGroup) -> int:
        return self._index[group.name]

    @classmethod
    def build(
        cls,
        explanation: Explanation,
        *,
        pending_upstream: list[str],
        has_compute: bool,
        downstream: list[str],
        waiting_on: list[str] | None = None,
    ) -> "ReviewModel":
        # one reason per sample, each group's reasons made as the screen shows them
        groups = [ReasonGroup(name, rs[0].status, rs) for name, rs in explanation.groups().items()]
        counts = explanation.counts()
        return cls(
            explanation.feature,
            list(explanation.increment.key),
            groups,
            list(pending_upstream),
            has_compute,
            list(downstream),
            {s: counts.get(s, 0) for s in STATUSES},
            waiting_on=list(waiting_on or []),
        )

    @classmethod
    def load(cls, project: Project, feature: str) -> "ReviewModel":
        """Explain `feature` through the review service and build its model (off the UI thread)."""
        return cls.build(
            review.explain(project, feature),
            pending_upstream=review.pending_upstream(project, feature),
            has_compute=review.has_compute(project, feature),
            downstream=project.graph.plan().downstream_closure(feature),
            waiting_on=review.waiting_on(project, feature),
        )

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
