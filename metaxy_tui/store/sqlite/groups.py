"""Per-group digests of aggregation members, kept up to date by the writes themselves.

An N:1 aggregation replaces each upstream field's value by H(the group's member data
versions, ordered by the upstream ids, joined by "|") (SPEC 3). Building those strings from
the members at every resolve means reading every member row; so each write of a feature that
an aggregation reads also stores, per group it touched, the finished hash of each field
(`d:<field>`), in a table keyed by the feature version and the `on` values, inside the same
transaction. A resolve then reads one row per group instead of every member.

Each group's string is built once, in polars, from members sorted by the upstream ids (as
stored, so the order is SQLite's own) — linear in the group's size, unlike a window
`group_concat`, which hands every member row its own copy. Members whose `on` value is null
belong to no group and are left out.

`_metaxy_group_sets` lists each (table, `on` columns, order columns) with digests, and
`_metaxy_group_complete` the feature versions whose digests cover every group; writes
maintain every listed set, whatever graph they were made with.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from ...columns import dvbf_column, pbf_column
from ...hashing import Hasher
from ...keys import quote, quote_all
from .system_columns import FV, SUPERSEDED, index_name

SETS = "_metaxy_group_sets"
COMPLETE = "_metaxy_group_complete"
MEMBERS = "__members"

DDL = [
    f"""CREATE TABLE IF NOT EXISTS {SETS} (
        id INTEGER PRIMARY KEY,
        table_name TEXT NOT NULL,
        on_columns TEXT NOT NULL,
        order_columns TEXT NOT NULL,
        UNIQUE (table_name, on_columns, order_columns))""",
    f"""CREATE TABLE IF NOT EXISTS {COMPLETE} (
        set_id INTEGER NOT NULL,
        fv_id INTEGER NOT NULL,
        PRIMARY KEY (set_id, fv_id))""",
]


def ensure_tables(conn: sqlite3.Connection) -> None:
    for ddl in DDL:
        conn.execute(ddl)


def digest_column(field: str) -> str:
    return f"d:{field}"


def value_expr(field: str) -> pl.Expr:
    """A member's data version for a field, from the stored columns (as the SQL COALESCE)."""
    return pl.coalesce(pl.col(dvbf_column(field)), pl.col(pbf_column(field)))


# ----- building group strings -----------------------------------------------------------------------


def group_strings(
    members: pl.DataFrame, on: Sequence[str], order: Sequence[str], values: Sequence[str], *, ordered: bool = False
) -> pl.DataFrame:
    """One row per group (`on` values): each of `values` over its members, in `order`, joined by "|",
    and MEMBERS, the member count. `ordered`: the rows already come sorted by on + order."""
    on, order = list(on), list(order)
    members = members.filter(pl.all_horizontal([pl.col(c).is_not_null() for c in on])) if on else members
    if not ordered:
        members = members.sort(list(dict.fromkeys(on + order)), maintain_order=True)
    aggs = [pl.col(v).str.join("|").alias(v) for v in values] + [pl.len().alias(MEMBERS)]
    return members.group_by(on, maintain_order=True).agg(aggs)


def hashed(groups: pl.DataFrame, values: Sequence[str], hasher: Hasher) -> pl.DataFrame:
    return groups.with_columns([hasher.expr(pl.col(v)).alias(v) for v in values])


# ----- the registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSet:
    id: int
    table: str
    on: tuple[str, ...]  # the feature table's columns
    order: tuple[str, ...]

    @property
    def digest_table(self) -> str:
        return index_name(self.table, f"groups_{self.id}")


def has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SETS,)).fetchone() is not None


def sets_of(conn: sqlite3.Connection, table: str) -> list[GroupSet]:
    if not has_tables(conn):
        return []
    rows = conn.execute(
        f"SELECT id, on_columns, order_columns FROM {SETS} WHERE table_name = ? ORDER BY id", (table,)
    ).fetchall()
    return [GroupSet(i, table, tuple(json.loads(a)), tuple(json.loads(b))) for i, a, b in rows]


