"""An import's provenance (from a column, from each row's content, or from the file a path column
names) and its counts against the store (resolve_update: added, changed, unchanged, absent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from ..columns import DATA_VERSION, PROVENANCE, PROVENANCE_BY_FIELD
from ..errors import InputError, InputProblem
from ..graph import FeaturePlan
from ..hashing import Hasher
from ..store.validate import MAX_ROWS_NAMED, ROW
from .import_paths import hash_file
from .import_values import RowProblems
from .import_mapping import content_hash_expr
from .import_plan import Cancelled, ImportPlan, Progress, _check_cancel
from .import_rows import _path_column, _to_file_column
from .project import Project


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
