"""What every store does with a caller's arguments before its own SQL: the read and delete
calls of the interface, their Metaxy aliases, finding the samples a delete names, and the
hash settings a store was created with.

Both stores mix this in and bring the hooks: `_read_rows` (rows as `read_metadata` returns
them, optionally limited to `keys`), `_reading()` (a context in which reads see one state of
the store), `_delete_in` (deletes inside a write transaction), `_id_value` (an id typed as
text -> the value the store holds), `_transaction`, `_table`, `_fv_id`,
and the graphs (`graph`, `effective_graph`, `stored_graph`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import polars as pl

from ..columns import ColumnType
from ..definition import FeatureDefinition
from ..errors import InputError, InputProblem, StoreError, UnknownFeatureError
from ..frames import MetadataFrame, apply_filters, is_filter, to_polars
from ..graph import FeatureGraph, FeaturePlan
from ..hashing import HashAlgorithm, Hasher
from ..spec import feature_key_of


class StoreFront:
    """The interface's read_metadata and delete_metadata, written once over each store's hooks."""

    if TYPE_CHECKING:  # the hooks each store brings (its own class or its other mixins)

        def graph(self, feature: Any = None) -> FeatureGraph: ...
        def effective_graph(self, graph: FeatureGraph | None = None) -> FeatureGraph: ...
        def stored_graph(self) -> FeatureGraph: ...
        def _reading(self) -> AbstractContextManager[Any]: ...
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
        ) -> pl.DataFrame: ...
        # each store's contextlib.contextmanager (typed as that, not as AbstractContextManager, by the
        # mixin that defines it): Any here, which either store's definition satisfies
        def _transaction(self) -> Any: ...
        def _delete_in(
            self, conn: Any, definition: FeatureDefinition, table: str, fv_id: int, target: pl.DataFrame, *, soft: bool
        ) -> int: ...
        def _table(self, key: str) -> str | None: ...
        def _fv_id(self, key: str, feature_version: str) -> int | None: ...
        @staticmethod
        def _id_value(t: ColumnType, text: str) -> Any: ...

    # ----- reading ---------------------------------------------------------------------------
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

    def _definition_for_read(self, feature: Any) -> tuple[FeatureDefinition, str | None]:
        """A feature's definition and current version: from code, else from the stored graph."""
        plan = self._read_plan(feature)
        return plan.definition, plan.feature_version

    def read_metadata(
        self,
        feature: Any,
        *,
        filters: Any = None,
        columns: Sequence[str] | None = None,
        feature_version: str | None = None,
        all_feature_versions: bool = False,
        include_history: bool = False,
        include_deleted: bool = False,
        current_only: bool | None = None,
        latest_only: bool | None = None,
        include_soft_deleted: bool | None = None,
        with_feature_history: bool | None = None,
        with_sample_history: bool | None = None,
        allow_fallback: bool = True,
    ) -> MetadataFrame:
        """The feature's latest rows under its current feature version, as a polars frame.

        `all_feature_versions` (Metaxy: with_feature_history, or current_only=False) reads every
        feature version; `feature_version=` one given version; `include_history` (Metaxy:
        with_sample_history, or latest_only=False) adds superseded rows; `include_deleted`
        (include_soft_deleted) adds soft-deleted rows; `filters` is a polars or narwhals
        expression (or a list of them); `columns` picks columns (Metaxy 0.1.11 too returns only
        those). The frame is a polars DataFrame that also answers Metaxy's lazy frame calls
        (`.collect().to_polars()`).
        """
        if current_only is not None:
            all_feature_versions = not current_only
        if with_feature_history is not None:
            all_feature_versions = with_feature_history
        if latest_only is not None:
            include_history = not latest_only
        if with_sample_history is not None:
            include_history = with_sample_history
        if include_soft_deleted is not None:
            include_deleted = include_soft_deleted
        definition, current_fv = self._definition_for_read(feature)
        key = definition.name
        with self._reading():
            df = self._read_rows(
                definition,
                current_fv,
                feature_version,
                all_feature_versions,
                include_history,
                include_deleted,
            )
        if filters is not None:
            df = apply_filters(df, filters, key)
        if columns is not None:
            missing = [c for c in columns if c not in df.columns]
            if missing:
                raise InputError(
                    key, [InputProblem(f"unknown column (available: {', '.join(df.columns)})", c) for c in missing]
                )
            df = df.select(list(columns))
        return MetadataFrame(df)

    read = read_metadata

    def parse_ids(self, feature: Any, texts: Mapping[str, str]) -> dict[str, Any]:
        """Id values typed on a command line (`col=value` text), as this store's lookups take them.

        Exactly the feature's id columns must be given; a value that is not of its column's
        type raises InputError naming the column (ints, floats, booleans as true/false/1/0,
        datetimes and dates as ISO text).
        """
        plan = self._read_plan(feature)
        d = plan.definition
        problems = [
            InputProblem("not an id column (id columns: " + ", ".join(d.id_columns) + ")", c)
            for c in texts
            if c not in d.id_columns
        ]
        problems += [InputProblem("missing id column", c) for c in d.id_columns if c not in texts]
        out: dict[str, Any] = {}
        for c in d.id_columns:
            if c not in texts:
                continue
            try:
                out[c] = self._id_value(d.columns[c], texts[c])
            except ValueError:
                problems.append(InputProblem(f"{texts[c]!r} is not a {d.columns[c].name}", c))
        if problems:
            raise InputError(plan.name, problems)
        return out

    # ----- deleting --------------------------------------------------------------------------
    def delete_metadata(
        self,
        feature: Any,
        ids: Any = None,
        *,
        filters: Any = None,
        soft: bool = True,
        with_feature_history: bool = False,
        with_sample_history: bool = False,
        within: Callable[[Any], None] | None = None,
    ) -> int:
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
        if with_feature_history:
            raise InputError(
                key,
                [InputProblem("deletes act on the current feature version only; older versions' rows stay as history")],
            )
        if (ids is None) == (filters is None):
            raise InputError(key, [InputProblem("delete needs exactly one of ids= or filters=")])
        table = self._table(key)
        fv_id = self._fv_id(key, plan.feature_version) if table else None
        if table is None or fv_id is None:
            return 0
        if filters is not None:
            target = self.read_metadata(feature, filters=filters).select(definition.id_columns)
        else:
            target = self._target_ids(plan, ids)
        if target.height == 0:
            return 0
        with self._transaction() as conn:
            n: int = self._delete_in(conn, definition, table, fv_id, target, soft=soft)
            if within is not None:
                within(conn)
            return n

    delete = delete_metadata

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
            raise InputError(
                definition.name,
                [
                    InputProblem(
                        f"missing id column (or give the parent's columns {', '.join(key)} to delete all its children)",
                        c,
                    )
                    for c in missing
                ],
            )
        try:
            keys = frame.select(key).unique().cast({c: definition.columns[c].polars for c in key})
        except pl.exceptions.PolarsError as e:
            raise InputError(definition.name, [InputProblem(f"keys do not match the column types: {e}")]) from None
        with self._reading():
            rows = self._read_rows(
                definition,
                plan.feature_version,
                None,
                False,
                False,
                False,
                keys=keys,
            )
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


def stored_hasher(info: dict[str, str], requested: tuple[HashAlgorithm | None, int | None], where: str) -> Hasher:
    """The hash settings a store was created with (its info rows); a caller who asked for other
    settings (`requested`: algorithm or None, truncation or None) is refused, naming both."""
    stored = Hasher(
        HashAlgorithm.parse(info["hash_algorithm"]),
        int(info["hash_truncation_length"]) if info.get("hash_truncation_length") else None,
    )
    algo, trunc = requested
    if (algo is not None and (algo != stored.algorithm or trunc != stored.truncation)) or (
        algo is None and trunc is not None and trunc != stored.truncation
    ):
        raise StoreError(
            f"{where} hashes with {stored.describe()}, but {Hasher(algo or stored.algorithm, trunc).describe()} "
            "was asked for; open it with its own setting (or without one)"
        )
    return stored
