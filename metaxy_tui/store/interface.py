"""The one store interface: what the service layer, the CLI, the TUI and pipelines may ask of a store.

`SQLiteMetadataStore` (one file, the embedded default) implements it; a PostgreSQL store
implements the same contract. Everything outside `metaxy_tui/store/` talks to a store through
these methods only: no private member, no system table, no SQL. Semantics are SPEC's (sections
4 and 5); each method's docstring states what an implementation must guarantee beyond them.

A `Transaction` is the implementation's own handle on an open write transaction (an SQLite or a
psycopg connection). Callers never use it themselves: they receive it in a `within(tx)` callback
and pass it back to `audit_batch`, so that an audit entry commits with the rows it names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import polars as pl

from ..frames import Increment
from ..graph import DepPlan, FeatureGraph, FeaturePlan, GraphPlan
from ..hashing import Hasher
from .pages import PAGE_SIZE, SampleColumn, SampleView, ViewSpec
from .records import ExportRows, HistoryEntry, LinkedRow, StoredRow

if TYPE_CHECKING:
    from ..explain.model import Explanation

Transaction = Any  # an implementation's handle on its open write transaction
Within = Callable[[Transaction], None]


@runtime_checkable
class MetadataStore(Protocol):
    """A store of feature samples, their history, the graph snapshots and the audit log."""

    path: str  # where it is (a file path, or a connection string with its password masked)
    name: str | None  # the [stores.NAME] it was opened as, if any
    project: str | None
    hasher: Hasher

    # ----- opening ------------------------------------------------------------------------------
    def open(self, mode: str = "w") -> AbstractContextManager[Any]:
        """Open for reading ("r") or reading and writing ("w"); nested opens share the connection.
        Refuses a target that is not a store of ours (or a newer layout) before touching it."""

    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...

    @property
    def is_open(self) -> bool: ...

    @property
    def writable(self) -> bool: ...

    def last_write_id(self) -> int:
        """Grows with every committed write and delete: a cheap way to notice the store changed."""

    # ----- the graph ----------------------------------------------------------------------------
    def graph(self, feature: Any = None) -> FeatureGraph:
        """The graph definitions come from: the store's own (`use_graph`), the feature class's, or
        the active one."""

    def use_graph(self, graph: FeatureGraph | None) -> None:
        """Read and resolve with `graph` from now on (None: the feature classes' own graphs)."""

    def effective_graph(self, graph: FeatureGraph | None = None) -> FeatureGraph:
        """`graph` with what the store learnt from the data: columns frames carried that the
        classes do not annotate, and the types of id columns they do not annotate (SPEC 1)."""

    def push_graph(self, graph: FeatureGraph | None = None) -> dict[str, Any]:
        """Record the graph's snapshot once per project version: {id, project_version, new}."""

    def snapshots(self) -> list[dict[str, Any]]:
        """Every recorded snapshot, oldest first: {id, project_version, project, recorded_at}."""

    def snapshot(self, which: int | str | None = None) -> dict[str, Any] | None:
        """A snapshot's graph as recorded (by id, by project version prefix; the latest by default)."""

    def stored_graph(self) -> FeatureGraph:
        """The latest recorded graph (with the store's recorded columns): browse without the code."""

    def stored_feature_versions(self, feature: Any) -> list[dict[str, Any]]:
        """The feature's recorded versions: {feature_version, snapshot_id, recorded_at}."""

    # ----- samples ------------------------------------------------------------------------------
    def write_metadata(
        self,
        feature: Any,
        df: Any,
        *,
        materialization_id: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        inputs_as_of: int | None = None,
        delete_ids: Any = None,
        within: Within | None = None,
    ) -> int:
        """Validate, then store the rows as their ids' latest in one transaction (with the soft
        deletes of `delete_ids` and whatever `within` does). `progress` raising cancels it all."""

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
    ) -> pl.DataFrame:
        """The feature's latest rows under its current version (SPEC 5), as a polars frame; the
        keywords from current_only on are Metaxy's names for the same choices."""

    def delete_metadata(
        self,
        feature: Any,
        ids: Any = None,
        *,
        filters: Any = None,
        soft: bool = True,
        with_feature_history: bool = False,
        with_sample_history: bool = False,
        within: Within | None = None,
    ) -> int:
        """Delete samples of the current feature version in one transaction; the number of
        visible samples deleted."""

    def frame_plan(self, feature: Any, frame: Any) -> FeaturePlan:
        """The plan `write_metadata` would validate `frame` with (its unannotated columns typed)."""

    def count(self, feature: Any, *, feature_version: str | None = None) -> int:
        """Live samples (latest, not deleted) of the current (or given) feature version."""

    # ----- resolving ----------------------------------------------------------------------------
    def resolve_update(self, feature: Any, samples: Any = None, **metaxy: Any) -> Increment:
        """SPEC 4. Every frame reflects one committed state of the store, never a mix of two."""

    def pending_counts(self, feature: Any) -> dict[str, int]:
        """resolve_update's distinct added, changed and removed samples, without building frames."""

    def waiting_on(self, feature: Any) -> list[str]:
        """Required upstream features never written (the feature has nothing to compute yet)."""

    def resolved_as_of(self, feature: Any) -> int | None:
        """The last write id this store's latest resolve_update of `feature` saw: a recompute
        passes it as `inputs_as_of`, so explanations know what the rows were computed from."""

    def explain(self, feature: Any, increment: Increment | None = None, *, keys_only: bool = False) -> "Explanation":
        """Why each sample of the increment is added, changed or removed. Implementations call
        `metaxy_tui.explain.explain(self, ...)`, which works over `resolve_plan`, `resolve_keys`
        and `history()` alone."""

    def resolve_plan(self, feature: Any) -> tuple[FeatureGraph, FeaturePlan]:
        """The graph resolve_update uses (`effective_graph` of `graph(feature)`) and the feature's
        plan in it; UnknownFeatureError for a feature the graph lacks."""

    def resolve_keys(self, feature: Any) -> tuple[Increment, pl.DataFrame]:
        """resolve_update by key only: one row per pending sample (key columns, provenance by field,
        provenance; removed keys with their stored provenance), no member or pass-through columns;
        and the feature's current rows it compared with (key, one `metaxy_provenance_by_field.<f>`
        column per field, and WRITE_ID), from the same committed state. Sets resolved_as_of."""

    def history(self) -> "HistoryReads":
        """The reads explanations make (what rows were, and what changed since a write)."""

    # ----- one sample and its links (trace, sample detail) --------------------------------------
    def parse_ids(self, feature: Any, texts: Mapping[str, str]) -> dict[str, Any]:
        """Command-line text of exactly the id columns as lookup values; InputError otherwise."""

    def find_sample(self, feature: Any, ids: Mapping[str, Any]) -> Any:
        """The sample's latest row (current version first, then any), or None."""

    def linked_samples(
        self,
        feature: Any,
        match: Mapping[str, Any],
        *,
        limit: int = 50,
        after: Mapping[str, Any] | None = None,
        feature_version: str | None = None,
    ) -> Any:
        """Live rows whose columns equal `match`, in id order, one keyset page and the total."""

    def first_ids(self, feature: Any, *, feature_version: str | None = None, limit: int = 5) -> list[dict[str, Any]]:
        """A few ids of live samples, in id order."""

    def count_live(self, feature: Any, *, feature_version: str | None = None) -> int:
        """`count`, answered from indexes only."""

    def rows_by_keys(
        self, feature: Any, keys: pl.DataFrame, columns: Sequence[str], *, feature_version: str | None = None
    ) -> pl.DataFrame:
        """Live rows matching a row of `keys`, shaped like read_metadata's."""

    def expected_provenance(
        self, feature: Any, keys: Sequence[Mapping[str, Any]]
    ) -> dict[tuple[Any, ...], tuple[str, dict[str, str]]]:
        """What the live upstream gives each key now, as resolve_update computes it."""

    def consistent_reads(self) -> AbstractContextManager[None]:
        """Lookups inside see one committed state of the store."""

    # ----- the samples table ----------------------------------------------------------------------
    def sample_pages(self, graph: FeatureGraph | None = None, *, page_size: int = PAGE_SIZE) -> "SamplePages":
        """Pages of current samples read with `graph` (default: the store's), on a connection of
        their own: a long resolve elsewhere never blocks them. The store need not be open."""

    # ----- the audit log ------------------------------------------------------------------------
    def record_audit(
        self,
        *,
        action: str,
        feature: str,
        feature_version: str | None,
        ids: list[dict[str, Any]],
        duration_s: float,
        outcome: str,
        detail: str | None = None,
        user: str | None = None,
        executor: str | None = None,
    ) -> int:
        """Append one finished entry (its own transaction); `executor` names where a recompute ran."""

    def start_audit(
        self,
        *,
        action: str,
        feature: str,
        feature_version: str | None,
        user: str | None = None,
        executor: str | None = None,
    ) -> int:
        """An entry marked `running` until finish_audit; batches add their samples to it."""

    def audit_batch(self, tx: Transaction, audit_id: int, ids: list[dict[str, Any]], duration_s: float) -> None:
        """Add samples to an entry inside the transaction that wrote them (from a `within`)."""

    def finish_audit(self, audit_id: int, *, outcome: str, duration_s: float, detail: str | None = None) -> None: ...

    def audit_log(
        self,
        *,
        feature: str | None = None,
        since_us: int | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> pl.DataFrame:
        """Entries, newest first (README: the audit log's columns)."""


class SamplePages(Protocol):
    """The samples table's reads (store/pages.py says what a view is): worker threads only, one
    request at a time per view; `interrupt()` may come from any thread and makes the running
    request raise Interrupted. A request for a view that another `open_view` replaced raises
    StaleView. A failing read raises PageReadError (a StoreError) with the store's message.

    Rows are `(row handle, *one value per view column)` with values as the SQLite store holds
    them (ISO text for datetimes, 0/1 for booleans; PostgreSQL's pages give the same); the
    "feature version" column holds the store's version ids (`view.fv_names` names them).
    Positions count from 0.
    """

    page_size: int

    def plan(self, feature: str) -> FeaturePlan:
        """The feature's plan in the pages' graph, with the columns the store recorded from the data."""

    def columns(self, feature: str) -> list[SampleColumn]: ...

    def open_view(self, spec: ViewSpec, *, count: bool = True) -> SampleView:
        """Build the view: its columns (user columns in the stored table's order), its count (None
        for an index-order view opened with count=False), and a note saying why it is empty.
        Pages of an index-order view (no filter; sorted by the ids or by nothing) must cost about
        the same at any depth (keyset from a neighbouring page); other views may be materialised
        once, here (cancellable)."""

    def count(self, view: SampleView) -> SampleView:
        """The view with its count (and its empty note)."""

    def page(self, view: SampleView, index: int) -> list[tuple[Any, ...]]:
        """Rows `index * page_size` onwards, at most page_size of them."""

    def position_of(self, view: SampleView, ids: dict[str, Any]) -> int | None:
        """The position of the current sample with these id values, None when the view lacks it;
        ValueError when an id column is missing."""

    def jump_to(self, view: SampleView, ids: dict[str, Any]) -> int | None: ...

    def position_of_rowid(self, view: SampleView, rowid: int) -> int | None:
        """Where the row with this handle is in the view (a cursor kept across a re-sort)."""

    def sample_row(self, plan: FeaturePlan, ids: dict[str, Any]) -> StoredRow | None:
        """The sample's latest row under the current feature version (a tombstone when soft-deleted),
        else its most recently written row of any version; None if no row of the ids was stored."""

    def sample_history(self, plan: FeaturePlan, ids: dict[str, Any], limit: int) -> tuple[list[HistoryEntry], int]:
        """The latest `limit` stored rows of the ids (every version, superseded rows, tombstones),
        oldest first, and how many there are."""

    def linked_rows(
        self, plan: FeaturePlan, match: dict[str, Any], fields: Sequence[str], limit: int
    ) -> tuple[list[LinkedRow], int, str]:
        """Current rows whose columns equal `match`, in id order (at most `limit`), how many match,
        and a note when none do ("no stored samples yet", "no column x", "no current sample ...")."""

    def export_rows(
        self, definition: Any, feature_version: str, spec: ViewSpec, *, batch_rows: int, total: int | None = None
    ) -> ExportRows:
        """The view's rows (read with `definition` at `feature_version`) in batches, memory flat at
        any size; `total` counts them unless given."""

    def interrupt(self) -> None:
        """Cancel the request running now; safe from any thread."""

    def close(self) -> None: ...


class HistoryReads(Protocol):
    """What explanations read besides the increment: the stored rows as they were, and the upstream
    rows that changed since a write. Write ids (WRITE_ID, AS_OF, THEN_WRITE, THEN_UNTIL; see
    store/records.py) are the store's, growing with every write; a frame's feature columns carry
    the downstream names and polars types of `plan`. Implementations read in bulk: their cost
    follows what changed since, not the size of the store.
    """

    def writes_as_of(self, feature: str) -> pl.DataFrame:
        """Every write of the feature: WRITE_ID and AS_OF (its rows' upstream state; the write's own
        id when it recorded none)."""

    def with_as_of(self, plan: FeaturePlan, rows: pl.DataFrame) -> pl.DataFrame:
        """`rows` (key, provenance by field, WRITE_ID) with AS_OF in place of WRITE_ID."""

    def current_rows(self, plan: FeaturePlan, keys: pl.DataFrame) -> pl.DataFrame:
        """The feature's live rows for `keys` (key columns): key, `metaxy_provenance_by_field.<f>`
        per field and AS_OF; one row per key (an expansion: its first child)."""

    def upstream_changes(
        self, gp: GraphPlan, d: DepPlan, since: int, fields: list[str], keys: pl.DataFrame | None
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(then, now) rows of the dep's upstream (current feature version) that may differ from
        what a sample computed as of any write >= `since` saw. then: rows superseded after `since`
        (THEN_WRITE the write that stored them, THEN_UNTIL the one that replaced them); now: live
        rows written after `since` (THEN_WRITE). Columns: the dep's `on` and upstream id columns
        (downstream names), and `__v:<field>`, the data version of each of `fields`. `keys` (the
        `on` columns) keeps only those groups."""

    def first_as_of(self, feature: str) -> int | None:
        """The upstream state (AS_OF) of the feature's first write; None if it was never written."""

    def latest_any_version(self, plan: FeaturePlan, keys: pl.DataFrame) -> pl.DataFrame:
        """For `keys` (key columns), each latest row under any feature version: key, FV_ID,
        `metaxy_deleted_at`, WRITE_ID."""

    def feature_version_id(self, feature: str, feature_version: str) -> int | None:
        """The store's id of a feature version (what FV_ID holds); None if nothing was stored under it."""

    def alive_in_other_versions(self, gp: GraphPlan, d: DepPlan, keys: pl.DataFrame) -> pl.DataFrame:
        """The `on` values among `keys` that the dep's upstream still has live rows for under
        another feature version than its current one."""

    def null_on_rows(self, gp: GraphPlan, d: DepPlan) -> int:
        """Live rows of an aggregation's upstream whose `on` value is null (they join no group)."""

    def snapshot_of_version(self, feature_version_id: int) -> dict[str, Any] | None:
        """The recorded graph snapshot a feature version was first stored under."""


def iter_protocol_methods() -> Iterator[str]:
    """The names the interface requires, for tests that hold implementations to it."""
    for name in dir(MetadataStore):
        if not name.startswith("_") or name in ("__enter__", "__exit__"):
            yield name
