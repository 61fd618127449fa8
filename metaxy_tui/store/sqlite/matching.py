"""Matching expected rows to a feature's current rows by key: added, changed, unchanged, removed.

Keys are matched through 64-bit hashes and row numbers (a join of 1,000,000 string keys
themselves held 300 MB more): the current rows' hashes are sorted once (`KeyIndex`) and each
expected hash is binary-searched in them, so expected rows can also be matched a chunk at a
time as they are read (`PendingByChunk`). Every pair is then checked against the real keys, so a
hash collision can never pair two different samples.
"""

from __future__ import annotations

import polars as pl

from ...columns import PROVENANCE

VERIFY_CHUNK = 131_072
UNCHANGED, ADDED, CHANGED = 0, 1, 2
STATE = "__state"


def _key_hash(key: list[str]) -> pl.Expr:
    return (pl.col(key[0]) if len(key) == 1 else pl.struct(key)).hash().alias("__h")


class KeyIndex:
    """The right-hand rows (unique keys), their key hashes sorted once."""

    def __init__(self, right: pl.DataFrame, key: list[str]):
        self.right, self.key = right, key
        rh = right.with_columns(_key_hash(key))["__h"]
        self.n = len(rh)
        self.order = rh.arg_sort()
        self.ordered = rh.gather(self.order)
        # right hashes that repeat (a collision, or a test forcing them) are matched by a join
        self.repeats = self.n > 1 and bool((self.ordered.slice(1) == self.ordered.slice(0, self.n - 1)).any())

    def match(self, left: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        """For each left row, the index of the right row with the same key (null: none), and for
        each right row whether some left row has its key."""
        li, ri = self.pairs(left)
        return _to_right(left.height, li, ri), _matched(self.n, ri)

    def pairs(self, left: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        """(left row, right row) of every pair of rows with the same key."""
        li, ri = self._pairs(left.with_columns(_key_hash(self.key))["__h"])
        checks = []
        for start in range(0, len(li), VERIFY_CHUNK):  # in slices: a few MB of gathered keys at a time
            a, b = li.slice(start, VERIFY_CHUNK), ri.slice(start, VERIFY_CHUNK)
            same = pl.repeat(True, len(a), eager=True)
            for c in self.key:
                same &= (left.get_column(c).gather(a) == self.right.get_column(c).gather(b)).fill_null(False)
            checks.append(same)
        if checks:
            same = pl.concat(checks)
            if not same.all():
                li, ri = li.filter(same), ri.filter(same)
        return li, ri

    def _pairs(self, lh: pl.Series) -> tuple[pl.Series, pl.Series]:
        """(left row, right row) of every pair of equal hashes: about 40 MB at 1,000,000 keys a
        side, where a hash join held 100 MB more."""
        n = self.n
        if self.repeats:
            lf = pl.DataFrame({"__h": lh, "__l": pl.int_range(len(lh), dtype=pl.UInt32, eager=True)})
            rf = pl.DataFrame({"__h": self.ordered, "__r": self.order.cast(pl.UInt32)})
            pairs = lf.join(rf, on="__h", how="inner")
            return pairs.get_column("__l"), pairs.get_column("__r")
        if not n:
            return pl.Series("__l", [], pl.UInt32), pl.Series("__r", [], pl.UInt32)
        # the left hashes sorted first: the searches then walk the right ones in order (half the
        # time of searching them as they come, at 100,000 left and 1,000,000 right hashes)
        lorder = lh.arg_sort()
        lsorted = lh.gather(lorder)
        at = self.ordered.search_sorted(lsorted, side="left").cast(pl.UInt32).clip(upper_bound=n - 1)
        found = self.ordered.gather(at) == lsorted
        li = lorder.filter(found).cast(pl.UInt32)
        ri = self.order.gather(at.filter(found)).cast(pl.UInt32)
        return li, ri


def match_keys(left: pl.DataFrame, right: pl.DataFrame, key: list[str]) -> tuple[pl.Series, pl.Series]:
    """For each left row, the index of the right row with the same key (null: none), and for
    each right row whether some left row has its key. Right keys are unique."""
    return KeyIndex(right, key).match(left)


def _to_right(n_left: int, li: pl.Series, ri: pl.Series) -> pl.Series:
    """For each of n_left rows, its matched right row (null: none)."""
    if not n_left:
        return pl.Series("__r", [], dtype=pl.UInt32)
    return pl.Series("__r", [None], dtype=pl.UInt32).extend_constant(None, n_left - 1).scatter(li, ri)


def _matched(n_right: int, ri: pl.Series) -> pl.Series:
    """For each of n_right rows, whether it is among `ri`."""
    return pl.repeat(False, n_right, eager=True).scatter(ri, True) if n_right else pl.Series([], dtype=pl.Boolean)


def states(
    expected: pl.DataFrame, current: pl.DataFrame, key: list[str], index: KeyIndex | None = None
) -> tuple[pl.Series, pl.Series]:
    """Per expected row ADDED / CHANGED / UNCHANGED (UInt8); per current row whether it is removed
    (no expected row has its key). `index`: current's, built once for many calls."""
    to_cur, matched = (index or KeyIndex(current, key)).match(expected)
    return _states(expected, current, to_cur), ~matched


def _states(expected: pl.DataFrame, current: pl.DataFrame, to_cur: pl.Series) -> pl.Series:
    stored = current.get_column(PROVENANCE).gather(to_cur)
    return pl.select(
        pl.when(stored.is_null())
        .then(pl.lit(ADDED, pl.UInt8))
        .when(stored != expected.get_column(PROVENANCE))
        .then(pl.lit(CHANGED, pl.UInt8))
        .otherwise(pl.lit(UNCHANGED, pl.UInt8))
    ).to_series()


class PendingByChunk:
    """Expected rows compared with the current ones a chunk at a time, as they are read: each
    chunk is cut to its added and changed rows (with STATE), so the expected rows of 1,000,000
    keys are never all in memory; `gone()` gives the current keys no chunk had."""

    def __init__(self, current: pl.DataFrame, key: list[str]):
        self.current, self.key = current, key
        self.index = KeyIndex(current, key)
        self.seen: list[pl.Series] = []  # the current rows each chunk matched

    def take(self, chunk: pl.DataFrame) -> pl.DataFrame:
        li, ri = self.index.pairs(chunk)
        self.seen.append(ri)
        state = _states(chunk, self.current, _to_right(chunk.height, li, ri))
        return chunk.with_columns(state.alias(STATE)).filter(pl.col(STATE) != UNCHANGED)

    def gone(self) -> pl.DataFrame:
        seen = pl.concat(self.seen) if self.seen else pl.Series([], dtype=pl.UInt32)
        return self.current.filter(~_matched(self.current.height, seen)).select(self.key)
