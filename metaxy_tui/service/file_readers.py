"""Files for import: reading CSV, TSV, Parquet, JSON or NDJSON into a polars frame (typed values
out of text are import_values.py; paths, completion and file hashes import_paths.py).

Every failure is an `InputError` naming the file and, where it can be found, the row and
column. The fast path is polars' own reader; when it fails, a slower pure-Python pass over
the file finds where (only on the error path, so large good files stay fast).

CSV and TSV are read as text: each value's type comes from the feature it is imported
into (`import_values.parse_text`), so "3.5" in an integer column is reported with its row rather than
turning the whole column into floats.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import polars as pl

from ..errors import InputError, InputProblem

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
