"""Where a feature's rows are in a PostgreSQL store (its table, feature version id and stored
columns) and reading them: read_metadata's rows (StoreFront's read hooks), the live rows by key
that resolving compares with, and counts."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import polars as pl

from ...columns import DELETED_AT, PROVENANCE, PolarsType, dvbf_column, pbf_column
from ...definition import FeatureDefinition
from ...graph import FeaturePlan
from ..sqlite import resolve as common
from ..sqlite.codec import decode_rows, empty_frame
from . import layout
from .codec import column_expr, text_expr
from .handle import StoreMembers
from .layout import FV, ROW, SUPERSEDED, WRITE, q
from .reads import literal
from .sql import Place


class StoredRows(StoreMembers):
    """Mixed into PostgreSQLMetadataStore: where a feature's rows are, and reading them."""

    # ----- locations -------------------------------------------------------------------------
    def _table(self, key: str) -> str | None:
        rows = self._query("SELECT table_name FROM _metaxy_features WHERE feature_key = %s", (key,))
        return rows[0][0] if rows else None

    def _fv_id(self, key: str, feature_version: str) -> int | None:
        rows = self._query(
            "SELECT id FROM _metaxy_feature_versions WHERE feature_key = %s AND feature_version = %s",
            (key, feature_version),
        )
        return rows[0][0] if rows else None

    def _place(self, key: str, feature_version: str | None) -> Place:
        """Where (table, feature version id, stored columns) a feature version is, read in the
        reads' snapshot."""
        rows = self._snap_rows(
            f"SELECT f.table_name, (SELECT v.id FROM _metaxy_feature_versions v WHERE v.feature_key = f.feature_key "
            f"AND v.feature_version = {literal(feature_version or '')}) FROM _metaxy_features f "
            f"WHERE f.feature_key = {literal(key)}"
        )
        if not rows:
            return Place(None, None)
        table, fv_id = rows[0]
        cols = self._snap_rows(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON "
            "c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
            f"AND c.relname = {literal(layout.ident(table))} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
        )
        return Place(table, fv_id, {r[0]: r[1] for r in cols})

    def _has_live(self, place: Place) -> bool:
        assert place.table is not None  # (asked of a stored place only)
        return bool(self._snap_rows(f"SELECT 1 FROM {q(place.table)} WHERE {place.live()} LIMIT 1"))

    # ----- reading ---------------------------------------------------------------------------
    def _reading(self) -> AbstractContextManager[None]:
        """StoreFront's hook: the reads inside see one snapshot of the database."""
        return self._reads.snapshot()

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
        """Rows as read_metadata returns them (inside a snapshot); `keys` limits them in SQL."""
        from .sql import keys_relation

        fields = definition.field_keys
        place = self._place(definition.name, feature_version or current_fv or "")
        if place.table is None:
            return empty_frame(definition, fields)
        stored = place.columns
        where: list[str] = []
        if not all_versions:
            if place.fv_id is None:
                return empty_frame(definition, fields)
            where.append(f"{q(FV)} = {int(place.fv_id)}")
        else:
            fields = sorted({c.split(".", 1)[1] for c in stored if c.startswith("metaxy_provenance_by_field.")})
        if not history:
            where.append(f"{q(SUPERSEDED)} IS NULL")
        if not deleted:
            where.append(f"{q(DELETED_AT)} IS NULL")
        if keys is not None:
            kc = list(keys.columns)
            names = {c: f"k{i}" for i, c in enumerate(kc)}
            rel = keys_relation(keys, {c: definition.columns[c] for c in kc}, names)
            where.append(
                f"({', '.join(column_expr(c, definition.columns[c], stored) for c in kc)}) IN "
                f"(SELECT {', '.join(names.values())} FROM {rel} AS k)"
            )
        exprs: list[str] = []
        schema: dict[str, PolarsType] = {}
        for c, t in definition.columns.items():
            if layout.ident(c) in stored:
                exprs.append(column_expr(c, t, stored))
                schema[c] = t.polars
        for f in fields:
            for c in (pbf_column(f), dvbf_column(f)):
                if layout.ident(c) in stored:
                    exprs.append(text_expr(c, stored))
                    schema[c] = pl.String
        for c in ("metaxy_provenance", "metaxy_data_version", "metaxy_materialization_id"):
            exprs.append(q(c))
            schema[c] = pl.String
        for c in ("metaxy_created_at", "metaxy_updated_at", "metaxy_deleted_at", FV, WRITE):
            exprs.append(q(c))
            schema[c] = pl.Int64
        from .reads import select_list

        sql = (
            f"SELECT {select_list(exprs)} FROM {q(place.table)}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" ORDER BY {q(WRITE)}, {q(ROW)}"
        )
        raw = self._reads.frame(sql, schema)
        fv_names = dict(
            self._snap_rows(
                f"SELECT id, feature_version FROM _metaxy_feature_versions "
                f"WHERE feature_key = {literal(definition.name)}"
            )
        )
        pvs = dict(
            self._snap_rows(
                f"SELECT w.id, s.project_version FROM _metaxy_writes w JOIN _metaxy_snapshots s "
                f"ON s.id = w.snapshot_id WHERE w.feature_key = {literal(definition.name)}"
            )
        )
        return decode_rows(raw, definition, fields, fv_names, pvs)

    def _current_rows(self, plan: FeaturePlan, *, with_fields: bool = False) -> pl.DataFrame:
        """The feature's live rows by key: key and provenance (one row per key; an expansion's
        children that disagree give MIXED); `with_fields` adds provenance by field and WRITE."""
        key = list(plan.key)
        d = plan.definition
        schema: dict[str, PolarsType] = {c: d.columns[c].polars for c in key} | {PROVENANCE: pl.String}
        fields = d.field_keys if with_fields else []
        schema |= {pbf_column(f): pl.String for f in fields}
        if with_fields:
            schema[WRITE] = pl.Int64
        place = self._place(plan.name, plan.feature_version)
        if not place.stored or place.table is None:
            return pl.DataFrame(schema=schema)
        from .reads import select_list

        exprs = [column_expr(c, d.columns[c], place.columns) for c in key] + [q(PROVENANCE)]
        exprs += [text_expr(pbf_column(f), place.columns) for f in fields] + ([q(WRITE)] if with_fields else [])
        sql = f"SELECT {select_list(exprs)} FROM {q(place.table)} WHERE {place.live()} ORDER BY {q(WRITE)}, {q(ROW)}"
        cur = self._reads.frame(sql, schema)
        if key != list(d.id_columns):
            cur = cur.group_by(key, maintain_order=True).agg(
                pl.when(pl.col(PROVENANCE).n_unique() == 1)
                .then(pl.col(PROVENANCE).first())
                .otherwise(pl.lit(common.MIXED))
                .alias(PROVENANCE),
                *[pl.col(c).first() for c in cur.columns if c not in key and c != PROVENANCE],
            )
        return cur

    # ----- small queries ---------------------------------------------------------------------
    def count(self, feature: Any, *, feature_version: str | None = None) -> int:
        definition, current_fv = self._definition_for_read(feature)
        table = self._table(definition.name)
        fv_id = self._fv_id(definition.name, feature_version or current_fv or "") if table else None
        if table is None or fv_id is None:
            return 0
        n: int = self._query(
            f"SELECT count(*) FROM {q(table)} WHERE {q(FV)} = %s AND {q(SUPERSEDED)} IS NULL "
            f"AND {q(DELETED_AT)} IS NULL",
            (fv_id,),
        )[0][0]
        return n
