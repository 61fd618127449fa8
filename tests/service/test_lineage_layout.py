"""The lineage drawing: layered layout, edge paths, field lineage and the tagged grid."""

from __future__ import annotations

import hashlib
import random
import time
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metaxy_tui as mx
from metaxy_tui.service.demo import load_demo_modules
from metaxy_tui.service.lineage import (
    FIELDS_TOP,
    MAX_BOX_WIDTH,
    TAGS,
    TERMINAL_STYLES,
    LineageGraph,
    LineageNode,
    badge,
    compute_layout,
    field_lineage,
    render,
    render_text,
)
from metaxy_tui.service.status import FeatureStatus

SETTINGS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def demo_plan():
    graph, _ = load_demo_modules()
    return graph.plan()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def node(key, deps=(), fields=("default",), kinds=None, parents=None):
    """A LineageNode with made-up versions; fields map automatically unless `parents` says."""
    fields = tuple((f, sha(f"{key}.{f}")) for f in fields)
    kinds = kinds or {}
    return LineageNode(key, sha(key), fields, tuple((u, kinds.get(u, "identity")) for u in deps), parents or {})


def random_graph(seed: int, n: int) -> LineageGraph:
    rng = random.Random(seed)
    nodes: list[LineageNode] = []
    for i in range(n):
        ups = rng.sample([x.key for x in nodes], k=min(len(nodes), rng.choice([0, 1, 1, 2, 3])))
        fields = [f"f{j}" for j in range(rng.randint(1, 3))]
        by_key = {x.key: x for x in nodes}
        parents = {f: tuple((u, rng.choice(by_key[u].field_keys)) for u in ups) for f in fields}
        kinds = {u: rng.choice(["identity", "aggregation", "expansion"]) for u in ups}
        nodes.append(node(f"ns{i % 4}/feature_{i}", ups, fields, kinds, parents))
    rng.shuffle(nodes)
    return LineageGraph(nodes)


def check_geometry(layout) -> None:
    """No overlapping boxes; every edge a connected path from below its upstream's bottom
    border to an arrow above its downstream's top border, never inside a box; two edges
    share a cell only where they cross at right angles."""
    boxes = list(layout.boxes.values())
    for i, a in enumerate(boxes):
        assert 0 <= a.x and a.right <= layout.width and 0 <= a.y and a.bottom <= layout.height
        for b in boxes[i + 1 :]:
            assert not (a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom), (a, b)
    deps = {(u, k) for k, n in layout.graph.nodes.items() for u, _ in n.deps}
    assert {(e.upstream, e.downstream) for e in layout.edges} == deps
    use: dict[tuple[int, int], list[str]] = {}
    for e in layout.edges:
        cells = e.cells
        up, down = layout.boxes[e.upstream], layout.boxes[e.downstream]
        assert cells[0][1] == up.bottom and up.x < cells[0][0] < up.right - 1
        assert cells[-1][1] == down.y - 1 and down.x < cells[-1][0] < down.right - 1
        for (ax, ay), (bx, by) in zip(cells, cells[1:]):
            assert abs(ax - bx) + abs(ay - by) == 1
        for k, c in enumerate(cells):
            assert layout.box_at(*c) is None, (e, c)
            before = cells[k - 1] if k else (c[0], c[1] - 1)
            after = cells[k + 1] if k + 1 < len(cells) else (c[0], c[1] + 1)
            dirs = {"v" if o[0] == c[0] else "h" for o in (before, after)}
            use.setdefault(c, []).append("".join(sorted(dirs)))
    for c, dirs in use.items():
        assert len(dirs) == 1 or sorted(dirs) == ["h", "v"], (c, dirs)


# ----- layers and geometry -----------------------------------------------------------------


def test_demo_layers(demo_plan):
    layout = compute_layout(demo_plan)
    assert layout.layers == (
        ("audio", "video"),
        ("speaker/embedding", "video/chunk"),
        ("video/face_detection", "video/transcript"),
    )
    check_geometry(layout)
    # a layer's boxes share a top row, and layers go down the page
    tops = [{layout.boxes[k].y for k in layer} for layer in layout.layers]
    assert all(len(t) == 1 for t in tops)
    assert [t.pop() for t in tops] == sorted(t2 for t2 in [layout.boxes[lay[0]].y for lay in layout.layers])


