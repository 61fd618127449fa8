"""Pilot tests of the Samples tab: every key binding, sorting, filtering, jumping, export."""

from __future__ import annotations

import datetime as dt
import threading

import polars as pl
import pytest

import metaxy_tui as mx
from metaxy_tui.service import export as export_service
from metaxy_tui.service import samples as samples_service
from metaxy_tui.store.sqlite import pages as sqlite_pages
from metaxy_tui.service.project import open_project
from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.screens.sample_detail import SampleDetailScreen
from metaxy_tui.tui.widgets.feature_tree import FeatureTree
from metaxy_tui.tui.widgets.sample_table import SampleTable
from metaxy_tui.tui.widgets.samples_panel import SamplesPanel

SIZE = (120, 40)


async def settle(pilot, rounds: int = 4) -> None:
    """Let workers finish and their messages land (a view build starts page workers)."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_samples(pilot, feature: str) -> tuple[SamplesPanel, SampleTable]:
    app = pilot.app
    await settle(pilot)
    app.browser.query_one(FeatureTree).select_feature(feature)
    await pilot.pause()
    app.browser.action_show_tab("samples")
    await settle(pilot)
    panel = app.browser.query_one(SamplesPanel)
    table = panel.query_one(SampleTable)
    table.focus()
    await pilot.pause()
    return panel, table


@pytest.fixture
def app(demo_store):
    project = open_project(db=demo_store)
    yield MetaxyApp(project)
    project.close()


def cell(table: SampleTable, name: str):
    row = table.current_row()
    assert row is not None
    return row[1 + table.view.column_index(name)]


async def type_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press(ch if ch != " " else "space")


# ----- showing a feature ------------------------------------------------------------------------


async def test_samples_tab_shows_the_features_rows(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video/chunk")
        assert table.view is not None and table.view.feature == "video/chunk"
        assert table.row_count == 3833
        assert cell(table, "video_id") == "v0001" and cell(table, "chunk_id") == 0
        status = panel.status_text().plain
        assert "video/chunk · 3,833 rows" in status and "row 1" in status


async def test_the_view_loads_only_when_the_tab_shows(app, monkeypatch):
    opened = []
    original = sqlite_pages.SQLiteSamplePages.open_view
    monkeypatch.setattr(
        sqlite_pages.SQLiteSamplePages,
        "open_view",
        lambda self, spec, **kw: opened.append(spec.feature) or original(self, spec, **kw),
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.browser.query_one(FeatureTree)
        for key in ("video", "video/chunk", "audio"):
            tree.select_feature(key)
            await settle(pilot)
        assert opened == []
        app.browser.action_show_tab("samples")
        await settle(pilot)
        assert opened == ["audio"]
        assert app.browser.query_one(SampleTable).view.feature == "audio"


async def test_switching_features_replaces_the_view(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video/chunk")
        app.browser.query_one(FeatureTree).select_feature("speaker/embedding")
        await settle(pilot)
        assert table.view.feature == "speaker/embedding" and table.row_count == 40
        assert [c.name for c in table.view.columns][:2] == ["speaker_id", "n_dim"]


async def test_a_feature_without_samples_says_so(graph, store_path):
    class Item(mx.BaseFeature, spec=mx.FeatureSpec(key="item", id_columns=["item_id"])):
        item_id: str

    class Other(mx.BaseFeature, spec=mx.FeatureSpec(key="other", id_columns=["other_id"])):
        other_id: str

    with mx.SQLiteMetadataStore(store_path) as store:
        store.write("item", pl.DataFrame([{"item_id": "a", "metaxy_provenance_by_field": {"default": "x"}}]))
    project = open_project(db=store_path)
    async with MetaxyApp(project).run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "other")
        assert table.row_count == 0 and "no stored samples" in table.note
        await pilot.press("enter", "c", "end", "down")  # nothing to act on: no errors
        await settle(pilot)
    project.close()


# ----- the cursor ---------------------------------------------------------------------------------


async def test_cursor_keys(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video/chunk")
        await pilot.press("down", "down", "down", "up")
        assert table.cursor_row == 2
        await pilot.press("right", "right")
        assert table.cursor_column_name == "start_s"
        await pilot.press("left")
        assert table.cursor_column_name == "chunk_id"
        await pilot.press("pagedown")
        height = table.scrollable_content_region.height - 1
        assert table.cursor_row == 2 + height
        await pilot.press("pageup")
        assert table.cursor_row == 2
        await pilot.press("end")
        await settle(pilot)
        assert table.cursor_row == 3832
        assert table.current_row() is not None  # the last page was fetched
        assert cell(table, "video_id") == "v0120"
        assert "row 3,833" in panel.status_text().plain
        await pilot.press("home")
        await settle(pilot)
        assert table.cursor_row == 0 and cell(table, "chunk_id") == 0
        await pilot.press("left", "left", "up")  # stops at the edges
        assert (table.cursor_row, table.cursor_column) == (0, 0)


async def test_moving_right_scrolls_whole_columns(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video")
        for _ in range(len(table.view.columns)):
            await pilot.press("right")
        await pilot.pause()
        assert table.cursor_column_name == "updated"
        assert table.scroll_x > 0
        await pilot.press("home")
        for _ in range(len(table.view.columns)):
            await pilot.press("left")
        await pilot.pause()
        assert table.scroll_x == 0


async def test_rows_far_away_are_fetched_when_scrolled_to(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video/chunk")
        table.scroll_to(y=2500, animate=False, immediate=True)
        await settle(pilot)
        assert (2500 // 200) in table._cache
        lines = [table.render_line(y).text for y in range(1, 4)]
        assert all("…" not in line.split()[0] for line in lines)


async def test_copy_cell(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video/chunk")
        await pilot.press("down", "right", "right", "right", "right", "c")
        assert app.clipboard == "chunks/v0001/0001.mp4"
        table.move_cursor(column=table.view.column_index("feature version"))
        await pilot.press("c")
        assert app.clipboard == app.project.graph.feature_version("video/chunk")  # in full, not 8 characters


async def test_enter_opens_the_detail(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video/chunk")
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, SampleDetailScreen)
        assert app.screen.ref.ids == {"video_id": "v0001", "chunk_id": 1}
        await pilot.press("escape")
        assert app.screen is app.browser


async def test_double_click_opens_and_header_click_sorts(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video/chunk")
        await pilot.click(SampleTable, offset=(2, 3), times=2)
        await settle(pilot)
        assert isinstance(app.screen, SampleDetailScreen)
        assert app.screen.ref.ids == {"video_id": "v0001", "chunk_id": 2}
        await pilot.press("escape")
        await pilot.pause()
        x = sum(w + 1 for w in table._widths[: table.view.column_index("end_s")]) + 2  # pinned "│" is 1 wide
        await pilot.click(SampleTable, offset=(x, 0))
        await settle(pilot)
        assert table.view.spec.sort == "end_s"


# ----- sorting and filtering ----------------------------------------------------------------------


async def test_sort_cycles_ascending_descending_off(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "audio")
        table.move_cursor(column=table.view.column_index("duration_seconds"))
        await pilot.press("o")
        await settle(pilot)
        assert (table.view.spec.sort, table.view.spec.descending) == ("duration_seconds", False)
        first = cell(table, "duration_seconds")
        assert "sorted by duration_seconds ▲" in panel.status_text().plain
        await pilot.press("o")
        await settle(pilot)
        assert table.view.spec.descending and cell(table, "duration_seconds") >= first
        assert "▼" in panel.status_text().plain
        await pilot.press("o")
        await settle(pilot)
        assert table.view.spec.sort is None and table.view.index_order
        assert table.cursor_column_name == "duration_seconds"  # the column stays under the cursor


async def test_sort_keeps_the_cursor_on_its_sample(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "audio")
        await pilot.press(*["down"] * 5)
        sample = cell(table, "audio_id")
        table.move_cursor(column=table.view.column_index("path"))
        await pilot.press("o")
        await settle(pilot)
        assert cell(table, "audio_id") == sample


async def test_filter_bar(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "audio")
        await pilot.press("slash")
        bar = panel.query_one("#samples-filter-bar")
        assert not bar.has_class("hidden") and app.focused.id == "samples-filter"
        await type_text(pilot, "spk_019")
        await pilot.press("enter")
        await settle(pilot)
        assert bar.has_class("hidden") and app.focused is table
        assert table.row_count == 7 and table.view.spec.filter == "spk_019"
        assert "filter 'spk_019'" in panel.status_text().plain
        await pilot.press("slash")
        assert panel.query_one("#samples-filter").value == "spk_019"
        await pilot.press("escape")
        assert bar.has_class("hidden") and app.focused is table
        await pilot.press("x")
        await settle(pilot)
        assert table.row_count == 301 and table.view.spec == samples_service.ViewSpec("audio")


async def test_filter_applies_while_typing(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video")
        await pilot.press("slash")
        await type_text(pilot, "bike")
        await pilot.pause(0.6)
        await settle(pilot)
        assert table.view.spec.filter == "bike" and table.row_count == 7


async def test_filter_without_match(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video")
        await pilot.press("slash")
        await type_text(pilot, "zzzz")
        await pilot.press("enter")
        await settle(pilot)
        assert table.row_count == 0 and "zzzz" in table.note
        assert "zzzz" in table.render_line(1).text


# ----- jumping ----------------------------------------------------------------------------------


async def test_jump_to_an_id(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video/chunk")
        await pilot.press("g")
        box = panel.query_one("#samples-jump")
        assert app.focused is box and "video_id, chunk_id" in box.placeholder
        await type_text(pilot, "v0042, 7")
        await pilot.press("enter")
        await settle(pilot)
        assert (cell(table, "video_id"), cell(table, "chunk_id")) == ("v0042", 7)
        assert table.scroll_y <= table.cursor_row < table.scroll_y + table.size.height


async def test_jump_errors_are_told(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video/chunk")
        await pilot.press("g")
        await type_text(pilot, "v0042")
        await pilot.press("enter")
        await pilot.pause()
        assert any("2 id columns" in n.message for n in app._notifications)
        assert app.focused.id == "samples-jump"  # still open to correct it
        panel.query_one("#samples-jump").value = "v9999, 1"
        await pilot.press("enter")
        await settle(pilot)
        assert any("No sample video_id=v9999" in n.message for n in app._notifications)
        assert table.cursor_row == 0


# ----- export -----------------------------------------------------------------------------------


async def test_export_the_view_to_csv_and_parquet(app, tmp_path):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "audio")
        await pilot.press("slash")
        await type_text(pilot, "spk_019")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("e")
        box = panel.query_one("#samples-export-path")
        assert app.focused is box and box.value.endswith("audio.csv")
        target = tmp_path / "out.csv"
        box.value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert target.exists() and len(target.read_text().splitlines()) == 8
        assert any("7 rows written" in n.message for n in app._notifications)
        assert panel.query_one("#samples-export-progress").has_class("hidden")
        # choosing Parquet changes the extension
        await pilot.press("e")
        box.value = str(target)
        await pilot.pause()
        panel.query_one("#samples-export-format").value = "parquet"
        await pilot.pause()
        assert box.value.endswith("out.parquet")
        box.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert pl.read_parquet(tmp_path / "out.parquet").height == 7


async def test_export_asks_before_replacing(app, tmp_path):
    target = tmp_path / "taken.csv"
    target.write_text("old")
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "speaker/embedding")
        await pilot.press("e")
        panel.query_one("#samples-export-path").value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert target.read_text() == "old"
        assert any("exists" in n.message for n in app._notifications)
        await pilot.press("enter")
        await settle(pilot)
        assert target.read_text().startswith("speaker_id,")


async def test_escape_cancels_a_running_export(app, tmp_path, monkeypatch):
    started = threading.Event()

    def slow_run(self, progress=None, total=None):
        started.set()
        self._cancelled.wait(10)
        raise samples_service.Interrupted()

    monkeypatch.setattr(export_service.ExportProcess, "run", slow_run)
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "audio")
        await pilot.press("e")
        panel.query_one("#samples-export-path").value = str(tmp_path / "x.csv")
        await pilot.press("enter")
        await pilot.pause()
        assert started.wait(5)
        assert not panel.query_one("#samples-export-progress").has_class("hidden")
        await pilot.press("e")  # one export at a time
        assert any("export is running" in n.message for n in app._notifications)
        await pilot.press("escape")
        await settle(pilot)
        assert any("cancelled" in n.message for n in app._notifications)
        assert panel.query_one("#samples-export-progress").has_class("hidden")
        assert not (tmp_path / "x.csv").exists()


async def test_export_errors_are_told(app, tmp_path):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "audio")
        await pilot.press("e")
        panel.query_one("#samples-export-path").value = str(tmp_path)
        await pilot.press("enter")
        await settle(pilot)
        assert any("is a folder" in n.message for n in app._notifications)
        assert app.focused.id == "samples-export-path"  # still open to correct it
        panel.query_one("#samples-export-path").value = str(tmp_path / "missing" / "x.csv")
        await pilot.press("enter")
        await settle(pilot)
        assert any("does not exist" in n.message for n in app._notifications)
        panel.query_one("#samples-export-path").value = str(tmp_path / "x.txt")  # CSV chosen: a CSV named .txt
        await pilot.press("enter")
        await settle(pilot)
        assert (tmp_path / "x.txt").read_text().startswith("audio_id,")


# ----- the store changing, and the UI thread ------------------------------------------------------


async def test_reload_after_a_write(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video")
        await pilot.press("down", "down")
        app.project.store.write(
            "video",
            pl.DataFrame(
                [
                    {
                        "video_id": "v9999",
                        "title": "new",
                        "path": "x.mp4",
                        "duration_s": 1.0,
                        "fps": 24.0,
                        "width": 1,
                        "height": 1,
                        "speaker_id": None,
                        "recorded_at": dt.datetime(2024, 1, 1),
                        "metaxy_provenance_by_field": {"audio": "a", "frames": "f"},
                    }
                ],
                schema_overrides={"speaker_id": pl.String, "recorded_at": pl.Datetime("us")},
            ),
        )
        panel.reload()
        await settle(pilot)
        assert table.row_count == 122 and table.cursor_row == 2


async def test_no_sql_on_the_ui_thread(app, monkeypatch, tmp_path):
    """Every connection the samples code opens refuses SQL from the UI (main) thread."""
    violations: list[str] = []
    original = sqlite_pages.open_readonly

    class Guarded:
        def __init__(self, conn):
            self._conn = conn

        def execute(self, sql, *args):
            if threading.current_thread() is threading.main_thread():
                violations.append(sql)
            return self._conn.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self._conn, name)

    def guarded_open(path):
        if threading.current_thread() is threading.main_thread():
            violations.append("open")
        return Guarded(original(path))

    monkeypatch.setattr(sqlite_pages, "open_readonly", guarded_open)  # the pages, the detail and exports read there
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "video/chunk")
        await pilot.press("end", "home", "right", "right", "o", "o")
        await settle(pilot)
        await pilot.press("slash", "v", "enter")
        await settle(pilot)
        await pilot.press("g")
        await type_text(pilot, "v0003, 2")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("e")
        panel.query_one("#samples-export-path").value = str(tmp_path / "x.csv")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SampleDetailScreen)
        await pilot.press("enter")
        await settle(pilot)
    assert (tmp_path / "x.csv").exists()
    assert violations == []


async def test_values_are_shown_as_text_never_as_markup(graph, store_path):
    class Item(mx.BaseFeature, spec=mx.FeatureSpec(key="item", id_columns=["item_id"])):
        item_id: str
        name: str

    evil = "[bold red]boom[/] [link=http://x]y[/link] [@click=app.quit]z[/]"
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(
            "item", pl.DataFrame([{"item_id": "[i]1", "name": evil, "metaxy_provenance_by_field": {"default": "p"}}])
        )
    project = open_project(db=store_path)
    app = MetaxyApp(project)
    async with app.run_test(size=(200, 40)) as pilot:
        panel, table = await open_samples(pilot, "item")
        line = table.render_line(1).text
        assert "[bold red]boom[/] [link=http://…" in line and "[i]1" in line  # literal (cut to the column)
        await pilot.press("right", "c")
        assert app.clipboard == evil
        await pilot.press("g", *"[i]1", "enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SampleDetailScreen) and screen.detail.values["name"] == evil
        body = screen.query_one("#detail-body")
        assert evil in "".join(strip.text for strip in body.render_lines(body.region.reset_offset))
    project.close()


async def test_escape_passes_through_when_nothing_is_open(app):
    async with app.run_test(size=SIZE) as pilot:
        panel, table = await open_samples(pilot, "audio")
        assert panel.check_action("dismiss_bar", ()) is False
        await pilot.press("slash")
        assert panel.check_action("dismiss_bar", ()) is True


async def test_the_samples_key_focuses_the_table(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.browser.query_one(FeatureTree).select_feature("video/chunk")
        await pilot.press("s")
        await settle(pilot)
        table = app.browser.query_one(SampleTable)
        assert app.focused is table
        await pilot.press("down", "down")
        assert table.cursor_row == 2
