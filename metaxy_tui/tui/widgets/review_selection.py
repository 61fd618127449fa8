"""Which pending samples the review's actions apply to.

Samples are selected one by one (space), by group (g) or all at once (A). With nothing
selected, an action applies to the highlighted group: the screen always says which.
"Everything" is kept as a flag, so selecting a million samples builds no set.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...service.review import SampleReason
from .review_model import Key, ReasonGroup, ReviewModel


@dataclass
class Targets:
    """The samples one action would work on, and how to say so."""

    reasons: list[SampleReason]
    description: str  # "3 selected samples", "all 6 pending samples", ...
    everything: bool  # every pending sample: the service may be called without keys

    def of(self, *statuses: str) -> list[SampleReason]:
        return [r for r in self.reasons if r.status in statuses]

    def count(self, status: str) -> int:
        return sum(1 for r in self.reasons if r.status == status)

    def keys(self, *statuses: str) -> list[dict] | None:
        """Keys for the service; None means "all of them" (only when everything is targeted)."""
        if self.everything:
            return None
        return [dict(r.key) for r in self.of(*statuses)]


class Selection:
    def __init__(self) -> None:
        self._keys: set[Key] = set()
        self._per_group: dict[int, int] = {}  # selected samples per group index (explicit keys only)
        self._all = False

    def clear(self) -> None:
        self._keys.clear()
        self._per_group.clear()
        self._all = False

    def is_empty(self, model: ReviewModel) -> bool:
        return self.count(model) == 0

    def count(self, model: ReviewModel) -> int:
        return model.total if self._all else len(self._keys)

    def is_selected(self, key: Key) -> bool:
        return self._all or key in self._keys

    def _materialize(self, model: ReviewModel) -> None:
        if self._all:
            self._keys = set(model.all_keys)
            self._per_group = {i: len(g.reasons) for i, g in enumerate(model.groups)}
            self._all = False

    def toggle(self, key: Key, model: ReviewModel) -> bool:
        """Select or unselect one sample; returns whether it is selected now."""
        self._materialize(model)
        i = model.group_of[key]
        if key in self._keys:
            self._keys.discard(key)
            self._per_group[i] -= 1
            return False
        self._keys.add(key)
        self._per_group[i] = self._per_group.get(i, 0) + 1
        return True

    def group_state(self, group: ReasonGroup, model: ReviewModel) -> str:
        """all | some | none"""
        if self._all:
            return "all"
        n = self._per_group.get(model.index(group), 0)
        return "all" if n == len(group.reasons) else ("some" if n else "none")

    def toggle_group(self, group: ReasonGroup, model: ReviewModel) -> bool:
        """Select the whole group, or unselect it when it is already wholly selected."""
        whole = self.group_state(group, model) == "all"
        self._materialize(model)
        i = model.index(group)
        if whole:
            self._keys -= group.keys
            self._per_group[i] = 0
            return False
        self._keys |= group.keys
        self._per_group[i] = len(group.reasons)
        if len(self._keys) == model.total:
            self.clear()
            self._all = True
        return True

    def toggle_all(self, model: ReviewModel) -> bool:
        if model.total and self.count(model) == model.total:
            self.clear()
            return False
        self.clear()
        self._all = True
        return True

    def describe(self, model: ReviewModel, highlighted: ReasonGroup | None) -> str:
        """What the actions apply to, in words, without listing the samples (cheap on every keypress)."""
        n = self.count(model)
        if self._all:
            return f"all {n:,} pending samples"
        if n:
            return f"{n:,} selected sample{'s' if n != 1 else ''}"
        if highlighted is not None:
            m = len(highlighted.reasons)
            return f"the highlighted group ({m:,} sample{'s' if m != 1 else ''})"
        return "nothing"

    def targets(self, model: ReviewModel, highlighted: ReasonGroup | None) -> Targets:
        what = self.describe(model, highlighted)
        if self._all:
            return Targets(model.all_reasons(), what, True)
        if self._keys:
            chosen = [r for r, k in zip(model.all_reasons(), model.all_keys) if k in self._keys]
            return Targets(chosen, what, False)
        return Targets(list(highlighted.reasons) if highlighted is not None else [], what, False)