def test_layers_by_longest_path_and_skipping_edges_go_around_boxes():
    g = LineageGraph([node("a"), node("b", ["a"]), node("c", ["a", "b"]), node("d", ["c", "a"])])
    layout = compute_layout(g)
    assert layout.layers == (("a",), ("b",), ("c",), ("d",))
    check_geometry(layout)
    long_edge = next(e for e in layout.edges if (e.upstream, e.downstream) == ("a", "d"))
    assert {y for _, y in long_edge.cells} >= set(range(layout.boxes["b"].y, layout.boxes["c"].bottom))


def test_box_contents_and_sizes(demo_plan):
    layout = compute_layout(demo_plan)
    lines = render(layout).lines()
    text = "\n".join(lines)
    for key, fp in demo_plan.features.items():
        box = layout.boxes[key]
        assert box.height == FIELDS_TOP + len(fp.field_versions) + 1
        assert key in lines[box.y][box.x : box.right]
        assert f"version {fp.feature_version[:8]}" in lines[box.y + 1][box.x : box.right]
        for i, (fk, fv) in enumerate(fp.field_versions.items()):
            assert f"{fk} ({fv[:8]})" in lines[box.field_y(i)][box.x : box.right]
    assert "N:1" in text and "1:N" in text  # aggregation and expansion labels
    assert text.count("▼") == len(layout.edges) == 4


def test_demo_drawing_matches(demo_plan):
    """The whole drawing, as the CLI prints it."""
    v = {k: fp.feature_version[:8] for k, fp in demo_plan.features.items()}
    drawing = render_text(demo_plan)
    assert drawing.splitlines()[1].startswith("  ╭─ audio ─") and f"version {v['audio']}" in drawing
    assert "╰─────┬──────────┬─────╯" in drawing  # video/chunk: one port per downstream
    assert "╭───────╯          ╰────────╮" in drawing


def test_layout_is_deterministic():
    g = random_graph(7, 25)
    first = compute_layout(g)
    again = compute_layout(random_graph(7, 25))  # same graph, nodes given in another order
    assert first.boxes == again.boxes
    assert first.edges == again.edges
    assert render(first).text() == render(again).text()
    shuffled = list(g.nodes.values())
    random.Random(1).shuffle(shuffled)
    assert compute_layout(LineageGraph(shuffled)).boxes == first.boxes


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40))
def test_random_graphs_have_sound_geometry(seed, n):
    check_geometry(compute_layout(random_graph(seed, n)))


def test_barycenter_ordering_removes_avoidable_crossings():
    # two chains whose roots sort in the opposite order to their children
    g = LineageGraph([node("a"), node("b"), node("x", ["b"]), node("y", ["a"]), node("z", ["x"]), node("w", ["y"])])
    layout = compute_layout(g)
    order = {k: i for layer in layout.layers for i, k in enumerate(layer)}
    assert order["y"] < order["x"] and order["w"] < order["z"]
    assert "┼" not in render(layout).text()


def test_swapped_ports_never_share_a_vertical():
    """Edges that exchange columns between two layers get their ports moved apart."""
    g = LineageGraph([node("a"), node("b"), node("c", ["a", "b"]), node("d", ["a", "b"])])
    check_geometry(compute_layout(g))


def test_fifty_plus_features_lay_out_quickly():
    g = random_graph(3, 80)
    start = time.perf_counter()
    layout = compute_layout(g)
    canvas = render(layout, cursor=(g.order[-1], g.nodes[g.order[-1]].fields[0][0]))
    assert time.perf_counter() - start < 2
    check_geometry(layout)
    assert len(layout.boxes) == 80 and canvas.height == layout.height


def test_empty_graph():
    layout = compute_layout(LineageGraph([]))
    assert layout.boxes == {} and layout.edges == () and render(layout).text() == ""


def test_bad_graphs_are_refused():
    with pytest.raises(ValueError, match="unknown feature 'nope'"):
        LineageGraph([node("a", ["nope"])])
    with pytest.raises(ValueError, match="cycle"):
        LineageGraph([node("a", ["b"]), node("b", ["a"])])
    with pytest.raises(ValueError, match="twice"):
        LineageGraph([node("a"), node("a")])


# ----- text: long keys, odd characters, badges -----------------------------------------------


