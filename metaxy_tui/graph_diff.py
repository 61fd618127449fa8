"""What changed between two feature graphs (two snapshots, or a snapshot and the code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .graph import FeatureGraph


@dataclass
class FieldChange:
    field: str
    change: str  # added | removed | changed
    old_code_version: str | None = None
    new_code_version: str | None = None
    old_version: str | None = None
    new_version: str | None = None

    def describe(self) -> str:
        if self.change == "added":
            return f"field {self.field} added (code_version {self.new_code_version})"
        if self.change == "removed":
            return f"field {self.field} removed"
        if self.old_code_version != self.new_code_version:
            return (
                f"field {self.field}: code_version {self.old_code_version} -> {self.new_code_version} "
                f"(version {short(self.old_version)} -> {short(self.new_version)})"
            )
        return (
            f"field {self.field}: version {short(self.old_version)} -> {short(self.new_version)} "
            "(an upstream field changed)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "change": self.change,
            "old_code_version": self.old_code_version,
            "new_code_version": self.new_code_version,
            "old_version": self.old_version,
            "new_version": self.new_version,
        }


@dataclass
class FeatureChange:
    feature: str
    change: str  # added | removed | changed
    old_version: str | None = None
    new_version: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # deps, id columns, columns, description

    @property
    def version_changed(self) -> bool:
        return self.old_version != self.new_version

    def describe(self) -> str:
        if self.change == "added":
            return f"{self.feature}: new feature (version {short(self.new_version)})"
        if self.change == "removed":
            return f"{self.feature}: removed from the code"
        head = f"{self.feature}: "
        head += (
            f"version {short(self.old_version)} -> {short(self.new_version)}"
            if self.version_changed
            else "same version"
        )
        return head

    def consequence(self, stored_rows: int | None = None) -> str:
        if self.change == "added":
            return "no samples stored yet; every sample will be added"
        if self.change == "removed":
            return "its stored samples stay in the store as history"
        if self.version_changed:
            n = f"all {stored_rows} stored samples" if stored_rows is not None else "all stored samples"
            return (
                f"{n} are hidden under the old version: every sample comes back as added until recomputed (or accepted)"
            )
        return "versions unchanged: stored samples stay valid"

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "change": self.change,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "fields": [f.to_dict() for f in self.fields],
            "other": list(self.other),
        }


def short(version: str | None) -> str:
    return version[:8] if version else "-"


def diff_graphs(old: FeatureGraph, new: FeatureGraph) -> list[FeatureChange]:
    """Features added, removed or changed from `old` to `new`, sorted by key."""
    out: list[FeatureChange] = []
    old_plan = old.plan() if len(old) else None
    new_plan = new.plan() if len(new) else None
    keys = sorted(set(old.keys) | set(new.keys))
    for key in keys:
        if key not in old:
            assert new_plan is not None  # (new holds key: it has a plan)
            p = new_plan[key]
            out.append(FeatureChange(key, "added", None, p.feature_version))
            continue
        if key not in new:
            assert old_plan is not None
            p = old_plan[key]
            out.append(FeatureChange(key, "removed", p.feature_version, None))
            continue
        assert old_plan is not None and new_plan is not None
        a, b = old_plan[key], new_plan[key]
        fc = FeatureChange(key, "changed", a.feature_version, b.feature_version)
        a_fields = {f.key.to_string(): f for f in a.definition.spec.fields}
        b_fields = {f.key.to_string(): f for f in b.definition.spec.fields}
        for name in sorted(set(a_fields) | set(b_fields)):
            sa, sb = a_fields.get(name), b_fields.get(name)
            va = a.field_versions.get(sa.key.struct_name) if sa else None
            va = a.field_versions.get(name, va)
            vb = b.field_versions.get(name) if sb else None
            if sa is None:
                assert sb is not None  # (a name of one side or the other)
                fc.fields.append(FieldChange(name, "added", None, sb.code_version, None, vb))
            elif sb is None:
                fc.fields.append(FieldChange(name, "removed", sa.code_version, None, va, None))
            elif va != vb or sa.code_version != sb.code_version:
                fc.fields.append(FieldChange(name, "changed", sa.code_version, sb.code_version, va, vb))
        da, db = a.definition, b.definition
        if [d.to_dict() for d in da.spec.deps] != [d.to_dict() for d in db.spec.deps]:
            fc.other.append("deps changed")
        if da.id_columns != db.id_columns:
            fc.other.append(f"id columns {', '.join(da.id_columns)} -> {', '.join(db.id_columns)}")
        if {c: t.to_dict() for c, t in da.columns.items()} != {c: t.to_dict() for c, t in db.columns.items()}:
            added = [c for c in db.columns if c not in da.columns]
            removed = [c for c in da.columns if c not in db.columns]
            retyped = [c for c in db.columns if c in da.columns and db.columns[c] != da.columns[c]]
            parts = (
                [f"+{c}" for c in added]
                + [f"-{c}" for c in removed]
                + [f"{c}: {da.columns[c].describe()} -> {db.columns[c].describe()}" for c in retyped]
            )
            fc.other.append("columns " + ", ".join(parts))
        if (da.description or "") != (db.description or ""):
            fc.other.append("description changed")
        if fc.version_changed or fc.fields or fc.other:
            out.append(fc)
    return out
