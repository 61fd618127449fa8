"""Placing things on a line without overlaps: spreading ports over a border, pulling boxes toward
their neighbours by isotonic regression, and assigning horizontal runs to tracks."""

from __future__ import annotations

import heapq
from collections.abc import Sequence


def spread(width: int, count: int) -> list[int]:
    """Port offsets for `count` edges on a border `width` wide (never on a corner)."""
    if width <= 2:
        return [0] * count
    inner = width - 2
    return [1 + ((2 * i + 1) * inner) // (2 * count) for i in range(count)]


def isotonic(desired: Sequence[float], weights: Sequence[float]) -> list[float]:
    """The nondecreasing sequence closest to `desired` (weighted least squares)."""
    blocks: list[list[float]] = []  # [weighted sum, weight, count]
    for d, w in zip(desired, weights):
        blocks.append([d * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, w2, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += w2
            blocks[-1][2] += c
    out: list[float] = []
    for s, w, c in blocks:
        out += [s / w] * int(c)
    return out


def assign_tracks(segments: list[tuple[int, int]]) -> dict[int, int]:
    """Tracks (0 = top) for the bending segments (sx, tx) of a channel.

    Horizontal runs on one track keep a blank column between them. A segment that ends in
    the column where another starts must turn below that one, or their verticals overlap.
    """
    bends = [i for i, (sx, tx) in enumerate(segments) if sx != tx]
    starts = {segments[i][0]: i for i in bends}
    above: dict[int, set[int]] = {i: set() for i in bends}  # i must lie below every j in above[i]
    for i in bends:
        j = starts.get(segments[i][1])
        if j is not None and j != i:
            above[i].add(j)
    # order: constraints first (Kahn), then by left end; a cycle is broken by ignoring it
    key = {i: (min(segments[i]), max(segments[i]), i) for i in bends}
    pending = {i: set(above[i]) for i in bends}
    placed: list[int] = []
    ready = sorted((key[i], i) for i in bends if not pending[i])
    heapq.heapify(ready)
    remaining = set(bends)
    while remaining:
        if not ready:  # a cycle: release the leftmost
            i = min(remaining, key=lambda x: key[x])
            pending[i] = set()
            heapq.heappush(ready, (key[i], i))
        _, i = heapq.heappop(ready)
        if i not in remaining:
            continue
        remaining.discard(i)
        placed.append(i)
        for j in remaining:
            if i in pending[j]:
                pending[j].discard(i)
                if not pending[j]:
                    heapq.heappush(ready, (key[j], j))
    track: dict[int, int] = {}
    runs: list[list[tuple[int, int]]] = []
    for i in placed:
        lo, hi = sorted(segments[i])
        t = max((track[j] + 1 for j in above[i] if j in track), default=0)
        while t < len(runs) and any(not (hi < a - 1 or b < lo - 1) for a, b in runs[t]):
            t += 1
        if t == len(runs):
            runs.append([])
        runs[t].append((lo, hi))
        track[i] = t
    return track


def separate_ports(
    pairs: list[tuple[int, int]],
    x: list[int],
    width: list[int],
    key_of: list[str | None],
    out_off: dict[tuple[int, int], int],
    in_off: dict[tuple[int, int], int],
) -> None:
    """Move ports so that no edge of a channel ends in the column where another one starts.

    Two edges that swap columns would otherwise need each other's vertical, whatever their
    tracks. A port moves by a few columns inside its box; dummies (width 1) cannot move.
    """
    src = {p: x[p[0]] + out_off[p] for p in pairs}
    dst = {p: x[p[1]] + in_off[p] for p in pairs}
    for p in pairs:
        if src[p] == dst[p]:
            continue
        if not any(src[q] == dst[p] for q in pairs if q != p):
            continue
        taken = set(src.values()) | set(dst.values())
        for end, offs, table in ((p[1], dst, in_off), (p[0], src, out_off)):
            if key_of[end] is None:
                continue
            lo, hi = x[end] + 1, x[end] + width[end] - 2
            moved = False
            for d in (1, -1, 2, -2, 3, -3):
                col = offs[p] + d
                if lo <= col <= hi and col not in taken:
                    table[p] += d
                    offs[p] = col
                    moved = True
                    break
            if moved:
                break
