"""Fitting text into narrow terminals without hiding what it means."""

from __future__ import annotations

from rich.cells import cell_len


def middle(text: str, width: int) -> str:
    """`text` in at most `width` cells, its middle replaced by '…' when it is too long.

    Feature keys differ at both ends (`video/face_detection`, `video/transcript`), so a key
    keeps its head and its tail: `video/fac…detection`.
    """
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…" if width == 1 else ""
    tail = (width - 1) // 2
    head = width - 1 - tail
    return text[:head] + "…" + (text[-tail:] if tail else "")


HEADER_CHROME = (
    19  # Textual's Header centres "title — sub-title" between its icon (8 cells) and as much room on the right
)


def fit_titles(title: str, sub_title: str, width: int, *, path: bool = True) -> tuple[str, str]:
    """A screen's title and sub-title cut to a header `width` cells wide: the sub-title gives way
    first (a path in its middle, a description at its end), then the title, in the middle."""
    room = max(width - HEADER_CHROME, 10)
    if cell_len(title) + cell_len(sub_title) <= room:
        return title, sub_title
    left = room - cell_len(title)
    if left >= 12:
        return title, middle(sub_title, left) if path else sub_title[: left - 1] + "…"
    return middle(title, room), ""
