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
from typing import Any, Protocol, runtime_checkable

import polars as pl

from ..frames import Increment
from ..graph import FeatureGraph, FeaturePlan
from ..hashing import Hasher

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
    def __enter__(self) -> "MetadataStore": ...
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

    def push_graph(self, graph: FeatureGraph | None = None) -> dict:
        """Record the graph's snapshot once per project version: {id, project_version, new}."""

    def snapshots(self) -> list[dict]:
        """Every recorded snapshot, oldest first: {id, project_version, project, recorded_at}."""

    def snapshot(self, which: int | str | None = None) -> dict | None:
        """A snapshot's graph as recorded (by id, by project version prefix; the latest by default)."""

    def stored_graph(self) -> FeatureGraph:
        """The latest recorded graph (with the store's recorded columns): browse without the code."""

    def stored_feature_versions(self, feature: Any) -> list[dict]:
        """The feature's recorded versions: {feature_version, snapshot_id, recorded_at}."""

    # ----- samples ------------------------------------------------------------------------------
    def write_metadata(self, feature: Any, df: Any, *, materialization_id: str | None = None,
                       progress: Callable[[int, int], None] | None = None, inputs_as_of: int | None = None,
                       delete_ids: Any = None, within: Within | None = None) -> int:
        """Validate, then store the rows as their ids' latest in one transaction (with the soft
        deletes of `delete_ids` and whatever `within` does). `progress` raising cancels it all."""

    def read_metadata(self, feature: Any, *, filters: Any = None, columns: Sequence[str] | None = None,
                      feature_version: str | None = None, all_feature_versions: bool = False,
                      include_history: bool = False, include_deleted: bool = False, **metaxy: Any) -> pl.DataFrame:
        """The feature's latest rows under its current version (SPEC 5), as a polars frame."""

    def delete_metadata(self, feature: Any, ids: Any = None, *, filters: Any = None, soft: bool = True,
                        within: Within | None = None, **metaxy: Any) -> int:
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

    def explain(self, feature: Any, increment: Increment | None = None, *, keys_only: bool = False) -> Any:
        """Why each sample of the increment is added, changed or removed (an Explanation)."""

    # ----- one sample and its links (trace, sample detail) --------------------------------------
    def parse_ids(self, feature: Any, texts: Mapping[str, str]) -> dict[str, Any]:
        """Command-line text of exactly the id columns as lookup values; InputError otherwise."""

    def find_sample(self, feature: Any, ids: Mapping[str, Any]) -> Any:
        """The sample's latest row (current version first, then any), or None."""

    def linked_samples(self, feature: Any, match: Mapping[str, Any], *, limit: int = 50,
                       after: Mapping[str, Any] | None = None, feature_version: str | None = None) -> Any:
        """Live rows whose columns equal `match`, in id order, one keyset page and the total."""

    def first_ids(self, feature: Any, *, feature_version: str | None = None, limit: int = 5) -> list[dict]:
        """A few ids of live samples, in id order."""

    def count_live(self, feature: Any, *, feature_version: str | None = None) -> int:
        """`count`, answered from indexes only."""

    def rows_by_keys(self, feature: Any, keys: pl.DataFrame, columns: Sequence[str], *,
                     feature_version: str | None = None) -> pl.DataFrame:
        """Live rows matching a row of `keys`, shaped like read_metadata's."""

    def expected_provenance(self, feature: Any, keys: Sequence[Mapping[str, Any]]) -> dict:
        """What the live upstream gives each key now, as resolve_update computes it."""

    def consistent_reads(self) -> AbstractContextManager[None]:
        """Lookups inside see one committed state of the store."""

    # ----- the audit log ------------------------------------------------------------------------
    def record_audit(self, *, action: str, feature: str, feature_version: str | None, ids: list[dict],
                     duration_s: float, outcome: str, detail: str | None = None, user: str | None = None,
                     executor: str | None = None) -> int:
        """Append one finished entry (its own transaction); `executor` names where a recompute ran."""

    def start_audit(self, *, action: str, feature: str, feature_version: str | None,
                    user: str | None = None, executor: str | None = None) -> int:
        """An entry marked `running` until finish_audit; batches add their samples to it."""

    def audit_batch(self, tx: Transaction, audit_id: int, ids: list[dict], duration_s: float) -> None:
        """Add samples to an entry inside the transaction that wrote them (from a `within`)."""

    def finish_audit(self, audit_id: int, *, outcome: str, duration_s: float, detail: str | None = None) -> None: ...

    def audit_log(self, *, feature: str | None = None, since_us: int | None = None, action: str | None = None,
                  limit: int | None = None) -> pl.DataFrame:
        """Entries, newest first (README: the audit log's columns)."""


def iter_protocol_methods() -> Iterator[str]:
    """The names the interface requires, for tests that hold implementations to it."""
    for name in dir(MetadataStore):
        if not name.startswith("_") or name in ("__enter__", "__exit__"):
            yield name