def lookup(conn: sqlite3.Connection, table: str, on: Sequence[str], order: Sequence[str]) -> GroupSet | None:
    for s in sets_of(conn, table):
        if s.on == tuple(on) and s.order == tuple(order):
            return s
    return None


def is_complete(conn: sqlite3.Connection, gset: GroupSet, fv_id: int) -> bool:
    return (
        conn.execute(f"SELECT 1 FROM {COMPLETE} WHERE set_id = ? AND fv_id = ?", (gset.id, fv_id)).fetchone()
        is not None
    )


def register(conn: sqlite3.Connection, table: str, on: Sequence[str], order: Sequence[str]) -> GroupSet:
    found = lookup(conn, table, on, order)
    if found is not None:
        return found
    set_id = conn.execute(
        f"INSERT INTO {SETS} (table_name, on_columns, order_columns) VALUES (?, ?, ?)",
        (table, json.dumps(list(on)), json.dumps(list(order))),
    ).lastrowid
    assert set_id is not None  # an INSERT's rowid
    gset = GroupSet(set_id, table, tuple(on), tuple(order))
    conn.execute(
        f"CREATE TABLE {quote(gset.digest_table)} ({quote(FV)} INTEGER NOT NULL, "
        f"{', '.join(quote(c) for c in gset.on)}, {quote(MEMBERS)} INTEGER NOT NULL)"
    )
    conn.execute(
        f"CREATE UNIQUE INDEX {quote(gset.digest_table + '__key')} ON {quote(gset.digest_table)} "
        f"({quote(FV)}, {quote_all(gset.on)})"
    )
    return gset


def _ensure_digest_columns(conn: sqlite3.Connection, gset: GroupSet, fields: Sequence[str]) -> None:
    have = {r[1] for r in conn.execute(f"PRAGMA table_info({quote(gset.digest_table)})")}
    for f in fields:
        if digest_column(f) not in have:
            conn.execute(f"ALTER TABLE {quote(gset.digest_table)} ADD COLUMN {quote(digest_column(f))} TEXT")


# ----- reading --------------------------------------------------------------------------------------


def read_sql(gset: GroupSet, fields: Sequence[str]) -> str:
    cols = [*gset.on, *(digest_column(f) for f in fields)]
    return f"SELECT {quote_all(cols)} FROM {quote(gset.digest_table)} WHERE {quote(FV)} = ?"


def available(
    conn: sqlite3.Connection, table: str, on: Sequence[str], order: Sequence[str], fv_id: int, fields: Sequence[str]
) -> GroupSet | None:
    """The group set whose digests answer this aggregation now, or None (compute from members)."""
    gset = lookup(conn, table, on, order) if has_tables(conn) else None
    if gset is None or not is_complete(conn, gset, fv_id):
        return None
    have = {r[1] for r in conn.execute(f"PRAGMA table_info({quote(gset.digest_table)})")}
    return gset if all(digest_column(f) in have for f in fields) else None


# ----- keeping them up to date (inside the write's transaction) --------------------------------------

MembersReader = Callable[[list[str]], pl.DataFrame]
"""columns -> every live member's columns, as stored."""


