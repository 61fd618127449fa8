"""Where a feature's rows are in the SQLite store and reading them: its table and feature version
ids (`_table`, `_fv_id`, `_latest_location`), read_metadata's rows (`_read_rows`), `count` and
the feature versions stored; mixed into SQLiteMetadataStore."""

from __future__ import annotations

from typing import Any

import polars as pl

from ...columns import DELETED_AT, dvbf_column, pbf_column
from ...definition import FeatureDefinition
from ...keys import quote, quote_all
from ...spec import feature_key_of
from . import schema as _schema
from .codec import decode_rows, empty_frame, keys_in, table_types
from .handle import StoreMembers
from .upstream import latest_condition


class StoredRows(StoreMembers):
    # ----- locations -------------------------------------------------------------------------
    def _table(self, key: str) -> str | None:
        row = self.conn.execute("SELECT table_name FROM _metaxy_features WHERE feature_key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _fv_id(self, key: str, feature_version: str) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM _metaxy_feature_versions WHERE feature_key = ? AND feature_version = ?",
            (key, feature_version),
        ).fetchone()
        return row[0] if row else None

    def _latest_location(self, key: str, feature_version: str) -> tuple[str | None, int | None, int]:
        """(table, feature version id, an upper bound of its row count) or Nones."""
        with self._lock:
            table = self._table(key)
            fv_id = self._fv_id(key, feature_version) if table else None
            n = 0
            if table and fv_id is not None:
                n = self._row_bound(table)
            return table, fv_id, n

    def _row_bound(self, table: str) -> int:
        """An upper bound of the table's row count (its largest rowid), to size reads."""
        with self._lock:
            bound: int = self.conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {quote(table)}").fetchone()[0]
            return bound

    # ----- reading ---------------------------------------------------------------------------
    def _read_rows(
        self,
        definition: FeatureDefinition,
        current_fv: str | None,
        feature_version: str | None,
        all_versions: bool,
        history: bool,
        deleted: bool,
        *,
        keys: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """Rows as read_metadata returns them; `keys` (some of the id columns) limits them in SQL."""
        table = self._table(definition.name)
        fields = definition.field_keys
        if table is None:
            return empty_frame(definition, fields)
        stored_cols = _schema.table_columns(self.conn, table)
        where: list[str] = []
        params: list[Any] = []
        if not all_versions:
            fv_id = self._fv_id(definition.name, feature_version or current_fv or "")
            if fv_id is None:
                return empty_frame(definition, fields)
            where.append(f"{quote(_schema.FV)} = ?")
            params.append(fv_id)
        else:
            fields = sorted({c.split(".", 1)[1] for c in stored_cols if c.startswith("metaxy_provenance_by_field.")})
        if not history:
            where.append(f"{quote(_schema.SUPERSEDED)} IS NULL")
        if not deleted:
            where.append(f"{quote(DELETED_AT)} IS NULL")
        if keys is not None:
            cond, encoded = keys_in(list(keys.columns), keys, definition.columns)
            where.append(cond)
            params.append(encoded)
        wanted = [c for c in definition.columns if c in stored_cols]
        wanted += [c for f in fields for c in (pbf_column(f), dvbf_column(f)) if c in stored_cols]
        wanted += [c for c in stored_cols if c.startswith("metaxy_") and "." not in c] + [_schema.FV, _schema.WRITE]
        sql = (
            f"SELECT {quote_all(wanted)} FROM {quote(table)}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY rowid"
        )
        n = self._row_bound(table)
        assert self._reader is not None, "store is not open"
        raw = self._reader.frame(sql, params, table_types(definition, wanted), expected_rows=n)
        fv_names = dict(
            self.conn.execute(
                "SELECT id, feature_version FROM _metaxy_feature_versions WHERE feature_key = ?", (definition.name,)
            ).fetchall()
        )
        pvs = dict(
            self.conn.execute(
                "SELECT w.id, s.project_version FROM _metaxy_writes w JOIN _metaxy_snapshots s "
                "ON s.id = w.snapshot_id WHERE w.feature_key = ?",
                (definition.name,),
            ).fetchall()
        )
        return decode_rows(raw, definition, fields, fv_names, pvs)

    # ----- small queries ---------------------------------------------------------------------
    def count(self, feature: Any, *, feature_version: str | None = None) -> int:
        definition, current_fv = self._definition_for_read(feature)
        table = self._table(definition.name)
        fv_id = self._fv_id(definition.name, feature_version or current_fv or "") if table else None
        if table is None or fv_id is None:
            return 0
        n: int = self.conn.execute(
            f"SELECT count(*) FROM {quote(table)} WHERE {latest_condition()}", (fv_id,)
        ).fetchone()[0]
        return n

    def stored_feature_versions(self, feature: Any) -> list[dict[str, Any]]:
        key = feature_key_of(feature).to_string()
        rows = self.conn.execute(
            "SELECT fv.feature_version, fv.snapshot_id, s.recorded_at FROM _metaxy_feature_versions fv "
            "JOIN _metaxy_snapshots s ON s.id = fv.snapshot_id WHERE fv.feature_key = ? ORDER BY fv.id",
            (key,),
        )
        return [{"feature_version": r[0], "snapshot_id": r[1], "recorded_at": r[2]} for r in rows]
