"""A columnar copy of each feature version's live rows, kept inside the store file.

Why: moving 1,000,000 rows out of SQLite costs about 1 s even as one JSON array per column
(store/reader.py); the same rows as Arrow IPC blobs load into polars in under 0.1 s. So every
write also appends the rows it inserted as IPC "chunks", in its own transaction: a process
killed mid-write loses both copies or neither, and the copy never disagrees with the rows.

A chunk holds rows as the table stores them (user columns encoded as in SQLite, provenance
and data versions by field, the row's provenance) with their rowids and write ids. A row
stops being live only when a rewrite or a soft delete sets `_mx_superseded` (indexed), or
when a hard delete removes it (that rewrites the chunks holding it). So the live rows are the
chunks' rows minus the rowids superseded since the chunks were last cleaned: one indexed
range read, and no second copy of the liveness state that could drift. Writes merge small
trailing chunks and drop dead rows once a quarter of the rows are dead.

`_metaxy_mirrors` has one row per (table, feature version) whose copy is complete. A store
written by an older version has none: its reads go through SQL until a write builds the copy.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterable

import polars as pl

from ..keys import quote
from .schema import FV, SUPERSEDED

CHUNKS = "_metaxy_chunks"
MIRRORS = "_metaxy_mirrors"
ROWID = "_rowid"
WRITE_ID = "_write"
PIECE_ROWS = 131_072  # rows per blob: a piece decodes in a few ms and stays far below SQLite's blob limit
PIECE_BYTES = 64 << 20
DEAD_SHARE = 0.25  # clean a feature version's chunks once this share of their rows is dead
DEAD_MIN = 4_096

DDL = [
    f"""CREATE TABLE IF NOT EXISTS {CHUNKS} (
        id INTEGER PRIMARY KEY,
        table_name TEXT NOT NULL,
        fv_id INTEGER NOT NULL,
        n_rows INTEGER NOT NULL,
        min_rowid INTEGER NOT NULL,
        max_rowid INTEGER NOT NULL,
        min_write INTEGER NOT NULL,
        max_write INTEGER NOT NULL,
        data BLOB NOT NULL)""",
    f"CREATE INDEX IF NOT EXISTS {CHUNKS}_by_table ON {CHUNKS} (table_name, fv_id, id)",
    f"""CREATE TABLE IF NOT EXISTS {MIRRORS} (
        table_name TEXT NOT NULL,
        fv_id INTEGER NOT NULL,
        clean_as_of INTEGER NOT NULL,
        PRIMARY KEY (table_name, fv_id))""",
]


def ensure_tables(conn: sqlite3.Connection) -> None:
    for ddl in DDL:
        conn.execute(ddl)


def has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (MIRRORS,)).fetchone() \
        is not None


# ----- reading ------------------------------------------------------------------------------------

def clean_as_of(conn: sqlite3.Connection, table: str, fv_id: int) -> int | None:
    """The write up to which the chunks of (table, feature version) hold no dead rows; None: no copy."""
    try:
        row = conn.execute(f"SELECT clean_as_of FROM {MIRRORS} WHERE table_name = ? AND fv_id = ?",
                           (table, fv_id)).fetchone()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return None  # a store of an older layout, opened read-only
        raise
    return row[0] if row else None


def dead_rowids(conn: sqlite3.Connection, table: str, fv_id: int, since: int) -> pl.Series:
    """Rowids of the feature version's rows superseded after write `since`."""
    text = conn.execute(f"SELECT json_group_array(rowid) FROM {quote(table)} WHERE {quote(SUPERSEDED)} > ? "
                        f"AND {quote(FV)} = ?", (since, fv_id)).fetchone()[0]
    return pl.Series(ROWID, [text]).str.json_decode(pl.List(pl.Int64)).explode().drop_nulls()


