"""Why each sample of an increment is added, changed or removed, for the whole increment at once.

Every write records `inputs_as_of`: the upstream state its rows were computed from. For a
changed or removed sample, the upstream rows it was computed from and those it would be
computed from now differ exactly by the upstream rows replaced after that state and the live
rows written after it (the store's `history()` reads both in bulk, for the oldest state in play).
Joining them with the samples on the lineage key, each sample keeping the rows of its own
state, gives every upstream change of every sample in a few set operations; the texts are
then built per sample in polars, and the nested parts (fields, upstream, definition) are
kept as JSON text. So explaining costs about what resolving costs, and a SampleReason object
is only made for the samples someone looks at (a page of the review screen, for_key).

A sample's explanation depends only on its own stored row, its own upstream and the graph:
an added sample is "new upstream" when some of its upstream samples did not exist yet in the
state the feature was first computed from, so recomputing another sample never changes it.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import polars as pl

from .. import jsontext
from ..frames import Increment
from ..vocabulary import REASON_TEXT, IncrementStatus, ReasonKind

SHOWN = 12  # upstream samples named per reason; the rest are counted


@dataclass
class UpstreamChange:
    """One upstream sample that differs between when the sample was computed and now."""

    feature: str
    ids: dict[str, Any]
    change: str  # added | removed | changed
    fields: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # field -> (then, now)

    def describe(self) -> str:
        who = ", ".join(f"{v}" for v in self.ids.values())
        if self.change == "added":
            return f"{self.feature} {who} appeared"
        if self.change == "removed":
            return f"{self.feature} {who} is gone"
        parts = [f"{f} {short_value(a)} → {short_value(b)}" for f, (a, b) in sorted(self.fields.items())]
        return f"{self.feature} {who} changed ({'; '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "ids": self.ids,
            "change": self.change,
            "fields": {f: {"then": a, "now": b} for f, (a, b) in self.fields.items()},
        }


@dataclass
class FieldMove:
    """A field of the sample whose provenance moved, and the upstream fields that moved it."""

    field: str
    then: str | None
    now: str | None
    because: list[str] = dataclasses.field(default_factory=list)  # "<upstream>.<field>"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "then": self.then, "now": self.now, "because": list(self.because)}


@dataclass
class DefinitionChange:
    field: str
    old_code_version: str | None
    new_code_version: str | None
    old_version: str | None
    new_version: str | None
    cause: str

    def describe(self) -> str:
        return f"{self.field}: {self.cause}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "old_code_version": self.old_code_version,
            "new_code_version": self.new_code_version,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "cause": self.cause,
        }


@dataclass
class SampleReason:
    status: IncrementStatus
    kind: ReasonKind
    key: dict[str, Any]
    summary: str
    group: str
    fields: list[FieldMove] = field(default_factory=list)
    upstream: list[UpstreamChange] = field(default_factory=list)
    definition: list[DefinitionChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "kind": self.kind,
            "key": self.key,
            "summary": self.summary,
            "group": self.group,
            "fields": [f.to_dict() for f in self.fields],
            "upstream": [u.to_dict() for u in self.upstream],
            "definition": [d.to_dict() for d in self.definition],
        }


KINDS = REASON_TEXT  # reason kind -> what it says (vocabulary.py)

_STATUS_ORDER = {IncrementStatus.ADDED: 0, IncrementStatus.CHANGED: 1, IncrementStatus.REMOVED: 2}
# the per-sample frame: these, the key columns, and the nested parts as JSON text
TEXT = ["status", "kind", "summary", "group"]
NESTED = {"fields": "__fields", "upstream": "__upstream", "definition": "__definition"}


def short_value(v: str | None) -> str:
    if v is None:
        return "∅"
    return v if len(v) <= 12 else v[:10] + "…"


# ----- the result -----------------------------------------------------------------------------------


class ReasonList(Sequence[SampleReason]):
    """SampleReasons made on demand from rows of the per-sample frame (or a plain list); each is
    made once, so the same index gives the same object."""

    def __init__(self, frame: pl.DataFrame | None, key: list[str], items: list[SampleReason] | None = None):
        self._frame, self._key, self._items = frame, key, items
        self._made: dict[int, SampleReason] = {}

    def __len__(self) -> int:
        if self._items is not None:
            return len(self._items)
        assert self._frame is not None  # (a frame or items: one of them is given)
        return self._frame.height

    def _make(self, start: int, stop: int) -> list[SampleReason]:
        missing = [i for i in range(start, stop) if i not in self._made]
        if missing:
            lo, hi = missing[0], missing[-1] + 1
            assert self._frame is not None  # (made from rows only when no items were given)
            for i, r in zip(range(lo, hi), _reasons_of(self._frame.slice(lo, hi - lo), self._key)):
                self._made.setdefault(i, r)
        return [self._made[i] for i in range(start, stop)]

    @overload
    def __getitem__(self, i: int) -> SampleReason: ...
    @overload
    def __getitem__(self, i: slice) -> list[SampleReason]: ...
    def __getitem__(self, i: int | slice) -> SampleReason | list[SampleReason]:
        if self._items is not None:
            return self._items[i]
        n = len(self)
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step != 1:
                return [self[j] for j in range(start, stop, step)]
            return self._make(start, max(start, stop))
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        return self._make(i, i + 1)[0]

    def __iter__(self) -> Iterator[SampleReason]:
        if self._items is not None:
            yield from self._items
            return
        for start in range(0, len(self), 2048):
            yield from self._make(start, min(len(self), start + 2048))

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (list, ReasonList)) else NotImplemented

    def __repr__(self) -> str:
        return f"ReasonList({len(self)} reasons)"

    @property
    def frame(self) -> pl.DataFrame:
        """One row per reason: status, kind, key columns, summary, group."""
        if self._frame is not None:
            return self._frame.select([c for c in self._frame.columns if not c.startswith("__")])
        return _frame_of(self._items or [], self._key).select(TEXT[:2] + self._key + TEXT[2:])

    def keys(self) -> list[tuple[Any, ...]]:
        """Each reason's key, as a tuple in key-column order."""
        return self.frame.select(self._key).rows()


