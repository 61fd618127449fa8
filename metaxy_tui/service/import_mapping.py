"""Where a file's columns go in a root feature (the mapping, with its automatic guesses), and the
provenance of a row computed from its content."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from ..columns import DATA_VERSION_BY_FIELD, MATERIALIZATION_ID, PROVENANCE_BY_FIELD, SYSTEM_COLUMNS
from ..errors import DefinitionError, InputProblem
from ..graph import FeaturePlan
from ..hashing import Hasher
from ..keys import validate_column_name

PBF_PREFIX = PROVENANCE_BY_FIELD + "."
DVBF_PREFIX = DATA_VERSION_BY_FIELD + "."
FLAT_PROVENANCE_PREFIX = "provenance_"  # the demo's flat convention: provenance_<field>
# system columns the store fills in itself: a file exported from a store may carry them
STORE_FILLED = tuple(
    c for c in SYSTEM_COLUMNS if c not in (PROVENANCE_BY_FIELD, DATA_VERSION_BY_FIELD, MATERIALIZATION_ID)
)


# ----- mapping -----------------------------------------------------------------------------------


def auto_target(column: str, plan: FeaturePlan) -> tuple[str | None, str]:
    """(target, state) for a file column with no explicit mapping."""
    definition = plan.definition
    fields = definition.field_keys
    names = {c.lower(): c for c in definition.columns}
    system = {c.lower(): c for c in (PROVENANCE_BY_FIELD, DATA_VERSION_BY_FIELD, MATERIALIZATION_ID)}
    low = column.lower()
    if column in definition.columns:
        return column, "mapped"
    if low in names:
        return names[low], "mapped"
    if low in system:
        return system[low], "provenance" if system[low] != MATERIALIZATION_ID else "mapped"
    for prefix in (PBF_PREFIX, DVBF_PREFIX):
        if low.startswith(prefix) and column[len(prefix) :] in fields:
            return prefix + column[len(prefix) :], "provenance"
    if low.startswith(FLAT_PROVENANCE_PREFIX) and column[len(FLAT_PROVENANCE_PREFIX) :] in fields:
        return PBF_PREFIX + column[len(FLAT_PROVENANCE_PREFIX) :], "provenance"
    if low in (c.lower() for c in STORE_FILLED):
        return None, "ignored"
    return None, "unknown"


def resolve_mapping(
    columns: list[str], plan: FeaturePlan, given: dict[str, str | None] | None, mode: str, keep_extra: bool = False
) -> tuple[dict[str, str | None], dict[str, str], dict[str, str], str, list[InputProblem]]:
    """(mapping, states, notes, provenance mode, problems) for the file's columns.

    `keep_extra`: a column that maps to no feature column is kept under its own name (stored as
    a column the class does not annotate, SPEC 1) instead of being reported.
    """
    allowed = set(plan.definition.columns) | {PROVENANCE_BY_FIELD, DATA_VERSION_BY_FIELD, MATERIALIZATION_ID}
    allowed |= {PBF_PREFIX + f for f in plan.definition.field_keys} | {
        DVBF_PREFIX + f for f in plan.definition.field_keys
    }
    given = dict(given or {})
    problems: list[InputProblem] = []
    for col in given:
        if col not in columns:
            problems.append(
                InputProblem(
                    f"the mapping names a column the file does not have (its columns: {', '.join(columns)})", col
                )
            )
    mapping: dict[str, str | None] = {}
    states: dict[str, str] = {}
    notes: dict[str, str] = {}
    for col in columns:
        if col in given:
            target = given[col]
            if target is None or target == "":
                mapping[col], states[col], notes[col] = None, "ignored", "not imported (mapping)"
                continue
            if target not in allowed:
                problems.append(
                    InputProblem(f"cannot map to {target!r}: feature {plan.name!r} has no such column", col)
                )
                mapping[col], states[col] = None, "unknown"
                continue
            is_prov = target.startswith((PROVENANCE_BY_FIELD, DATA_VERSION_BY_FIELD))
            mapping[col], states[col] = target, "provenance" if is_prov else "mapped"
            continue
        target, state = auto_target(col, plan)
        if state == "unknown" and keep_extra and keepable(col):
            target, state = col, "extra"
        mapping[col], states[col] = target, state
        if state == "ignored":
            notes[col] = "filled in by the store"
        elif state == "unknown":
            notes[col] = "no feature column of that name: map it, or ignore it"
        elif state == "extra":
            notes[col] = "kept: stored as a column of its own (not annotated on the feature)"
    if mode == "auto":
        mode = "column" if any(t and t.startswith(PROVENANCE_BY_FIELD) for t in mapping.values()) else "content"
    if mode != "column":
        for col, t in mapping.items():
            if t is not None and t.startswith(PROVENANCE_BY_FIELD):
                mapping[col], states[col] = None, "ignored"
                notes[col] = "ignored: provenance comes from " + (
                    "each row's content" if mode == "content" else "the files the path column names"
                )
    by_target: dict[str, list[str]] = {}
    for col, t in mapping.items():
        if t is not None:
            by_target.setdefault(t, []).append(col)
    for t, cols in by_target.items():
        if len(cols) > 1:
            problems.append(
                InputProblem(
                    f"columns {', '.join(repr(c) for c in cols)} all map to {t!r}: ignore all but one", cols[1]
                )
            )
    if PROVENANCE_BY_FIELD in by_target and any(t.startswith(PBF_PREFIX) for t in by_target):
        problems.append(
            InputProblem(
                "provenance is given both as one column and as one column per field: keep one",
                by_target[PROVENANCE_BY_FIELD][0],
            )
        )
    for col in columns:
        if states[col] == "unknown" and col not in given:
            hint = (
                " (it cannot be kept under this name: use letters, digits and '_')"
                if keep_extra
                else ", or keep it as a column of its own"
            )
            problems.append(
                InputProblem(
                    f"unknown column (feature {plan.name!r} has: "
                    f"{', '.join(plan.definition.columns)}): map it to a feature column or "
                    f"ignore it{hint}",
                    col,
                )
            )
    return mapping, states, notes, mode, problems


def keepable(column: str) -> bool:
    """Whether a file column can be stored under its own name."""
    try:
        validate_column_name(column)
    except DefinitionError:
        return False
    return True


# ----- provenance ---------------------------------------------------------------------------------


def content_hash_expr(columns: Iterable[str], schema: pl.Schema, hasher: Hasher) -> pl.Expr:
    """A stable hash of each row's values: the store's hash of a canonical JSON object of them."""
    parts = []
    for c in sorted(columns):
        dt = schema[c]
        e = pl.col(c).bin.encode("hex") if dt == pl.Binary else pl.col(c).cast(pl.String)
        parts.append(e.alias(c))
    return hasher.expr(pl.struct(parts).struct.json_encode())
