"""One line under the header: the selected feature's state and the keys that act on it."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

from ...service.status import FeatureStatus
from ..fit import middle


def _segments(key: str, status: FeatureStatus | None) -> tuple[str, list[list[tuple[str, str]]]]:
    """(the statement, with {key} in it; then optional segments of (text, style) pairs, most useful first)."""
    if status is None:
        return "{key}: computing its status…", []
    if status.kind == "pending":
        return f"{status.pending:,} pending in {{key}}", [
            [
                ("v", "key"),
                (" why", ""),
                (", then ", "dim"),
                ("r", "key"),
                (" recompute / ", ""),
                ("c", "key"),
                (" accept", ""),
            ]
        ]
    if status.kind == "waiting":
        return f"{{key}} waits on {', '.join(status.waiting_on)}", [
            [("v", "key"), (" review, then ", ""), ("P", "key"), (" approve all", "")]
        ]
    if status.kind == "root":
        return "{key} is a root: its samples come from files", [
            [("i", "key"), (" import", "")],
            [("s", "key"), (" samples", "")],
        ]
    if status.kind == "up_to_date":
        return "{key} is up to date", [
            [("s", "key"), (" samples", "")],
            [("l", "key"), (" lineage", "")],
            [("a", "key"), (" audit log", "")],
        ]
    return "{key}: its status could not be computed (the Feature tab says why)", []


def hint_text(key: str | None, status: FeatureStatus | None, width: int, key_style: str = "bold") -> Text:
    """The hint for `key` in `width` cells: the key abbreviated in the middle if need be, then as
    many key hints as fit."""
    if key is None:
        return Text("Select a feature in the tree on the left.", style="dim")
    statement, extras = _segments(key, status)
    room = max(8, width - cell_len(statement.replace("{key}", "")))
    text = Text(statement.replace("{key}", middle(key, room)))
    for segment in extras:
        piece = Text(" · ", style="dim")
        for part, style in segment:
            piece.append(part, style=key_style if style == "key" else style)
        if text.cell_len + piece.cell_len > width:
            break
        text.append_text(piece)
    return text


class FeatureHint(Widget):
    DEFAULT_CSS = """
    FeatureHint { height: 1; padding: 0 1; background: $boost; color: $text-muted; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.key: str | None = None
        self.status: FeatureStatus | None = None

    def show(self, key: str | None, status: FeatureStatus | None) -> None:
        self.key, self.status = key, status
        self.refresh()

    @property
    def text(self) -> str:
        return hint_text(self.key, self.status, self.content_region.width or 78).plain

    def render(self) -> Text:
        accent = self.app.current_theme.accent if self.app.current_theme else None
        return hint_text(self.key, self.status, self.content_region.width or 78, f"bold {accent}" if accent else "bold")
