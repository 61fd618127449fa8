"""The answer, for either kind of change: per stale feature its moved fields, why, how many samples and
a few ids (StaleFeature); per definition change (ChangeImpact, DefinitionImpact); per approval (BlastRadius)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..samples import format_ids


SAMPLE_IDS = 5  # ids shown per stale feature


@dataclass
class StaleFeature:
    """The samples of one feature a change would make stale."""

    feature: str
    fields: list[str]  # its fields that move
    via: list[str] = field(default_factory=list)  # why: "faces ← video/chunk.frames"
    count: int = 0
    sample_ids: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""  # "new feature: nothing stored yet", "already pending: its definition changed", ...

    def describe(self) -> str:
        """One line: `video/face_detection  faces  400 samples  e.g. video_id=v0001 · chunk_id=0; ...`"""
        text = f"{self.feature} [{', '.join(self.fields)}]: {self.count:,} sample{'s' if self.count != 1 else ''}"
        if self.sample_ids:
            text += (
                " (e.g. "
                + "; ".join(format_ids(i) for i in self.sample_ids[:3])
                + ("; …" if self.count > 3 else "")
                + ")"
            )
        if self.note:
            text += f" — {self.note}"
        return text

    def to_dict(self) -> dict:
        return {
            "feature": self.feature,
            "fields": self.fields,
            "via": self.via,
            "count": self.count,
            "sample_ids": self.sample_ids,
            "note": self.note,
        }


@dataclass
class ChangeImpact:
    """One definition change (a field's code version, a field added or removed, a field's
    deps, a feature added or removed) and the samples it would make stale."""

    feature: str
    field: str | None
    change: str  # code_version | field_added | field_removed | field_deps | feature_added | feature_removed
    description: str
    # `field` names a field of this class here: dataclasses.field spelled out
    stale: list[StaleFeature] = dataclasses.field(default_factory=list)  # topological order, the changed feature first
    unaffected: list[str] = dataclasses.field(default_factory=list)  # "video/transcript: reads only video/chunk.audio"
    note: str = ""

    @property
    def total(self) -> int:
        return sum(s.count for s in self.stale)

    def to_dict(self) -> dict:
        return {
            "feature": self.feature,
            "field": self.field,
            "change": self.change,
            "description": self.description,
            "total": self.total,
            "stale": [s.to_dict() for s in self.stale],
            "unaffected": self.unaffected,
            "note": self.note,
        }


@dataclass
class DefinitionImpact:
    changes: list[ChangeImpact]
    features: list[StaleFeature]  # every change together, per feature
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(s.count for s in self.features)

    def for_feature(self, feature: str) -> list[ChangeImpact]:
        return [c for c in self.changes if c.feature == feature]

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "features": [s.to_dict() for s in self.features],
            "seconds": round(self.seconds, 3),
        }


@dataclass
class BlastRadius:
    """What approving samples of one feature would make stale downstream."""

    feature: str
    samples: int
    fields: list[str]  # the feature's fields whose provenance moves
    stale: list[StaleFeature] = field(default_factory=list)
    unaffected: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(s.count for s in self.stale)
