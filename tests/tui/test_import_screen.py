"""Pilot tests of the import screen: every key and button, clean files and files with problems."""

from __future__ import annotations

import threading
from pathlib import Path

from textual.widgets import Button, Input, Select

from metaxy_tui.errors import StoreError
from metaxy_tui.service import importer
from metaxy_tui.service.demo import demo_dir
from metaxy_tui.service.project import open_project
from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.screens import import_screen as screen_module
from metaxy_tui.tui.screens.browser import BrowserScreen
from metaxy_tui.tui.screens.import_screen import ImportScreen
from metaxy_tui.tui.widgets.import_actions import ImportActions
from metaxy_tui.tui.widgets.import_file_tree import ImportFileTree
from metaxy_tui.tui.widgets.import_mapping import ImportMappingPicker
from metaxy_tui.tui.widgets.import_preview import ImportPreview
from metaxy_tui.tui.widgets.import_problems import ImportProblems
from tests.helpers import store_digest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import"
DATA = demo_dir() / "data"
SIZE = (120, 40)


async def settle(app, pilot) -> None:
    """Wait for the import screen's and the browser's workers, then let their messages land.

    Not for the folder tree's loader: a DirectoryTree keeps that one running while it exists
    (and wait_for_complete([]) would wait for every worker, so an empty list is skipped).
    """
    for _ in range(3):
        ours = [w for w in app.workers if w.group.startswith("import-") or w.group == "statuses"]
        if ours:
            await app.workers.wait_for_complete(ours)
        await pilot.pause()


async def open_import(app, pilot) -> ImportScreen:
    await settle(app, pilot)
    await pilot.press("i")
    await pilot.pause()
    assert isinstance(app.screen, ImportScreen)
    return app.screen


async def load(app, pilot, path: Path | str) -> ImportScreen:
    screen = app.screen
    screen.query_one("#path", Input).value = str(path)
    screen.query_one("#path", Input).focus()
    await pilot.press("enter")
    await settle(app, pilot)
    return screen


def summary(screen: ImportScreen) -> str:
    return str(screen.query_one("#summary").render())


async def test_i_opens_the_screen_for_the_selected_root_and_escape_goes_back(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(app, pilot)
        assert screen.query_one("#feature", Select).value == "audio"
        assert screen.query_one("#path", Input).has_focus
        assert screen.query_one("#path", Input).value.endswith("data/")
        assert "Choose a file to import." in summary(screen)
        assert not screen.query_one(ImportActions).import_enabled
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BrowserScreen)


async def test_a_derived_feature_selected_falls_back_to_the_first_root(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(ImportScreen(project, "speaker/embedding"))
        await pilot.pause()
        select = app.screen.query_one("#feature", Select)
        assert select.value == "audio"
        assert [str(o[0]) for o in select._options] == ["audio", "video"]


async def test_loading_a_file_shows_preview_mapping_and_counts(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, DATA / "audio_update.csv")
        preview = screen.query_one(ImportPreview)
        assert preview.row_count == 8
        headers = [str(c.label) for c in preview.columns.values()]
        assert headers[1] == "audio_id\n→ audio_id"
        assert headers[-1] == "provenance_default\n→ provenance.default"
        assert str(preview.get_row_at(5)[0]) == "added" and str(preview.get_row_at(0)[0]) == "unchanged"
        assert "3 added · 0 changed · 5 unchanged" in summary(screen)
        assert "296 stored samples not in the file are kept" in summary(screen)
        assert not screen.query_one(ImportProblems).display
        assert screen.query_one("#import", Button).has_focus


async def test_problems_are_listed_and_each_is_shown_in_place(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, FIXTURES / "bad_values.csv")
        problems = screen.query_one(ImportProblems)
        preview = screen.query_one(ImportPreview)
        assert problems.display and problems.option_count == 6 and problems.has_focus
        assert "6 problems in bad_values.csv" in str(problems.border_title)
        assert not screen.query_one(ImportActions).import_enabled
        await pilot.press("down")  # row 2, duration_seconds: not a number
        await pilot.pause()
        assert (preview.cursor_row, preview.cursor_column) == (1, 3)
        await pilot.press("down", "down")  # row 4, duration_seconds: NaN
        await pilot.pause()
        assert (preview.cursor_row, preview.cursor_column) == (3, 3)
        await pilot.press("enter")
        await pilot.pause()
        assert preview.has_focus
        await pilot.press("ctrl+s")  # disabled: nothing happens
        await pilot.pause()
        assert screen.query_one(ImportActions).state == "ready"


async def test_a_malformed_file_is_one_problem_naming_the_place(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, FIXTURES / "broken.json")
        problems = screen.query_one(ImportProblems)
        assert problems.option_count == 1
        assert "malformed JSON at line 4, column 1" in str(problems.get_option_at_index(0).prompt)
        assert screen.query_one("#body").current == "empty"
        screen = await load(app, pilot, FIXTURES / "nope.csv")
        assert "no such file" in str(problems.get_option_at_index(0).prompt)


async def test_m_maps_an_unknown_column_and_the_file_is_checked_again(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, FIXTURES / "unknown_column.csv")
        assert screen.plan.column_states["mood"] == "unknown"
        await pilot.press("m")  # the focused problem is about 'mood'
        await pilot.pause()
        picker = screen.query_one(ImportMappingPicker)
        assert picker.display and picker.column == "mood" and picker.has_focus
        await pilot.press("enter")  # "do not import this column"
        await settle(app, pilot)
        assert screen.mapping == {"mood": None}
        assert screen.plan.problems == []
        assert "1 added" in summary(screen)
        assert "not imported" in str(list(screen.query_one(ImportPreview).columns.values())[-1].label)
        # and mapping a column onto another one from the preview
        preview = screen.query_one(ImportPreview)
        preview.focus()
        preview.move_cursor(column=7)
        await pilot.press("m")
        await pilot.pause()
        assert picker.column == "mood"
        await pilot.press("escape")
        await pilot.pause()
        assert not picker.display and preview.has_focus


async def test_keeping_unmatched_columns_stores_them_and_the_file_is_checked_again(project):
    """SPEC 1: the import stays strict unless asked to keep the columns it cannot map."""
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, FIXTURES / "unknown_column.csv")
        assert screen.plan.column_states["mood"] == "unknown" and screen.plan.problems
        await pilot.click("#keep-extra")
        await settle(app, pilot)
        assert screen.keep_extra and screen.plan.problems == []
        assert screen.plan.column_states["mood"] == "extra" and "1 added" in summary(screen)
        await pilot.click("#keep-extra")
        await settle(app, pilot)
        assert not screen.keep_extra and screen.plan.column_states["mood"] == "unknown"


