"""The import screen's form: the file, the root feature, partial batch or full set, whether to keep
columns that match no feature column, and provenance."""

from __future__ import annotations

import os
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Select

from .import_path_suggester import ImportPathSuggester

BASE_PROVENANCE = [
    ("auto: a provenance column, else row content", "auto"),
    ("the file's provenance column(s)", "column"),
    ("a hash of each row's values", "content"),
]


class ImportForm(Vertical):
    """Posts a typed message for each choice; only real changes are posted."""

    DEFAULT_CSS = """
    ImportForm { height: auto; padding: 0 1; margin-top: 1; }
    ImportForm > Horizontal { height: 1; }
    ImportForm Label { width: 12; color: $text-muted; }
    ImportForm #path { width: 1fr; }
    ImportForm #browse { margin-left: 1; }
    ImportForm #feature { width: 32; }
    ImportForm #mode { layout: horizontal; width: auto; height: 1; }
    ImportForm #mode RadioButton { width: auto; margin-right: 2; }
    ImportForm #keep-extra { width: auto; }
    ImportForm #provenance { width: 48; }
    """

    @dataclass
    class PathSubmitted(Message):
        path: str

    class BrowseRequested(Message):
        pass

    @dataclass
    class FeatureChosen(Message):
        feature: str

    @dataclass
    class ModeChosen(Message):
        full_set: bool

    @dataclass
    class ProvenanceChosen(Message):
        provenance: str

    @dataclass
    class KeepExtraChosen(Message):
        keep: bool

    def __init__(self, roots: list[str], feature: str | None, folder: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._roots = roots
        self._feature = feature
        self._folder = folder
        self._provenance = "auto"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label("File")
            yield Input(
                value=self._folder + os.sep,
                suggester=ImportPathSuggester(),
                id="path",
                compact=True,
                placeholder="path to a .csv, .tsv, .parquet, .json or .ndjson file",
                select_on_focus=False,
            )
            yield Button("Browse ^o", id="browse", compact=True)
        with Horizontal():
            yield Label("Into")
            yield Select(
                [(k, k) for k in self._roots],
                value=self._feature or Select.NULL,
                allow_blank=False,
                id="feature",
                compact=True,
            )
        with Horizontal():
            yield Label("Mode")
            with RadioSet(id="mode", compact=True):
                yield RadioButton(
                    "partial batch",
                    value=True,
                    id="partial",
                    tooltip="The file holds some samples: stored samples it lacks are kept",
                )
                yield RadioButton(
                    "full set",
                    id="full",
                    tooltip="The file holds every sample: stored samples it lacks are soft-deleted",
                )
            yield Checkbox(
                "keep unmatched columns",
                id="keep-extra",
                compact=True,
                tooltip="Store file columns that match no feature column as columns of their own "
                "(typed from the file); otherwise each is a problem to map or ignore",
            )
        with Horizontal():
            yield Label("Provenance")
            yield Select(BASE_PROVENANCE, value="auto", allow_blank=False, id="provenance", compact=True)

    # ----- what the screen asks of it -----------------------------------------------------------
    @property
    def path_input(self) -> Input:
        return self.query_one("#path", Input)

    def offer_columns(self, columns: list[str]) -> None:
        """Provenance from a file: one choice per column of the file."""
        options = BASE_PROVENANCE + [(f"a hash of the file named in {c!r}", f"file:{c}") for c in columns]
        self._set_provenance_options(options)

    def reset_provenance(self) -> None:
        self._set_provenance_options(BASE_PROVENANCE, "auto")

    def _set_provenance_options(self, options: list[tuple[str, str]], value: str | None = None) -> None:
        select = self.query_one("#provenance", Select)
        wanted = value or self._provenance
        self._provenance = wanted if any(v == wanted for _, v in options) else "auto"
        with select.prevent(Select.Changed):
            select.set_options(options)
            select.value = self._provenance

    # ----- events ---------------------------------------------------------------------------------
    @on(Input.Submitted, "#path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.PathSubmitted(event.value))

    @on(Button.Pressed, "#browse")
    def _browse(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.BrowseRequested())

    @on(Select.Changed, "#feature")
    def _feature(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.NULL and event.value != self._feature:
            self._feature = str(event.value)
            self.post_message(self.FeatureChosen(self._feature))

    @on(RadioSet.Changed, "#mode")
    def _mode(self, event: RadioSet.Changed) -> None:
        event.stop()
        self.post_message(self.ModeChosen(event.pressed.id == "full"))

    @on(Checkbox.Changed, "#keep-extra")
    def _keep_extra(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.post_message(self.KeepExtraChosen(event.value))

    @on(Select.Changed, "#provenance")
    def _provenance_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.NULL and event.value != self._provenance:
            self._provenance = str(event.value)
            self.post_message(self.ProvenanceChosen(self._provenance))
