"""The help screen: what each key does, and the words the UI uses."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

GLOSSARY = [
    ("feature", "a table of samples computed by one step of the pipeline"),
    ("field", "a part of a feature with its own code version (e.g. audio, frames)"),
    ("provenance", "a hash of everything a sample was computed from; when it moves, the sample is stale"),
    ("data version", "the provenance, unless the writer gave a content hash; downstream hashes use it"),
    ("added", "expected from upstream but never computed (or hidden by a new feature version)"),
    ("changed", "computed, but its upstream provenance moved since"),
    ("removed", "stored, but its upstream samples are gone"),
    ("lineage", "identity 1:1, aggregation N:1, expansion 1:N"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 110; height: 90%; border: round $accent;
                                   background: $surface; padding: 0 1; }
    """

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = bindings  # not `_bindings`: that name is Textual's own, and shadowing it broke every key here

    def compose(self) -> ComposeResult:
        keys = Table(title="keys", title_justify="left", show_edge=False, expand=True)
        keys.add_column("key", style="bold cyan", no_wrap=True)
        keys.add_column("action")
        for key, description in self.keys:
            keys.add_row(key, description)
        words = Table(title="words", title_justify="left", show_edge=False, expand=True)
        words.add_column("word", style="bold", no_wrap=True)
        words.add_column("meaning")
        for w, m in GLOSSARY:
            words.add_row(w, m)
        intro = Text(
            "metaxy-tui shows which samples of each feature must be recomputed, and why.\n"
            "Every action is also in the command palette (ctrl+p). Press escape to close."
        )
        with VerticalScroll():
            yield Static(intro)
            yield Static(keys)
            yield Static(words)

    def action_dismiss(self) -> None:
        self.dismiss(None)