def maintain(
    conn: sqlite3.Connection,
    table: str,
    fv_id: int,
    fields: Sequence[str],
    hasher: Hasher,
    members: MembersReader,
    touched: Callable[[GroupSet], pl.DataFrame | None],
) -> None:
    """Bring every group set of `table` up to date for feature version `fv_id` after a write.

    `touched(gset)` gives the groups (`on` columns) whose members may have changed, or None
    when every group must be rebuilt. Sets not complete for this feature version are built
    whole.
    """
    for gset in sets_of(conn, table):
        _ensure_digest_columns(conn, gset, fields)
        whole = not is_complete(conn, gset, fv_id)
        groups = None if whole else touched(gset)
        needed = list(
            dict.fromkeys([*gset.on, *gset.order, *(c for f in fields for c in (pbf_column(f), dvbf_column(f)))])
        )
        rows = members(needed)
        if groups is not None:
            groups = groups.select(list(gset.on)).cast({c: rows.schema[c] for c in gset.on}).unique()
            groups = groups.filter(pl.all_horizontal([pl.col(c).is_not_null() for c in gset.on]))
            if groups.height == 0:
                continue
            rows = rows.join(groups, on=list(gset.on), how="semi")
        values = [value_expr(f).alias(digest_column(f)) for f in fields]
        rows = rows.select([pl.col(c) for c in dict.fromkeys([*gset.on, *gset.order])] + values)
        names = [digest_column(f) for f in fields]
        digests = hashed(group_strings(rows, gset.on, gset.order, names), names, hasher)
        _replace(conn, gset, fv_id, groups, digests, fields)
        if whole:
            conn.execute(f"INSERT OR IGNORE INTO {COMPLETE} (set_id, fv_id) VALUES (?, ?)", (gset.id, fv_id))


def _replace(
    conn: sqlite3.Connection,
    gset: GroupSet,
    fv_id: int,
    groups: pl.DataFrame | None,
    digests: pl.DataFrame,
    fields: Sequence[str],
) -> None:
    t = quote(gset.digest_table)
    on = list(gset.on)
    if groups is None:
        conn.execute(f"DELETE FROM {t} WHERE {quote(FV)} = ?", (fv_id,))
    else:
        # a temporary table of the touched keys, then one set-based DELETE
        conn.execute("DROP TABLE IF EXISTS temp._mx_touched")
        conn.execute(f"CREATE TEMP TABLE _mx_touched ({quote_all(on)})")
        conn.executemany(f"INSERT INTO temp._mx_touched VALUES ({', '.join('?' * len(on))})", groups.rows())
        match = " AND ".join(f"d.{quote(c)} = g.{quote(c)}" for c in on)
        # through the digest table's (feature version, on) index: one lookup per touched group
        conn.execute(
            f"DELETE FROM {t} WHERE rowid IN (SELECT d.rowid FROM temp._mx_touched g JOIN {t} d "
            f"ON d.{quote(FV)} = ? AND {match})",
            (fv_id,),
        )
        conn.execute("DROP TABLE temp._mx_touched")
    cols = [*on, MEMBERS, *(digest_column(f) for f in fields)]
    out = digests.select(cols)
    conn.executemany(
        f"INSERT INTO {t} ({quote(FV)}, {quote_all(cols)}) VALUES (?, {', '.join('?' * len(cols))})",
        ((fv_id, *r) for r in out.iter_rows()),
    )


def forget(conn: sqlite3.Connection, table: str, fv_ids: Sequence[int] | None = None) -> None:
    """Mark a table's digests incomplete (for some feature versions, or all): rebuilt on the next write."""
    for gset in sets_of(conn, table):
        if fv_ids is None:
            conn.execute(f"DELETE FROM {COMPLETE} WHERE set_id = ?", (gset.id,))
            conn.execute(f"DELETE FROM {quote(gset.digest_table)}")
        else:
            for fv in fv_ids:
                conn.execute(f"DELETE FROM {COMPLETE} WHERE set_id = ? AND fv_id = ?", (gset.id, fv))
                conn.execute(f"DELETE FROM {quote(gset.digest_table)} WHERE {quote(FV)} = ?", (fv,))


def superseded_groups(
    conn: sqlite3.Connection, table: str, fv_id: int, write_id: int, on: Sequence[str]
) -> pl.DataFrame:
    """The `on` values of the feature version's rows that write `write_id` superseded."""
    rows = conn.execute(
        f"SELECT DISTINCT {quote_all(on)} FROM {quote(table)} WHERE {quote(SUPERSEDED)} = ? AND {quote(FV)} = ?",
        (write_id, fv_id),
    ).fetchall()
    return (
        pl.DataFrame(rows, schema=list(on), orient="row", infer_schema_length=None)
        if rows
        else pl.DataFrame(schema={c: pl.Null for c in on})
    )
