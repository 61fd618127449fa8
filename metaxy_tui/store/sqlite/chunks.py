"""A columnar copy of each feature version's live rows, kept inside the store file.

Why: moving 1,000,000 rows out of SQLite costs about 1 s even as one JSON array per column
(store/sqlite/reader.py); the same rows as Arrow IPC blobs load into polars in a few tenths. So every
write also appends the rows it inserted as a "chunk", in its own transaction: a process
killed mid-write loses both copies or neither, and the copy never disagrees with the rows.

A chunk holds rows as the table stores them (user columns encoded as in SQLite, provenance
and data versions by field, the row's provenance) with their rowids and write ids, one IPC
blob per column, so a read loads only the columns it needs (a feature's own provenance is
two columns of its eight). A row stops being live only when a rewrite or a soft delete sets
`_mx_superseded` (indexed), or when a hard delete removes it (that rewrites the chunks
holding it). So the live rows are the chunks' rows minus the rowids superseded since the
chunks were last cleaned: one indexed range read, and no second copy of the liveness state
that could drift. Writes merge small trailing chunks and drop dead rows once a quarter of
the rows are dead.

`_metaxy_mirrors` has one row per (table, feature version) whose copy is complete. A store
written by an older version has none: its reads go through SQL until a write builds the copy.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import polars as pl

from ...columns import PolarsType
from ...keys import quote
from .system_columns import FV, SUPERSEDED

CHUNKS = "_metaxy_chunks"
COLUMNS = "_metaxy_chunk_columns"
MIRRORS = "_metaxy_mirrors"
ROWID = "_rowid"
WRITE_ID = "_write"
PIECE_ROWS = 131_072  # rows per chunk: a column decodes in a few ms, far below SQLite's blob limit
PIECE_BYTES = 256 << 20
DEAD_SHARE = 0.25  # clean a feature version's chunks once this share of their rows is dead
DEAD_MIN = 4_096
BLOB_STEP = 1 << 20

DDL = [
    f"""CREATE TABLE IF NOT EXISTS {CHUNKS} (
        id INTEGER PRIMARY KEY,
        table_name TEXT NOT NULL,
        fv_id INTEGER NOT NULL,
        n_rows INTEGER NOT NULL,
        min_rowid INTEGER NOT NULL,
        max_rowid INTEGER NOT NULL,
        min_write INTEGER NOT NULL,
        max_write INTEGER NOT NULL)""",
    f"CREATE INDEX IF NOT EXISTS {CHUNKS}_by_table ON {CHUNKS} (table_name, fv_id, id)",
    f"""CREATE TABLE IF NOT EXISTS {COLUMNS} (
        chunk_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        dtype TEXT NOT NULL,
        data BLOB NOT NULL)""",
    f"CREATE UNIQUE INDEX IF NOT EXISTS {COLUMNS}_by_chunk ON {COLUMNS} (chunk_id, name)",
    f"""CREATE TABLE IF NOT EXISTS {MIRRORS} (
        table_name TEXT NOT NULL,
        fv_id INTEGER NOT NULL,
        clean_as_of INTEGER NOT NULL,
        PRIMARY KEY (table_name, fv_id))""",
]


def ensure_tables(conn: sqlite3.Connection) -> None:
    for ddl in DDL:
        conn.execute(ddl)


# ----- reading ------------------------------------------------------------------------------------


def clean_as_of(conn: sqlite3.Connection, table: str, fv_id: int) -> int | None:
    """The write up to which the chunks of (table, feature version) hold no dead rows; None: no copy."""
    try:
        row = conn.execute(
            f"SELECT clean_as_of FROM {MIRRORS} WHERE table_name = ? AND fv_id = ?", (table, fv_id)
        ).fetchone()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return None  # a store of an older layout, opened read-only
        raise
    return row[0] if row else None


def dead_rowids(conn: sqlite3.Connection, table: str, fv_id: int, since: int) -> pl.Series:
    """Rowids of the feature version's rows superseded after write `since`."""
    text = conn.execute(
        f"SELECT json_group_array(rowid) FROM {quote(table)} WHERE {quote(SUPERSEDED)} > ? AND {quote(FV)} = ?",
        (since, fv_id),
    ).fetchone()[0]
    return pl.Series(ROWID, [text]).str.json_decode(pl.List(pl.Int64)).explode().drop_nulls()


