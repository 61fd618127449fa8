"""The review's detail pane: everything the explanation knows about the highlighted sample."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...service.review import KINDS, SampleReason, short_value
from .review_model import STATUS_STYLE

UPSTREAM_SHOWN = 100


def _version(v: str | None) -> str:
    return "∅" if v is None else v[:8]


def render_reason(reason: SampleReason | None) -> Text:
    if reason is None:
        return Text("No sample highlighted.", style="dim")
    text = Text()
    text.append(reason.status, style=f"bold {STATUS_STYLE.get(reason.status, '')}")
    text.append("  ")
    text.append(", ".join(f"{c}={v}" for c, v in reason.key.items()), style="bold")
    text.append("\n")
    text.append(KINDS.get(reason.kind, reason.kind), style="italic")
    text.append("\n")
    text.append(reason.summary)
    text.append("\n")
    if reason.fields:
        text.append("\nfields whose provenance moved\n", style="bold underline")
        for m in reason.fields:
            text.append(f"  {m.field}", style="bold")
            text.append(f"  {short_value(m.then)} → {short_value(m.now)}\n")
            if m.because:
                text.append("    because ", style="dim")
                text.append(", ".join(m.because))
                text.append(" moved\n", style="dim")
    if reason.upstream:
        n = len(reason.upstream)
        text.append(f"\nupstream samples ({n:,})\n", style="bold underline")
        for u in reason.upstream[:UPSTREAM_SHOWN]:
            who = ", ".join(f"{c}={v}" for c, v in u.ids.items())
            text.append("  ")
            text.append(u.feature, style="bold")
            text.append(" ")
            text.append(who)
            text.append(" ")
            text.append(u.change, style={"added": "green", "removed": "red"}.get(u.change, "yellow"))
            text.append("\n")
            for f, (a, b) in sorted(u.fields.items()):
                text.append(f"    {f}  {short_value(a)} → {short_value(b)}\n")
        if n > UPSTREAM_SHOWN:
            text.append(f"  … and {n - UPSTREAM_SHOWN:,} more\n", style="dim")
    if reason.definition:
        text.append("\ndefinition changes\n", style="bold underline")
        for d in reason.definition:
            text.append(f"  {d.field}", style="bold")
            text.append(f"  {d.cause}\n")
            text.append(f"    field version {_version(d.old_version)} → {_version(d.new_version)}", style="dim")
            if d.old_code_version != d.new_code_version:
                text.append(f"; code_version {d.old_code_version} → {d.new_code_version}", style="dim")
            text.append("\n")
    return text


class ReviewDetail(VerticalScroll):
    DEFAULT_CSS = """
    ReviewDetail { height: 1fr; border: round $panel;
        border-title-color: $text; border-subtitle-color: $text-muted; padding: 0 1; }
    ReviewDetail:focus { border: round $accent; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "why"
        self._reason: SampleReason | None = None

    def compose(self) -> ComposeResult:
        yield Static(render_reason(None), id="reason")

    def show(self, reason: SampleReason | None) -> None:
        self._reason = reason
        self.query_one("#reason", Static).update(render_reason(reason))
        self.scroll_home(animate=False)

    def show_note(self, note: Text) -> None:
        """A message instead of a sample (nothing pending, say)."""
        self._reason = None
        self.query_one("#reason", Static).update(note)

    @property
    def reason(self) -> SampleReason | None:
        return self._reason
