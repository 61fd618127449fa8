"""What an import would do and what it did: the plan (mapping, preview, counts, problems) that
plan_import fills and apply_import writes, its result, and how a cancel is asked and raised."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..errors import InputError, InputProblem, MetaxyError

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Cancelled = Callable[[], bool]

CANCELLED_WRITE = "import cancelled: nothing was written"


class ImportCancelled(MetaxyError):
    """The user cancelled; nothing was written."""


def _check_cancel(cancelled: Cancelled | None, what: str = "cancelled") -> None:
    if cancelled is not None and cancelled():
        raise ImportCancelled(what)


@dataclass
class ImportPlan:
    """What importing a file would do; `problems` empty means it can be applied."""

    feature: str
    source: str | None
    rows: int = 0
    columns: list[str] = field(default_factory=list)  # the file's columns, in order
    mapping: dict[str, str | None] = field(default_factory=dict)  # file column -> target (None: not imported)
    column_states: dict[str, str] = field(default_factory=dict)  # mapped | provenance | ignored | unknown | extra
    column_notes: dict[str, str] = field(default_factory=dict)  # why a column is ignored or unknown
    provenance: str = "auto"  # the mode used: column | content | file:COLUMN (auto before reading)
    full_set: bool = False
    keep_extra: bool = False  # file columns that map to no feature column are stored as columns of their own
    preview_rows: list[int] = field(default_factory=list)  # file rows shown (0-based)
    preview_cells: list[list[str | None]] = field(default_factory=list)  # their values as text, per column
    preview_status: list[str | None] = field(default_factory=list)  # added | changed | unchanged | None
    problems: list[InputProblem] = field(default_factory=list)
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    absent: int = 0  # stored samples the file does not have: removed in a full set, kept otherwise
    notes: list[str] = field(default_factory=list)
    to_write: pl.DataFrame | None = None
    absent_ids: pl.DataFrame | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and self.to_write is not None

    @property
    def removed(self) -> int:
        """Samples soft-deleted on apply: those the file lacks, when it is declared the full set."""
        return self.absent if self.full_set else 0

    @property
    def remove_ids(self) -> pl.DataFrame | None:
        return self.absent_ids if self.full_set and self.absent else None

    @property
    def will_write(self) -> bool:
        return self.ok and bool(self.added or self.changed or self.removed)

    @property
    def source_name(self) -> str:
        return Path(self.source).name if self.source else "the rows"

    def summary(self) -> str:
        """One line: what applying the plan does."""
        if self.problems:
            n = len(self.problems)
            return f"{n} problem{'s' if n != 1 else ''}: nothing will be written"
        parts = [f"{self.added:,} added", f"{self.changed:,} changed", f"{self.unchanged:,} unchanged"]
        if self.full_set:
            parts.append(f"{self.removed:,} removed")
        return " · ".join(parts)

    def absent_note(self) -> str | None:
        if not self.ok or not self.absent:
            return None
        if self.full_set:
            return f"full set: {self.absent:,} stored samples not in the file will be soft-deleted"
        return f"partial batch: {self.absent:,} stored samples not in the file are kept"

    def error(self) -> InputError:
        return InputError(self.feature, self.problems, self.source)

    def raise_for_problems(self) -> None:
        if self.problems:
            raise self.error()


@dataclass
class ImportResult:
    feature: str
    written: int
    deleted: int
    seconds: float

    def summary(self) -> str:
        text = f"{self.written:,} samples written to {self.feature}"
        if self.deleted:
            text += f", {self.deleted:,} soft-deleted"
        return text
