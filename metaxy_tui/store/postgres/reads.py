"""Reading query results into polars, all reads of one operation in one snapshot.

Bulk results travel as psycopg's `COPY (query) TO STDOUT (FORMAT csv)`, parsed by polars
(1.8-2.3 s for 1,000,000 rows x 5 columns, against 2.9 s and 0.64 GB for `fetchall`). ADBC
(`adbc-driver-postgresql`, Arrow over binary COPY) was measured and left out: 0.9 s of client CPU
against 3.2 s for a 1,000,000-row read, but psycopg is the store's one driver, and a second,
optional one would be a read path of its own to test and keep equal.

Statements are sent with their values inlined as literals (`literal`): COPY (query) takes no
bound parameters on the server. Output columns are named by
position (`c0`, `c1`, ...) and renamed here, so no alias meets PostgreSQL's 63-byte limit.

`snapshot()` opens a REPEATABLE READ transaction on the reading connection: every read inside
sees one committed state of the store, whatever writers commit meanwhile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from ...columns import PolarsType
from .connection import connect

if TYPE_CHECKING:
    from .connection import PgConnection

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S%.f"
BATCH_BYTES = 8 << 20  # COPY text parsed per batch by Reads.frames
READ_WORK_MEM = "256MB"  # per sort or hash of a read (PostgreSQL's default, 4MB, spills 1,000,000 rows to disk)


def literal(value: Any) -> str:
    """A value as an SQL literal (standard_conforming_strings is on: checked when the store opens)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "'NaN'::float8"
        if math.isinf(value):
            return "'Infinity'::float8" if value > 0 else "'-Infinity'::float8"
        return f"{value!r}::float8"
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat(sep=' ')}'::timestamp"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'::date"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"'\\x{bytes(value).hex()}'::bytea"
    text = str(value)
    if "\x00" in text:
        raise ValueError("PostgreSQL text cannot hold NUL characters")
    return "'" + text.replace("'", "''") + "'"


def select_list(exprs: Sequence[str]) -> str:
    """`expr AS c0, expr AS c1, ...`: outputs named by position (see the module docstring)."""
    return ", ".join(f"{e} AS c{i}" for i, e in enumerate(exprs))


class Reads:
    """The reading side of a store: its own connection, frames and rows, snapshots."""

    def __init__(self, url: str):
        self.url = url
        self._pg: PgConnection | None = None
        self._depth = 0
        self._lock = threading.RLock()

    # ----- connections -----------------------------------------------------------------------------
    def _psycopg(self) -> PgConnection:
        if self._pg is None:
            self._pg = connect(self.url, autocommit=True)
        return self._pg

    def close(self) -> None:
        with self._lock:
            if self._pg is not None:
                with contextlib.suppress(Exception):
                    self._pg.close()
            self._pg = None
            self._depth = 0

    # ----- snapshots ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one committed state of the store (nested blocks share it)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._statement("BEGIN ISOLATION LEVEL REPEATABLE READ")
            # a resolve sorts and hashes its whole input once: in memory, not in temporary files
            self._statement(f"SET LOCAL work_mem = '{READ_WORK_MEM}'")
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                with contextlib.suppress(Exception):
                    self._statement("COMMIT")

    def _statement(self, sql: str) -> None:
        self._psycopg().execute(sql)

    # ----- reading -----------------------------------------------------------------------------------
    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """A small result as tuples (inside the snapshot, if one is open)."""
        with self._lock:
            return self._psycopg().execute(sql).fetchall()

    def frame(self, sql: str, schema: dict[str, PolarsType]) -> pl.DataFrame:
        """`sql` (a SELECT whose outputs are `c0, c1, ...` in `schema`'s order) as a typed frame."""
        names = list(schema)
        with self._lock:
            df = self._csv_frame(sql, len(names))
        if df.width != len(names):
            raise AssertionError(f"query gave {df.width} columns, {len(names)} expected")
        df.columns = names
        return cast_to(df, schema)

    def frames(self, sql: str, schema: dict[str, PolarsType]) -> Iterator[pl.DataFrame]:
        """`sql`'s result as typed frames of about BATCH_BYTES of text each (at least one, maybe
        empty), for a caller that keeps only part of each: the client never holds the whole result.
        PostgreSQL sends each row of a COPY as its own message, so a batch always ends on a row
        boundary, even when a quoted value holds a newline."""
        names = list(schema)
        text_schema = {f"c{i}": pl.String for i in range(len(names))}

        def typed(df: pl.DataFrame) -> pl.DataFrame:
            if df.width != len(names):
                raise AssertionError(f"query gave {df.width} columns, {len(names)} expected")
            df.columns = names
            return cast_to(df, schema)

        with self._lock:
            # the whole result is received first, as text joined into batches (receiving while
            # the caller works made both slower on two cores: the receiving loop takes a Python
            # step per row and starved the caller's threads of CPU and of the GIL), then parsed
            # and handed over a batch at a time, each batch's text freed once it is parsed
            texts: list[bytes] = []
            batch: list[bytes] = []
            size = 0
            with self._psycopg().cursor().copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as cp:
                for data in cp:
                    batch.append(bytes(data))
                    size += len(data)
                    if size >= BATCH_BYTES:
                        texts.append(b"".join(batch))
                        batch.clear()
                        size = 0
            if batch:
                texts.append(b"".join(batch))
            del batch
            if not texts:
                yield typed(pl.DataFrame(schema=text_schema))
            texts.reverse()
            while texts:
                yield typed(pl.read_csv(texts.pop(), has_header=False, schema=text_schema, quote_char='"'))

    def _csv_frame(self, sql: str, width: int) -> pl.DataFrame:
        buf = io.BytesIO()
        with self._psycopg().cursor().copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as cp:
            for data in cp:
                buf.write(data)
        schema = {f"c{i}": pl.String for i in range(width)}
        if not buf.tell():
            return pl.DataFrame(schema=schema)
        return pl.read_csv(buf.getvalue(), has_header=False, schema=schema, quote_char='"')


def cast_to(df: pl.DataFrame, schema: dict[str, PolarsType]) -> pl.DataFrame:
    """Columns as `schema` says; text from the CSV path is parsed the way PostgreSQL writes it."""
    exprs = []
    for name, want in schema.items():
        have = df.schema[name]
        c = pl.col(name)
        if have == want:
            exprs.append(c)
        elif have == pl.String and want == pl.Boolean:
            exprs.append(c.replace_strict({"t": True, "f": False}, default=None, return_dtype=pl.Boolean))
        elif have == pl.String and want == pl.Binary:
            exprs.append(c.str.strip_prefix("\\x").str.decode("hex"))
        elif have == pl.String and isinstance(want, pl.Datetime):
            exprs.append(c.str.to_datetime(TIMESTAMP_FORMAT, time_unit="us", strict=False).cast(want))
        elif have == pl.String and want == pl.Date:
            exprs.append(c.str.to_date("%Y-%m-%d", strict=False))
        elif isinstance(have, pl.Datetime) and isinstance(want, pl.Datetime):
            exprs.append(c.cast(want))
        else:
            exprs.append(c.cast(want, strict=False))
    return df.select(exprs)