def test_long_keys_and_fields_are_cut_with_an_ellipsis():
    long_key = "very-long-namespace/another_really_long_part/and-a-feature-name-that-goes-on"
    long_field = "a_field_whose_name_is_much_longer_than_any_box"
    layout = compute_layout(LineageGraph([node(long_key, fields=(long_field, "short"))]))
    box = layout.boxes[long_key]
    assert box.width == MAX_BOX_WIDTH
    lines = render(layout).lines()
    title = lines[box.y][box.x : box.right]
    assert title.startswith("╭─ very-long-namespace/") and "…" in title and title.endswith("╮")
    assert "…" in lines[box.field_y(0)] and "short (" in lines[box.field_y(1)]
    assert all(len(line) <= layout.width for line in lines)


def test_keys_that_look_like_markup_are_drawn_verbatim():
    key = "[bold red]x[/] & <y>"
    canvas = render(compute_layout(LineageGraph([node(key, fields=("[i]f",))])))
    assert "[bold red]x[/] & <y>" in canvas.text() and "[i]f (" in canvas.text()


@pytest.mark.parametrize(
    "status, text, tag",
    [
        (None, "…", "badge.unknown"),
        (FeatureStatus("a", "root", rows=12345), "root · 12,345 rows", "badge.root"),
        (FeatureStatus("a", "up_to_date", rows=3), "up to date", "badge.up_to_date"),
        (FeatureStatus("a", "pending", added=2, changed=1, removed=1), "4 pending", "badge.pending"),
        (FeatureStatus("a", "waiting", waiting_on=["b", "c"]), "waiting on b, c", "badge.waiting"),
        (FeatureStatus("a", "error", error="boom"), "error", "badge.error"),
    ],
)
def test_badges(status, text, tag):
    assert badge(status) == (text, tag)
    layout = compute_layout(LineageGraph([node("a")]))
    canvas = render(layout, statuses={"a": status} if status else {})
    row = layout.boxes["a"].y + 2
    assert "● " + text in canvas.lines()[row]
    assert tag in {t for _, t in canvas.runs(row)}


def test_every_tag_has_a_terminal_style():
    assert set(TAGS) == set(TERMINAL_STYLES)


# ----- field lineage ------------------------------------------------------------------------------


def test_face_detection_depends_only_on_frames(demo_plan):
    lin = field_lineage(demo_plan, "video/face_detection", "faces")
    assert lin.ancestors == {("video/chunk", "frames"), ("video", "frames")}
    assert ("video/chunk", "audio") not in lin.ancestors and ("video", "audio") not in lin.ancestors
    assert lin.descendants == frozenset()


def test_video_audio_flows_to_chunk_audio_and_transcripts(demo_plan):
    lin = field_lineage(LineageGraph.from_plan(demo_plan), "video", "audio")
    assert lin.descendants == {("video/chunk", "audio"), ("video/transcript", "text")}
    assert lin.ancestors == frozenset()
    assert lin.role(("video/face_detection", "faces")) == "dim"
    assert lin.role(("video", "audio")) == "cursor"


def test_chunk_frames_has_both_sides(demo_plan):
    lin = field_lineage(demo_plan, "video/chunk", "frames")
    assert lin.ancestors == {("video", "frames")}
    assert lin.descendants == {("video/face_detection", "faces")}


def test_aggregation_lineage(demo_plan):
    lin = field_lineage(demo_plan, "audio", "default")
    assert lin.descendants == {("speaker/embedding", "embedding")}


def test_transitive_lineage_through_three_levels():
    g = LineageGraph(
        [
            node("a", fields=("x", "y")),
            node("b", ["a"], fields=("x", "y")),
            node("c", ["b"], fields=("z",), parents={"z": (("b", "y"),)}),
        ]
    )
    g2 = LineageGraph(
        [
            node("a", fields=("x", "y")),
            node("b", ["a"], fields=("x", "y"), parents={"x": (("a", "x"),), "y": (("a", "y"),)}),
            node("c", ["b"], fields=("z",), parents={"z": (("b", "y"),)}),
        ]
    )
    assert field_lineage(g2, "c", "z").ancestors == {("b", "y"), ("a", "y")}
    assert field_lineage(g2, "a", "x").descendants == {("b", "x")}
    assert field_lineage(g, "c", "z").ancestors == {("b", "y")}  # no field parents given for b


