"""Every key binding of every screen and widget.

1. `COVERED` names, for each binding the TUI declares, the test that presses that key and checks
   what it did; `test_every_binding_has_a_behaviour_test` fails for a new binding without one
   (issue 18, item 2). The tests for keys that had none are below.
2. The sweep presses every binding of every screen on an empty store, on a store whose features
   have no samples yet and on a root feature, with nothing selected: no exception class name,
   traceback or internal message may appear on screen or in a notification (issue 13, item 3).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import Select, TabbedContent

import metaxy_tui.tui as tui
from metaxy_tui.service import review
from metaxy_tui.service.demo import DEMO_PROJECT, load_demo_modules, open_demo_project
from metaxy_tui.service.project import open_project
from metaxy_tui.store.sqlite.store import SQLiteMetadataStore
from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.screens.audit import AuditScreen
from metaxy_tui.tui.screens.browser import BrowserScreen
from metaxy_tui.tui.screens.confirm import Choice, ConfirmScreen
from metaxy_tui.tui.screens.help import HelpScreen
from metaxy_tui.tui.screens.import_screen import ImportScreen
from metaxy_tui.tui.screens.review import ReviewScreen
from metaxy_tui.tui.screens.trace import TraceScreen
from metaxy_tui.tui.widgets.feature_tree import FeatureTree
from metaxy_tui.tui.widgets.review_samples import ReviewSamples
from tests.tui.hash_check import svg_text

HERE = Path(__file__).parent
ME = "test_key_bindings.py"

# (class, key, action) -> "file::test" that presses the key and asserts on what it did
COVERED = {
    ("MetaxyApp", "q", "quit"): f"{ME}::test_q_quits",
    ("MetaxyApp", "question_mark", "help"): f"{ME}::test_question_mark_opens_help_and_its_keys_close_it",
    ("HelpScreen", "escape", "dismiss"): f"{ME}::test_question_mark_opens_help_and_its_keys_close_it",
    ("HelpScreen", "q", "dismiss"): f"{ME}::test_question_mark_opens_help_and_its_keys_close_it",
    ("HelpScreen", "question_mark", "dismiss"): f"{ME}::test_question_mark_opens_help_and_its_keys_close_it",
    ("BrowserScreen", "r", "refresh"): f"{ME}::test_browser_r_refreshes_statuses",
    ("BrowserScreen", "f", "show_tab('feature')"): f"{ME}::test_browser_f_s_l_switch_tabs",
    ("BrowserScreen", "s", "show_tab('samples')"): f"{ME}::test_browser_f_s_l_switch_tabs",
    ("BrowserScreen", "l", "show_tab('lineage')"): f"{ME}::test_browser_f_s_l_switch_tabs",
    ("BrowserScreen", "i", "import_samples"): f"{ME}::test_browser_i_opens_import_into_the_root",
    ("BrowserScreen", "v", "review"): f"{ME}::test_browser_v_reviews_a_derived_feature_and_explains_a_root",
    ("BrowserScreen", "a", "audit"): f"{ME}::test_browser_a_opens_the_audit_log_and_escape_closes_it",
    ("BrowserScreen", "d", "demo"): f"{ME}::test_browser_d_builds_the_demo_and_opens_it",
    ("ConfirmScreen", "escape", "cancel"): f"{ME}::test_confirm_keys_move_between_choices_and_escape_cancels",
    ("ConfirmScreen", "left", "app.focus_previous"): f"{ME}::test_confirm_keys_move_between_choices_and_escape_cancels",
    (
        "ConfirmScreen",
        "shift+tab",
        "app.focus_previous",
    ): f"{ME}::test_confirm_keys_move_between_choices_and_escape_cancels",
    ("ConfirmScreen", "right", "app.focus_next"): f"{ME}::test_confirm_keys_move_between_choices_and_escape_cancels",
    ("ConfirmScreen", "tab", "app.focus_next"): f"{ME}::test_confirm_keys_move_between_choices_and_escape_cancels",
    ("AuditScreen", "escape", "close"): f"{ME}::test_browser_a_opens_the_audit_log_and_escape_closes_it",
    (
        "AuditScreen",
        "enter",
        "show_entry",
    ): "test_audit_screen.py::test_opened_for_one_feature_and_enter_shows_the_failure",
    (
        "AuditScreen",
        "f",
        "focus_filter('feature')",
    ): "test_audit_screen.py::test_feature_filter_is_a_select_driven_by_keys",
    ("AuditScreen", "t", "focus_filter('action')"): f"{ME}::test_audit_t_filters_by_action",
    ("AuditScreen", "r", "reload"): f"{ME}::test_audit_r_reloads_new_entries",
    (
        "AuditTable",
        "enter",
        "select_cursor",
    ): "test_audit_screen.py::test_opened_for_one_feature_and_enter_shows_the_failure",
    (
        "AuditTable",
        "home",
        "scroll_top",
    ): "test_audit_screen.py::test_opened_for_one_feature_and_enter_shows_the_failure",
    (
        "AuditTable",
        "end",
        "scroll_bottom",
    ): "test_audit_screen.py::test_opened_for_one_feature_and_enter_shows_the_failure",
    (
        "ReviewScreen",
        "escape",
        "cancel_action",
    ): "test_review_screen.py::test_cancelling_mid_recompute_keeps_finished_batches",
    ("ReviewScreen", "escape", "close"): "test_review_screen.py::test_leaving_without_writing_dismisses_false",
    (
        "ReviewScreen",
        "r",
        "recompute",
    ): "test_review_screen.py::test_changed_recording_explained_recomputed_and_audited",
    (
        "ReviewScreen",
        "c",
        "accept",
    ): "test_review_screen.py::test_accept_carries_stored_outputs_and_skips_never_computed",
    ("ReviewScreen", "x", "delete_removed"): "test_review_screen.py::test_delete_removed_then_walk_downstream",
    (
        "ReviewScreen",
        "P",
        "approve_all",
    ): "test_review_screen.py::test_approve_all_walks_the_graph_in_topological_order",
    (
        "ReviewScreen",
        "space",
        "toggle",
    ): "test_review_screen.py::test_reasons_are_grouped_with_counts_and_selection_marks",
    (
        "ReviewScreen",
        "g",
        "toggle_group",
    ): "test_review_screen.py::test_reasons_are_grouped_with_counts_and_selection_marks",
    (
        "ReviewScreen",
        "A",
        "toggle_all",
    ): "test_review_screen.py::test_reasons_are_grouped_with_counts_and_selection_marks",
    ("ReviewScreen", "a", "audit"): "test_review_screen.py::test_changed_recording_explained_recomputed_and_audited",
    ("ReviewScreen", "R", "reload"): f"{ME}::test_review_capital_r_explains_again_after_an_outside_write",
    ("ReviewSamples", "home", "scroll_top"): f"{ME}::test_review_samples_home_and_end",
    ("ReviewSamples", "end", "scroll_bottom"): f"{ME}::test_review_samples_home_and_end",
    ("ImportScreen", "escape", "back"): "test_import_screen.py::test_import_asks_first_and_no_goes_back",
    ("ImportScreen", "ctrl+o", "browse"): "test_import_screen.py::test_ctrl_o_browses_and_enter_on_a_file_loads_it",
    (
        "ImportScreen",
        "m",
        "map_column",
    ): "test_import_screen.py::test_m_maps_an_unknown_column_and_the_file_is_checked_again",
    ("ImportScreen", "ctrl+r", "reload"): "test_import_screen.py::test_ctrl_r_reads_a_fixed_file_again",
    ("ImportScreen", "ctrl+s", "import"): "test_import_screen.py::test_import_writes_and_returns_to_the_browser",
    (
        "ImportMappingPicker",
        "escape",
        "close",
    ): "test_import_screen.py::test_m_maps_an_unknown_column_and_the_file_is_checked_again",
    ("SampleDetailScreen", "escape", "back"): "test_sample_detail.py::test_enter_navigates_and_escape_goes_back",
    ("SampleDetailScreen", "r", "reload"): "test_sample_detail.py::test_reload_copy_and_focus_keys",
    ("SampleDetailScreen", "c", "copy_ids"): "test_sample_detail.py::test_reload_copy_and_focus_keys",
    ("LineagePanel", "up", "cursor_up"): "test_lineage_panel.py::test_cursor_keys",
    ("LineagePanel", "down", "cursor_down"): "test_lineage_panel.py::test_cursor_keys",
    ("LineagePanel", "left", "cursor_left"): "test_lineage_panel.py::test_cursor_keys",
    ("LineagePanel", "right", "cursor_right"): "test_lineage_panel.py::test_cursor_keys",
    ("LineagePanel", "enter", "choose"): "test_lineage_panel.py::test_enter_posts_feature_chosen",
    ("SampleTable", "up", "move(-1, 0)"): "test_samples_panel.py::test_cursor_keys",
    ("SampleTable", "down", "move(1, 0)"): "test_samples_panel.py::test_cursor_keys",
    ("SampleTable", "left", "move(0, -1)"): "test_samples_panel.py::test_cursor_keys",
    ("SampleTable", "right", "move(0, 1)"): "test_samples_panel.py::test_cursor_keys",
    ("SampleTable", "pageup", "page(-1)"): "test_samples_panel.py::test_cursor_keys",
    ("SampleTable", "pagedown", "page(1)"): "test_samples_panel.py::test_cursor_keys",
    ("SampleTable", "home", "first"): "test_samples_panel.py::test_cursor_keys",
    ("SampleTable", "end", "last"): "test_samples_panel.py::test_cursor_keys",
    ("SampleTable", "enter", "open"): "test_samples_panel.py::test_enter_opens_the_detail",
    ("SampleTable", "c", "copy"): "test_samples_panel.py::test_copy_cell",
    ("SamplesPanel", "slash", "filter"): "test_samples_panel.py::test_filter_bar",
    ("SamplesPanel", "o", "sort"): "test_samples_panel.py::test_sort_cycles_ascending_descending_off",
    ("SamplesPanel", "g", "jump"): "test_samples_panel.py::test_jump_to_an_id",
    ("SamplesPanel", "e", "export"): "test_samples_panel.py::test_export_the_view_to_csv_and_parquet",
    ("SamplesPanel", "x", "reset"): "test_samples_panel.py::test_filter_bar",
    ("SamplesPanel", "escape", "dismiss_bar"): "test_samples_panel.py::test_filter_bar",
    (
        "SampleTable",
        "t",
        "trace",
    ): "test_trace_screen.py::test_t_on_the_samples_table_opens_the_trace_and_escape_goes_back",
    (
        "SampleDetailScreen",
        "t",
        "trace",
    ): "test_trace_screen.py::test_t_on_the_detail_opens_the_trace_and_enter_opens_a_nodes_detail",
    (
        "TraceScreen",
        "escape",
        "back",
    ): "test_trace_screen.py::test_t_on_the_samples_table_opens_the_trace_and_escape_goes_back",
    ("TraceScreen", "r", "reload"): "test_trace_screen.py::test_r_traces_again_after_a_write",
    ("TraceTree", "right", "walk"): "test_trace_screen.py::test_right_walks_on_and_left_folds_back",
    ("TraceTree", "left", "back_up"): "test_trace_screen.py::test_right_walks_on_and_left_folds_back",
    (
        "BrowserScreen",
        "D",
        "graph_diff",
    ): "test_trace_screen.py::test_capital_d_shows_each_changes_blast_radius_and_escape_closes_it",
    (
        "GraphDiffScreen",
        "escape",
        "back",
    ): "test_trace_screen.py::test_capital_d_shows_each_changes_blast_radius_and_escape_closes_it",
}


def declared_bindings() -> set[tuple[str, str, str]]:
    """(class, key, action) for every binding a class of metaxy_tui.tui declares."""
    out = set()
    for info in pkgutil.walk_packages(tui.__path__, "metaxy_tui.tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, DOMNode):
                continue
            for b in cls.__dict__.get("BINDINGS", []):
                key, action = (b.key, b.action) if isinstance(b, Binding) else (b[0], b[1])
                out |= {(cls.__name__, k.strip(), action) for k in key.split(",")}
    return out


def pressed_keys(test: str) -> set[str]:
    """The keys a test function presses literally (`pilot.press("a", "b")`, or through `parametrize`)."""
    file, name = test.split("::")
    source = (HERE / file).read_text()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            body = ast.get_source_segment(source, node) or ""
            keys = {k for m in re.finditer(r"press\(([^)]*)\)", body) for k in re.findall(r'"([^"]+)"', m.group(1))}
            for deco in node.decorator_list:  # keys given by parametrize, pressed through a variable
                keys |= set(re.findall(r'"([^"]+)"', ast.get_source_segment(source, deco) or ""))
            return keys
    raise AssertionError(f"no test {test}")


def test_every_binding_has_a_behaviour_test():
    declared = declared_bindings()
    assert not declared - set(COVERED), f"bindings without a behaviour test: {sorted(declared - set(COVERED))}"
    assert not set(COVERED) - declared, f"COVERED names bindings that are gone: {sorted(set(COVERED) - declared)}"
    for (cls, key, _), test in COVERED.items():
        assert key in pressed_keys(test), f"{test} does not press {key!r} ({cls})"


# ----- helpers -------------------------------------------------------------------------------------------


async def settle(pilot) -> None:
    """Workers done and their messages handled (a DirectoryTree's loader runs for as long as the tree)."""
    for _ in range(30):
        ours = [w for w in pilot.app.workers if w.name != "_loader"]
        if ours:  # (an empty list means every worker to wait_for_complete)
            await pilot.app.workers.wait_for_complete(ours)
        await pilot.pause()
        if all(w.is_finished for w in ours):
            break


@pytest.fixture
def demo_app(demo_store):
    project = open_demo_project(demo_store)
    yield MetaxyApp(project)
    project.close()


def notes(app: App) -> list[str]:
    return [n.message for n in app._notifications]


async def select(pilot, key: str) -> None:
    pilot.app.screen.query_one(FeatureTree).select_feature(key)
    await settle(pilot)


# ----- the app and help ----------------------------------------------------------------------------------


async def test_q_quits(demo_app):
    async with demo_app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert demo_app.return_code == 0 and not demo_app.is_running


@pytest.mark.parametrize("close", ["escape", "q", "question_mark"])
async def test_question_mark_opens_help_and_its_keys_close_it(demo_app, close):
    async with demo_app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(demo_app.screen, HelpScreen)
        shown = dict(demo_app.screen.keys)
        assert shown["v"].startswith("Review") and "ctrl+p" in shown
        await pilot.press(close)
        await pilot.pause()
        assert isinstance(demo_app.screen, BrowserScreen) and demo_app.is_running


# ----- the browser ---------------------------------------------------------------------------------------


async def test_browser_f_s_l_switch_tabs(demo_app):
    async with demo_app.run_test() as pilot:
        await settle(pilot)
        tabs = demo_app.screen.query_one(TabbedContent)
        await pilot.press("s")
        await settle(pilot)
        assert tabs.active == "samples" and type(demo_app.focused).__name__ == "SampleTable"
        await pilot.press("l")
        await settle(pilot)
        assert tabs.active == "lineage" and type(demo_app.focused).__name__ == "LineagePanel"
        await pilot.press("f")
        await settle(pilot)
        assert tabs.active == "feature"


async def test_browser_r_refreshes_statuses(demo_app):
    async with demo_app.run_test() as pilot:
        await settle(pilot)
        tree = demo_app.screen.query_one(FeatureTree)
        before = tree.status("audio").rows
        demo_app.project.store.delete_metadata("audio", ids=[{"audio_id": "a0002"}])  # another process, say
        await pilot.press("r")
        await settle(pilot)
        assert tree.status("audio").rows == before - 1
        assert tree.status("speaker/embedding").changed == 5  # spk_010 lost a member


async def test_browser_i_opens_import_into_the_root(demo_app):
    async with demo_app.run_test() as pilot:
        await settle(pilot)
        await select(pilot, "video/chunk")
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(demo_app.screen, ImportScreen)
        assert demo_app.screen.query_one("#feature", Select).value in ("audio", "video")


async def test_browser_v_reviews_a_derived_feature_and_explains_a_root(demo_app):
    async with demo_app.run_test() as pilot:
        await settle(pilot)
        assert demo_app.screen.selected_feature == "speaker/embedding"  # the demo opens on pending work
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(demo_app.screen, ReviewScreen) and demo_app.screen.model.total == 6
        await pilot.press("escape")
        await settle(pilot)
        await select(pilot, "audio")
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(demo_app.screen, BrowserScreen)
        assert notes(demo_app)[-1].startswith("audio is a root feature: it has no upstream to review.")


async def test_browser_a_opens_the_audit_log_and_escape_closes_it(demo_app):
    async with demo_app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(demo_app.screen, AuditScreen) and demo_app.screen.entries == []
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(demo_app.screen, BrowserScreen)


async def test_browser_d_builds_the_demo_and_opens_it(tmp_path, monkeypatch):
    target = tmp_path / "data" / "demo.db"
    monkeypatch.setattr("metaxy_tui.tui.app.default_demo_path", lambda: target)
    project = open_project(db=tmp_path / "empty.db")
    app = MetaxyApp(project)
    async with app.run_test() as pilot:
        await settle(pilot)
        assert app.project.is_empty
        await pilot.press("d")
        await settle(pilot)
        await settle(pilot)
        assert target.exists() and app.project.demo and not app.project.is_empty
        assert isinstance(app.screen, BrowserScreen) and app.screen.selected_feature == "speaker/embedding"
    app.project.close()


# ----- a confirmation ------------------------------------------------------------------------------------


class Asking(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.answers: list[str | None] = []

    def on_mount(self) -> None:
        choices = [Choice("one", "One"), Choice("two", "Two"), Choice("three", "Three")]
        self.push_screen(ConfirmScreen("Which?", "Pick one.", choices), self.answers.append)


async def test_confirm_keys_move_between_choices_and_escape_cancels():
    app = Asking()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.focused.id == "choice-one"
        await pilot.press("right")
        assert app.focused.id == "choice-two"
        await pilot.press("tab")
        assert app.focused.id == "choice-three"
        await pilot.press("left")
        assert app.focused.id == "choice-two"
        await pilot.press("shift+tab")
        assert app.focused.id == "choice-one"
        await pilot.press("escape")
        await pilot.pause()
        assert app.answers == [None] and not isinstance(app.screen, ConfirmScreen)


# ----- the audit log -------------------------------------------------------------------------------------


def _audited(project) -> None:
    review.accept(project, "speaker/embedding", [{"speaker_id": "spk_019"}])
    review.delete_removed(project, "speaker/embedding")


async def test_audit_t_filters_by_action(demo_app):
    _audited(demo_app.project)
    async with demo_app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        screen = demo_app.screen
        assert {e["action"] for e in screen.entries} == {"accept", "delete_removed"}
        await pilot.press("t")
        assert screen.focused.id == "filter-action"
        await pilot.press("enter", "down", "down", "enter")  # the second action of the list
        await settle(pilot)
        assert screen.action is not None and {e["action"] for e in screen.entries} <= {screen.action}


async def test_audit_r_reloads_new_entries(demo_app):
    async with demo_app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        screen = demo_app.screen
        assert screen.entries == []
        _audited(demo_app.project)  # written behind the screen's back
        await pilot.press("r")
        await settle(pilot)
        assert len(screen.entries) == 2


# ----- the review ----------------------------------------------------------------------------------------


async def test_review_capital_r_explains_again_after_an_outside_write(demo_app):
    async with demo_app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        screen = demo_app.screen
        assert screen.model.total == 6
        review.delete_removed(demo_app.project, "speaker/embedding")  # another process, say
        await pilot.press("R")
        await settle(pilot)
        assert screen.model.total == 5 and screen.model.counts.get("removed", 0) == 0


async def test_review_samples_home_and_end(demo_app):
    async with demo_app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("down")  # the reasons list: "3 changed · embedding ← audio.default members changed"
        await settle(pilot)
        table = demo_app.screen.query_one(ReviewSamples)
        table.focus()
        await pilot.pause()
        assert table.row_count > 1 and table.cursor_row == 0
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_row == 0


# ----- the sweep: every key, nothing selected, on empty stores and a root feature (issue 13, item 3) --------

# an exception's class or traceback, or the engine's API words (an internal message passed through)
RAW = re.compile(
    r"Traceback|\b[A-Z]\w*(?:Error|Exception)\b|NoneType|object has no attribute|internal error"
    r"|resolve_update|=<|\w+\(\)"
)
SWEEP = {  # screen -> keys; q is left out (it quits) and d (it builds the demo: tested above)
    "browser": ["r", "f", "s", "l", "i", "v", "a", "D", "question_mark", "ctrl+p"],
    "samples": [
        "slash",
        "o",
        "g",
        "e",
        "x",
        "escape",
        "up",
        "down",
        "left",
        "right",
        "pageup",
        "pagedown",
        "home",
        "end",
        "enter",
        "c",
        "t",
    ],
    "lineage": ["up", "down", "left", "right", "enter"],
    "review": ["r", "c", "x", "P", "space", "g", "A", "a", "R", "home", "end", "escape"],
    "audit": ["enter", "f", "t", "r", "home", "end", "escape"],
    "import": ["ctrl+o", "m", "ctrl+r", "ctrl+s", "escape"],
    "trace": ["down", "right", "left", "enter", "r", "escape"],
}


def raw_text(app: App) -> list[str]:
    shown = [svg_text(app.export_screenshot()), *notes(app)]
    return [m.group(0) for text in shown for m in RAW.finditer(text)]


async def sweep(pilot, keys: list[str], tried: list[str]) -> None:
    """Press each key on the current screen; after each, nothing raw is shown; go back to the screen."""
    app = pilot.app
    depth = len(app.screen_stack)
    base = app.screen
    for key in keys:
        if app.screen is not base:
            break  # escape left the screen: the sweep of it is over
        await pilot.press(key)
        await settle(pilot)
        assert not raw_text(app), (key, raw_text(app))
        tried.append(key)
        while len(app.screen_stack) > depth:
            app.pop_screen()
            await settle(pilot)


@pytest.fixture
def no_samples(tmp_path):
    """A store with the demo's features recorded and no sample in it."""
    graph, _ = load_demo_modules()
    store = SQLiteMetadataStore(tmp_path / "bare.db", graph=graph, project=DEMO_PROJECT, name="bare")
    with store:
        store.push_graph()
    project = open_project(db=tmp_path / "bare.db")
    yield project
    project.close()


@pytest.fixture
def empty(tmp_path):
    project = open_project(db=tmp_path / "empty.db")
    yield project
    project.close()


async def sweep_screens(app: MetaxyApp, feature: str | None, review_of: str | None) -> dict[str, list[str]]:
    tried: dict[str, list[str]] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        browser = app.screen
        if feature is not None:
            await select(pilot, feature)
        await sweep(pilot, SWEEP["browser"], tried.setdefault("browser", []))
        if not app.project.is_empty:
            for screen, tab in (("samples", "s"), ("lineage", "l")):
                await pilot.press(tab)
                await settle(pilot)
                await sweep(pilot, SWEEP[screen], tried.setdefault(screen, []))
                browser.query_one(FeatureTree).focus()
            if review_of is not None:
                app.push_screen(ReviewScreen(app.project, review_of))
                await settle(pilot)
                await sweep(pilot, SWEEP["review"], tried.setdefault("review", []))
            await pilot.press("i")
            await settle(pilot)
            await sweep(pilot, SWEEP["import"], tried.setdefault("import", []))
            traced = feature or app.project.graph.keys[0]
            first = app.project.store.first_ids(traced, limit=1) or [
                {c: "nothing" for c in app.project.graph.definition(traced).id_columns}
            ]
            app.push_screen(TraceScreen(app.project, traced, first[0]))
            await settle(pilot)
            await sweep(pilot, SWEEP["trace"], tried.setdefault("trace", []))
        app.push_screen(AuditScreen(app.project, None))
        await settle(pilot)
        await sweep(pilot, SWEEP["audit"], tried.setdefault("audit", []))
    return tried


async def test_sweep_on_an_empty_store(empty):
    tried = await sweep_screens(MetaxyApp(empty), None, None)
    assert tried["browser"] == SWEEP["browser"] and tried["audit"] == SWEEP["audit"]


async def test_sweep_on_features_without_samples(no_samples):
    tried = await sweep_screens(MetaxyApp(no_samples), "audio", "speaker/embedding")
    assert all(tried[s] == SWEEP[s] for s in SWEEP), tried


async def test_sweep_on_a_root_feature(demo_store):
    project = open_demo_project(demo_store)
    try:
        tried = await sweep_screens(MetaxyApp(project), "audio", "audio")
    finally:
        project.close()
    assert all(tried[s] == SWEEP[s] for s in SWEEP), tried


@pytest.mark.parametrize("feature", ["audio", "video/face_detection"])
async def test_review_of_a_root_or_of_nothing_pending_says_so_plainly(demo_store, feature):
    project = open_demo_project(demo_store)
    try:
        review.recompute(project, "video/chunk")  # face_detection: now pending; then nothing pending
        review.approve_all_pending(project)
        app = MetaxyApp(project)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            app.push_screen(ReviewScreen(project, feature))
            await settle(pilot)
            summary = str(app.screen.query_one("#summary").render())
            await pilot.press("r")
            await settle(pilot)
            said = notes(app)[-1]
            assert not raw_text(app)
    finally:
        project.close()
    if feature == "audio":
        assert summary.startswith("audio is a root feature: it has no upstream to review.")
        assert said.startswith("audio is a root feature")
    else:
        assert "nothing pending here" in summary
        assert said.startswith("video/face_detection has nothing pending: every sample is up to date")


async def test_review_of_a_feature_whose_upstream_was_never_written_says_what_it_waits_on(no_samples):
    """SPEC 4: an upstream never written is an empty increment, and the review says what it waits on."""
    app = MetaxyApp(no_samples)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(ReviewScreen(no_samples, "speaker/embedding"))
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        said = notes(app)[-1]
        assert not raw_text(app)
    assert said.startswith("speaker/embedding is waiting on audio: nothing has been written there yet")
