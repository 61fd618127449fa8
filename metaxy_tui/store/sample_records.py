"""A sample's detail records built from SQL rows, the same on both SQL stores: its history
(`HistoryEntry`, store/records.py) and the linked rows of a feature (`LinkedRow`), with the notes
that say why none are there. The dialects' detail reads (store/sqlite/sample_detail.py,
store/postgres/sample_detail.py) select the rows these take.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .records import HistoryEntry, LinkedRow


def history_entries(rows: Iterable[Sequence[Any]], fv_names: dict[int, str], fv_id: int | None) -> list[HistoryEntry]:
    """A sample's stored rows, oldest first, from rows read newest first: (write id, write kind,
    written at, feature version id, provenance, data version, created, updated, deleted,
    superseded by, materialization id). `fv_id` is the current feature version's id."""
    out = [
        HistoryEntry(
            write_id=r[0],
            kind=r[1] or "?",
            at=r[2],
            feature_version=fv_names.get(r[3], "?"),
            current_version=(r[3] == fv_id),
            provenance=r[4],
            data_version=r[5],
            created_at=r[6],
            updated_at=r[7],
            deleted_at=r[8],
            superseded_by=r[9],
            materialization_id=r[10],
        )
        for r in rows
    ]
    out.reverse()
    return out


def no_current_table_note(feature: str, table: str | None) -> str:
    """Why a feature has no current rows to link: nothing stored, or nothing under its version."""
    return (
        f"{feature} has no stored samples yet"
        if table is None
        else f"{feature} has no samples under its current feature version"
    )


def linked_rows_of(
    rows: Iterable[Sequence[Any]], columns: Sequence[str], fields: Sequence[str], total: int, feature: str
) -> tuple[list[LinkedRow], int, str]:
    """`SamplePages.linked_rows`' answer from rows of (the columns' values, provenance, data
    version, each field's data version), `total` matching, and a note when none does."""
    n = len(columns)
    out = [LinkedRow(dict(zip(columns, r[:n])), r[n], r[n + 1], dict(zip(fields, r[n + 2 :]))) for r in rows]
    return out, total, "" if total else f"no current sample of {feature} matches"
