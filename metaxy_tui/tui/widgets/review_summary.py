"""The review's summary: counts, warnings, and what the actions will apply to."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from .review_model import STATUS_STYLE, STATUSES, ReviewModel


def summary_text(model: ReviewModel | None, feature: str, applies_to: str, selected: int) -> Text:
    text = Text()
    if model is None:
        text.append(f"Explaining why samples of {feature} are pending…", style="italic")
        return text
    text.append(feature, style="bold")
    if not model.total:
        text.append("   nothing pending here", style="green")
    for i, s in enumerate(STATUSES if model.total else ()):
        n = model.counts.get(s, 0)
        text.append("   " if i == 0 else ", ")
        text.append(f"{n:,} {s}", style=STATUS_STYLE[s] if n else "dim")
    if not model.has_compute:
        text.append("  ·  no compute function: accept or delete only", style="magenta")
    if model.pending_upstream:
        text.append("\n⚠ upstream has pending work: ", style="bold yellow")
        text.append(", ".join(model.pending_upstream), style="yellow")
        text.append(" (actions offer to do it first; P approves everything in order)", style="dim")
    if model.total:
        text.append("\n")
        if selected:
            text.append(f"selected {selected:,} of {model.total:,}", style="bold cyan")
            text.append(f": actions apply to {applies_to}")
        else:
            text.append("nothing selected", style="bold")
            text.append(f": actions apply to {applies_to}")
    return text


class ReviewSummary(Static):
    DEFAULT_CSS = """
    ReviewSummary { height: auto; padding: 0 1; background: $boost; }
    """

    def show(self, model: ReviewModel | None, feature: str, applies_to: str, selected: int) -> None:
        self.update(summary_text(model, feature, applies_to, selected))
