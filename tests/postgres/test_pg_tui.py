"""The TUI on a PostgreSQL store says which store it is on, and browses its features."""

from __future__ import annotations

import polars as pl

import metaxy_tui as mx
from metaxy_tui.service.project import open_project
from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.widgets.feature_tree import FeatureTree
from tests.helpers import declare_seed


async def test_the_tui_names_the_postgresql_store(graph, pg_url):
    Audio, Emb = declare_seed()
    with mx.PostgreSQLMetadataStore(pg_url) as store:
        store.write(
            Audio,
            pl.DataFrame(
                [
                    {
                        "audio_id": "a1",
                        "speaker_id": "s1",
                        "duration_seconds": 1.0,
                        "path": "a",
                        "metaxy_provenance_by_field": {"default": "v1"},
                    }
                ]
            ),
        )
    project = open_project(db=pg_url, mode="r", create=False)
    try:
        app = MetaxyApp(project)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.pause()
            assert (
                "PostgreSQL" in app.screen.sub_title and pg_url.split("?")[0].rsplit("/", 1)[1] in app.screen.sub_title
            )
            tree = app.screen.query_one(FeatureTree)
            labels = " ".join(str(n.label) for n in tree.root.children)
            assert "audio  root · 1 rows" in labels and "speaker" in labels, labels
    finally:
        project.close()


async def test_the_samples_table_detail_and_export_work_on_postgresql(graph, pg_url, tmp_path):
    from tests.tui.test_samples_panel import open_samples, settle, type_text
    from metaxy_tui.tui.screens.sample_detail import SampleDetailScreen

    Audio, Emb = declare_seed()
    rows = [
        {
            "audio_id": f"a{k:02d}",
            "speaker_id": f"s{k % 3}",
            "duration_seconds": k / 2,
            "path": f"p{k}",
            "metaxy_provenance_by_field": {"default": f"v{k}"},
        }
        for k in range(25)
    ]
    with mx.PostgreSQLMetadataStore(pg_url) as store:
        store.write(Audio, pl.DataFrame(rows))
    project = open_project(db=pg_url, mode="r", create=False)
    try:
        app = MetaxyApp(project)
        async with app.run_test(size=(160, 40)) as pilot:
            panel, table = await open_samples(pilot, "audio")
            assert table.view is not None and table.row_count == 25
            assert table.current_row()[1 + table.view.column_index("audio_id")] == "a00"
            assert "audio · 25 rows" in panel.status_text().plain
            # filter by a column
            await pilot.press("slash")
            await type_text(pilot, "speaker_id: s1")
            await pilot.press("enter")
            await settle(pilot)
            assert table.row_count == 8
            # the detail of the sample under the cursor
            await pilot.press("down", "enter")
            await settle(pilot)
            assert isinstance(app.screen, SampleDetailScreen)
            assert app.screen.ref.ids == {"audio_id": "a04"}
            await pilot.press("escape")
            await settle(pilot)
            # export the filtered view (a child process reopens the store from its connection string)
            await pilot.press("e")
            box = panel.query_one("#samples-export-path")
            target = tmp_path / "out.csv"
            box.value = str(target)
            await pilot.press("enter")
            await settle(pilot, 8)
            assert target.exists(), [n.message for n in app._notifications]
            lines = target.read_text().splitlines()
            assert len(lines) == 9 and lines[1].startswith("a01,s1,0.5,p1"), lines[:2]
    finally:
        project.close()