def read_live(conn: sqlite3.Connection, table: str, fv_id: int, columns: Iterable[str], *,
              expected: dict[str, pl.DataType] | None = None, written_after: int | None = None
              ) -> pl.DataFrame | None:
    """The live rows of (table, feature version): `columns` (payload names, ROWID, WRITE_ID) as stored.

    Columns a chunk lacks (added to the table later) come back null. None when there is no
    complete copy, or when a chunk holds a column in another dtype than `expected` (a retyped
    column): the caller reads SQL instead. `written_after` keeps only rows of later writes.
    Run it inside one read transaction (or the write's), so chunks and liveness agree.
    """
    since = clean_as_of(conn, table, fv_id)
    if since is None:
        return None
    columns = list(dict.fromkeys([*columns, ROWID]))
    expected = expected or {}
    sql = f"SELECT data FROM {CHUNKS} WHERE table_name = ? AND fv_id = ?"
    params: list = [table, fv_id]
    if written_after is not None:
        sql += " AND max_write > ?"
        params.append(written_after)
    parts = []
    for (blob,) in conn.execute(sql + " ORDER BY id", params):
        part = _decode(blob, columns, expected)
        if part is None:
            return None
        parts.append(part)
    dead = dead_rowids(conn, table, fv_id, since)
    if not parts:
        return pl.DataFrame({c: pl.Series(c, [], dtype=expected.get(c, _SYSTEM.get(c, pl.Null))) for c in columns})
    frame = pl.concat(parts, how="vertical_relaxed", rechunk=False) if len(parts) > 1 else parts[0]
    if written_after is not None:
        frame = frame.filter(pl.col(WRITE_ID) > written_after)
    if dead.len():
        frame = frame.filter(~pl.col(ROWID).is_in(dead.implode()))
    return frame


_SYSTEM = {ROWID: pl.Int64, WRITE_ID: pl.Int64}


def _decode(blob: bytes, columns: list[str], expected: dict[str, pl.DataType]) -> pl.DataFrame | None:
    schema = pl.read_ipc_schema(io.BytesIO(blob))
    present = [c for c in columns if c in schema]
    for c in present:
        want = expected.get(c, _SYSTEM.get(c))
        if want is not None and schema[c] != want and schema[c] != pl.Null:
            return None
    frame = pl.read_ipc(io.BytesIO(blob), columns=present)
    missing = [c for c in columns if c not in schema]
    if missing:
        frame = frame.with_columns([pl.lit(None, expected.get(c, pl.String)).alias(c) for c in missing])
    casts = {c: expected[c] for c in present if c in expected and schema[c] == pl.Null}
    if casts:
        frame = frame.cast(casts)
    return frame.select(columns)


# ----- writing (inside the caller's write transaction) ----------------------------------------------

