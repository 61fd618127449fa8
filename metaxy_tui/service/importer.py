"""Importing samples of a root feature from a file: plan (preview, validate, count), then apply.

Shared by the command line and the TUI; nothing here imports Textual.

    plan = plan_import(project, "audio", "data/audio_update.csv")   # reads, maps, validates, resolves
    if plan.problems: print(plan.error())                           # every problem, with row and column
    else: apply_import(project, plan)                               # one transaction, all or nothing

Validation is the store's own (`store.validate.prepare`); this module adds what only a file
import needs: the column mapping (import_mapping.py, with provenance from each row's content),
reading typed values out of text, provenance from a column or from the file a path column names,
and the counts.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..columns import DATA_VERSION, DATA_VERSION_BY_FIELD, MATERIALIZATION_ID, PROVENANCE, PROVENANCE_BY_FIELD
from ..errors import InputError, InputProblem, MetaxyError
from ..frames import to_polars
from ..graph import FeaturePlan
from ..hashing import Hasher
from ..spec import feature_key_of
from ..store.validate import MAX_ROWS_NAMED, ROW, prepare
from .file_readers import (
    FORMATS,
    RowProblems,
    complete_path,
    decode_json_objects,
    hash_file,
    importable,
    parse_text,
    read_table,
    shown_path,
)
from .import_mapping import DVBF_PREFIX, PBF_PREFIX, content_hash_expr, resolve_mapping
from .project import Project

PREVIEW_ROWS = 20
PROBLEM_ROWS_SHOWN = 30  # rows named by problems, shown in the preview besides the first ones
PROVENANCE_MODES = ("auto", "column", "content")
_STAND_IN = {"int": 0, "float": 0.0, "bool": False}

CANCELLED_WRITE = "import cancelled: nothing was written"

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Cancelled = Callable[[], bool]

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


class ImportCancelled(MetaxyError):
    """The user cancelled; nothing was written."""


# ----- the plan ----------------------------------------------------------------------------------


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


# ----- helpers the UI uses ----------------------------------------------------------------------


def root_features(project: Project) -> list[str]:
    """The keys of the features samples can be imported into (roots), sorted."""
    if len(project.graph) == 0:
        return []
    plan = project.graph.plan()
    return sorted(k for k in project.graph.keys if plan[k].is_root)


def default_import_folder(project: Project) -> Path:
    """Where to look for files first: the project's data/ folder, its folder, or the working folder."""
    candidates: list[Path] = []
    if project.config is not None and getattr(project.config, "path", None):
        base = Path(project.config.path).parent
        candidates += [base / "data", base]
    if getattr(project.store, "project", None) == "video_demo":
        try:
            from .demo import demo_dir

            candidates.append(demo_dir() / "data")
        except MetaxyError:
            pass
    candidates.append(Path.cwd())
    for c in candidates:
        if c.is_dir():
            return c
    return Path.cwd()


def can_import(project: Project) -> bool:
    """False when the store was opened read-only."""
    return "opened read-only" not in project.notes


def targets_for(project: Project, feature: str) -> list[tuple[str, str]]:
    """What a file column can be mapped to, each with a short description; feature columns first."""
    definition = project.graph.feature_plan(feature).definition
    out = [
        (c, ("id column, " if c in definition.id_columns else "") + t.describe()) for c, t in definition.columns.items()
    ]
    out += [(PBF_PREFIX + f, f"provenance of field {f!r} (text)") for f in definition.field_keys]
    out.append((PROVENANCE_BY_FIELD, 'provenance of every field, as JSON {"field": "..."}'))
    out += [(DVBF_PREFIX + f, f"data version of field {f!r} (text)") for f in definition.field_keys]
    out.append((MATERIALIZATION_ID, "a run id kept with each sample"))
    return out


# ----- provenance from files --------------------------------------------------------------------