def read_live(
    conn: sqlite3.Connection,
    table: str,
    fv_id: int,
    columns: Iterable[str],
    *,
    expected: Mapping[str, PolarsType] | None = None,
    written_after: int | None = None,
    with_dead: bool = False,
    each: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> pl.DataFrame | None:
    """The live rows of (table, feature version): `columns` (stored names, ROWID, WRITE_ID) as stored.

    Columns a chunk lacks (added to the table later) come back null. None when there is no
    complete copy, or when a chunk holds a column in another dtype than `expected` (a retyped
    column): the caller reads SQL instead. `written_after` keeps only rows of later writes.
    `each` transforms every chunk's rows as they are loaded (so a large read never holds all
    its raw columns and its result at once). Run it inside one read transaction (or the
    write's), so chunks and liveness agree.
    """
    since = clean_as_of(conn, table, fv_id)
    if since is None:
        return None
    wanted = list(dict.fromkeys(columns))
    dead = None if with_dead else dead_rowids(conn, table, fv_id, since)
    need = list(wanted)
    if dead is not None and dead.len() and ROWID not in need:
        need.append(ROWID)
    if written_after is not None and WRITE_ID not in need:
        need.append(WRITE_ID)
    expected = {**_SYSTEM, **(expected or {})}
    sql = f"SELECT id FROM {CHUNKS} WHERE table_name = ? AND fv_id = ?"
    params: list[Any] = [table, fv_id]
    if written_after is not None:
        sql += " AND max_write > ?"
        params.append(written_after)
    ids = [r[0] for r in conn.execute(sql + " ORDER BY min_rowid, id", params)]
    gone = dead.implode() if dead is not None and dead.len() else None

    def finish(piece: pl.DataFrame) -> pl.DataFrame:
        if written_after is not None:
            piece = piece.filter(pl.col(WRITE_ID) > written_after)
        if gone is not None:
            piece = piece.filter(~pl.col(ROWID).is_in(gone))
        if len(need) != len(wanted):
            piece = piece.select(wanted)
        return each(piece) if each is not None else piece

    return _load(conn, ids, need, expected, finish)


_SYSTEM = {ROWID: pl.Int64, WRITE_ID: pl.Int64}


def _load(
    conn: sqlite3.Connection,
    chunk_ids: list[int],
    columns: list[str],
    expected: Mapping[str, PolarsType],
    finish: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> pl.DataFrame | None:
    """`columns` of the given chunks, in chunk order, each chunk through `finish`; None when a
    dtype is not the expected one."""
    finish = finish or (lambda piece: piece)
    if not chunk_ids:
        return finish(pl.DataFrame({c: pl.Series(c, [], dtype=expected.get(c, pl.String)) for c in columns}))
    marks = ", ".join("?" * len(columns))
    blobs: dict[tuple[int, str], tuple[int, str, int]] = {}
    for start in range(0, len(chunk_ids), 500):
        part = chunk_ids[start : start + 500]
        for rowid, chunk_id, name, dtype, size in conn.execute(
            f"SELECT rowid, chunk_id, name, dtype, length(data) FROM {COLUMNS} WHERE chunk_id IN "
            f"({', '.join('?' * len(part))}) AND name IN ({marks})",
            [*part, *columns],
        ):
            blobs[(chunk_id, name)] = (rowid, dtype, size)
    for (_c, name), (_r, dtype, _n) in blobs.items():
        want = expected.get(name)
        if want is not None and dtype != str(want) and dtype != "Null":
            return None
    buffer = bytearray(max((size for _r, _d, size in blobs.values()), default=0))
    parts = []
    for chunk_id in chunk_ids:
        series: list[str | pl.Series] = []
        height = None
        for c in columns:
            found = blobs.get((chunk_id, c))
            if found is None:
                series.append(c)  # a column this chunk does not have: nulls, added below
                continue
            rowid, _dtype, size = found
            want = expected.get(c)
            s = pl.read_ipc_stream(_read_blob(conn, rowid, buffer, size)).to_series()
            if want is not None and s.dtype != want:
                s = s.cast(want)
            height = s.len()
            series.append(s)
        parts.append(
            finish(
                pl.DataFrame(
                    [
                        s
                        if isinstance(s, pl.Series)
                        else pl.Series(s, [None] * (height or 0), dtype=expected.get(s, pl.String))
                        for s in series
                    ]
                )
            )
        )
    return parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical", rechunk=False)


def _read_blob(conn: sqlite3.Connection, rowid: int, buffer: bytearray, size: int) -> io.BytesIO:
    """A blob's bytes, copied piecewise into one reused buffer.

    Fetching each blob as a new bytes object made a fresh process spend most of a
    1,000,000-row read in page faults (SQLite's copy and Python's, 300 MB of new memory);
    reading through the blob handle into one buffer touched a fifth of the pages.
    """
    view = memoryview(buffer)[:size]
    with conn.blobopen(COLUMNS, "data", rowid, readonly=True) as blob:
        for pos in range(0, size, BLOB_STEP):
            view[pos : pos + BLOB_STEP] = blob.read(BLOB_STEP)
    return io.BytesIO(view)


def _whole(conn: sqlite3.Connection, chunk_ids: list[int]) -> pl.DataFrame:
    """Every column of the given chunks (for merging and cleaning)."""
    names = [
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT name FROM {COLUMNS} WHERE chunk_id IN ({', '.join('?' * len(chunk_ids))})", chunk_ids
        )
    ]
    parts = []
    for chunk_id in chunk_ids:
        cols = [
            pl.read_ipc_stream(io.BytesIO(data)).to_series()
            for (data,) in conn.execute(f"SELECT data FROM {COLUMNS} WHERE chunk_id = ? ORDER BY name", (chunk_id,))
        ]
        parts.append(pl.DataFrame(cols))
    frame = pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]
    return frame.select([c for c in names if c in frame.columns])


