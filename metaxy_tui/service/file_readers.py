"""Files for import: reading CSV, TSV, Parquet, JSON or NDJSON into a polars frame, typed
values out of text, path completion and file hashes.

Every failure is an `InputError` naming the file and, where it can be found, the row and
column. The fast path is polars' own reader; when it fails, a slower pure-Python pass over
the file finds where (only on the error path, so large good files stay fast).

CSV and TSV are read as text: each value's type comes from the feature it is imported
into (`parse_text`), so "3.5" in an integer column is reported with its row rather than
turning the whole column into floats.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import xxhash

from ..columns import ColumnType
from ..errors import InputError, InputProblem
from ..hashing import HashAlgorithm, Hasher
from ..store.validate import MAX_ROWS_NAMED

FORMATS = ("csv", "tsv", "parquet", "json", "ndjson")
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
FORMAT_NAMES = {"csv": "CSV", "tsv": "TSV", "parquet": "Parquet", "json": "JSON", "ndjson": "NDJSON"}
INT_EXACT = 2**53  # integers written as floats are exact below this
_LOCATE_LIMIT = 200 * 1024 * 1024  # don't rescan files larger than this in Python to place an error


def _fail(path: str | os.PathLike, message: str, *, row: int | None = None, column: str | None = None) -> InputError:
    return InputError(None, [InputProblem(message, column, row)], str(path))


def format_of(path: str | os.PathLike, format: str | None = None) -> str:
    """The file's format: the one given, or the one its extension names."""
    if format is not None:
        f = format.lower().lstrip(".")
        f = {"jsonl": "ndjson", "pq": "parquet"}.get(f, f)
        if f not in FORMATS:
            raise _fail(path, f"unknown format {format!r} (choose one of {', '.join(FORMATS)})")
        return f
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        kinds = ", ".join(sorted(EXTENSIONS))
        what = f"extension {ext!r}" if ext else "no extension"
        raise _fail(path, f"cannot tell the file's format from its {what} (use one of {kinds}, or choose the format)")
    return EXTENSIONS[ext]


def check_readable(path: str | os.PathLike) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise _fail(path, "no such file")
    if p.is_dir():
        raise _fail(path, "is a folder, not a file")
    if not p.is_file():
        raise _fail(path, "is not a regular file")
    try:
        with p.open("rb") as fh:
            fh.read(1)
    except OSError as e:
        raise _fail(path, f"cannot be read ({e.strerror or e})") from None
    return p


def read_table(path: str | os.PathLike, format: str | None = None) -> pl.DataFrame:
    """Read `path` (format from its extension unless given) into a polars frame.

    Raises InputError(source=path) with the row and column where they can be told.
    """
    p = check_readable(path)
    fmt = format_of(path, format)
    if p.stat().st_size == 0:
        raise _fail(path, "the file is empty")
    reader = {"csv": _read_csv, "tsv": _read_tsv, "parquet": _read_parquet, "json": _read_json, "ndjson": _read_ndjson}[
        fmt
    ]
    try:
        df = reader(p, str(path))
    except InputError:
        raise
    except MemoryError:
        raise _fail(path, "does not fit in memory") from None
    except OSError as e:
        raise _fail(path, f"cannot be read ({e.strerror or e})") from None
    if df.width == 0:
        raise _fail(path, f"has no columns: is it a {FORMAT_NAMES[fmt]} file?")
    return df


# ----- CSV / TSV ---------------------------------------------------------------------------------


def _read_tsv(p: Path, name: str) -> pl.DataFrame:
    return _read_csv(p, name, separator="\t")


def _read_csv(p: Path, name: str, separator: str = ",") -> pl.DataFrame:
    header = _csv_header(p, name, separator)
    try:
        df = pl.read_csv(
            p, infer_schema=False, separator=separator, empty_string_is_null=False, raise_if_empty=True, glob=False
        )  # "[" in a file name is not a pattern
    except pl.exceptions.NoDataError:
        raise _fail(name, "the file is empty") from None
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError) as e:
        raise _locate_csv_error(p, name, separator, e) from None
    if header is not None and len(header) == df.width:
        df.columns = header
    # CSV cannot tell an empty field from a missing one: both mean "no value"
    return df.with_columns(pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in df.columns)


