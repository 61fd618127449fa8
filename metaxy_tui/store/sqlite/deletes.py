"""Deleting samples from a SQLite store: soft (hidden until written again) or hard (rows removed)."""

from __future__ import annotations

import sqlite3

import polars as pl

from ...columns import DELETED_AT, UPDATED_AT
from ...definition import FeatureDefinition
from ...keys import quote, quote_all
from . import schema as _schema
from . import upkeep
from . import codec  # codec.now_us, looked up at each call (tests freeze the clock there)
from .write import match_ids, stage_ids
from .handle import StoreMembers


class Deletes(StoreMembers):
    """Mixed into SQLiteMetadataStore: deleting samples (soft: hidden until written again; hard: rows
    removed); the call itself and its arguments are store/front.py's."""

    def _delete_in(
        self,
        conn: sqlite3.Connection,
        definition: FeatureDefinition,
        table: str,
        fv_id: int,
        target: pl.DataFrame,
        *,
        soft: bool,
    ) -> int:
        """StoreFront's hook: delete `target` now, inside the caller's transaction."""
        return self._delete_rows(conn, definition, table, fv_id, target, soft=soft, now=codec.now_us())

    def _delete_rows(
        self,
        conn: sqlite3.Connection,
        definition: FeatureDefinition,
        table: str,
        fv_id: int,
        target: pl.DataFrame,
        *,
        soft: bool,
        now: int,
    ) -> int:
        """Delete the samples in `target` (id columns) of feature version `fv_id`, inside the
        caller's transaction; returns how many visible samples went."""
        id_cols = definition.id_columns
        write_id = conn.execute(
            "INSERT INTO _metaxy_writes (feature_key, kind, feature_version_id, at, n_rows) VALUES (?, ?, ?, ?, 0)",
            (definition.name, "soft_delete" if soft else "hard_delete", fv_id, now),
        ).lastrowid
        assert write_id is not None  # an INSERT's rowid
        staged = stage_ids(conn, target, {c: definition.columns[c] for c in id_cols})
        cond = match_ids(quote(table), staged, id_cols)
        t = quote(table)
        live = f"{quote(_schema.FV)} = ? AND {quote(_schema.SUPERSEDED)} IS NULL AND {quote(DELETED_AT)} IS NULL"
        if soft:
            # a tombstone row supersedes the latest row, so history shows when it went
            n = conn.execute(
                f"UPDATE {t} SET {quote(_schema.SUPERSEDED)} = ? WHERE {live} AND {cond}", (write_id, fv_id)
            ).rowcount
            cols = _schema.table_columns(conn, table)
            copied = [c for c in cols if c not in (DELETED_AT, UPDATED_AT, _schema.WRITE, _schema.SUPERSEDED)]
            conn.execute(
                f"INSERT INTO {t} ({quote_all(copied)}, {quote(DELETED_AT)}, {quote(UPDATED_AT)}, "
                f"{quote(_schema.WRITE)}) SELECT {quote_all(copied)}, ?, ?, ? FROM {t} "
                f"WHERE {quote(_schema.SUPERSEDED)} = ?",
                (now, now, write_id, write_id),
            )
        else:
            n = conn.execute(f"SELECT count(*) FROM {t} WHERE {live} AND {cond}", (fv_id,)).fetchone()[0]
            this_version = f"{quote(_schema.FV)} = {int(fv_id)} AND {cond}"
            removed_groups = upkeep.before_delete(conn, table, this_version)
            gone = [r[0] for r in conn.execute(f"DELETE FROM {t} WHERE {this_version} RETURNING rowid")]
        conn.execute("UPDATE _metaxy_writes SET n_rows = ? WHERE id = ?", (n, write_id))
        if soft:
            upkeep.after_delete(conn, table, definition, fv_id, write_id, self.hasher)
        else:
            upkeep.after_delete(
                conn,
                table,
                definition,
                fv_id,
                write_id,
                self.hasher,
                removed_rowids=pl.Series(gone, dtype=pl.Int64),
                removed_groups=removed_groups,
            )
        conn.execute(f"DROP TABLE {staged}")
        return n
