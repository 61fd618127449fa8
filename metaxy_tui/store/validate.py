"""Checking rows before they are written (or used as samples), all at once.

Every problem found is collected with its row and column so that a user can fix a file in
one pass; nothing is written while any problem remains.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from ..columns import (
    DATA_VERSION,
    DATA_VERSION_BY_FIELD,
    MATERIALIZATION_ID,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
    SYSTEM_COLUMNS,
    ColumnType,
    column_type_of_dtype,
)
from ..errors import InputError, InputProblem
from ..graph import FeaturePlan
from ..hashing import Hasher

ROW = "__mx_row"  # the row's position in the input, for messages
MAX_ROWS_NAMED = 5
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


class Problems:
    def __init__(self) -> None:
        self.items: list[InputProblem] = []

    def add(self, message: str, column: str | None = None, row: int | None = None) -> None:
        self.items.append(InputProblem(message, column, row))

    def rows(self, df: pl.DataFrame, mask: pl.Series, column: str | None, message: str) -> None:
        """Record `message` for each row where `mask` holds (the first few by row number)."""
        bad = df.filter(mask).get_column(ROW)
        for r in bad.head(MAX_ROWS_NAMED).to_list():
            self.add(message, column, r)
        if bad.len() > MAX_ROWS_NAMED:
            self.add(f"{message} (and {bad.len() - MAX_ROWS_NAMED} more rows)", column)


def _describe_values(values: Iterable[object]) -> str:
    return ", ".join(repr(v) for v in values)


def _parse_times(s: pl.Series, kind: str) -> pl.Series:
    """ISO 8601 text as dates or naive datetimes; a datetime with an offset ("Z", "+02:00") is
    converted to UTC. polars infers one format from the first value, so rows in the other form
    (with or without an offset) get a second pass."""

    def parse(x: pl.Series) -> pl.Series:
        try:
            out = x.str.to_date(strict=False) if kind == "date" else x.str.to_datetime(strict=False, time_unit="us")
        except pl.exceptions.ComputeError:  # no format to infer from the first value: none parse
            return pl.Series(x.name, [None] * len(x), pl.Date if kind == "date" else pl.Datetime("us"))
        if isinstance(out.dtype, pl.Datetime) and out.dtype.time_zone is not None:
            out = out.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return out

    parsed = parse(s)
    missing = parsed.is_null() & s.is_not_null()
    if missing.any() and not missing.all():
        parsed = parsed.scatter(missing.arg_true(), parse(s.filter(missing)).cast(parsed.dtype))
    return parsed


def _convert(df: pl.DataFrame, col: str, t: ColumnType, problems: Problems) -> pl.Expr | None:
    """An expression giving `col` in the canonical dtype for `t`, or None after recording problems."""
    s = df.get_column(col)
    dtype = s.dtype
    c = pl.col(col)
    if dtype == pl.Null:
        return c.cast(t.polars)
    if t.name == "str":
        if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            return c.cast(pl.String)
        if dtype.is_integer():  # lossless: Metaxy's examples give integer ids to `str` columns
            return c.cast(pl.String)
        problems.add(f"expected text, got {dtype}", col)
        return None
    if t.name == "int":
        if dtype.is_integer():
            if dtype in (pl.UInt64,):
                big = s > INT64_MAX
                problems.rows(df, big, col, "integer does not fit in 64 bits")
                if big.any():
                    return None
            return c.cast(pl.Int64)
        if dtype.is_float():
            finite = s.is_finite() | s.is_null()
            nan = s.is_nan().fill_null(False)
            if t.nullable:
                fs = s.fill_nan(None)
            else:
                problems.rows(df, nan, col, "NaN where an integer is required")
                fs = s
            problems.rows(df, ~finite & ~nan, col, "infinite value where an integer is required")
            frac = (fs.is_finite() & (fs != fs.floor())).fill_null(False)
            problems.rows(df, frac, col, "fraction in an integer column")
            # float(2**63 - 1) rounds up to 2**63, which does not fit: compare against 2**63 itself
            big = ((fs >= float(2**63)) | (fs < float(INT64_MIN))).fill_null(False)
            problems.rows(df, big, col, "integer does not fit in 64 bits")
            if (nan.any() and not t.nullable) or frac.any() or big.any() or (~finite & ~nan).any():
                return None
            return c.fill_nan(None).cast(pl.Int64) if t.nullable else c.cast(pl.Int64)
        problems.add(f"expected integers, got {dtype}", col)
        return None
    if t.name == "float":
        if dtype.is_float() or dtype.is_integer():
            if dtype.is_float():
                if t.nullable:
                    return c.fill_nan(None).cast(pl.Float64)
                nan = s.is_nan().fill_null(False)
                problems.rows(df, nan, col, "NaN where a number is required")
                if nan.any():
                    return None
            return c.cast(pl.Float64)
        problems.add(f"expected numbers, got {dtype}", col)
        return None
    if t.name == "bool":
        if dtype == pl.Boolean:
            return c
        if dtype.is_integer():
            bad = ~s.is_in([0, 1]) & s.is_not_null()
            problems.rows(df, bad, col, "expected true/false (0 or 1)")
            return None if bad.any() else c.cast(pl.Boolean)
        problems.add(f"expected true/false, got {dtype}", col)
        return None
    if t.name in ("datetime", "date"):
        target = t.polars
        if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
            return c.cast(target)
        if dtype == pl.String:
            parsed = _parse_times(s, t.name)
            bad = parsed.is_null() & s.is_not_null()
            problems.rows(
                df,
                bad,
                col,
                f"not a {t.name} (use ISO 8601, e.g. 2024-05-01" + ("T12:30:00" if t.name == "datetime" else "") + ")",
            )
            if bad.any():
                return None
            return pl.lit(parsed.cast(target))
        problems.add(f"expected a {t.name}, got {dtype}", col)
        return None
    if t.name == "bytes":
        if dtype == pl.Binary:
            return c
        problems.add(f"expected bytes, got {dtype}", col)
        return None
    problems.add(f"unsupported column type {t.name}", col)
    return None


def _struct_of_fields(
    df: pl.DataFrame, col: str, fields: list[str], problems: Problems, required: bool
) -> pl.Expr | None:
    s = df.get_column(col)
    if not isinstance(s.dtype, pl.Struct):
        problems.add(f"expected a struct (a dict per row) of field -> string, got {s.dtype}", col)
        return None
    names = [f.name for f in s.dtype.fields]
    unknown = [n for n in names if n not in fields]
    missing = [f for f in fields if f not in names]
    if unknown:
        problems.add(
            f"unknown field(s) {_describe_values(unknown)} (the feature's fields: {_describe_values(fields)})", col
        )
    if missing and required:
        problems.add(f"missing field(s) {_describe_values(missing)}", col)
    if unknown or (missing and required):
        return None
    parts = []
    for f in fields:
        if f not in names:
            parts.append(pl.lit(None, pl.String).alias(f))
            continue
        inner = s.struct.field(f)
        if inner.dtype not in (pl.String, pl.Null):
            problems.add(f"field {f!r} must hold strings, got {inner.dtype}", col)
            return None
        if required:
            problems.rows(df, s.is_null() | inner.is_null(), col, f"missing value for field {f!r}")
        parts.append(pl.col(col).struct.field(f).cast(pl.String).alias(f))
    if required and (s.is_null().any() or any(s.struct.field(f).is_null().any() for f in fields if f in names)):
        return None
    return pl.struct(parts).alias(col)


def _duplicates(df: pl.DataFrame, ids: list[str], problems: Problems) -> bool:
    """Record each id that appears in more than one row; True when there was one."""
    dup = df.select(pl.struct(ids).is_duplicated()).to_series()
    if not dup.any():
        return False
    first = df.filter(dup).group_by(ids, maintain_order=True).agg(pl.col(ROW)).head(MAX_ROWS_NAMED)
    for rec in first.iter_rows(named=True):
        rows = ", ".join(str(r + 1) for r in rec[ROW][:6])
        key = ", ".join(f"{c}={rec[c]!r}" for c in ids)
        problems.add(f"duplicate id ({key}) in rows {rows}")
    return True


def prepare(
    df: pl.DataFrame, plan: FeaturePlan, hasher: Hasher, *, dedupe_identical: bool = False, source: str | None = None
) -> pl.DataFrame:
    """Validate rows for `plan`'s feature and return them in canonical form.

    The result has the id and user columns (typed; absent optional ones as nulls), the
    provenance struct and string (computed from the struct when missing), the data version
    columns when given (else null), and the materialization id.
    """
    feature = plan.name
    definition = plan.definition
    fields = definition.field_keys
    problems = Problems()
    # columns the class does not annotate join `definition` first (store/sqlite/frame_columns.py)
    allowed = set(definition.columns) | set(SYSTEM_COLUMNS)
    unknown = [c for c in df.columns if c not in allowed]
    for c in unknown:
        problems.add(f"unknown column (feature {feature!r} has: {', '.join(definition.columns)})", c)
    if problems.items:
        raise InputError(feature, problems.items, source)

    df = df.with_row_index(ROW)
    exprs: list[pl.Expr] = [pl.col(ROW)]
    for col, t in definition.columns.items():
        is_id = col in definition.id_columns
        if col not in df.columns:
            if is_id:
                problems.add("missing id column", col)
            elif not t.nullable:
                problems.add("missing column (it is not Optional)", col)
            else:
                exprs.append(pl.lit(None, t.polars).alias(col))
            continue
        e = _convert(df, col, t, problems)
        if e is None:
            continue
        nulls = df.get_column(col).is_null()
        if df.get_column(col).dtype.is_float():
            nulls = nulls | df.get_column(col).is_nan().fill_null(False)
        if (is_id or not t.nullable) and nulls.any():
            problems.rows(df, nulls, col, "missing (null) id value" if is_id else "missing (null) value")
        exprs.append(e.alias(col))

    if PROVENANCE_BY_FIELD in df.columns:
        e = _struct_of_fields(df, PROVENANCE_BY_FIELD, fields, problems, required=True)
        if e is not None:
            exprs.append(e)
    else:
        problems.add(
            "missing column: each row needs a dict of field -> provenance string "
            f"for the fields {_describe_values(fields)}",
            PROVENANCE_BY_FIELD,
        )
    has_dvbf = DATA_VERSION_BY_FIELD in df.columns and df.get_column(DATA_VERSION_BY_FIELD).dtype != pl.Null
    if has_dvbf:
        e = _struct_of_fields(df, DATA_VERSION_BY_FIELD, fields, problems, required=False)
        if e is not None:
            exprs.append(e)
    for col in (PROVENANCE, DATA_VERSION, MATERIALIZATION_ID):
        if col in df.columns and df.get_column(col).dtype not in (pl.String, pl.Null):
            problems.add(f"expected text, got {df.get_column(col).dtype}", col)
        elif col in df.columns:
            exprs.append(pl.col(col).cast(pl.String))
    ids = list(definition.id_columns)
    if problems.items:
        # report duplicate ids too, as far as the raw id values allow: one pass shows everything
        if all(c in df.columns for c in ids) and not dedupe_identical:
            _duplicates(df.filter(pl.all_horizontal([pl.col(c).is_not_null() for c in ids])), ids, problems)
        raise InputError(feature, problems.items, source)

    out = df.select(exprs)
    if dedupe_identical:
        out = out.unique(subset=[c for c in out.columns if c != ROW], keep="first", maintain_order=True)
    if _duplicates(out, ids, problems):
        raise InputError(feature, problems.items, source)

    if PROVENANCE not in out.columns or out.get_column(PROVENANCE).null_count():
        computed = hasher.join_expr([pl.col(PROVENANCE_BY_FIELD).struct.field(f) for f in fields])
        out = out.with_columns(
            (pl.coalesce(pl.col(PROVENANCE), computed) if PROVENANCE in out.columns else computed).alias(PROVENANCE)
        )
    if has_dvbf:
        dvbf = pl.struct(
            [
                pl.coalesce(
                    pl.col(DATA_VERSION_BY_FIELD).struct.field(f), pl.col(PROVENANCE_BY_FIELD).struct.field(f)
                ).alias(f)
                for f in fields
            ]
        )
        out = out.with_columns(dvbf.alias(DATA_VERSION_BY_FIELD))
        if DATA_VERSION not in out.columns or out.get_column(DATA_VERSION).null_count():
            dv = hasher.join_expr([pl.col(DATA_VERSION_BY_FIELD).struct.field(f) for f in fields])
            out = out.with_columns(
                (pl.coalesce(pl.col(DATA_VERSION), dv) if DATA_VERSION in out.columns else dv).alias(DATA_VERSION)
            )
    return out


def prepare_samples(df: pl.DataFrame, plan: FeaturePlan, hasher: Hasher, untyped: Iterable[str] = ()) -> pl.DataFrame:
    """A root's samples for resolve_update: only what matching needs is checked (SPEC 4).

    The id columns must be present, non-null and unique, and typed as the store keeps them;
    `metaxy_provenance_by_field` must name every field (or `metaxy_provenance` be given). Other
    columns, annotated or not, pass through unchecked: validation belongs to writes, as in
    Metaxy. The result carries `metaxy_provenance` (always recomputed from the struct when the
    struct is given) and the data version columns. `untyped` id columns (not annotated, and not
    yet typed by a write) keep the frame's own dtype.
    """
    feature = plan.name
    definition = plan.definition
    fields = definition.field_keys
    problems = Problems()
    df = df.with_row_index(ROW)
    ids = list(plan.key)  # a root's id columns; a derived feature's samples are matched on its key
    casts: list[pl.Expr] = []
    for col in ids:
        if col not in df.columns:
            problems.add("missing id column", col)
            continue
        e: pl.Expr | None
        if col in untyped and column_type_of_dtype(df.schema[col]) is not None:
            e = pl.col(col)
        else:
            e = _convert(df, col, definition.columns[col], problems)
        if e is None:
            continue
        nulls = df.get_column(col).is_null()
        if nulls.any():
            problems.rows(df, nulls, col, "missing (null) id value")
        casts.append(e.alias(col))
    has_pbf = PROVENANCE_BY_FIELD in df.columns
    if has_pbf:
        e = _struct_of_fields(df, PROVENANCE_BY_FIELD, fields, problems, required=True)
        if e is not None:
            casts.append(e)
    elif PROVENANCE in df.columns and df.get_column(PROVENANCE).dtype in (pl.String, pl.Null):
        if df.get_column(PROVENANCE).null_count():
            problems.rows(df, df.get_column(PROVENANCE).is_null(), PROVENANCE, "missing (null) provenance")
    else:
        problems.add(
            "missing column: each sample needs a dict of field -> provenance string for the fields "
            f"{_describe_values(fields)} (or a metaxy_provenance string)",
            PROVENANCE_BY_FIELD,
        )
    has_dvbf = DATA_VERSION_BY_FIELD in df.columns and df.get_column(DATA_VERSION_BY_FIELD).dtype != pl.Null
    if has_dvbf:
        e = _struct_of_fields(df, DATA_VERSION_BY_FIELD, fields, problems, required=False)
        if e is not None:
            casts.append(e)
    if problems.items:
        raise InputError(feature, problems.items)
    out = df.with_columns(casts)
    if plan.is_root and _duplicates(out, ids, problems):
        raise InputError(feature, problems.items)
    out = out.drop(ROW)
    if has_pbf:  # as Metaxy: the row's provenance always follows the struct
        out = out.with_columns(
            hasher.join_expr([pl.col(PROVENANCE_BY_FIELD).struct.field(f) for f in fields]).alias(PROVENANCE)
        )
    else:
        out = out.with_columns(pl.col(PROVENANCE).cast(pl.String))
    return with_data_versions(out, fields, hasher)


def with_data_versions(df: pl.DataFrame, fields: list[str], hasher: Hasher) -> pl.DataFrame:
    """`metaxy_data_version_by_field` / `metaxy_data_version` filled in: the writer's where given,
    else equal to the provenance (as an increment hands them to the pipeline, like Metaxy)."""
    if PROVENANCE_BY_FIELD not in df.columns:
        dv = pl.col(DATA_VERSION) if DATA_VERSION in df.columns else pl.lit(None, pl.String)
        return df.with_columns(pl.coalesce(dv, pl.col(PROVENANCE)).alias(DATA_VERSION))
    if DATA_VERSION_BY_FIELD in df.columns and df.get_column(DATA_VERSION_BY_FIELD).dtype != pl.Null:
        dvbf = pl.struct(
            [
                pl.coalesce(
                    pl.col(DATA_VERSION_BY_FIELD).struct.field(f), pl.col(PROVENANCE_BY_FIELD).struct.field(f)
                ).alias(f)
                for f in fields
            ]
        )
        df = df.with_columns(dvbf.alias(DATA_VERSION_BY_FIELD))
        computed = hasher.join_expr([pl.col(DATA_VERSION_BY_FIELD).struct.field(f) for f in fields])
        dv = pl.coalesce(pl.col(DATA_VERSION), computed) if DATA_VERSION in df.columns else computed
        return df.with_columns(dv.alias(DATA_VERSION))
    dv = pl.coalesce(pl.col(DATA_VERSION), pl.col(PROVENANCE)) if DATA_VERSION in df.columns else pl.col(PROVENANCE)
    return df.with_columns(pl.col(PROVENANCE_BY_FIELD).alias(DATA_VERSION_BY_FIELD), dv.alias(DATA_VERSION))