def test_field_lineage_with_real_field_deps(graph):
    class Src(mx.BaseFeature, spec=mx.FeatureSpec(key="src", id_columns=["id"], fields=["p", "q"])):
        id: str

    class Mid(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="mid",
            id_columns=["id"],
            deps=[Src],
            fields=[mx.FieldSpec("m", deps=[mx.FieldDep(feature=Src, fields=["q"])])],
        ),
    ):
        id: str

    class Out(mx.BaseFeature, spec=mx.FeatureSpec(key="out", id_columns=["id"], deps=[Mid], fields=["o"])):
        id: str

    plan = graph.plan()
    assert field_lineage(plan, "out", "o").ancestors == {("mid", "m"), ("src", "q")}
    assert field_lineage(plan, "src", "p").descendants == frozenset()
    with pytest.raises(KeyError):
        field_lineage(plan, "src", "nope")
    with pytest.raises(KeyError):
        field_lineage(plan, "nope", "p")


def test_highlight_tags(demo_plan):
    layout = compute_layout(demo_plan)
    canvas = render(layout, cursor=("video/face_detection", "faces"))

    def field_tag(key, field):
        box = layout.boxes[key]
        i = [f for f, _ in layout.graph.nodes[key].fields].index(field)
        row = canvas.tags[box.field_y(i)][box.x : box.right]
        return {t for t in row if t.startswith("field.")}

    assert field_tag("video/face_detection", "faces") == {"field.cursor"}
    assert field_tag("video/chunk", "frames") == {"field.ancestor"}
    assert field_tag("video", "frames") == {"field.ancestor"}
    for key, field in [
        ("video/chunk", "audio"),
        ("video", "audio"),
        ("video/transcript", "text"),
        ("audio", "default"),
    ]:
        assert field_tag(key, field) == {"field.dim"}

    def edge_tags(up, down):
        e = next(e for e in layout.edges if (e.upstream, e.downstream) == (up, down))
        return {canvas.tags[y][x] for x, y in e.cells}

    assert edge_tags("video", "video/chunk") == {"edge.ancestor"}
    assert edge_tags("video/chunk", "video/face_detection") == {"edge.ancestor"}
    assert edge_tags("video/chunk", "video/transcript") == {"edge.dim"}
    assert edge_tags("audio", "speaker/embedding") == {"edge.dim"}

    canvas = render(layout, cursor=("video", "audio"))
    e = next(e for e in layout.edges if (e.upstream, e.downstream) == ("video/chunk", "video/transcript"))
    assert {canvas.tags[y][x] for x, y in e.cells} == {"edge.descendant"}
    plain = render(layout)
    assert not any(t.endswith((".dim", ".ancestor", ".descendant")) for row in plain.tags for t in row)


# ----- navigation helpers ---------------------------------------------------------------------------


def test_neighbours(demo_plan):
    layout = compute_layout(demo_plan)
    assert layout.reading_order == [
        "audio",
        "video",
        "speaker/embedding",
        "video/chunk",
        "video/face_detection",
        "video/transcript",
    ]
    assert layout.neighbour("video", "down") == "video/chunk"
    assert layout.neighbour("video/chunk", "up") == "video"
    assert layout.neighbour("audio", "up") is None
    assert layout.neighbour("video/transcript", "down") is None
    assert layout.neighbour("video", "right") == "speaker/embedding"
    assert layout.neighbour("audio", "left") is None
    assert layout.neighbour("video/transcript", "right") is None
    box = layout.boxes["video"]
    assert layout.box_at(box.x, box.y) == box and box.field_at(box.field_y(1)) == 1
    assert box.field_at(box.y) is None


def test_from_plan_accepts_plan_shaped_objects():
    dep = SimpleNamespace(upstream="a", kind="expansion")
    plan = SimpleNamespace(
        features={
            "a": SimpleNamespace(
                feature_version="1" * 64, field_versions={"f": "2" * 64}, deps=(), field_parents={"f": ()}
            ),
            "b": SimpleNamespace(
                feature_version="3" * 64,
                field_versions={"g": "4" * 64},
                deps=(dep,),
                field_parents={"g": (("a", "f"),)},
            ),
        }
    )
    g = LineageGraph.from_plan(plan)
    assert g.edges() == [("a", "b", "expansion")]
    assert field_lineage(g, "a", "f").descendants == {("b", "g")}