async def test_full_set_changes_the_counts_without_reading_again(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, DATA / "audio_update.csv")
        token = screen._token
        await pilot.click("#full")
        await pilot.pause()
        assert screen.full_set and screen._token == token
        assert "3 added · 0 changed · 5 unchanged · 296 removed" in summary(screen)
        assert "296 stored samples not in the file will be soft-deleted" in summary(screen)
        await pilot.click("#partial")
        await pilot.pause()
        assert "removed" not in summary(screen).split("   ")[0]


async def test_provenance_choice_reads_again(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, DATA / "audio_update.csv")
        select = screen.query_one("#provenance", Select)
        assert ("a hash of the file named in 'path'", "file:path") in [(str(a), b) for a, b in select._options]
        select.value = "content"
        await settle(app, pilot)
        assert screen.plan.provenance == "content"
        assert "3 added · 5 changed · 0 unchanged" in summary(screen)
        select.value = "file:path"
        await settle(app, pilot)
        assert "cannot hash the file" in str(screen.query_one(ImportProblems).get_option_at_index(0).prompt)


async def test_another_feature_is_checked_against_its_columns(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, DATA / "videos_update.parquet")
        assert screen.plan.problems  # video columns are unknown to audio
        screen.query_one("#feature", Select).value = "video"
        await settle(app, pilot)
        assert screen.plan.feature == "video" and screen.plan.problems == []
        assert "1 added · 0 changed · 4 unchanged" in summary(screen)


async def test_import_asks_first_and_no_goes_back(project, demo_store):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, DATA / "audio_update.csv")
        before = store_digest(demo_store)
        await pilot.press("ctrl+s")
        await pilot.pause()
        actions = screen.query_one(ImportActions)
        assert actions.state == "confirm"
        assert "Write 3 added and 0 changed samples into audio" in str(screen.query_one("#question").render())
        await pilot.press("escape")
        await pilot.pause()
        assert actions.state == "ready" and isinstance(app.screen, ImportScreen)
        await pilot.press("enter")  # the Import button has focus again
        await pilot.pause()
        assert actions.state == "confirm"
        await pilot.click("#no")
        await pilot.pause()
        assert actions.state == "ready"
        assert store_digest(demo_store) == before


async def test_import_writes_and_returns_to_the_browser(project):
    app = MetaxyApp(project)
    results = []
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(ImportScreen(project, "audio"), results.append)
        await pilot.pause()
        await load(app, pilot, DATA / "audio_update.csv")
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("enter")  # "Yes, import" has focus
        await settle(app, pilot)
        assert results == [True]
        assert isinstance(app.screen, BrowserScreen)
        assert project.store.count("audio") == 304


async def test_escape_cancels_a_running_import_and_nothing_is_written(project, demo_store, monkeypatch):
    started = threading.Event()

    def slow_apply(project, plan, progress=None, cancelled=None):
        started.set()
        for _ in range(500):  # until the user cancels
            if cancelled():
                break
            threading.Event().wait(0.01)
        return importer.apply_import(project, plan, progress, cancelled)

    monkeypatch.setattr(screen_module, "apply_import", slow_apply)
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, DATA / "audio_update.csv")
        before = store_digest(demo_store)
        await pilot.press("ctrl+s", "enter")
        await pilot.pause()
        assert started.wait(5)
        actions = screen.query_one(ImportActions)
        assert actions.state == "running" and screen.query_one("#form").disabled
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ImportScreen)
        assert actions.state == "ready"
        assert "Import cancelled: nothing was written" in summary(screen)
        assert not screen.query_one("#form").disabled
        assert store_digest(demo_store) == before


