"""Copying a PostgreSQL store out of and into a database (store/transfer.py says what travels).

Out: the store's reads in one REPEATABLE READ snapshot; each feature table in write order
(`_mx_write`, `_mx_row`), in batches cut along writes (a large write by ranges of its rows),
each batch one COPY ... TO STDOUT.

In: one transaction on a connection of its own, holding the DDL and commit locks (writers wait
for the copy, as they wait for each other): the layout is created in it when the database holds
no store, rows are COPYed straight into the feature tables (`_mx_row` numbered afresh within each
write, in the source's order), and the id sequences are moved past the ids copied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any
import polars as pl

from ...columns import ColumnType
from ...definition import FeatureDefinition
from ...errors import StoreError
from ...hashing import Hasher
from ...version import __version__
from .. import transfer_form as _t
from . import layout
from .codec import check_text, column_expr, copy_in, text_expr
from .connection import conninfo, connect, describe_target, psycopg_module
from .layout import DDL_LOCK, COMMIT_LOCK, ROW, q
from .reads import select_list
from .store import PostgreSQLMetadataStore

INT_COLUMNS = {"metaxy_created_at", "metaxy_updated_at", "metaxy_deleted_at", _t.FV, _t.WRITE, _t.SUPERSEDED}


def same_database(a: str, b: str) -> bool:
    """Whether two connection strings name the same database and schema (by their parameters)."""

    def key(url: str) -> tuple[Any, ...]:
        info = conninfo(url)
        return (
            str(info.get("host") or "localhost"),
            str(info.get("port") or "5432"),
            str(info.get("dbname") or info.get("user") or ""),
            str(info.get("options") or ""),
        )

    return key(a) == key(b)


def _read_content(rows: Callable[[str], list[tuple[Any, ...]]], info: dict[str, str]) -> _t.Content:
    trunc = info.get("hash_truncation_length")
    c = _t.Content(info.get("hash_algorithm", "xxhash64"), int(trunc) if trunc else None)
    c.snapshots = rows("SELECT id, project_version, project, recorded_at, graph FROM _metaxy_snapshots ORDER BY id")
    c.feature_versions = rows(
        "SELECT id, feature_key, feature_version, snapshot_id FROM _metaxy_feature_versions ORDER BY id"
    )
    c.features = rows(
        "SELECT feature_key, table_name, created_at FROM _metaxy_features ORDER BY created_at, feature_key"
    )
    c.columns = rows("SELECT feature_key, column_name, type, nullable, added_at FROM _metaxy_columns ORDER BY seq")
    c.writes = rows(f"SELECT {', '.join(_t.WRITE_COLUMNS)} FROM _metaxy_writes ORDER BY id")
    c.audit = rows(
        'SELECT id, at, "user", action, feature_key, feature_version, n_samples, duration_s, outcome, detail, '
        "executor FROM _metaxy_audit ORDER BY id"
    )
    c.audit_ids = rows("SELECT audit_id, ids FROM _metaxy_audit_ids ORDER BY seq")
    return c


class PgSource:
    """A PostgreSQL store read for copying, in one snapshot."""

    def __init__(self, url: str):
        self._store = PostgreSQLMetadataStore(url)
        self.where = self._store.where
        self._store.open("r")  # one-line errors: unreachable, not a store, no store yet
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(self._store._reads.snapshot())
        self._content: _t.Content | None = None

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._store._reads.rows(sql)]

    def content(self) -> _t.Content:
        if self._content is None:
            self._content = _read_content(self._rows, self._store.info)
        return self._content

    def row_count(self, table: str) -> int:
        return int(self._rows(f"SELECT count(*) FROM {q(table)}")[0][0])

    def rows(self, table: str, columns: dict[str, ColumnType], fields: list[str]) -> Iterator[pl.DataFrame]:
        schema = _t.neutral_schema(columns, fields)
        stored = layout.table_columns(self._store.conn, table)
        self._store.conn.rollback()
        exprs = []
        for name in schema:
            if name in columns:
                exprs.append(column_expr(name, columns[name], stored))
            elif name in INT_COLUMNS:
                exprs.append(q(name) if layout.ident(name) in stored else "NULL::bigint")
            else:
                exprs.append(text_expr(name, stored))
        t = q(table)
        w, r = q(_t.WRITE), q(ROW)
        spans = self._rows(f"SELECT {w}, count(*), max({r}) FROM {t} GROUP BY {w} ORDER BY {w}")
        for where in _batches(spans, w, r):
            sql = f"SELECT {select_list(exprs)} FROM {t} WHERE {where} ORDER BY {w}, {r}"
            yield self._store._reads.frame(sql, schema)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()
        self._store.close()


def _batches(spans: list[tuple[Any, ...]], w: str, r: str) -> Iterator[str]:
    """WHERE clauses cutting a table into batches of about BATCH_ROWS rows, in write order."""
    size = _t.BATCH_ROWS
    lo = hi = None
    n = 0
    for write, count, max_row in spans:
        if count > size:
            if lo is not None:
                yield f"{w} BETWEEN {int(lo)} AND {int(hi)}"  # type: ignore[arg-type]
                lo, n = None, 0
            for start in range(0, int(max_row) + 1, size):
                yield f"{w} = {int(write)} AND {r} >= {start} AND {r} < {start + size}"
            continue
        if lo is not None and n + count > size:
            yield f"{w} BETWEEN {int(lo)} AND {int(hi)}"  # type: ignore[arg-type]
            lo, n = None, 0
        if lo is None:
            lo = write
        hi = write
        n += count
    if lo is not None:
        yield f"{w} BETWEEN {int(lo)} AND {int(hi)}"  # type: ignore[arg-type]


class PgTarget:
    """A database being loaded, in one transaction of a connection of its own."""

    def __init__(self, url: str, content: _t.Content):
        self.where = describe_target(url)
        self._conn = connect(url)
        self._positions: dict[tuple[str, int], int] = {}
        self._tables: set[str] = set()
        self._new: set[str] = set()  # tables this copy creates: their indexes are built after their rows
        self._deferred: dict[str, list[str]] = {}
        self._done = False
        psycopg = psycopg_module()
        try:
            PostgreSQLMetadataStore(url)._check_server(self._conn)
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (COMMIT_LOCK,))
            self._info = layout.read_info(self._conn, self.where)
            if not self._info:
                layout.initialise(
                    self._conn,
                    {
                        "created_with": __version__,
                        "hash_algorithm": content.hash_algorithm,
                        "hash_truncation_length": str(content.hash_truncation or ""),
                    },
                )
                self._info = dict(self._conn.execute("SELECT key, value FROM _metaxy_info").fetchall())
        except psycopg.Error as e:
            self.rollback()
            raise StoreError(f"{self.where}: {str(e).strip().splitlines()[0]}") from None
        except BaseException:
            self.rollback()
            raise

    def _fetch(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._conn.execute(sql).fetchall()]

    def existing(self) -> _t.Content:
        return _read_content(self._fetch, self._info)

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cols = ", ".join(f'"{c}"' for c in columns)
        with self._conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})", rows)

    def ensure_table(
        self,
        definition: FeatureDefinition,
        fields: list[str],
        now: int,
        group_orders: list[tuple[str, ...]],
        key_order: tuple[str, ...],
    ) -> str:
        new = not layout.table_columns(self._conn, definition.key.table_name)
        table = layout.ensure_feature_table(self._conn, definition, fields, now, group_orders, key_order=key_order)
        self._tables.add(table)
        if new:
            self._new.add(table)
        return table

    def insert_rows(
        self,
        table: str,
        definition: FeatureDefinition,
        columns: dict[str, ColumnType],
        rows: pl.DataFrame,
        *,
        merge: bool,
    ) -> None:
        check_text(rows.select([c for c, d in rows.schema.items() if d == pl.String]), definition.name)
        base = {w: self._positions.get((table, w), 0) for w in rows.get_column(_t.WRITE).unique().to_list()}
        rows = rows.with_columns(
            (
                pl.int_range(pl.len(), dtype=pl.Int64).over(_t.WRITE)
                + pl.col(_t.WRITE).replace_strict(base, return_dtype=pl.Int64)
            ).alias(ROW)
        )
        for w, n in rows.group_by(_t.WRITE).len().iter_rows():
            self._positions[(table, w)] = self._positions.get((table, w), 0) + n
        self._defer_indexes(table)
        if merge and table not in self._new:
            self._supersede(table, definition, rows)
        copy_in(self._conn, q(table), list(rows.columns), rows)

    def _defer_indexes(self, table: str) -> None:
        """A table this copy created gets its indexes once its rows are in (much faster than keeping
        them up to date row by row), still inside the transaction."""
        if table not in self._new or table in self._deferred:
            return
        self._deferred[table] = []
        for name, ddl in self._fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = "
            f"'{layout.ident(table)}'"
        ):
            self._conn.execute(f'DROP INDEX "{name}"')
            self._deferred[table].append(ddl)

    def _supersede(self, table: str, definition: FeatureDefinition, rows: pl.DataFrame) -> None:
        ids = list(definition.id_columns)
        first = rows.group_by([_t.FV, *ids]).agg(pl.col(_t.WRITE).min()).select([_t.FV, *ids, _t.WRITE])
        types = {c: layout.pg_type(definition.columns[c]) for c in ids}
        stage = "_mx_copy_keys"
        self._conn.execute(f"DROP TABLE IF EXISTS {stage}")
        self._conn.execute(
            f"CREATE TEMP TABLE {stage} ({q(_t.FV)} bigint, {', '.join(f'{q(c)} {types[c]}' for c in ids)}, "
            f"{q(_t.WRITE)} bigint) ON COMMIT DROP"
        )
        copy_in(self._conn, stage, list(first.columns), first)
        match = " AND ".join(f"s.{q(c)} = m.{q(c)}" for c in [_t.FV, *ids])
        self._conn.execute(
            f"UPDATE {q(table)} AS m SET {q(_t.SUPERSEDED)} = s.{q(_t.WRITE)} FROM {stage} AS s "
            f"WHERE m.{q(_t.SUPERSEDED)} IS NULL AND m.{q(_t.WRITE)} < s.{q(_t.WRITE)} AND {match}"
        )
        self._conn.execute(f"DROP TABLE {stage}")

    def set_hash(self, algorithm: str, truncation: int | None) -> None:
        for key, value in (("hash_algorithm", algorithm), ("hash_truncation_length", str(truncation or ""))):
            self._conn.execute(
                "INSERT INTO _metaxy_info (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def finish(self, tables: dict[str, list[tuple[FeatureDefinition, int, list[Any]]]], hasher: Hasher) -> None:
        for statements in self._deferred.values():
            for ddl in statements:
                self._conn.execute(ddl)
        for table in ("_metaxy_snapshots", "_metaxy_feature_versions", "_metaxy_audit"):
            self._conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce((SELECT max(id) FROM {table}), 1), "
                f"(SELECT max(id) FROM {table}) IS NOT NULL)"
            )

    def commit(self) -> None:
        self._conn.commit()
        self._done = True
        # fresh statistics for the planner (as a bulk write does), outside the copy's transaction
        with contextlib.suppress(Exception):
            self._conn.autocommit = True
            for table in sorted(self._tables):
                self._conn.execute(f"ANALYZE {q(table)}")
        with contextlib.suppress(Exception):
            self._conn.close()

    def rollback(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(Exception):
            self._conn.rollback()
        with contextlib.suppress(Exception):
            self._conn.close()
