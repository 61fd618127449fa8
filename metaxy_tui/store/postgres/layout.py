"""The PostgreSQL layout of a store, and recognising (or refusing) a database.

The same tables as the SQLite layout (store/schema.py), in the connection's schema: system
tables starting with `_metaxy_`, one table per feature named after its key, per-field
provenance and data versions in plain text columns. `_metaxy_info` marks the database as
ours (`application = metaxy-tui`) and holds the layout version; a database with other tables
and no such mark, or a newer layout, is refused before anything is written.

Text columns use the "C" collation: comparisons and ORDER BY then follow bytes, as polars and
SQLite order strings, so an aggregation's members are joined in the same order as there.
Names longer than PostgreSQL's 63 bytes are shortened with a digest (`ident`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...columns import (
    CREATED_AT,
    DATA_VERSION,
    DELETED_AT,
    MATERIALIZATION_ID,
    PROVENANCE,
    UPDATED_AT,
    ColumnType,
    dvbf_column,
    pbf_column,
)
from ...definition import FeatureDefinition
from ...errors import StoreError, StoreFormatError
from ...keys import quote

if TYPE_CHECKING:
    from .connection import PgConnection

APPLICATION = "metaxy-tui"
LAYOUT_VERSION = 1
MAX_IDENT = 63

FV = "_mx_fv"
WRITE = "_mx_write"
ROW = "_mx_row"  # the row's position in its write: (write, row) is the insertion order
SUPERSEDED = "_mx_superseded"

TEXT = 'text COLLATE "C"'
PG_TYPES = {
    "str": TEXT,
    "int": "bigint",
    "float": "double precision",
    "bool": "boolean",
    "datetime": "timestamp",
    "date": "date",
    "bytes": "bytea",
}

INFO = "_metaxy_info"
SYSTEM_DDL = [
    f"CREATE TABLE {INFO} (key text PRIMARY KEY, value text)",
    f"""CREATE TABLE _metaxy_snapshots (
        id bigserial PRIMARY KEY,
        project_version {TEXT} NOT NULL UNIQUE,
        project text,
        recorded_at bigint NOT NULL,
        graph text NOT NULL)""",
    f"""CREATE TABLE _metaxy_feature_versions (
        id bigserial PRIMARY KEY,
        feature_key {TEXT} NOT NULL,
        feature_version {TEXT} NOT NULL,
        snapshot_id bigint NOT NULL REFERENCES _metaxy_snapshots(id),
        UNIQUE (feature_key, feature_version))""",
    f"""CREATE TABLE _metaxy_features (
        feature_key {TEXT} PRIMARY KEY,
        table_name {TEXT} NOT NULL UNIQUE,
        created_at bigint NOT NULL)""",
    f"""CREATE TABLE _metaxy_writes (
        id bigint PRIMARY KEY,
        feature_key {TEXT} NOT NULL,
        kind text NOT NULL,
        feature_version_id bigint,
        snapshot_id bigint,
        at bigint NOT NULL,
        n_rows bigint NOT NULL,
        materialization_id text,
        inputs_as_of bigint)""",
    "CREATE INDEX _metaxy_writes_feature ON _metaxy_writes (feature_key, id)",
    f"""CREATE TABLE _metaxy_audit (
        id bigserial PRIMARY KEY,
        at bigint NOT NULL,
        "user" text,
        action text NOT NULL,
        feature_key {TEXT} NOT NULL,
        feature_version text,
        n_samples bigint NOT NULL,
        duration_s double precision,
        outcome text NOT NULL,
        detail text,
        executor text)""",
    """CREATE TABLE _metaxy_audit_ids (
        seq bigserial PRIMARY KEY,
        audit_id bigint NOT NULL,
        ids text NOT NULL)""",
    "CREATE INDEX _metaxy_audit_ids_entry ON _metaxy_audit_ids (audit_id)",
    f"""CREATE TABLE _metaxy_columns (
        feature_key {TEXT} NOT NULL,
        column_name {TEXT} NOT NULL,
        type text NOT NULL,
        nullable boolean NOT NULL,
        added_at bigint NOT NULL,
        seq bigserial,
        PRIMARY KEY (feature_key, column_name))""",
]
SYSTEM_TABLES = (
    "_metaxy_info",
    "_metaxy_snapshots",
    "_metaxy_feature_versions",
    "_metaxy_features",
    "_metaxy_writes",
    "_metaxy_audit",
    "_metaxy_audit_ids",
    "_metaxy_columns",
)

# pg_advisory_xact_lock keys: one for schema changes, one for the commit section of every write
DDL_LOCK = 0x4D58_0001
COMMIT_LOCK = 0x4D58_0002


def ident(name: str) -> str:
    """`name` as a PostgreSQL identifier: unchanged up to 63 bytes, else cut and given a digest
    (PostgreSQL would cut it silently, and two long names could then collide)."""
    if len(name.encode()) <= MAX_IDENT:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    head = name.encode()[: MAX_IDENT - 13].decode(errors="ignore")
    return f"{head}~{digest}"


def q(name: str) -> str:
    """Quote an identifier (shortened as `ident` does)."""
    return quote(ident(name))


def index_name(table: str, what: str) -> str:
    return ident(f"_mx_{table}__{what}")


def table_names(conn: PgConnection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        ).fetchall()
    ]


def read_info(conn: PgConnection, where: str) -> dict[str, str]:
    """The store's `_metaxy_info`, after checking the database is a store of ours ({} when the
    database holds no table at all). Reads only."""
    tables = table_names(conn)
    if not tables:
        return {}
    if INFO not in tables:
        shown = ", ".join(tables[:5]) + (" ..." if len(tables) > 5 else "")
        raise StoreFormatError(
            f"{where} holds tables of another program ({shown}), not a metaxy-tui store; "
            "choose another database (or schema)"
        )
    info: dict[str, str] = dict(conn.execute(f"SELECT key, value FROM {INFO}").fetchall())
    if info.get("application") != APPLICATION:
        raise StoreFormatError(
            f"{where} is marked as {info.get('application') or 'unknown'}'s, not a metaxy-tui "
            "store; choose another database (or schema)"
        )
    try:
        layout = int(info.get("layout", "0"))
    except ValueError:
        layout = 10**6
    if layout > LAYOUT_VERSION:
        raise StoreFormatError(
            f"{where} was written by a newer metaxy-tui (store layout {layout}; this version "
            f"reads up to {LAYOUT_VERSION}); upgrade metaxy-tui to open it"
        )
    missing = [t for t in SYSTEM_TABLES if t not in tables]
    if missing:
        raise StoreFormatError(f"{where} is a damaged metaxy-tui store: tables {', '.join(missing)} are missing")
    return info


def initialise(conn: PgConnection, info: dict[str, str]) -> None:
    """Create the system tables in an empty database, inside the caller's transaction."""
    for ddl in SYSTEM_DDL:
        conn.execute(ddl)
    rows = {**info, "application": APPLICATION, "layout": str(LAYOUT_VERSION)}
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {INFO} (key, value) VALUES (%s, %s)", sorted(rows.items()))
    conn.execute(f"COMMENT ON TABLE {INFO} IS 'metaxy-tui store, layout {LAYOUT_VERSION}'")


