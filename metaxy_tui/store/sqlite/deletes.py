"""Deleting samples from a SQLite store: soft (hidden until written again) or hard (rows removed)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import polars as pl

from ...columns import DELETED_AT, UPDATED_AT
from ...definition import FeatureDefinition
from ...errors import InputError, InputProblem, UnknownFeatureError
from ...frames import is_filter, to_polars
from ...graph import FeaturePlan
from ...keys import quote, quote_all
from ...spec import feature_key_of
from . import schema as _schema
from . import upkeep
from . import codec  # codec.now_us, looked up at each call (tests freeze the clock there)
from .write import match_ids, stage_ids


class Deletes:
    """Mixed into SQLiteMetadataStore: deleting samples (soft: hidden until written again; hard: rows removed)."""

    def delete_metadata(self, feature: Any, ids: Any = None, *, filters: Any = None, soft: bool = True,
                        with_feature_history: bool = False, with_sample_history: bool = False,
                        within: Callable[[sqlite3.Connection], None] | None = None) -> int:
        """Soft-delete (hide until written again) or hard-delete (remove the stored rows of) samples
        of the current feature version; older versions' rows are untouched (SPEC 5).

        `ids` is a list of dicts or a frame with the id columns, or with the increment's key
        columns (for an expansion, the parent's `on` columns: all of that parent's children);
        `filters` a polars or narwhals expression (or a list of them) over the latest rows, also
        accepted in place of `ids` as Metaxy's `store.delete(feature, filters)` passes them.
        Returns the number of samples deleted (visible samples that went away).
        """
        if ids is not None and filters is None and is_filter(ids):
            ids, filters = None, ids
        plan = self._read_plan(feature)
        definition = plan.definition
        key = definition.name
        id_cols = definition.id_columns
        if with_feature_history:
            raise InputError(key, [InputProblem("deletes act on the current feature version only; older "
                                                "versions' rows stay as history")])
        if (ids is None) == (filters is None):
            raise InputError(key, [InputProblem("delete needs exactly one of ids= or filters=")])
        table = self._table(key)
        fv_id = self._fv_id(key, plan.feature_version) if table else None
        if table is None or fv_id is None:
            return 0
        if filters is not None:
            target = self.read_metadata(feature, filters=filters).select(id_cols)
        else:
            target = self._target_ids(plan, ids)
        if target.height == 0:
            return 0
        with self._transaction() as conn:
            n = self._delete_rows(conn, definition, table, fv_id, target, soft=soft, now=codec.now_us())
            if within is not None:
                within(conn)
            return n

    def _read_plan(self, feature: Any) -> FeaturePlan:
        """The feature's plan for reading: from the code, else from the stored graph."""
        graph = self.graph(feature)
        key = feature_key_of(feature).to_string()
        if key in graph:
            return self.effective_graph(graph).feature_plan(key)
        stored = self.stored_graph()
        if key in stored:
            return stored.feature_plan(key)
        raise UnknownFeatureError(key, sorted(set(graph.keys) | set(stored.keys)))

    def _target_ids(self, plan: FeaturePlan, ids: Any) -> pl.DataFrame:
        """Id columns of the samples `ids` names: by id, or by the increment's key (an expansion's
        parent), looked up among the current rows."""
        definition = plan.definition
        frame = to_polars(ids, definition.name)
        if all(c in frame.columns for c in definition.id_columns) or set(plan.key) == set(definition.id_columns):
            return self._id_frame(definition, frame)
        key = list(plan.key)
        if not all(c in frame.columns for c in key):
            missing = [c for c in definition.id_columns if c not in frame.columns]
            raise InputError(definition.name, [InputProblem(
                f"missing id column (or give the parent's columns {', '.join(key)} to delete all its children)", c)
                for c in missing])
        try:
            keys = frame.select(key).unique().cast({c: definition.columns[c].polars for c in key})
        except pl.exceptions.PolarsError as e:
            raise InputError(definition.name, [InputProblem(f"keys do not match the column types: {e}")]) from None
        rows = self._read_rows(definition, plan.feature_version, None, False, False, False, keys=keys)
        return rows.select(list(definition.id_columns))

    def _id_frame(self, definition: FeatureDefinition, ids: Any) -> pl.DataFrame:
        key = definition.name
        id_cols = definition.id_columns
        target = to_polars(ids, key)
        missing = [c for c in id_cols if c not in target.columns]
        if missing:
            raise InputError(key, [InputProblem("missing id column", c) for c in missing])
        try:
            return target.select(id_cols).unique().cast({c: definition.columns[c].polars for c in id_cols})
        except pl.exceptions.PolarsError as e:
            raise InputError(key, [InputProblem(f"ids do not match the id column types: {e}")]) from None

    def _delete_rows(self, conn: sqlite3.Connection, definition: FeatureDefinition, table: str, fv_id: int,
                     target: pl.DataFrame, *, soft: bool, now: int) -> int:
        """Delete the samples in `target` (id columns) of feature version `fv_id`, inside the
        caller's transaction; returns how many visible samples went."""
        id_cols = definition.id_columns
        write_id = conn.execute("INSERT INTO _metaxy_writes (feature_key, kind, feature_version_id, at, n_rows) "
                                "VALUES (?, ?, ?, ?, 0)",
                                (definition.name, "soft_delete" if soft else "hard_delete", fv_id, now)).lastrowid
        staged = stage_ids(conn, target, {c: definition.columns[c] for c in id_cols})
        cond = match_ids(quote(table), staged, id_cols)
        t = quote(table)
        live = f"{quote(_schema.FV)} = ? AND {quote(_schema.SUPERSEDED)} IS NULL AND {quote(DELETED_AT)} IS NULL"
        if soft:
            # a tombstone row supersedes the latest row, so history shows when it went
            n = conn.execute(f"UPDATE {t} SET {quote(_schema.SUPERSEDED)} = ? WHERE {live} AND {cond}",
                             (write_id, fv_id)).rowcount
            cols = _schema.table_columns(conn, table)
            copied = [c for c in cols if c not in (DELETED_AT, UPDATED_AT, _schema.WRITE, _schema.SUPERSEDED)]
            conn.execute(f"INSERT INTO {t} ({quote_all(copied)}, {quote(DELETED_AT)}, {quote(UPDATED_AT)}, "
                         f"{quote(_schema.WRITE)}) SELECT {quote_all(copied)}, ?, ?, ? FROM {t} "
                         f"WHERE {quote(_schema.SUPERSEDED)} = ?", (now, now, write_id, write_id))
        else:
            n = conn.execute(f"SELECT count(*) FROM {t} WHERE {live} AND {cond}", (fv_id,)).fetchone()[0]
            this_version = f"{quote(_schema.FV)} = {int(fv_id)} AND {cond}"
            removed_groups = upkeep.before_delete(conn, table, this_version)
            gone = [r[0] for r in conn.execute(f"DELETE FROM {t} WHERE {this_version} RETURNING rowid")]
        conn.execute("UPDATE _metaxy_writes SET n_rows = ? WHERE id = ?", (n, write_id))
        if soft:
            upkeep.after_delete(conn, table, definition, fv_id, write_id, self.hasher)
        else:
            upkeep.after_delete(conn, table, definition, fv_id, write_id, self.hasher,
                                removed_rowids=pl.Series(gone, dtype=pl.Int64), removed_groups=removed_groups)
        conn.execute(f"DROP TABLE {staged}")
        return n

    delete = delete_metadata
