"""The Lineage tab: drawing, cursor keys, mouse, badges and scrolling (Pilot tests)."""

from __future__ import annotations

import hashlib
import random
from types import SimpleNamespace

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Offset

import metaxy_tui as mx
from metaxy_tui.errors import DefinitionError
from metaxy_tui.service.project import open_project
from metaxy_tui.service.status import FeatureStatus, all_statuses
from metaxy_tui.tui.app import MetaxyApp
from metaxy_tui.tui.widgets.feature_tree import FeatureTree
from metaxy_tui.tui.widgets.lineage_panel import LineagePanel


class PanelApp(App[None]):
    """The panel alone, recording the features it asks the app to select."""

    def __init__(self, project) -> None:
        super().__init__()
        self.project = project
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        yield LineagePanel(self.project)

    def on_mount(self) -> None:
        self.query_one(LineagePanel).focus()

    def on_lineage_panel_feature_chosen(self, message: LineagePanel.FeatureChosen) -> None:
        self.chosen.append(message.key)


@pytest.fixture
def project(demo_store):
    p = open_project(db=demo_store)
    yield p
    p.close()


def screen_text(panel: LineagePanel) -> str:
    return "\n".join(panel.render_line(y).text for y in range(panel.size.height))


async def show_lineage_tab(app: MetaxyApp, pilot) -> LineagePanel:
    """In the whole app: let the first statuses land, press l, and return the Lineage tab's panel."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.press("l")
    await pilot.pause()
    return app.screen.query_one(LineagePanel)


def cursor_visible(panel: LineagePanel) -> bool:
    key, field = panel.cursor
    box = panel.lineage_layout.boxes[key]
    row = box.field_y([f for f, _ in panel.lineage_layout.graph.nodes[key].fields].index(field))
    region = panel.scrollable_content_region
    sx, sy = panel.scroll_offset
    return sy <= row < sy + region.height - 1 and sx <= box.x and box.x + 8 <= sx + region.width


def plan_stub(nodes: dict[str, tuple[list[str], list[str]]]):
    """A GraphPlan-shaped object: {key: (upstream keys, field keys)}, fields map automatically."""
    features = {}
    for key, (ups, fields) in nodes.items():
        parents = {f: tuple((u, f if f in nodes[u][1] else nodes[u][1][0]) for u in ups) for f in fields}
        features[key] = SimpleNamespace(
            feature_version=hashlib.sha256(key.encode()).hexdigest(),
            field_versions={f: hashlib.sha256(f"{key}.{f}".encode()).hexdigest() for f in fields},
            deps=tuple(SimpleNamespace(upstream=u, kind="identity") for u in ups),
            field_parents=parents,
        )
    plan = SimpleNamespace(features=features)
    return SimpleNamespace(graph=SimpleNamespace(plan=lambda: plan))


# ----- drawing --------------------------------------------------------------------------------


async def test_draws_every_feature_with_versions_and_fields(project):
    app = PanelApp(project)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        panel = app.query_one(LineagePanel)
        text = screen_text(panel)
        plan = project.graph.plan()
        for key, fp in plan.features.items():
            assert key in text
            assert fp.feature_version[:8] in text
            for fk, fv in fp.field_versions.items():
                assert f"{fk} ({fv[:8]})" in text
        assert "▼" in text and "N:1" in text and "1:N" in text
        # the header names the cursor's field
        assert panel.render_line(0).text.strip().startswith("audio.default")


async def test_cursor_keys(project):
    app = PanelApp(project)
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(LineagePanel)
        assert panel.cursor == ("audio", "default")
        await pilot.press("down")  # audio has one field: on to the box below
        assert panel.cursor == ("speaker/embedding", "embedding")
        await pilot.press("up")
        assert panel.cursor == ("audio", "default")
        await pilot.press("up")  # nothing above the roots
        assert panel.cursor == ("audio", "default")
        await pilot.press("right")
        assert panel.cursor == ("video", "audio")
        await pilot.press("down")
        assert panel.cursor == ("video", "frames")
        await pilot.press("down")
        assert panel.cursor == ("video/chunk", "audio")
        await pilot.press("up")
        assert panel.cursor == ("video", "frames")  # the last field of the box above
        await pilot.press("down", "down", "down")  # to the nearest box below video/chunk
        assert panel.cursor == ("video/face_detection", "faces")
        await pilot.press("left")
        assert panel.cursor == ("video/chunk", "audio")
        await pilot.press("right", "right", "right", "right")  # stops at the last feature
        assert panel.cursor == ("video/transcript", "text")
        await pilot.press("left", "left", "left", "left", "left", "left")
        assert panel.cursor == ("audio", "default")


async def test_enter_posts_feature_chosen(project):
    app = PanelApp(project)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("right", "down", "down", "enter")
        await pilot.pause()
        assert app.chosen == ["video/chunk"]


async def test_selection_highlights_ancestors_and_descendants(project):
    app = PanelApp(project)
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(LineagePanel)
        panel.show_feature("video/face_detection")
        await pilot.pause()
        assert panel.cursor == ("video/face_detection", "faces")
        header = panel.render_line(0).text
        assert "video/face_detection.faces" in header and "depends on 2 fields" in header
        tags = panel.canvas.tags
        layout = panel.lineage_layout
        chunk = layout.boxes["video/chunk"]
        assert set(tags[chunk.field_y(1)][chunk.x + 2 : chunk.right - 2]) >= {"field.ancestor"}  # frames
        assert "field.ancestor" not in tags[chunk.field_y(0)][chunk.x : chunk.right]  # audio
        panel.show_feature("video")
        await pilot.pause()
        assert panel.cursor == ("video", "audio")
        assert "2 fields depend on it" in panel.render_line(0).text
        transcript = layout.boxes["video/transcript"]
        assert "field.descendant" in panel.canvas.tags[transcript.field_y(0)][transcript.x : transcript.right]
        # the rendered strip carries the descendant colour from the CSS
        strip = panel.render_line(transcript.field_y(0) + 1 - round(panel.scroll_y))
        colours = {seg.style.color for seg in strip if seg.style and "text" in seg.text}
        assert panel.get_component_rich_style("lineage-panel--field-descendant").color in colours


async def test_show_feature_ignores_unknown_and_keeps_the_field(project):
    app = PanelApp(project)
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(LineagePanel)
        await pilot.press("right", "down")
        assert panel.cursor == ("video", "frames")
        panel.show_feature("video")  # the same feature: the cursor stays on its field
        panel.show_feature(None)
        panel.show_feature("no/such/feature")
        assert panel.cursor == ("video", "frames")


async def test_mouse_click_and_double_click(project):
    app = PanelApp(project)
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(LineagePanel)
        await pilot.pause()
        box = panel.lineage_layout.boxes["video/chunk"]
        margin = panel._margin(panel.scrollable_content_region.width)
        offset = Offset(box.x + 4 + margin, box.field_y(1) + 1)
        await pilot.click(LineagePanel, offset=offset)
        assert panel.cursor == ("video/chunk", "frames")
        assert app.chosen == []
        await pilot.click(LineagePanel, offset=offset, times=2)
        await pilot.pause()
        assert app.chosen == ["video/chunk"]
        await pilot.click(LineagePanel, offset=Offset(0, 0))  # the header: nothing happens
        assert panel.cursor == ("video/chunk", "frames")


# ----- badges -------------------------------------------------------------------------------------


async def test_set_statuses_and_update_status(project):
    app = PanelApp(project)
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(LineagePanel)
        assert "● …" in screen_text(panel)
        statuses = all_statuses(project)
        panel.set_statuses(statuses)
        await pilot.pause()
        text = screen_text(panel)
        assert f"● root · {statuses['audio'].rows:,} rows" in text
        assert "pending" in text
        panel.update_status(FeatureStatus("video/transcript", "up_to_date", rows=3))
        await pilot.pause()
        box = panel.lineage_layout.boxes["video/transcript"]
        assert "● up to date" in panel.canvas.lines()[box.y + 2]


async def test_badges_update_without_a_restart(demo_store):
    """In the app: statuses come in, a write happens, a refresh redraws the badges."""
    project = open_project(db=demo_store)
    app = MetaxyApp(project)
    async with app.run_test(size=(160, 50)) as pilot:
        panel = await show_lineage_tab(app, pilot)
        rows = project.store.count("audio")
        assert panel.statuses["audio"].rows == rows
        assert f"root · {rows:,} rows" in panel.canvas.text()
        first = project.store.read_metadata("audio")["audio_id"][0]
        project.store.delete_metadata("audio", ids=[{"audio_id": first}])
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert panel.statuses["audio"].rows == rows - 1
        assert f"root · {rows - 1:,} rows" in panel.canvas.text()
        assert f"root · {rows - 1:,} rows" in screen_text(panel)


async def test_in_the_app_the_panel_follows_the_tree(demo_store):
    project = open_project(db=demo_store)
    app = MetaxyApp(project)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await show_lineage_tab(app, pilot)
        assert panel.cursor[0] == "speaker/embedding"  # the demo opens on its first feature with pending work
        app.screen.query_one(FeatureTree).select_feature("video/chunk")
        await pilot.pause()
        assert app.screen.selected_feature == "video/chunk"
        assert panel.cursor == ("video/chunk", "audio")
        panel.focus()
        await pilot.press("right", "right", "right", "right", "right")
        await pilot.pause()
        assert panel.cursor == ("video/transcript", "text")
        assert cursor_visible(panel)


# ----- scrolling, size, odd keys, broken graphs -----------------------------------------------------


@pytest.mark.parametrize("size", [(40, 14), (80, 24), (160, 50)])
async def test_cursor_stays_in_view(project, size):
    app = PanelApp(project)
    async with app.run_test(size=size) as pilot:
        panel = app.query_one(LineagePanel)
        await pilot.pause()
        for key in ["right", "right", "down", "down", "down", "right", "down", "up", "left", "left"]:
            await pilot.press(key)
            await pilot.pause()
            assert cursor_visible(panel), (key, panel.cursor, panel.scroll_offset)
        if size[0] < panel.lineage_layout.width:
            await pilot.press("right", "right", "right")
            assert panel.scroll_offset.x > 0
        await pilot.press("left", "left", "left", "left", "left", "left")
        await pilot.pause()
        assert panel.scroll_offset == Offset(0, 0)


async def test_wide_panel_centres_the_drawing(project):
    app = PanelApp(project)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        panel = app.query_one(LineagePanel)
        margin = panel._margin(panel.scrollable_content_region.width)
        assert margin > 10
        box = panel.lineage_layout.boxes["audio"]
        assert panel.render_line(box.y + 1).text[box.x + margin] == "╭"


async def test_keys_that_look_like_markup(graph):
    nodes = {"[bold red]x[/]": ([], ["[i]f"]), "y/z": (["[bold red]x[/]"], ["[i]f"])}
    app = PanelApp(plan_stub(nodes))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        panel = app.query_one(LineagePanel)
        text = screen_text(panel)
        assert "[bold red]x[/]" in text and "[i]f (" in text
        assert "[bold red]x[/].[i]f" in panel.render_line(0).text


async def test_long_keys_are_cut(graph):
    long_key = "very-long-namespace/another_really_long_part/and-a-feature-name-that-goes-on"

    class Long(
        mx.BaseFeature,
        spec=mx.FeatureSpec(key=long_key, id_columns=["id"], fields=["a_field_with_a_rather_long_name_indeed"]),
    ):
        id: str

    class Down(mx.BaseFeature, spec=mx.FeatureSpec(key="down", id_columns=["id"], deps=[Long])):
        id: str

    app = PanelApp(SimpleNamespace(graph=graph))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        panel = app.query_one(LineagePanel)
        drawing = panel.canvas.text()
        assert "╭─ very-long-namespace/another_really_lo… ─╮" in drawing  # MAX_BOX_WIDTH
        assert long_key not in drawing
        assert "a_field_with_a_rather_long… (" in drawing
        assert panel.render_line(0).text.startswith(" very-long-namespace/")  # the header: cut at the edge
        assert len(panel.render_line(0).text) == panel.scrollable_content_region.width
        await pilot.press("down")
        assert panel.cursor == ("down", "default")


async def test_fifty_plus_features(graph):
    rng = random.Random(5)
    nodes: dict[str, tuple[list[str], list[str]]] = {}
    for i in range(60):
        ups = rng.sample(sorted(nodes), k=min(len(nodes), rng.choice([0, 1, 2])))
        nodes[f"group{i % 5}/feature-{i}"] = (ups, [f"f{j}" for j in range(rng.randint(1, 3))])
    app = PanelApp(plan_stub(nodes))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        panel = app.query_one(LineagePanel)
        assert len(panel.lineage_layout.boxes) == 60
        order = panel.lineage_layout.reading_order
        panel.show_feature(order[-4])
        await pilot.press("right", "right", "right", "right")
        await pilot.pause()
        assert panel.cursor[0] == order[-1]
        assert cursor_visible(panel)
        assert panel.scroll_offset.x > 0 or panel.scroll_offset.y > 0


async def test_broken_graph_says_so():
    def plan():
        raise DefinitionError("x", "dependency cycle: x -> y -> x")

    app = PanelApp(SimpleNamespace(graph=SimpleNamespace(plan=plan)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        panel = app.query_one(LineagePanel)
        assert "Cannot draw the graph: feature 'x': dependency cycle" in panel.render_line(0).text
        await pilot.press("down", "right", "enter")
        assert panel.cursor is None and app.chosen == []


async def test_graph_change_is_picked_up(project):
    app = PanelApp(project)
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(LineagePanel)
        await pilot.press("right")
        assert panel.cursor == ("video", "audio")
        project.graph = plan_stub({"only": ([], ["f"])}).graph
        panel.show_feature("only")
        await pilot.pause()
        assert list(panel.lineage_layout.boxes) == ["only"]
        assert panel.cursor == ("only", "f")
