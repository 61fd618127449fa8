"""What a compat pipeline saw, printed as JSON lines for tests/compat/harness.py.

Every pipeline in this folder imports this module (it sits next to them, so a script run
from its own folder finds it) and reports through it; nothing here imports Metaxy or
metaxy-tui, so the same file serves both engines. Each record is printed on one line that
starts with ``@@compat `` and is a JSON object; any other output of a pipeline (its
progress messages) is ignored by the harness.

What goes into a record is chosen to be comparable between engines: ids, user columns and
the provenance / data-version strings. Timestamps, project and feature versions stored
in rows, and materialization ids are left out (they are not meant to match).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import sys
from typing import Any, Iterable, Sequence

PREFIX = "@@compat "

PROVENANCE = ["metaxy_provenance", "metaxy_provenance_by_field"]
DATA_VERSION = ["metaxy_data_version", "metaxy_data_version_by_field"]

# system columns a read never reports: wall-clock times, version bookkeeping
_NOT_REPORTED = {
    "metaxy_created_at",
    "metaxy_updated_at",
    "metaxy_feature_version",
    "metaxy_project_version",
    "metaxy_snapshot_version",
    "metaxy_materialization_id",
    "metaxy_feature_spec_version",
}
DELETED = "metaxy_deleted_at"
ABSENT = "<absent column>"


def step() -> int:
    """The run number given on the command line (`python pipeline.py 3`); 1 when absent."""
    return int(sys.argv[1]) if len(sys.argv) > 1 else 1


def _plain(value: Any) -> Any:
    """A JSON-friendly, engine-neutral form of one cell."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars from pandas
        return _plain(value.item())
    return value


def _rows(frame: Any) -> list[dict[str, Any]]:
    """Row dicts of a polars frame or anything with `.to_polars()` (an increment's frames)."""
    if hasattr(frame, "to_polars") and type(frame).__module__.split(".")[0] != "polars":
        frame = frame.to_polars()
    return list(frame.iter_rows(named=True))


def _sort_key(row: dict[str, Any], order: Sequence[str]) -> str:
    return json.dumps([row.get(c) for c in order] + [row], sort_keys=True, default=str)


def _pick(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        out.append({c: _plain(row[c]) if c in row else ABSENT for c in columns})
    return sorted(out, key=lambda r: _sort_key(r, columns))


def emit(record: dict[str, Any]) -> None:
    record = {"step": step(), **record}
    print(PREFIX + json.dumps(record, sort_keys=True, default=str), flush=True)


def resolve(
    feature: str,
    increment: Any,
    ids: Sequence[str],
    *,
    removed_ids: Sequence[str] | None = None,
    data_versions: bool = False,
    extra: Sequence[str] = (),
    label: str | None = None,
) -> None:
    """Report an increment: counts, and per frame the rows' ids and provenance, sorted.

    `ids` are the columns that identify a row of `new` and `stale` (for an aggregation the
    member's id and the `on` columns, for an expansion the parent's); `removed_ids` those of
    `orphaned` (default: `ids`). `extra` adds user columns the frames carry.
    """
    system = PROVENANCE + (DATA_VERSION if data_versions else [])
    frames = {}
    for name in ("new", "stale", "orphaned"):
        cols = list(removed_ids if (name == "orphaned" and removed_ids is not None) else ids)
        cols += list(extra) if name != "orphaned" else []
        frames[name] = _pick(_rows(getattr(increment, name)), cols + system)
    emit(
        {
            "kind": "resolve",
            "feature": feature,
            "label": label or f"resolve {feature}",
            "counts": {name: len(getattr(increment, name)) for name in frames},
            "frames": frames,
        }
    )


def read(feature: str, frame: Any, ids: Sequence[str], *, label: str | None = None) -> None:
    """Report the rows of a read (a polars frame): every column but the unreported system ones.

    `metaxy_deleted_at` is reported as whether the row is deleted, not when.
    """
    rows = []
    for row in _rows(frame):
        out = {c: _plain(v) for c, v in row.items() if c not in _NOT_REPORTED and c != DELETED}
        if DELETED in row:
            out["deleted"] = row[DELETED] is not None
        rows.append(out)
    rows.sort(key=lambda r: _sort_key(r, ids))
    emit(
        {
            "kind": "read",
            "feature": feature,
            "label": label or f"read {feature}",
            "rows": rows,
            "columns": sorted({c for r in rows for c in r}),
        }
    )


def versions(features: dict[str, Any], *, label: str = "versions") -> None:
    """Report `feature_version()` of each feature class (keyed by feature key)."""
    emit(
        {
            "kind": "versions",
            "label": label,
            "versions": {key: str(cls.feature_version()) for key, cls in sorted(features.items())},
        }
    )


def event(label: str, **values: Any) -> None:
    """Report anything else a pipeline wants compared, as plain values."""
    emit({"kind": "event", "label": label, "values": {k: _plain(v) for k, v in values.items()}})


def error(feature: str, exc: BaseException, *, label: str | None = None) -> None:
    """Report that a call raised (by exception class name only; messages differ between engines)."""
    emit({"kind": "error", "feature": feature, "label": label or f"error {feature}", "error": type(exc).__name__})