class Explanation:
    """Why each sample of `increment` is pending: `reasons` (one per sample), grouped by reason.

    Built by explain() from frames; `Explanation(feature, increment, reasons)` with a list of
    SampleReasons also works (the review screen makes such subsets).
    """

    def __init__(
        self,
        feature: str,
        increment: Increment,
        reasons: list[SampleReason] | None = None,
        *,
        frame: pl.DataFrame | None = None,
        notes: Sequence[str] = (),
    ):
        self.feature = feature
        self.increment = increment
        self.notes = list(notes)
        key = list(increment.key)
        self._items = list(reasons) if frame is None and reasons is not None else None
        if frame is None:
            frame = _frame_of(self._items or [], key)
        self._frame = frame
        self._key = key
        self._by_key: dict[tuple[Any, ...], int] | None = None

    @property
    def frame(self) -> pl.DataFrame:
        """One row per sample: status, kind, key columns, summary, group (and the nested parts as JSON)."""
        return self._frame

    @property
    def reasons(self) -> ReasonList:
        return ReasonList(self._frame, self._key, self._items)

    def groups(self) -> dict[str, ReasonList]:
        if not self._frame.height:
            return {}
        if self._items is not None:
            by: dict[str, list[SampleReason]] = {}
            for r in self._items:
                by.setdefault(r.group, []).append(r)
            ordered = sorted(by.items(), key=lambda kv: (_STATUS_ORDER[kv[1][0].status], -len(kv[1]), kv[0]))
            return {g: ReasonList(None, self._key, rs) for g, rs in ordered}
        parts = self._frame.partition_by("group", maintain_order=True, as_dict=True)
        named = [(k[0], f) for k, f in parts.items()]
        named.sort(key=lambda kv: (_STATUS_ORDER[kv[1].item(0, "status")], -kv[1].height, kv[0]))
        return {name: ReasonList(f, self._key) for name, f in named}

    def group_counts(self) -> list[tuple[str, int]]:
        """(group, number of samples), in the order of groups(), without making any reason."""
        if not self._frame.height:
            return []
        counts = self._frame.group_by("group").agg(pl.len().alias("n"), pl.col("status").first())
        rows = counts.rows()
        rows.sort(key=lambda r: (_STATUS_ORDER[r[2]], -r[1], r[0]))
        return [(g, n) for g, n, _s in rows]

    def counts(self) -> Counter[str]:
        return Counter(dict(self._frame.group_by("status").len().rows())) if self._frame.height else Counter()

    def for_key(self, key: dict[str, Any]) -> SampleReason | None:
        if self._by_key is None:
            self._by_key = {}
            for i, k in enumerate(self._frame.select(self._key).iter_rows()):
                self._by_key.setdefault(k, i)
        row = self._by_key.get(tuple(key.get(c) for c in self._key))
        if row is None:
            return None
        return self._items[row] if self._items is not None else _reasons_of(self._frame.slice(row, 1), self._key)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "key": list(self.increment.key),
            "counts": dict(self.counts()),
            "groups": [{"group": g, "count": n} for g, n in self.group_counts()],
            "samples": [r.to_dict() for r in self.reasons],
        }

    def json_lines(self) -> pl.Series:
        """Each reason as compact JSON text (SampleReason.to_dict's shape), made in bulk."""
        f = self._frame
        if not f.height:
            return pl.Series("json", [], dtype=pl.String)
        text = f.select(
            pl.concat_str(
                [
                    pl.lit('{"status": '),
                    jsontext.value(pl.col("status")),
                    pl.lit(', "kind": '),
                    jsontext.value(pl.col("kind")),
                    pl.lit(', "key": '),
                    jsontext.obj(f, self._key),
                    pl.lit(', "summary": '),
                    jsontext.value(pl.col("summary")),
                    pl.lit(', "group": '),
                    jsontext.value(pl.col("group")),
                    pl.lit(', "fields": '),
                    pl.col("__fields"),
                    pl.lit(', "upstream": '),
                    pl.col("__upstream"),
                    pl.lit(', "definition": '),
                    pl.col("__definition"),
                    pl.lit("}"),
                ]
            )
        ).to_series()
        return text


