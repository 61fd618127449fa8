"""The SQLite layout of a store, and recognising (or refusing) a file.

System tables start with `_metaxy_`; each feature has one table named after its key
(parts joined by `__`). `PRAGMA application_id` marks the file as ours and
`PRAGMA user_version` holds the layout version.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from ...columns import (
    CREATED_AT,
    DATA_VERSION,
    DELETED_AT,
    MATERIALIZATION_ID,
    PROVENANCE,
    UPDATED_AT,
    dvbf_column,
    pbf_column,
)
from ...definition import FeatureDefinition
from ...errors import StoreError, StoreFormatError
from ...keys import quote, quote_all
from . import chunks, groups
from .system_columns import FV as FV, SUPERSEDED as SUPERSEDED, WRITE as WRITE, index_name  # (re-exported)

APPLICATION_ID = 0x4D585455  # "MXTU"
SCHEMA_VERSION = 2  # 2: a columnar copy of live rows and group digests (store/sqlite/chunks.py, store/sqlite/groups.py)

AUDIT_DDL = """CREATE TABLE IF NOT EXISTS _metaxy_audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    user TEXT,
    action TEXT NOT NULL,
    feature_key TEXT NOT NULL,
    feature_version TEXT,
    n_samples INTEGER NOT NULL,
    duration_s REAL,
    outcome TEXT NOT NULL,
    detail TEXT,
    executor TEXT)"""

AUDIT_IDS_DDL = """CREATE TABLE IF NOT EXISTS _metaxy_audit_ids (
    audit_id INTEGER NOT NULL,
    ids TEXT NOT NULL)"""

SYSTEM_DDL = [
    """CREATE TABLE _metaxy_info (key TEXT PRIMARY KEY, value TEXT)""",
    """CREATE TABLE _metaxy_snapshots (
        id INTEGER PRIMARY KEY,
        project_version TEXT NOT NULL UNIQUE,
        project TEXT,
        recorded_at INTEGER NOT NULL,
        graph TEXT NOT NULL)""",
    """CREATE TABLE _metaxy_feature_versions (
        id INTEGER PRIMARY KEY,
        feature_key TEXT NOT NULL,
        feature_version TEXT NOT NULL,
        snapshot_id INTEGER NOT NULL REFERENCES _metaxy_snapshots(id),
        UNIQUE (feature_key, feature_version))""",
    """CREATE TABLE _metaxy_features (
        feature_key TEXT PRIMARY KEY,
        table_name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL)""",
    """CREATE TABLE _metaxy_writes (
        id INTEGER PRIMARY KEY,
        feature_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        feature_version_id INTEGER,
        snapshot_id INTEGER,
        at INTEGER NOT NULL,
        n_rows INTEGER NOT NULL,
        materialization_id TEXT,
        inputs_as_of INTEGER)""",
    """CREATE INDEX _metaxy_writes_feature ON _metaxy_writes (feature_key, id)""",
    AUDIT_DDL,
    AUDIT_IDS_DDL,
]

SYSTEM_TABLES = (
    "_metaxy_info",
    "_metaxy_snapshots",
    "_metaxy_feature_versions",
    "_metaxy_features",
    "_metaxy_writes",
)  # _metaxy_audit is created on the first write-mode open


def readonly_uri(path: str | os.PathLike[str]) -> str:
    """The URI opening a store file read-only; a path with "#", "?" or "%" in it is escaped."""
    return Path(path).resolve().as_uri() + "?mode=ro"


def create_store_file(path: Path, info: dict[str, str]) -> None:
    """Create a new store file atomically: built under a temporary name, then hard-linked.

    A process killed while creating leaves either no store or a complete one (plus, at
    worst, a hidden temporary file); another process creating the same path at the same
    time simply finds it there.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.creating")
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        check_or_initialise(conn, str(path), create=True, info=info)
        conn.execute(AUDIT_DDL)
        conn.execute(AUDIT_IDS_DDL)
        ensure_layout(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()  # the last connection: the WAL is checkpointed into the file
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process created it first: use theirs
    except OSError:
        if not path.exists():  # a file system without hard links
            os.replace(tmp, path)
    finally:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{tmp}{suffix}")


def ensure_wal(conn: sqlite3.Connection) -> None:
    """WAL mode, retried: switching ignores the busy timeout while another process writes."""
    for attempt in range(50):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == 49:
                raise
            time.sleep(0.1)


def ensure_audit(conn: sqlite3.Connection) -> None:
    conn.execute(AUDIT_DDL)
    conn.execute(AUDIT_IDS_DDL)
    if not audit_has_executor(conn):  # stores made before recomputes could run elsewhere (Ray)
        conn.execute("ALTER TABLE _metaxy_audit ADD COLUMN executor TEXT")


def audit_has_executor(conn: sqlite3.Connection) -> bool:
    """Whether the audit table has the `executor` column (an older store read-only may not)."""
    return any(row[1] == "executor" for row in conn.execute("PRAGMA table_info(_metaxy_audit)"))


def ensure_layout(conn: sqlite3.Connection) -> None:
    """Bring a store of an older layout up to this one, inside the caller's write transaction.

    Layout 2 adds the columnar copy and the group digests. It is marked in user_version, so
    that an older metaxy-tui, which would write rows without them, refuses the file.
    """
    chunks.ensure_tables(conn)
    groups.ensure_tables(conn)
    if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def temp_layout(conn: sqlite3.Connection) -> None:
    """The system tables as TEMP tables: an empty file then reads like an empty store."""
    for ddl in SYSTEM_DDL:
        if ddl.lstrip().upper().startswith("CREATE TABLE"):
            conn.execute(
                ddl.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE IF NOT EXISTS", 1).replace(
                    "CREATE TABLE", "CREATE TEMP TABLE", 1
                )
            )
    conn.execute(AUDIT_IDS_DDL.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE IF NOT EXISTS", 1))


def recover(path: str) -> None:
    """Roll back a hot journal by opening the file for writing once."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()


def check_or_initialise(conn: sqlite3.Connection, path: str, *, create: bool, info: dict[str, str]) -> dict[str, str]:
    """Verify that `conn` is a store of ours (creating the layout in an empty file).

    Returns the store's `_metaxy_info`. Must be called inside a write transaction when
    `create` is true, so that two processes creating the same file do not race.
    """
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if app_id == 0 and version == 0 and not tables:
        if not create:
            return {}
        for ddl in SYSTEM_DDL:
            conn.execute(ddl)
        conn.executemany("INSERT INTO _metaxy_info (key, value) VALUES (?, ?)", sorted(info.items()))
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return dict(info)
    if app_id != APPLICATION_ID:
        shown = ", ".join(tables[:5]) + (" ..." if len(tables) > 5 else "")
        raise StoreFormatError(
            f"{path} is an SQLite database of another program (application_id {app_id}, tables: "
            f"{shown or 'none'}), not a metaxy-tui store; choose another path"
        )
    if version > SCHEMA_VERSION:
        raise StoreFormatError(
            f"{path} was written by a newer metaxy-tui (store layout {version}; this version reads up to "
            f"{SCHEMA_VERSION}); upgrade metaxy-tui to open it"
        )
    missing = [t for t in SYSTEM_TABLES if t not in tables]
    if missing:
        raise StoreFormatError(f"{path} is a damaged metaxy-tui store: tables {', '.join(missing)} are missing")
    return dict(conn.execute("SELECT key, value FROM _metaxy_info").fetchall())


def feature_columns(definition: FeatureDefinition, field_keys: list[str]) -> dict[str, str]:
    """Column name -> SQLite type for a feature table holding the given fields."""
    cols: dict[str, str] = {c: t.sqlite for c, t in definition.columns.items()}
    for f in field_keys:
        cols[pbf_column(f)] = "TEXT"
    for f in field_keys:
        cols[dvbf_column(f)] = "TEXT"
    cols.update(
        {
            PROVENANCE: "TEXT",
            DATA_VERSION: "TEXT",
            MATERIALIZATION_ID: "TEXT",
            CREATED_AT: "INTEGER",
            UPDATED_AT: "INTEGER",
            DELETED_AT: "INTEGER",
            FV: "INTEGER",
            WRITE: "INTEGER",
            SUPERSEDED: "INTEGER",
        }
    )
    return cols


_PY_TYPES = {"TEXT": str, "INTEGER": int, "REAL": float, "BLOB": bytes}


def ensure_feature_table(
    conn: sqlite3.Connection,
    definition: FeatureDefinition,
    field_keys: list[str],
    now: int,
    group_orders: Sequence[tuple[str, ...]] = (),
    *,
    key_order: tuple[str, ...] = (),
) -> str:
    """Create the feature's table, or add the columns a newer definition needs.

    `group_orders` are column lists (`on` columns, then id columns) that aggregation deps
    read this feature in: each gets a covering index so the window function walks the
    index instead of sorting (measured 1.5 s against 2.6 s on 1,000,000 rows).
    `key_order` (the feature's key columns, then its ids; see `sqlite_store._key_order`) gets
    an index over the latest rows, so a trace finds an expansion's children by their parent.
    Runs inside the caller's transaction. Returns the table name.
    """
    table = definition.key.table_name
    owner = conn.execute(
        "SELECT feature_key FROM _metaxy_features WHERE lower(table_name) = lower(?)", (table,)
    ).fetchone()
    if owner is not None and owner[0] != definition.name:
        raise StoreError(
            f"feature {definition.name!r} would share the table of stored feature {owner[0]!r} "
            "(SQLite table names ignore case); rename one of them"
        )
    wanted = feature_columns(definition, field_keys)
    existing = {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({quote(table)})")} or None
    if existing is None:
        # imported here: sqlite-utils pulls in pandas (and pyarrow) when they are installed,
        # 130 MB that reads and resolves never need
        import sqlite_utils

        db = sqlite_utils.Database(conn)
        ddl = db.create_table_sql(
            table,
            {c: _PY_TYPES[t] for c, t in wanted.items()},
            not_null={PROVENANCE, CREATED_AT, UPDATED_AT, FV, WRITE},
        )
        conn.execute(ddl)
        ids = definition.id_columns
        conn.execute(
            f"CREATE UNIQUE INDEX {quote(index_name(table, 'latest'))} ON {quote(table)} "
            f"({quote(FV)}, {quote_all(ids)}) WHERE {quote(SUPERSEDED)} IS NULL"
        )
        conn.execute(f"CREATE INDEX {quote(index_name(table, 'ids'))} ON {quote(table)} ({quote_all(ids)})")
        conn.execute(
            "INSERT OR REPLACE INTO _metaxy_features (feature_key, table_name, created_at) VALUES (?, ?, ?)",
            (definition.name, table, now),
        )
    else:
        for col, sql_type in wanted.items():
            if col not in existing:
                conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(col)} {sql_type}")
        retyped = [c for c, t in wanted.items() if c in existing and existing[c].upper() not in (t, "BLOB")]
        if retyped:
            # A column's type changed between feature versions, which share this table. Any
            # one affinity would convert the other version's values ('0123' -> 123), so the
            # column becomes BLOB (no affinity: values kept exactly as written). sqlite-utils
            # rebuilds the table keeping rows, rowids and indexes.
            import sqlite_utils

            db = sqlite_utils.Database(conn)
            for statement in db.table(table).transform_sql(types={c: bytes for c in retyped}):
                conn.execute(statement)
        _ensure_id_index(conn, table, definition)
    # rows superseded after a write, as a range read (the columnar copy's liveness, explanations)
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {quote(index_name(table, 'superseded'))} ON {quote(table)} "
        f"({quote(SUPERSEDED)}, {quote(FV)}) WHERE {quote(SUPERSEDED)} IS NOT NULL"
    )
    for order in group_orders:
        cols = list(dict.fromkeys([FV, *order] + [c for f in field_keys for c in (dvbf_column(f), pbf_column(f))]))
        name = index_name(table, "group_" + hashlib.sha256(repr(cols).encode()).hexdigest()[:10])
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} ({quote_all(cols)}) "
            f"WHERE {quote(SUPERSEDED)} IS NULL AND {quote(DELETED_AT)} IS NULL"
        )
    # soft-deleted latest rows (tombstones, few): live counts subtract them (trace_queries.count_live)
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {quote(index_name(table, 'tombstones'))} ON {quote(table)} "
        f"({quote(FV)}) WHERE {quote(SUPERSEDED)} IS NULL AND {quote(DELETED_AT)} IS NOT NULL"
    )
    if key_order:
        name = index_name(table, "key_" + hashlib.sha256(repr(key_order).encode()).hexdigest()[:10])
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} "
            f"({quote(FV)}, {quote_all(key_order)}) WHERE {quote(SUPERSEDED)} IS NULL"
        )
    return table


def _ensure_id_index(conn: sqlite3.Connection, table: str, definition: FeatureDefinition) -> None:
    """A definition whose id columns changed needs a latest-row index over the new ones."""
    name = index_name(table, "latest_" + "_".join(definition.id_columns))
    rows = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index_name(table, "latest"),)
    ).fetchone()
    wanted_cols = f"({quote(FV)}, {quote_all(definition.id_columns)})"
    if rows and wanted_cols in rows[0]:
        return
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone()
    if not exists:
        # not unique: rows stored under the old id columns may repeat the new ones
        conn.execute(f"CREATE INDEX {quote(name)} ON {quote(table)} {wanted_cols} WHERE {quote(SUPERSEDED)} IS NULL")


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({quote(table)})")]