def pg_type(t: ColumnType) -> str:
    return PG_TYPES[t.name]


def feature_columns(definition: FeatureDefinition, field_keys: list[str]) -> dict[str, str]:
    """Column name -> PostgreSQL type for a feature table holding the given fields."""
    cols: dict[str, str] = {c: pg_type(t) for c, t in definition.columns.items()}
    for f in field_keys:
        cols[pbf_column(f)] = TEXT
    for f in field_keys:
        cols[dvbf_column(f)] = TEXT
    cols.update(
        {
            PROVENANCE: TEXT,
            DATA_VERSION: TEXT,
            MATERIALIZATION_ID: "text",
            CREATED_AT: "bigint",
            UPDATED_AT: "bigint",
            DELETED_AT: "bigint",
            FV: "bigint",
            WRITE: "bigint",
            ROW: "integer",
            SUPERSEDED: "bigint",
        }
    )
    return cols


NOT_NULL = {PROVENANCE, CREATED_AT, UPDATED_AT, FV, WRITE, ROW}


def table_columns(conn: PgConnection, table: str) -> dict[str, str]:
    """The table's columns (as PostgreSQL names them) -> their type, in table order."""
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = %s "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (ident(table),),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def _indexes(
    table: str,
    definition: FeatureDefinition,
    field_keys: list[str],
    group_orders: Sequence[tuple[str, ...]],
    key_order: tuple[str, ...],
) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of every index a feature table needs besides the unique one."""
    t = q(table)
    ids = definition.id_columns
    out = [
        (index_name(table, "ids"), f"ON {t} ({', '.join(q(c) for c in ids)})"),
        (index_name(table, "order"), f"ON {t} ({q(WRITE)}, {q(ROW)})"),
        (index_name(table, "superseded"), f"ON {t} ({q(SUPERSEDED)}, {q(FV)}) WHERE {q(SUPERSEDED)} IS NOT NULL"),
        (
            index_name(table, "tombstones"),
            f"ON {t} ({q(FV)}) WHERE {q(SUPERSEDED)} IS NULL AND {q(DELETED_AT)} IS NOT NULL",
        ),
        # the latest row of an id under the current definition's id columns (not unique: rows stored
        # under older id columns may repeat the new ones)
        (
            index_name(table, "latest_" + "_".join(ids)),
            f"ON {t} ({q(FV)}, {', '.join(q(c) for c in ids)}) WHERE {q(SUPERSEDED)} IS NULL",
        ),
    ]
    for order in group_orders:
        cols = list(dict.fromkeys([FV, *order]))
        include = [c for f in field_keys for c in (dvbf_column(f), pbf_column(f))]
        name = index_name(table, "group_" + hashlib.sha256(repr((cols, include)).encode()).hexdigest()[:10])
        out.append(
            (
                name,
                f"ON {t} ({', '.join(q(c) for c in cols)}) INCLUDE ({', '.join(q(c) for c in include)}) "
                f"WHERE {q(SUPERSEDED)} IS NULL AND {q(DELETED_AT)} IS NULL",
            )
        )
    if key_order:
        name = index_name(table, "key_" + hashlib.sha256(repr(key_order).encode()).hexdigest()[:10])
        out.append((name, f"ON {t} ({q(FV)}, {', '.join(q(c) for c in key_order)}) WHERE {q(SUPERSEDED)} IS NULL"))
    return out


def _index_names(conn: PgConnection, table: str) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s", (ident(table),)
        ).fetchall()
    }


def _ddl_needed(
    conn: PgConnection,
    definition: FeatureDefinition,
    field_keys: list[str],
    group_orders: Sequence[tuple[str, ...]],
    key_order: tuple[str, ...],
) -> bool:
    table = definition.key.table_name
    owner = conn.execute("SELECT feature_key FROM _metaxy_features WHERE table_name = %s", (table,)).fetchone()
    if owner is None or owner[0] != definition.name:
        return True
    existing = table_columns(conn, table)
    for c, typ in feature_columns(definition, field_keys).items():
        have = existing.get(ident(c))
        if have is None or (_base_type(have) != _base_type(typ) and _base_type(have) != "text"):
            return True
    names = _index_names(conn, table)
    return any(ident(n) not in names for n, _sql in _indexes(table, definition, field_keys, group_orders, key_order))


def ensure_feature_table(
    conn: PgConnection,
    definition: FeatureDefinition,
    field_keys: list[str],
    now: int,
    group_orders: Sequence[tuple[str, ...]] = (),
    key_order: tuple[str, ...] = (),
) -> str:
    """Create the feature's table, or add what a newer definition needs; in the caller's
    transaction. Only when something is missing does it take the DDL lock (held to the commit):
    writers to an existing table never wait on each other here. Returns the table name."""
    table = definition.key.table_name
    if not _ddl_needed(conn, definition, field_keys, group_orders, key_order):
        return table
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
    owner = conn.execute("SELECT feature_key FROM _metaxy_features WHERE table_name = %s", (table,)).fetchone()
    if owner is not None and owner[0] != definition.name:
        raise StoreError(
            f"feature {definition.name!r} would share the table of stored feature {owner[0]!r}; rename one of them"
        )
    wanted = feature_columns(definition, field_keys)
    existing = table_columns(conn, table)
    t = q(table)
    ids = definition.id_columns
    if not existing:
        cols = ", ".join(f"{q(c)} {typ}" + (" NOT NULL" if c in NOT_NULL else "") for c, typ in wanted.items())
        conn.execute(f"CREATE TABLE {t} ({cols})")
        conn.execute(
            f"CREATE UNIQUE INDEX {q(index_name(table, 'latest'))} ON {t} ({q(FV)}, "
            f"{', '.join(q(c) for c in ids)}) WHERE {q(SUPERSEDED)} IS NULL"
        )
        conn.execute(
            "INSERT INTO _metaxy_features (feature_key, table_name, created_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (feature_key) DO UPDATE SET table_name = excluded.table_name",
            (definition.name, table, now),
        )
    else:
        for col, typ in wanted.items():
            if ident(col) not in existing:
                conn.execute(f"ALTER TABLE {t} ADD COLUMN {q(col)} {typ}")
        retyped = [
            c
            for c, typ in wanted.items()
            if ident(c) in existing
            and _base_type(existing[ident(c)]) != _base_type(typ)
            and _base_type(existing[ident(c)]) != "text"
        ]
        for c in retyped:
            # a column's type changed between feature versions, which share this table: keep every
            # version's values exactly, as text (read back in each version's own type)
            conn.execute(
                f'ALTER TABLE {t} ALTER COLUMN {q(c)} TYPE text COLLATE "C" USING {_as_text(q(c), existing[ident(c)])}'
            )
        _drop_unique_if_ids_changed(conn, table, definition)
    names = _index_names(conn, table)
    for name, spec in _indexes(table, definition, field_keys, group_orders, key_order):
        if ident(name) not in names:
            conn.execute(f"CREATE INDEX {q(name)} {spec}")
    return table


def _base_type(typ: str) -> str:
    return typ.split(" COLLATE")[0].strip().lower().replace("timestamp without time zone", "timestamp")


def _as_text(col: str, typ: str) -> str:
    base = _base_type(typ)
    if base == "timestamp":
        return f"to_char({col}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    if base == "boolean":
        return f"CASE WHEN {col} THEN '1' WHEN NOT {col} THEN '0' END"
    if base == "bytea":
        return f"'\\x' || encode({col}, 'hex')"
    if base == "double precision":
        return f"({col})::text"
    return f"{col}::text"


def _drop_unique_if_ids_changed(conn: PgConnection, table: str, definition: FeatureDefinition) -> None:
    """The unique latest-row index covers the first definition's id columns; when a newer
    definition has other id columns, rows of either may repeat the other's ids: it goes (the
    latest_<ids> indexes serve lookups)."""
    found = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s",
        (ident(index_name(table, "latest")),),
    ).fetchone()
    wanted = f"({q(FV)}, {', '.join(q(c) for c in definition.id_columns)})"
    if found and _index_columns(found[0]) != _index_columns(wanted):
        conn.execute(f"DROP INDEX {q(index_name(table, 'latest'))}")


def _index_columns(text: str) -> str:
    inner = text[text.index("(") + 1 : text.index(")")]
    return ",".join(p.strip().strip('"') for p in inner.split(","))