def _frame_of(reasons: list[SampleReason], key: list[str]) -> pl.DataFrame:
    rows = [
        {
            "status": r.status,
            "kind": r.kind,
            **{c: r.key.get(c) for c in key},
            "summary": r.summary,
            "group": r.group,
            "__fields": json.dumps([m.to_dict() for m in r.fields], default=str),
            "__upstream": json.dumps([u.to_dict() for u in r.upstream], default=str),
            "__definition": json.dumps([d.to_dict() for d in r.definition], default=str),
        }
        for r in reasons
    ]
    schema = {
        "status": pl.String,
        "kind": pl.String,
        **{c: None for c in key},
        "summary": pl.String,
        "group": pl.String,
        "__fields": pl.String,
        "__upstream": pl.String,
        "__definition": pl.String,
    }
    if not rows:
        return pl.DataFrame(schema={c: (t or pl.String) for c, t in schema.items()})
    return pl.DataFrame(rows, infer_schema_length=None)


def _reasons_of(frame: pl.DataFrame, key: list[str]) -> list[SampleReason]:
    out = []
    for r in frame.iter_rows(named=True):
        moves = [FieldMove(m["field"], m["then"], m["now"], list(m["because"])) for m in json.loads(r["__fields"])]
        ups = [
            UpstreamChange(
                u["feature"], u["ids"], u["change"], {f: (v["then"], v["now"]) for f, v in u["fields"].items()}
            )
            for u in json.loads(r["__upstream"])
        ]
        defs = [DefinitionChange(**d) for d in json.loads(r["__definition"])]
        out.append(
            SampleReason(
                IncrementStatus(r["status"]),
                ReasonKind(r["kind"]),
                {c: r[c] for c in key},
                r["summary"],
                r["group"],
                moves,
                ups,
                defs,
            )
        )
    return out
