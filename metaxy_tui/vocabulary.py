"""The words the engine, the command line and the TUI share, one `StrEnum` each.

A member is its string (`LineageKind.AGGREGATION == "aggregation"`, and JSON, polars literals,
f-strings and the audit log see the plain value), so output and stored values stay what they were;
the enum is where the set of values is written down, and comparisons name a member, not a literal.
"""

from __future__ import annotations

from enum import StrEnum


class LineageKind(StrEnum):
    """How a feature's samples map onto an upstream's (Metaxy's LineageRelationshipType)."""

    IDENTITY = "identity"  # 1:1, the same key
    AGGREGATION = "aggregation"  # N:1, a group of upstream samples makes one
    EXPANSION = "expansion"  # 1:N, one upstream sample makes several


class IncrementStatus(StrEnum):
    """What resolving says of a sample: to compute, to recompute, or gone upstream."""

    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"


class ReasonKind(StrEnum):
    """Why a sample is pending (explain/); REASON_TEXT says each in words."""

    NEVER_COMPUTED = "never_computed"
    NEW_UPSTREAM = "new_upstream"
    FEATURE_VERSION = "feature_version"
    DELETED_HERE = "deleted_here"
    UPSTREAM_CHANGED = "upstream_changed"
    UPSTREAM_GONE = "upstream_gone"
    UPSTREAM_VERSION = "upstream_version"
    UNKNOWN_INPUTS = "unknown_inputs"


REASON_TEXT: dict[ReasonKind, str] = {
    ReasonKind.NEVER_COMPUTED: "never computed",
    ReasonKind.NEW_UPSTREAM: "a new upstream sample appeared",
    ReasonKind.FEATURE_VERSION: "the feature version changed",
    ReasonKind.DELETED_HERE: "deleted here, but its upstream is still there",
    ReasonKind.UPSTREAM_CHANGED: "upstream samples changed",
    ReasonKind.UPSTREAM_GONE: "its upstream samples are gone",
    ReasonKind.UPSTREAM_VERSION: "an upstream feature has a new version, not yet recomputed",
    ReasonKind.UNKNOWN_INPUTS: "its provenance moved; what it was computed from is no longer in the store",
}


class AuditAction(StrEnum):
    """What an audit-log entry records (the `action` column)."""

    RECOMPUTE = "recompute"
    ACCEPT = "accept"
    DELETE_REMOVED = "delete_removed"


class OutputFormat(StrEnum):
    """How a command prints its answer (--format; each command offers some of these)."""

    TABLE = "table"
    TEXT = "text"
    JSON = "json"
    CSV = "csv"
    TERMINAL = "terminal"  # the graph drawn in box characters
    MERMAID = "mermaid"


__all__ = ["AuditAction", "IncrementStatus", "LineageKind", "OutputFormat", "REASON_TEXT", "ReasonKind"]