def _csv_header(p: Path, name: str, separator: str) -> list[str] | None:
    """The header's names, checked for blanks and repeats (polars would rename repeats silently)."""
    with p.open("rb") as fh:
        head = fh.read(1 << 16)
    text = head.decode("utf-8-sig", errors="replace")
    try:
        first = next(csv.reader(io.StringIO(text), delimiter=separator), None)
    except csv.Error:
        return None
    if not first:
        return None
    seen: dict[str, int] = {}
    for i, col in enumerate(first):
        if col.strip() == "":
            raise _fail(name, f"the header's column {i + 1} has no name")
        if col in seen:
            raise _fail(
                name, f"the header names column {col!r} twice (columns {seen[col] + 1} and {i + 1})", column=col
            )
        seen[col] = i
    return first


def _locate_csv_error(p: Path, name: str, separator: str, error: Exception) -> InputError:
    """Find the record polars could not read; fall back to polars' own message."""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if p.stat().st_size > _LOCATE_LIMIT:
        return _fail(name, f"cannot be read as CSV: {first_line}")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        return _fail(
            name,
            f"is not UTF-8 text: byte {raw[e.start]:#04x} at line {line} (save it as UTF-8, or is it not a CSV file?)",
            row=max(line - 2, 0) if line > 1 else None,
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        header = next(reader)
        for record, fields in enumerate(reader):
            if len(fields) > len(header):
                return _fail(
                    name, f"line {reader.line_num}: {len(fields)} fields where the header has {len(header)}", row=record
                )
    except csv.Error as e:
        rec = max(reader.line_num - 2, 0)
        return _fail(name, f"line {reader.line_num}: malformed CSV ({e})", row=rec)
    return _fail(name, f"cannot be read as CSV: {first_line}")


# ----- Parquet -----------------------------------------------------------------------------------


def _read_parquet(p: Path, name: str) -> pl.DataFrame:
    try:
        return pl.read_parquet(p, glob=False)
    except (pl.exceptions.PolarsError, OSError, ValueError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return _raise(name, f"is not a Parquet file, or a damaged one ({msg})")


def _raise(name: str, message: str) -> pl.DataFrame:
    raise _fail(name, message)


# ----- JSON / NDJSON -----------------------------------------------------------------------------


def _read_json(p: Path, name: str) -> pl.DataFrame:
    try:
        df = pl.read_json(p, infer_schema_length=None)
    except pl.exceptions.PolarsError as e:
        raise _locate_json_error(p, name, e) from None
    return df


def _locate_json_error(p: Path, name: str, error: Exception) -> InputError:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if p.stat().st_size > _LOCATE_LIMIT:
        return _fail(name, f"cannot be read as JSON: {first_line}")
    try:
        data = json.loads(p.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        return _fail(name, f"is not UTF-8 text (byte at offset {e.start}): is it a JSON file?")
    except json.JSONDecodeError as e:
        return _fail(name, f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}")
    if not isinstance(data, list):
        return _fail(name, f"expected an array of objects (one per row), found a JSON {_json_kind(data)}")
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            return _fail(name, f"expected an object, found a JSON {_json_kind(item)}", row=i)
    mixed = _mixed_types(data)
    if mixed is not None:
        return mixed_error(name, *mixed)
    return _fail(name, f"cannot be read as JSON: {first_line}")


def _read_ndjson(p: Path, name: str) -> pl.DataFrame:
    try:
        with p.open("rb") as fh:  # a handle: polars would read "[" in a path as a glob pattern
            return pl.read_ndjson(fh, infer_schema_length=None)
    except pl.exceptions.PolarsError as e:
        raise _locate_ndjson_error(p, name, e) from None


def _locate_ndjson_error(p: Path, name: str, error: Exception) -> InputError:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if p.stat().st_size > _LOCATE_LIMIT:
        return _fail(name, f"cannot be read as NDJSON: {first_line}")
    rows = []
    with p.open("rb") as fh:
        record = -1
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            record += 1
            try:
                item = json.loads(raw.decode("utf-8-sig" if lineno == 1 else "utf-8"))
            except UnicodeDecodeError:
                return _fail(name, f"line {lineno} is not UTF-8 text: is it an NDJSON file?", row=record)
            except json.JSONDecodeError as e:
                return _fail(name, f"line {lineno}: malformed JSON at column {e.colno}: {e.msg}", row=record)
            if not isinstance(item, dict):
                return _fail(name, f"line {lineno}: expected an object, found a JSON {_json_kind(item)}", row=record)
            rows.append(item)
    mixed = _mixed_types(rows)
    if mixed is not None:
        return mixed_error(name, *mixed)
    return _fail(name, f"cannot be read as NDJSON: {first_line}")


def _json_kind(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _mixed_types(rows: list[dict]) -> tuple[int, str, str, str] | None:
    """(row, column, first kind, this kind) of the first value whose JSON kind differs from its column's."""
    kinds: dict[str, str] = {}
    for i, r in enumerate(rows):
        for k, v in r.items():
            if v is None:
                continue
            kind = _json_kind(v)
            first = kinds.setdefault(k, kind)
            if kind != first and {kind, first} != {"number"}:
                return i, k, first, kind
    return None


def mixed_error(name: str, row: int, column: str, first: str, this: str) -> InputError:
    return _fail(name, f"a JSON {this} in a column of {first}s", row=row, column=column)


# ----- paths and file hashes --------------------------------------------------------------------


def shown_path(path: Path) -> str:
    """A folder as the user would type it: relative to the working folder when inside it."""
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return str(path)
    return "." if str(rel) == "." else str(rel)


def importable(path: Path) -> bool:
    """A file whose extension names a format import reads."""
    return path.suffix.lower() in EXTENSIONS


def complete_path(text: str) -> str | None:
    """`text` completed to the first folder or importable file it is the start of (for suggestions)."""
    if not text:
        return None
    typed = Path(text).expanduser()
    folder, prefix = (typed, "") if text.endswith(os.sep) else (typed.parent, typed.name)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name.lower())
    except OSError:
        return None
    for entry in entries:
        if not entry.name.startswith(prefix) or (entry.name.startswith(".") and not prefix.startswith(".")):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir or importable(Path(entry.name)):
            return text + entry.name[len(prefix) :] + (os.sep if is_dir else "")
    return None


def hash_file(path: Path, hasher: Hasher, chunk: int = 1 << 20) -> str:
    """The store's hash algorithm over a file's bytes, as the same kind of string."""
    algo = hasher.algorithm
    h: Any = {
        HashAlgorithm.XXHASH64: xxhash.xxh64,
        HashAlgorithm.XXHASH32: xxhash.xxh32,
        HashAlgorithm.SHA256: hashlib.sha256,
        HashAlgorithm.MD5: hashlib.md5,
    }[algo]()
    with path.open("rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    out = str(h.intdigest()) if algo in (HashAlgorithm.XXHASH64, HashAlgorithm.XXHASH32) else h.hexdigest()
    return out[: hasher.truncation] if hasher.truncation else out


# ----- typed values out of text ------------------------------------------------------------------


class RowProblems:
    """Problems found per row, the first few rows of each kind named (as the store's validation does)."""

    def __init__(self) -> None:
        self.items: list[InputProblem] = []

    def rows(self, mask: pl.Series, values: pl.Series, column: str, label: str, *, show: bool = True) -> None:
        """Record `label` (with the value) for the first few rows where `mask` holds."""
        idx = mask.arg_true()
        for r in idx.head(MAX_ROWS_NAMED).to_list():
            self.items.append(InputProblem(f"{label}: {values[r]!r}" if show else label, column, r))
        if idx.len() > MAX_ROWS_NAMED:
            self.items.append(InputProblem(f"{label} (and {idx.len() - MAX_ROWS_NAMED} more rows)", column))


def parse_text(s: pl.Series, t: ColumnType, column: str, problems: RowProblems) -> tuple[pl.Series, pl.Series]:
    """(`s` read as `t`'s type, the rows whose text did not parse); each of those is recorded.

    Values that did not parse are null in the result. Dates, datetimes and bytes stay text:
    the store's validation reads ISO 8601 itself, with row numbers.
    """
    txt = s.str.strip_chars()
    present = txt.is_not_null()
    none = pl.Series([False] * len(s), dtype=pl.Boolean)
    if t.name == "int":
        as_int = txt.cast(pl.Int64, strict=False)
        bad = as_int.is_null() & present
        if not bad.any():
            return as_int, none
        f = txt.cast(pl.Float64, strict=False)
        nan = f.is_nan().fill_null(False) & bad
        integral = (f.is_finite() & (f == f.floor()) & (f.abs() < INT_EXACT)).fill_null(False)
        problems.rows(f.is_null() & bad, s, column, "not an integer")
        if not t.nullable:  # as the store: NaN in an Optional column is no value
            problems.rows(nan, s, column, "NaN where an integer is required", show=False)
        problems.rows(f.is_infinite().fill_null(False) & bad, s, column, "infinite value where an integer is required")
        problems.rows(
            (f.is_finite() & (f != f.floor())).fill_null(False) & bad, s, column, "fraction in an integer column"
        )
        problems.rows(
            (f.is_finite() & (f == f.floor()) & (f.abs() >= INT_EXACT)).fill_null(False) & bad,
            s,
            column,
            "integer does not fit in 64 bits",
        )
        # integral numbers written as floats ("3.0", "1e3") are integers
        failed = bad & ~integral & ~(nan if t.nullable else none)
        return _combine(as_int, f.fill_nan(None).cast(pl.Int64, strict=False), bad & ~failed), failed
    if t.name == "float":
        f = txt.cast(pl.Float64, strict=False)
        bad = f.is_null() & present
        problems.rows(bad, s, column, "not a number")
        return f, bad
    if t.name == "bool":
        low = txt.str.to_lowercase()
        truthy = low.is_in(["true", "t", "yes", "y", "1"])
        falsy = low.is_in(["false", "f", "no", "n", "0"])
        bad = present & ~truthy & ~falsy
        problems.rows(bad, s, column, "not true/false")
        return _combine(truthy, pl.Series(s.name, [None] * len(s), pl.Boolean), ~(truthy | falsy)), bad
    return s, none


def _combine(a: pl.Series, b: pl.Series, use_b: pl.Series) -> pl.Series:
    return pl.select(pl.when(use_b).then(b).otherwise(a).alias(a.name)).to_series()


def decode_json_objects(s: pl.Series, column: str, problems: RowProblems) -> pl.Series | None:
    """A column of JSON objects as text ({"default": "..."}) as a struct column."""
    if not s.is_not_null().any():
        return s
    try:
        out = s.str.json_decode(infer_schema_length=None)
    except pl.exceptions.PolarsError:
        out = None
    if out is not None and isinstance(out.dtype, pl.Struct):
        return out
    bad_rows = []
    for i, v in enumerate(s.to_list()):
        if v is None:
            continue
        try:
            ok = isinstance(json.loads(v), dict)
        except ValueError:
            ok = False
        if not ok:
            bad_rows.append(i)
    mask = pl.Series([False] * len(s), dtype=pl.Boolean).scatter(bad_rows, True) if bad_rows else s.is_not_null()
    problems.rows(mask, s, column, 'not a JSON object of field -> provenance (like {"default": "..."})')
    return None