def _encode(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_ipc(buf, compression="uncompressed")
    return buf.getvalue()


def _pieces(frame: pl.DataFrame) -> list[pl.DataFrame]:
    if frame.height == 0:
        return []
    per_row = max(1, frame.estimated_size() // frame.height)
    rows = max(1, min(PIECE_ROWS, PIECE_BYTES // per_row))
    return [frame.slice(s, rows) for s in range(0, frame.height, rows)]


def _insert(conn: sqlite3.Connection, table: str, fv_id: int, frame: pl.DataFrame) -> None:
    for piece in _pieces(frame):
        r, w = piece.get_column(ROWID), piece.get_column(WRITE_ID)
        conn.execute(f"INSERT INTO {CHUNKS} (table_name, fv_id, n_rows, min_rowid, max_rowid, min_write, max_write, "
                     "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (table, fv_id, piece.height, r.min(), r.max(), w.min(), w.max(), _encode(piece)))


def start(conn: sqlite3.Connection, table: str, fv_id: int, write_id: int) -> None:
    """Record that (table, feature version) now has a complete copy, clean as of `write_id`."""
    conn.execute(f"INSERT OR REPLACE INTO {MIRRORS} (table_name, fv_id, clean_as_of) VALUES (?, ?, ?)",
                 (table, fv_id, write_id))


def append(conn: sqlite3.Connection, table: str, fv_id: int, rows: pl.DataFrame) -> None:
    """Add rows just inserted (payload columns, ROWID, WRITE_ID), then merge small trailing chunks."""
    _insert(conn, table, fv_id, rows)
    _merge_tail(conn, table, fv_id)


def _merge_tail(conn: sqlite3.Connection, table: str, fv_id: int) -> None:
    """Merge the last two chunks while both are small and the older is at most twice the newer:
    each row is rewritten O(log n) times however small the writes are, and the number of
    chunks stays near rows / PIECE_ROWS."""
    while True:
        last = conn.execute(f"SELECT id, n_rows, data FROM {CHUNKS} WHERE table_name = ? AND fv_id = ? "
                            "ORDER BY id DESC LIMIT 2", (table, fv_id)).fetchall()
        if len(last) < 2:
            return
        (new_id, new_n, new_data), (old_id, old_n, old_data) = last
        if old_n + new_n > PIECE_ROWS or old_n > 2 * new_n:
            return
        merged = pl.concat([pl.read_ipc(io.BytesIO(old_data)), pl.read_ipc(io.BytesIO(new_data))],
                           how="diagonal_relaxed")
        conn.execute(f"DELETE FROM {CHUNKS} WHERE id IN (?, ?)", (old_id, new_id))
        _insert(conn, table, fv_id, merged)


def clean_if_needed(conn: sqlite3.Connection, table: str, fv_id: int, write_id: int) -> None:
    """Drop dead rows from the chunks once they are a quarter of them (amortised: each dead row
    is dropped once)."""
    since = clean_as_of(conn, table, fv_id)
    if since is None:
        return
    total = conn.execute(f"SELECT coalesce(sum(n_rows), 0) FROM {CHUNKS} WHERE table_name = ? AND fv_id = ?",
                         (table, fv_id)).fetchone()[0]
    dead = conn.execute(f"SELECT count(*) FROM {quote(table)} WHERE {quote(SUPERSEDED)} > ? AND {quote(FV)} = ?",
                        (since, fv_id)).fetchone()[0]
    if dead < max(DEAD_MIN, DEAD_SHARE * total):
        return
    dead_ids = dead_rowids(conn, table, fv_id, since).implode()
    rows = conn.execute(f"SELECT id, data FROM {CHUNKS} WHERE table_name = ? AND fv_id = ? ORDER BY id",
                        (table, fv_id)).fetchall()
    kept = [pl.read_ipc(io.BytesIO(data)).filter(~pl.col(ROWID).is_in(dead_ids)) for _id, data in rows]
    conn.execute(f"DELETE FROM {CHUNKS} WHERE table_name = ? AND fv_id = ?", (table, fv_id))
    if kept:
        _insert(conn, table, fv_id, pl.concat(kept, how="diagonal_relaxed"))
    start(conn, table, fv_id, write_id)


def purge(conn: sqlite3.Connection, table: str, rowids: pl.Series) -> None:
    """Remove hard-deleted rows (any feature version) from the chunks holding them."""
    if not rowids.len():
        return
    lo, hi = rowids.min(), rowids.max()
    gone = rowids.implode()
    hit = conn.execute(f"SELECT id, fv_id, data FROM {CHUNKS} WHERE table_name = ? AND max_rowid >= ? "
                       "AND min_rowid <= ? ORDER BY id", (table, lo, hi)).fetchall()
    for chunk_id, fv_id, data in hit:
        frame = pl.read_ipc(io.BytesIO(data))
        kept = frame.filter(~pl.col(ROWID).is_in(gone))
        if kept.height == frame.height:
            continue
        if kept.height:
            r, w = kept.get_column(ROWID), kept.get_column(WRITE_ID)
            conn.execute(f"UPDATE {CHUNKS} SET n_rows = ?, min_rowid = ?, max_rowid = ?, min_write = ?, "
                         "max_write = ?, data = ? WHERE id = ?",
                         (kept.height, r.min(), r.max(), w.min(), w.max(), _encode(kept), chunk_id))
        else:
            conn.execute(f"DELETE FROM {CHUNKS} WHERE id = ?", (chunk_id,))


def drop(conn: sqlite3.Connection, table: str, keep_fv: int | None = None) -> None:
    """Forget the copies of a table (all, or all but one feature version's)."""
    if keep_fv is None:
        conn.execute(f"DELETE FROM {CHUNKS} WHERE table_name = ?", (table,))
        conn.execute(f"DELETE FROM {MIRRORS} WHERE table_name = ?", (table,))
    else:
        conn.execute(f"DELETE FROM {CHUNKS} WHERE table_name = ? AND fv_id != ?", (table, keep_fv))
        conn.execute(f"DELETE FROM {MIRRORS} WHERE table_name = ? AND fv_id != ?", (table, keep_fv))


def next_rowid(conn: sqlite3.Connection, table: str) -> int:
    """The first rowid for new rows: above every row of the table and of its chunks, so a rowid
    is never reused for another row while a chunk could still name it."""
    in_table = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {quote(table)}").fetchone()[0]
    in_chunks = conn.execute(f"SELECT coalesce(max(max_rowid), 0) FROM {CHUNKS} WHERE table_name = ?",
                             (table,)).fetchone()[0]
    return max(in_table, in_chunks) + 1
