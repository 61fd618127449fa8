"""A file's rows under the feature's columns: text parsed into the feature's types, the store's own
validation (`store.validate.prepare`), and problems named by the file's columns, in file order."""

from __future__ import annotations


import polars as pl

from ..columns import DATA_VERSION_BY_FIELD, PROVENANCE_BY_FIELD
from ..errors import InputError, InputProblem
from ..graph import FeaturePlan
from ..hashing import Hasher
from ..store.validate import prepare
from .import_values import RowProblems, decode_json_objects, parse_text
from .import_mapping import DVBF_PREFIX, PBF_PREFIX
from .import_plan import ImportPlan


_STAND_IN = {"int": 0, "float": 0.0, "bool": False}


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
            decoded = decode_json_objects(s, col, problems)
            if decoded is None:
                left_out.add(target)
                continue
            s = decoded
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
