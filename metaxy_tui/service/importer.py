"""Importing samples of a root feature from a file: plan (preview, validate, count), then apply.

Shared by the command line and the TUI; nothing here imports Textual.

    plan = plan_import(project, "audio", "data/audio_update.csv")   # reads, maps, validates, resolves
    if plan.problems: print(plan.error())                           # every problem, with row and column
    else: apply_import(project, plan)                               # one transaction, all or nothing

Validation is the store's own (`store.validate.prepare`); the import adds what only a file
import needs: the column mapping (import_mapping.py, with provenance from each row's content),
reading typed values out of text (import_rows.py), provenance from a column or from the file a
path column names, and the counts (import_provenance.py). The plan and the result are
import_plan.py; where an import can go, for the UI, import_targets.py. This module holds the
two steps and re-exports what the UI and the command line use.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import polars as pl

from ..columns import MATERIALIZATION_ID
from ..errors import InputError, InputProblem
from ..frames import to_polars
from ..spec import feature_key_of
from ..store.validate import ROW
from .file_readers import FORMATS, read_table
from .import_mapping import resolve_mapping
from .import_paths import complete_path, importable, shown_path
from .import_plan import CANCELLED_WRITE, Cancelled, ImportCancelled, ImportPlan, ImportResult, Progress, _check_cancel
from .import_provenance import _provenance_and_counts
from .import_rows import _path_column, _sorted, _store_validation, _to_file_column, _typed_frame
from .import_targets import can_import, default_import_folder, root_features, targets_for
from .project import Project

PREVIEW_ROWS = 20
PROBLEM_ROWS_SHOWN = 30  # rows named by problems, shown in the preview besides the first ones
PROVENANCE_MODES = ("auto", "column", "content")


__all__ = [
    "ImportPlan",
    "ImportResult",
    "ImportCancelled",
    "plan_import",
    "apply_import",
    "read_table",
    "root_features",
    "default_import_folder",
    "can_import",
    "complete_path",
    "shown_path",
    "importable",
    "targets_for",
    "FORMATS",
    "PREVIEW_ROWS",
]


# ----- planning -----------------------------------------------------------------------------------


def plan_import(
    project: Project,
    feature: Any,
    data: pl.DataFrame | str | os.PathLike | Any,
    *,
    source: str | None = None,
    format: str | None = None,
    full_set: bool = False,
    provenance: str = "auto",
    mapping: dict[str, str | None] | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    keep_extra: bool = False,
) -> ImportPlan:
    """What importing `data` (a path, or a frame read from `source`) into root `feature` would do.

    `provenance`: "auto" (a provenance column when the file has one, else "content"),
    "column", "content" (a hash of each row's values) or "file:COLUMN" (a hash of the file
    COLUMN names, relative to the imported file's folder). `mapping` maps file columns to
    feature columns (None: not imported); unlisted columns map to the feature column of the
    same name (case-insensitive). `keep_extra` keeps the file columns that map to nothing as
    columns of their own; otherwise they are problems. Problems are collected, not raised: see
    `plan.problems`.
    """
    start = time.perf_counter()
    key = feature_key_of(feature).to_string()
    fplan = project.graph.feature_plan(key)
    if not fplan.is_root:
        raise InputError(
            key,
            [
                InputProblem(
                    "is not a root feature: samples can only be imported into root "
                    f"features ({', '.join(root_features(project)) or 'none'})"
                )
            ],
        )
    if provenance not in PROVENANCE_MODES and not provenance.startswith("file:"):
        raise ValueError(f"provenance must be one of {', '.join(PROVENANCE_MODES)} or file:COLUMN, got {provenance!r}")
    plan = ImportPlan(feature=key, source=source, full_set=full_set, provenance=provenance, keep_extra=keep_extra)
    if isinstance(data, (str, os.PathLike)):
        plan.source = source or str(data)
        try:
            raw = read_table(data, format)
        except InputError as e:
            plan.problems = list(e.problems)
            plan.seconds = time.perf_counter() - start
            return plan
    else:
        raw = to_polars(data, key)
    _check_cancel(cancelled)
    plan.rows, plan.columns = raw.height, list(raw.columns)
    mapping_, states, notes, mode, problems = resolve_mapping(plan.columns, fplan, mapping, provenance, keep_extra)
    plan.mapping, plan.column_states, plan.column_notes, plan.provenance = mapping_, states, notes, mode
    if raw.height == 0:
        problems.append(InputProblem("the file has no rows"))
    if mode.startswith("file:") and _path_column(mode[5:], plan) is None:
        problems.append(InputProblem(f"no column {mode[5:]!r} to read file paths from"))
    frame, more, renamed, left_out = _typed_frame(raw, plan, fplan)
    problems += more
    if keep_extra:
        try:  # the kept columns join the feature's columns, typed from the file
            fplan = project.store.frame_plan(key, frame)
        except InputError as e:
            problems += [_to_file_column(p, renamed) for p in e.problems]
    _check_cancel(cancelled)
    canon, more = _store_validation(frame, plan, fplan, project.store.hasher, renamed, left_out)
    problems += more
    status = None
    if not problems and canon is not None:
        _check_cancel(cancelled)
        problems, status = _provenance_and_counts(project, plan, fplan, canon, renamed, raw, progress, cancelled)
    plan.problems = _sorted(problems, plan.columns)
    _fill_preview(plan, raw, status)
    plan.seconds = time.perf_counter() - start
    return plan


def _fill_preview(plan: ImportPlan, raw: pl.DataFrame, status: pl.DataFrame | None) -> None:
    """The first rows, and the rows problems name, as text; with their import status when known."""
    if raw.height == 0:
        return
    named = sorted({p.row for p in plan.problems if p.row is not None and p.row < raw.height})
    rows = list(range(min(PREVIEW_ROWS, raw.height))) + [r for r in named if r >= PREVIEW_ROWS][:PROBLEM_ROWS_SHOWN]
    plan.preview_rows = rows
    picked = raw.with_row_index("__r").filter(pl.col("__r").is_in(rows)).drop("__r")
    plan.preview_cells = [[_cell_text(v) for v in rec] for rec in picked.iter_rows()]
    if status is None:
        plan.preview_status = [None] * len(rows)
    else:
        marks = dict(status.filter(pl.col(ROW).is_in(rows)).iter_rows())
        plan.preview_status = [marks.get(r) for r in rows]


def _cell_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str, ensure_ascii=False)
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


# ----- applying -----------------------------------------------------------------------------------


def apply_import(
    project: Project, plan: ImportPlan, progress: Progress | None = None, cancelled: Cancelled | None = None
) -> ImportResult:
    """Write the plan's added and changed samples (and soft-delete the removed ones of a full set).

    The write is one transaction: a cancel (from `cancelled`, checked between batches) or any
    error rolls it back and raises, leaving the store as it was.
    """
    start = time.perf_counter()
    plan.raise_for_problems()
    if plan.to_write is None:
        raise InputError(plan.feature, [InputProblem("the import was not planned")], plan.source)
    store = project.store
    rows = plan.to_write
    total = rows.height

    def on_batch(done: int, n: int) -> None:
        _check_cancel(cancelled, CANCELLED_WRITE)  # raising here rolls the transaction back
        if progress is not None:
            progress("writing", done, n)

    _check_cancel(cancelled, CANCELLED_WRITE)
    if progress is not None:
        progress("validating", 0, total)
    remove = plan.remove_ids
    written = deleted = 0
    if total or remove is not None:
        kwargs: dict[str, Any] = {"progress": on_batch}
        if MATERIALIZATION_ID not in rows.columns or rows.get_column(MATERIALIZATION_ID).null_count() == total:
            kwargs["materialization_id"] = f"import:{plan.source_name}"
        # the full set's removals are soft-deleted in the same transaction as the write
        written = store.write_metadata(plan.feature, rows, delete_ids=remove, **kwargs)
        deleted = plan.removed
    return ImportResult(plan.feature, written, deleted, time.perf_counter() - start)