# ----- writing (inside the caller's write transaction) ----------------------------------------------


def _encode(series: pl.Series) -> bytes:
    """One column as an Arrow IPC stream with plain (not view) strings: smaller, and read in about
    half the time of the IPC file form, without its per-read planning (0.4 ms a blob)."""
    buf = io.BytesIO()
    series.to_frame().write_ipc_stream(buf, compression="uncompressed", compat_level=pl.CompatLevel.oldest())
    return buf.getvalue()


def _pieces(frame: pl.DataFrame) -> list[pl.DataFrame]:
    if frame.height == 0:
        return []
    per_row = max(1, int(frame.estimated_size()) // frame.height)  # bytes: an int
    rows = max(1, min(PIECE_ROWS, PIECE_BYTES // per_row))
    return [frame.slice(s, rows) for s in range(0, frame.height, rows)]


def _insert(conn: sqlite3.Connection, table: str, fv_id: int, frame: pl.DataFrame) -> None:
    for piece in _pieces(frame):
        r, w = piece.get_column(ROWID), piece.get_column(WRITE_ID)
        chunk_id = conn.execute(
            f"INSERT INTO {CHUNKS} (table_name, fv_id, n_rows, min_rowid, max_rowid, min_write, max_write) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (table, fv_id, piece.height, r.min(), r.max(), w.min(), w.max()),
        ).lastrowid
        conn.executemany(
            f"INSERT INTO {COLUMNS} (chunk_id, name, dtype, data) VALUES (?, ?, ?, ?)",
            [(chunk_id, s.name, str(s.dtype), _encode(s)) for s in piece.get_columns()],
        )


def _delete(conn: sqlite3.Connection, chunk_ids: list[int]) -> None:
    marks = ", ".join("?" * len(chunk_ids))
    conn.execute(f"DELETE FROM {COLUMNS} WHERE chunk_id IN ({marks})", chunk_ids)
    conn.execute(f"DELETE FROM {CHUNKS} WHERE id IN ({marks})", chunk_ids)


def start(conn: sqlite3.Connection, table: str, fv_id: int, write_id: int) -> None:
    """Record that (table, feature version) now has a complete copy, clean as of `write_id`."""
    conn.execute(
        f"INSERT OR REPLACE INTO {MIRRORS} (table_name, fv_id, clean_as_of) VALUES (?, ?, ?)", (table, fv_id, write_id)
    )


def append(conn: sqlite3.Connection, table: str, fv_id: int, rows: pl.DataFrame) -> None:
    """Add rows just inserted (stored columns, ROWID, WRITE_ID), then merge small trailing chunks."""
    _insert(conn, table, fv_id, rows)
    _merge_tail(conn, table, fv_id)


def _merge_tail(conn: sqlite3.Connection, table: str, fv_id: int) -> None:
    """Merge the last two chunks while both are small and the older is at most twice the newer:
    each row is rewritten O(log n) times however small the writes are, and the number of
    chunks stays near rows / PIECE_ROWS."""
    while True:
        last = conn.execute(
            f"SELECT id, n_rows FROM {CHUNKS} WHERE table_name = ? AND fv_id = ? "
            "ORDER BY min_rowid DESC, id DESC LIMIT 2",
            (table, fv_id),
        ).fetchall()
        if len(last) < 2:
            return
        (new_id, new_n), (old_id, old_n) = last
        if old_n + new_n > PIECE_ROWS or old_n > 2 * new_n:
            return
        merged = _whole(conn, [old_id, new_id])
        _delete(conn, [old_id, new_id])
        _insert(conn, table, fv_id, merged)


def clean_if_needed(conn: sqlite3.Connection, table: str, fv_id: int, write_id: int) -> None:
    """Drop dead rows from the chunks once they are a quarter of them (each dead row is dropped
    once: the work is paid for by the writes that killed them)."""
    since = clean_as_of(conn, table, fv_id)
    if since is None:
        return
    total = conn.execute(
        f"SELECT coalesce(sum(n_rows), 0) FROM {CHUNKS} WHERE table_name = ? AND fv_id = ?", (table, fv_id)
    ).fetchone()[0]
    dead = conn.execute(
        f"SELECT count(*) FROM {quote(table)} WHERE {quote(SUPERSEDED)} > ? AND {quote(FV)} = ?", (since, fv_id)
    ).fetchone()[0]
    if dead < max(DEAD_MIN, DEAD_SHARE * total):
        return
    dead_ids = dead_rowids(conn, table, fv_id, since).implode()
    ids = [
        r[0]
        for r in conn.execute(f"SELECT id FROM {CHUNKS} WHERE table_name = ? AND fv_id = ? ORDER BY id", (table, fv_id))
    ]
    kept = [_whole(conn, [i]).filter(~pl.col(ROWID).is_in(dead_ids)) for i in ids]
    if ids:
        _delete(conn, ids)
    kept = [k for k in kept if k.height]
    if kept:
        _insert(conn, table, fv_id, pl.concat(kept, how="diagonal_relaxed"))
    start(conn, table, fv_id, write_id)


def purge(conn: sqlite3.Connection, table: str, rowids: pl.Series) -> None:
    """Remove hard-deleted rows (any feature version) from the chunks holding them."""
    if not rowids.len():
        return
    gone = rowids.implode()
    hit = conn.execute(
        f"SELECT id, fv_id FROM {CHUNKS} WHERE table_name = ? AND max_rowid >= ? AND min_rowid <= ? ORDER BY id",
        (table, rowids.min(), rowids.max()),
    ).fetchall()
    for chunk_id, fv_id in hit:
        frame = _whole(conn, [chunk_id])
        kept = frame.filter(~pl.col(ROWID).is_in(gone))
        if kept.height == frame.height:
            continue
        _delete(conn, [chunk_id])
        if kept.height:
            _insert(conn, table, fv_id, kept)


def drop(conn: sqlite3.Connection, table: str, keep_fv: int | None = None) -> None:
    """Forget the copies of a table (all, or all but one feature version's)."""
    other = "" if keep_fv is None else " AND fv_id != ?"
    params = [table] if keep_fv is None else [table, keep_fv]
    conn.execute(
        f"DELETE FROM {COLUMNS} WHERE chunk_id IN (SELECT id FROM {CHUNKS} WHERE table_name = ?{other})", params
    )
    conn.execute(f"DELETE FROM {CHUNKS} WHERE table_name = ?{other}", params)
    conn.execute(f"DELETE FROM {MIRRORS} WHERE table_name = ?{other}", params)


def next_rowid(conn: sqlite3.Connection, table: str) -> int:
    """The first rowid for new rows: above every row of the table and of its chunks, so a rowid
    is never reused for another row while a chunk could still name it."""
    in_table: int = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {quote(table)}").fetchone()[0]
    in_chunks: int = conn.execute(
        f"SELECT coalesce(max(max_rowid), 0) FROM {CHUNKS} WHERE table_name = ?", (table,)
    ).fetchone()[0]
    return max(in_table, in_chunks) + 1
