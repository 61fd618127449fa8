"""The code's definitions against the store's latest snapshot, and each change's blast radius.

Opened with D from the browser (its banner says when code and store disagree). For each
definition change: the stored samples that would come back stale, per downstream feature and
field, with counts and example ids, and the features it leaves alone; computed in a worker
from the two graphs and indexed counts, without writing anything (`metaxy-tui diff code
--impact` prints the same).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static

from ...service.graph_diff import FeatureChange
from ...service.impact import DefinitionImpact, StaleFeature, code_impact
from ...service.project import Project
from ...service.review import error_text
from ...service.samples import format_ids
from ..fit import fit_titles
from ..widgets.key_footer import KeyFooter


class GraphDiffScreen(Screen):
    CSS_PATH = "graph_diff.tcss"
    AUTO_FOCUS = "#diff-scroll"
    BINDINGS = [Binding("escape", "back", "Back")]

    @dataclass
    class Computed(Message):
        changes: list[FeatureChange] | None
        impact: DefinitionImpact | None
        error: str | None = None

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        self.impact: DefinitionImpact | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text("Definitions: the store's latest snapshot → the code", style="bold"), id="diff-title")
        with VerticalScroll(id="diff-scroll"):
            yield Static(Text("computing what each change would make stale…", style="dim"), id="diff-body")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title, self.sub_title = fit_titles("metaxy-tui", "definition changes", self.app.size.width)
        self.compute()

    @work(thread=True, exclusive=True, group="graph-diff", name="graph-diff")
    def compute(self) -> None:
        try:
            found = code_impact(self.project)
        except Exception as e:
            self.post_message(self.Computed(None, None, error_text(e)))
            return
        self.post_message(self.Computed(*(found or (None, None))))

    @on(Computed)
    def _computed(self, message: Computed) -> None:
        body = self.query_one("#diff-body", Static)
        if message.error is not None:
            body.update(Text(message.error, style="red"))
            return
        self.impact = message.impact
        body.update(diff_renderable(message.changes, message.impact))

    def action_back(self) -> None:
        self.dismiss()


def stale_text(s: StaleFeature, indent: str = "  ") -> Text:
    text = Text(indent)
    text.append(s.feature, style="bold")
    text.append(f" [{', '.join(s.fields)}] ", style="cyan")
    text.append(f"{s.count:,} sample{'s' if s.count != 1 else ''}", style="bold yellow" if s.count else "dim")
    if s.sample_ids:
        text.append(
            "\n"
            + indent
            + "  e.g. "
            + "; ".join(format_ids(i) for i in s.sample_ids[:3])
            + ("; …" if s.count > 3 else ""),
            style="dim",
        )
    for v in s.via:
        text.append(f"\n{indent}  {v}", style="dim")
    if s.note:
        text.append(f"\n{indent}  {s.note}", style="dim italic")
    return text


def diff_renderable(changes: list[FeatureChange] | None, impact: DefinitionImpact | None) -> Text:
    if changes is None or impact is None:
        return Text(
            "Nothing to compare: this store was opened without its project's code (or has no snapshot).", style="dim"
        )
    if not changes:
        return Text("No changes: the code's definitions are the ones the store recorded.")
    text = Text()
    n = len([s for s in impact.features if s.count])
    text.append(
        f"{impact.total:,} stored sample{'s' if impact.total != 1 else ''} in {n} feature"
        f"{'s' if n != 1 else ''} would be stale",
        style="bold yellow" if impact.total else "bold",
    )
    text.append(" (nothing is written to find out)\n", style="dim")
    for c in impact.changes:
        text.append("\n")
        text.append(c.description, style="bold")
        text.append("\n")
        for s in c.stale:
            text.append_text(stale_text(s))
            text.append("\n")
        for u in c.unaffected:
            text.append(f"  unaffected: {u}\n", style="green")
        if c.note:
            text.append(f"  {c.note}\n", style="dim italic")
    return text


__all__ = ["GraphDiffScreen", "diff_renderable", "stale_text"]
