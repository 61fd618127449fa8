"""The columns every feature table carries besides Metaxy's, and how indexes are named: shared by
the layout (schema.py) and the tables it creates beside the feature tables (chunks.py, groups.py)."""

from __future__ import annotations

from ..records import FV_ID, WRITE_ID

FV = FV_ID  # feature version id (-> _metaxy_feature_versions.id)
WRITE = WRITE_ID  # the write that stored the row (-> _metaxy_writes.id)
SUPERSEDED = "_mx_superseded"  # the write that replaced the row; NULL for a latest row


def index_name(table: str, what: str) -> str:
    """Indexes share the table namespace; feature tables never start with '_', these always do."""
    return f"_mx_{table}__{what}"


__all__ = ["FV", "SUPERSEDED", "WRITE", "index_name"]
