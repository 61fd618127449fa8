"""The snapshot hash check itself: its derivation matches the documented versions, and a wrong
hash on screen or in the store is caught (issue 18, item 3)."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from metaxy_tui.service.demo import open_demo_project
from tests.helpers import declare_seed
from tests.tui import hash_check
from tests.tui.conftest import known_hashes


def test_definition_versions_are_the_documented_ones(graph):
    declare_seed()
    prefixes = {v[:8] for v in hash_check.definition_versions(graph)}
    assert {"c9762705", "80200592", "83296faf", "8b5b20fb"} <= prefixes  # README and SPEC §2


def test_store_values_derive_every_row_provenance(demo_store):
    derived, stored = hash_check.store_values(demo_store)
    assert len(derived) > 500 and stored


def test_a_tampered_row_provenance_is_caught(demo_store, tmp_path):
    copy = tmp_path / "tampered.db"
    shutil.copyfile(demo_store, copy)
    conn = sqlite3.connect(copy)
    conn.execute("UPDATE audio SET metaxy_provenance = '123' WHERE rowid = 1")
    conn.commit()
    conn.close()
    with pytest.raises(AssertionError, match="stored provenance 123 != derived"):
        hash_check.store_values(copy)


def test_tokens_masks_and_literals():
    svg = (
        '<style>.r1 { fill: #c5c8c6 }</style><text class="r1">version&#160;83296faf&#160;and&#160;'
        "12308515234828400105,&#160;301&#160;rows,&#160;2026-12-06</text>"
    )
    assert hash_check.tokens(hash_check.svg_text(svg)) == {"83296faf", "12308515234828400105"}
    assert hash_check.check(svg, ["83296faf60084eb7"], literals=["12308515234828400105"]) == []
    assert hash_check.check(svg, ["83296faf60084eb7"]) == ["12308515234828400105"]
    masked = hash_check.mask(svg)
    assert "version&#160;########&#160;and&#160;####################," in masked
    assert "#c5c8c6" in masked and "301&#160;rows" in masked


class Shows(App[None]):
    def __init__(self, project, text: str) -> None:
        super().__init__()
        self.project, self.text = project, text

    def compose(self) -> ComposeResult:
        yield Static(self.text)


@pytest.mark.parametrize("shown, wrong", [("audio version c9762705", []), ("audio version c9762706", ["c9762706"])])
async def test_a_wrong_version_on_screen_is_not_known(demo_store, shown, wrong):
    project = open_demo_project(demo_store)
    try:
        app = Shows(project, shown)
        async with app.run_test(size=(60, 5)):
            svg = app.export_screenshot()
        assert hash_check.check(svg, known_hashes(project)) == wrong
    finally:
        project.close()


def test_expected_provenance_matches_what_the_engine_resolves(demo_store):
    """The derivation here agrees with resolve_update on every pending sample of the demo."""
    derived, _ = hash_check.store_values(demo_store)
    project = open_demo_project(demo_store)
    try:
        for key in ("speaker/embedding", "video/chunk"):
            inc = project.store.resolve_update(key)
            for frame in (inc.added, inc.changed):
                for row in frame.to_polars().iter_rows(named=True):
                    assert row["metaxy_provenance"] in derived, (key, row)
                    assert set(row["metaxy_provenance_by_field"].values()) <= derived
    finally:
        project.close()