def _file_hashes(
    values: list[Any],
    base: Path,
    column: str,
    hasher: Hasher,
    problems: RowProblems,
    progress: Progress | None,
    cancelled: Cancelled | None,
) -> list[str | None]:
    out: list[str | None] = []
    cache: dict[Path, str | Exception] = {}
    failures: dict[str, list[int]] = {}
    total = len(values)
    step = max(1, total // 100)
    for i, v in enumerate(values):
        _check_cancel(cancelled, "cancelled while hashing files")
        if progress is not None and i % step == 0:
            progress("hashing files", i, total)
        if v is None or str(v).strip() == "":
            failures.setdefault("no path", []).append(i)
            out.append(None)
            continue
        text = str(v).strip()
        if "://" in text:
            failures.setdefault("not a local file (only local paths can be hashed)", []).append(i)
            out.append(None)
            continue
        p = Path(text).expanduser()
        p = p if p.is_absolute() else base / p
        got = cache.get(p)
        if got is None:
            try:
                if p.is_dir():
                    raise IsADirectoryError("is a folder")
                got = hash_file(p, hasher)
            except FileNotFoundError:
                got = FileNotFoundError("no such file")
            except OSError as e:
                got = OSError(e.strerror or str(e))
            cache[p] = got
        if isinstance(got, Exception):
            failures.setdefault(f"{got}", []).append(i)
            out.append(None)
        else:
            out.append(got)
    if progress is not None:
        progress("hashing files", total, total)
    for reason, rows in failures.items():
        for r in rows[:MAX_ROWS_NAMED]:
            problems.items.append(
                InputProblem(
                    f"cannot hash the file {str(values[r])!r}: {reason}"
                    if values[r] is not None
                    else f"cannot hash a file: {reason}",
                    column,
                    r,
                )
            )
        if len(rows) > MAX_ROWS_NAMED:
            problems.items.append(
                InputProblem(f"cannot hash the file: {reason} (and {len(rows) - MAX_ROWS_NAMED} more rows)", column)
            )
    return out


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


def _check_cancel(cancelled: Cancelled | None, what: str = "cancelled") -> None:
    if cancelled is not None and cancelled():
        raise ImportCancelled(what)


def _path_column(name: str, plan: ImportPlan) -> str | None:
    """The file column holding paths, named by its own name or by the feature column it maps to."""
    if name in plan.columns:
        return name
    return next((col for col, t in plan.mapping.items() if t == name), None)


def _typed_frame(
    raw: pl.DataFrame, plan: ImportPlan, fplan: FeaturePlan
) -> tuple[pl.DataFrame, list[InputProblem], dict[str, str], set[str]]:
    """The mapped columns under their feature names, text parsed into the feature's types.

    Returns (frame, problems, target -> file column, targets left out). A column whose values
    do not all parse is left out; its problems are recorded.
    """
    columns = fplan.definition.columns
    problems = RowProblems()
    renamed: dict[str, str] = {}
    left_out: set[str] = set()
    series: list[pl.Series] = []
    flat: dict[str, dict[str, pl.Series]] = {PROVENANCE_BY_FIELD: {}, DATA_VERSION_BY_FIELD: {}}
    for col, target in plan.mapping.items():
        if target is None or target in renamed:  # a second column for one target is a mapping problem
            continue
        s = raw.get_column(col)
        renamed[target] = col
        prefix = next((p for p in (PBF_PREFIX, DVBF_PREFIX) if target.startswith(p)), None)
        if prefix is not None:
            flat[prefix[:-1]][target[len(prefix) :]] = s
            renamed.setdefault(prefix[:-1], col)
            continue
        if s.dtype == pl.String and target in columns:
            s, failed = parse_text(s, columns[target], col, problems)
            if failed.any():
                if target in fplan.definition.id_columns:
                    left_out.add(target)
                    continue
                # a stand-in where the text did not parse, so the store still checks the other rows
                s = s.set(failed, _STAND_IN[columns[target].name])
        elif s.dtype == pl.String and target in (PROVENANCE_BY_FIELD, DATA_VERSION_BY_FIELD):
            s = decode_json_objects(s, col, problems)
            if s is None:
                left_out.add(target)
                continue
        series.append(s.alias(target))
    for struct, parts in flat.items():
        if parts and struct not in [x.name for x in series]:
            values = pl.DataFrame([(p.cast(pl.String) if p.dtype == pl.Null else p).alias(f) for f, p in parts.items()])
            series.append(values.select(pl.struct(pl.all()).alias(struct)).to_series())
    return pl.DataFrame(series), problems.items, renamed, left_out


def _store_validation(
    frame: pl.DataFrame,
    plan: ImportPlan,
    fplan: FeaturePlan,
    hasher: Hasher,
    renamed: dict[str, str],
    left_out: set[str],
) -> tuple[pl.DataFrame | None, list[InputProblem]]:
    """The store's own checks (`prepare`): canonical rows, or the problems (under file column names).

    Columns left out because their values did not parse are already reported, so the store's
    "missing column" for them is dropped.
    """
    if plan.provenance != "column":
        # a placeholder first: values are checked (and made canonical) before they are hashed
        fields = fplan.definition.field_keys
        placeholder = pl.struct([pl.lit("", pl.String).alias(f) for f in fields]).alias(PROVENANCE_BY_FIELD)
        frame = frame.with_columns(placeholder) if frame.width else pl.select(placeholder)
    try:
        return prepare(frame, fplan, hasher, source=plan.source), []
    except InputError as e:
        kept = [
            p for p in e.problems if not (p.column in left_out and p.row is None and p.message.startswith("missing"))
        ]
        return None, [_to_file_column(p, renamed) for p in kept]


def _provenance_and_counts(
    project: Project,
    plan: ImportPlan,
    fplan: FeaturePlan,
    canon: pl.DataFrame,
    renamed: dict[str, str],
    raw: pl.DataFrame,
    progress: Progress | None,
    cancelled: Cancelled | None,
) -> tuple[list[InputProblem], pl.DataFrame | None]:
    """The provenance, then resolve_update's counts (filled into `plan`).

    Returns (problems, each row's ids with its import status).
    """
    store = project.store
    hasher = store.hasher
    fields = fplan.definition.field_keys
    ids = list(fplan.definition.id_columns)
    mode = plan.provenance
    _check_cancel(cancelled)
    if mode == "content":
        digest = canon.select(content_hash_expr(fplan.definition.columns, canon.schema, hasher)).to_series()
        canon = canon.with_columns(_every_field(digest, fields))
    elif mode.startswith("file:"):
        col = _path_column(mode[5:], plan)
        assert col is not None
        problems = RowProblems()
        base = Path(plan.source).expanduser().resolve().parent if plan.source else Path.cwd()
        values = raw.get_column(col).cast(pl.String).to_list()
        digests = _file_hashes(values, base, col, hasher, problems, progress, cancelled)
        if problems.items:
            return problems.items, None
        canon = canon.with_columns(_every_field(pl.Series(digests, dtype=pl.String), fields))
    _check_cancel(cancelled)
    samples = canon.drop([c for c in (ROW, PROVENANCE, DATA_VERSION) if c in canon.columns])
    try:
        inc = store.resolve_update(fplan.name, samples=samples)
    except InputError as e:
        return [_to_file_column(p, renamed) for p in e.problems], None
    added, changed, removed = inc.added.to_polars(), inc.changed.to_polars(), inc.removed.to_polars()
    plan.added, plan.changed = added.height, changed.height
    plan.unchanged = canon.height - plan.added - plan.changed
    gone = removed.select(ids).unique(maintain_order=True)
    plan.absent, plan.absent_ids = gone.height, gone
    plan.to_write = pl.concat([added, changed], how="vertical_relaxed") if changed.height else added
    if mode == "content":
        plan.notes.append("provenance: a hash of each row's values")
    elif mode.startswith("file:"):
        plan.notes.append(f"provenance: a hash of the file each row's {mode[5:]!r} names")
    status = (
        canon.select([ROW] + ids)
        .join(added.select(ids).with_columns(pl.lit("added").alias("status")), on=ids, how="left")
        .join(changed.select(ids).with_columns(pl.lit("changed").alias("__c")), on=ids, how="left")
        .select(ROW, pl.coalesce("status", "__c", pl.lit("unchanged")).alias("status"))
    )
    return [], status


def _every_field(digest: pl.Series, fields: list[str]) -> pl.Expr:
    return pl.struct([pl.lit(digest).alias(f) for f in fields]).alias(PROVENANCE_BY_FIELD)


def _to_file_column(p: InputProblem, renamed: dict[str, str]) -> InputProblem:
    """Name the file's column in a problem found under the feature's column name."""
    col = p.column
    if col is None or col not in renamed:
        return p
    file_col = renamed[col]
    if col in (PROVENANCE_BY_FIELD, DATA_VERSION_BY_FIELD):
        prefix = col + "."
        file_col = next(
            (fc for t, fc in renamed.items() if t.startswith(prefix) and f"'{t[len(prefix) :]}'" in p.message), file_col
        )
        return InputProblem(p.message, file_col, p.row)
    if file_col == col:
        return p
    return InputProblem(f"{p.message} (feature column {col!r})", file_col, p.row)


def _sorted(problems: list[InputProblem], columns: list[str]) -> list[InputProblem]:
    """Without repeats; problems about the whole file or a column first, then by row and column."""
    order = {c: i for i, c in enumerate(columns)}
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.row is not None, p.row or 0, order.get(p.column or "", -1)))


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