async def test_escape_stops_reading_a_file_and_stays(project, monkeypatch):
    started = threading.Event()

    def slow_plan(*args, cancelled=None, **kwargs):
        started.set()
        for _ in range(500):
            if cancelled():
                raise importer.ImportCancelled("cancelled")
            threading.Event().wait(0.01)
        raise AssertionError("never cancelled")

    monkeypatch.setattr(screen_module, "plan_import", slow_plan)
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(app, pilot)
        screen.query_one("#path", Input).value = str(DATA / "audio_update.csv")
        await pilot.press("enter")
        assert started.wait(5)
        await pilot.pause()
        actions = screen.query_one(ImportActions)
        assert actions.state == "running"
        assert "reading and checking the file" in str(screen.query_one("#stage").render())
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ImportScreen)
        assert actions.state == "ready" and screen.plan is None
        assert "Stopped reading the file" in summary(screen)


async def test_a_store_error_during_the_write_is_shown_in_place(project, monkeypatch):
    def failing_apply(project, plan, progress=None, cancelled=None):
        raise StoreError("database is locked")

    monkeypatch.setattr(screen_module, "apply_import", failing_apply)
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, DATA / "audio_update.csv")
        await pilot.press("ctrl+s", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ImportScreen)
        assert "Database is locked (nothing was written)" in summary(screen)
        assert screen.query_one(ImportActions).import_enabled


async def test_ctrl_o_browses_and_enter_on_a_file_loads_it(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(app, pilot)
        await pilot.press("ctrl+o")
        for _ in range(10):
            await pilot.pause(0.05)
        tree = screen.query_one(ImportFileTree)
        assert tree.has_focus
        names = [str(n.label) for n in tree.root.children]
        assert names == ["audio.parquet", "audio_update.csv", "videos.csv", "videos_update.parquet"]
        await pilot.press("down", "down", "enter")
        await settle(app, pilot)
        assert not screen.query(ImportFileTree)
        assert screen.query_one("#path", Input).value.endswith("audio_update.csv")
        assert screen.plan is not None and screen.plan.added == 3


async def test_enter_on_a_folder_browses_it_and_escape_closes_the_tree(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(app, pilot)
        screen.query_one("#path", Input).value = str(FIXTURES)
        await pilot.press("enter")
        await settle(app, pilot)
        tree = screen.query_one(ImportFileTree)
        assert Path(tree.path) == FIXTURES
        await pilot.press("escape")
        await pilot.pause()
        assert not screen.query(ImportFileTree)
        assert isinstance(app.screen, ImportScreen)


async def test_ctrl_r_reads_a_fixed_file_again(project, tmp_path):
    f = tmp_path / "fixme.csv"
    f.write_text(
        "audio_id,speaker_id,duration_seconds,path,sample_rate,recorded_at\n"
        "a9,spk_001,ten,p,16000,2024-01-01T00:00:00\n"
    )
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, f)
        assert len(screen.plan.problems) == 1
        f.write_text(
            "audio_id,speaker_id,duration_seconds,path,sample_rate,recorded_at\n"
            "a9,spk_001,10,p,16000,2024-01-01T00:00:00\n"
        )
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert screen.plan.problems == [] and screen.plan.added == 1


async def test_a_read_only_store_cannot_import(demo_store):
    project = open_project(db=demo_store, mode="r")
    app = MetaxyApp(project)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await open_import(app, pilot)
            screen = await load(app, pilot, DATA / "audio_update.csv")
            assert "the store is open read-only" in summary(screen)
            assert not screen.query_one(ImportActions).import_enabled
    finally:
        project.close()


async def test_help_lists_the_import_keys(project):
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(app, pilot)
        await load(app, pilot, DATA / "audio_update.csv")
        keys = {b.key: b.description for (_, b, _, _) in screen.active_bindings.values()}
        assert {"escape", "ctrl+o", "m", "ctrl+r", "ctrl+s"} <= set(keys)


async def test_user_text_is_not_markup(project, tmp_path):
    f = tmp_path / "[red]odd.csv"
    f.write_text("audio_id,[bold]x[/bold]\na1,1\n")
    app = MetaxyApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(app, pilot)
        screen = await load(app, pilot, f)
        title = str(screen.query_one("#preview-title").render())
        assert "[red]odd.csv" in title
        problems = screen.query_one(ImportProblems)
        assert "\\[red]odd.csv" in problems.border_title  # kept as text: its markup form escapes it
        prompts = [str(problems.get_option_at_index(i).prompt) for i in range(problems.option_count)]
        assert any(p.startswith("[bold]x[/bold]  unknown column") for p in prompts)
        header = str(list(screen.query_one(ImportPreview).columns.values())[-1].label)
        assert header == "[bold]x[/bold]\n✗ unknown"
