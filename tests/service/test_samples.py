"""The sample pages (paging, sorting, filtering, finding ids) and the export of a view."""

from __future__ import annotations

import csv
import sqlite3
import threading

import polars as pl
import pytest

import metaxy_tui as mx
from metaxy_tui.columns import ColumnType
from metaxy_tui.service.export import ExportJob, ExportProcess, Exporter, default_export_path, export_name, format_of
from metaxy_tui.service.project import open_project
from metaxy_tui.service.samples import (
    Interrupted,
    SamplePages,
    StaleView,
    ViewSpec,
    feature_columns,
    format_time,
    format_value,
    iso_time,
    parse_ids,
)


# ----- a small store with the awkward cases ---------------------------------------------------


def declare(code_version: str = "1"):
    class Item(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="shop/item", id_columns=["item_id"], fields=[mx.FieldSpec("default", code_version=code_version)]
        ),
    ):
        item_id: str
        name: str
        price: float
        note: str | None

    class Stock(
        mx.BaseFeature, spec=mx.FeatureSpec(key="shop/stock", id_columns=["shop", "item_id"], fields=["count"])
    ):
        shop: str
        item_id: str
        count: int

    return Item, Stock


ITEMS = [
    ("i01", "apple", 1.5, None),
    ("i02", "pear", 2.0, "100% juicy"),
    ("i03", "plum", 0.5, "a_b"),
    ("i04", "kiwi", 2.0, "ab"),
    ("i05", "fig", 3.25, None),
    ("i06", "lime", 0.75, "x"),
]


def items(rows=ITEMS, tag: str = "p") -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"item_id": i, "name": n, "price": p, "note": note, "metaxy_provenance_by_field": {"default": f"{tag}-{i}"}}
            for i, n, p, note in rows
        ],
        schema_overrides={"note": pl.String},
    )


@pytest.fixture
def shop(graph, store_path):
    declare()
    store = mx.SQLiteMetadataStore(store_path)
    with store:
        store.write("shop/item", items())
        store.write("shop/item", items([("i02", "pear", 2.5, "100% juicy")], tag="q"))  # supersedes i02
        store.delete("shop/item", ids=[{"item_id": "i05"}])  # a tombstone
        stock = [
            {
                "shop": s,
                "item_id": f"i{k:02d}",
                "count": k * 10 + j,
                "metaxy_provenance_by_field": {"count": f"c{s}{k}"},
            }
            for j, s in enumerate(["north", "south"])
            for k in range(1, 4)
        ]
        store.write("shop/stock", pl.DataFrame(stock))
    project = open_project(db=store_path)
    yield project
    project.close()


def pager_for(project, page_size: int = 200) -> SamplePages:
    return project.store.sample_pages(project.graph, page_size=page_size)


def column(view, rows, name):
    i = view.column_index(name)
    return [r[1 + i] for r in rows]


# ----- columns and the default view -----------------------------------------------------------


def test_columns_ids_user_then_system(shop):
    cols = feature_columns(shop.graph.feature_plan("shop/stock"))
    assert [c.name for c in cols] == [
        "shop",
        "item_id",
        "count",
        "provenance",
        "provenance.count",
        "data version",
        "feature version",
        "created",
        "updated",
    ]
    assert [c.kind for c in cols][:3] == ["id", "id", "user"]


def test_user_columns_follow_the_table_not_the_snapshot(demo_store):
    project = open_project(db=demo_store)  # no code: the graph comes from the snapshot (sorted columns)
    pager = pager_for(project)
    view = pager.open_view(ViewSpec("video/chunk"))
    assert [c.name for c in view.columns][:5] == ["video_id", "chunk_id", "start_s", "end_s", "path"]
    pager.close()
    project.close()


def test_columns_the_class_does_not_annotate_show_as_user_columns(graph, store_path):
    """SPEC 1: a column only the data brought is a column like any other in the samples table."""

    class Clip(mx.BaseFeature, spec=mx.FeatureSpec(key="clip", id_columns=["clip_id"])):
        clip_id: str

    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(
            Clip,
            pl.DataFrame(
                {
                    "clip_id": ["c1", "c2"],
                    "mood": ["calm", None],
                    "metaxy_provenance_by_field": [{"default": "a"}, {"default": "b"}],
                }
            ),
        )
    project = open_project(db=store_path)
    pager = pager_for(project)
    try:
        view = pager.open_view(ViewSpec("clip"))
        assert [c.name for c in view.columns][:2] == ["clip_id", "mood"]
        assert column(view, pager.page(view, 0), "mood")[0] == "calm"
    finally:
        pager.close()
        project.close()


def test_default_view_is_current_rows_in_id_order(shop):
    pager = pager_for(shop)
    view = pager.open_view(ViewSpec("shop/item"))
    assert view.count == 5  # i05 soft-deleted
    rows = pager.page(view, 0)
    assert column(view, rows, "item_id") == ["i01", "i02", "i03", "i04", "i06"]
    i02 = rows[1]
    assert view.cell_text(i02, view.column_index("price")) == "2.5"  # the latest row, not the superseded one
    assert view.cell_text(i02, view.column_index("feature version")) == shop.graph.feature_version("shop/item")[:8]
    assert view.copy_text(i02, view.column_index("feature version")) == shop.graph.feature_version("shop/item")
    assert view.ids_of(i02) == {"item_id": "i02"}
    pager.close()


def test_count_later_shows_the_first_page_first(shop):
    pager = pager_for(shop)
    view = pager.open_view(ViewSpec("shop/item"), count=False)
    assert view.count is None
    assert len(pager.page(view, 0)) == 5
    assert pager.count(view).count == 5


@pytest.mark.parametrize("size", [7, 200])
def test_pages_agree_whatever_the_route(demo_store, size):
    """Forward keyset, backward keyset, OFFSET from either end: the same rows in the same order."""
    project = open_project(db=demo_store)
    reference = project.store.conn.execute(
        'SELECT video_id, chunk_id FROM "video__chunk" WHERE "_mx_superseded" IS NULL AND "metaxy_deleted_at" IS NULL '
        "ORDER BY video_id, chunk_id"
    ).fetchall()
    pager = pager_for(project, size)
    view = pager.open_view(ViewSpec("video/chunk"))
    assert view.count == len(reference)

    def ids(rows):
        return [tuple(r[1:3]) for r in rows]

    forward = [r for p in range(view.pages) for r in ids(pager.page(view, p))]
    assert forward == reference
    view = pager.open_view(ViewSpec("video/chunk"))  # fresh: no keyset bounds known
    backward = [ids(pager.page(view, p)) for p in reversed(range(view.pages))]
    assert [r for page in reversed(backward) for r in page] == reference
    view = pager.open_view(ViewSpec("video/chunk"))
    # jumps: from either end, then from the nearest page fetched (keyset plus a short OFFSET)
    for p in (
        view.pages - 1,
        view.pages // 2,
        1,
        view.pages // 3,
        view.pages // 2 + 3,
        view.pages // 3 - 2,
        view.pages - 4,
        4,
    ):
        assert ids(pager.page(view, p)) == reference[p * size : (p + 1) * size], p
    view = pager.open_view(ViewSpec("video/chunk", sort="video_id", descending=True))
    for p in (view.pages // 2, view.pages // 2 + 2, view.pages // 2 - 3, view.pages - 1, 0):
        assert ids(pager.page(view, p)) == reference[::-1][p * size : (p + 1) * size], p
    pager.close()
    project.close()


def test_descending_first_id_column_walks_the_index_backwards(demo_store):
    project = open_project(db=demo_store)
    pager = pager_for(project, 50)
    asc = pager.open_view(ViewSpec("video/chunk"))
    first_asc = pager.page(asc, 0)
    last_asc = pager.page(asc, asc.pages - 1)
    desc = pager.open_view(ViewSpec("video/chunk", sort="video_id", descending=True))
    assert desc.index_order and desc.count == asc.count
    assert [r[1:3] for r in pager.page(desc, 0)][:3] == [r[1:3] for r in reversed(last_asc)][:3]
    assert [r[1:3] for r in pager.page(desc, desc.pages - 1)][-1] == first_asc[0][1:3]
    assert [r[1:3] for r in pager.page(desc, 1)][0] < [r[1:3] for r in pager.page(desc, 0)][-1]
    pager.close()


# ----- sorting and filtering ------------------------------------------------------------------


def test_sort_by_a_user_column_ties_broken_by_ids(shop):
    pager = pager_for(shop)
    view = pager.open_view(ViewSpec("shop/item", sort="price"))
    assert not view.index_order and view.count == 5
    rows = pager.page(view, 0)
    assert column(view, rows, "item_id") == ["i03", "i06", "i01", "i04", "i02"]
    view = pager.open_view(ViewSpec("shop/item", sort="price", descending=True))
    assert column(view, pager.page(view, 0), "item_id") == ["i02", "i04", "i01", "i06", "i03"]


def test_sort_nulls_and_system_columns(shop):
    pager = pager_for(shop)
    view = pager.open_view(ViewSpec("shop/item", sort="note"))
    assert column(view, pager.page(view, 0), "note") == [None, "100% juicy", "a_b", "ab", "x"]
    view = pager.open_view(ViewSpec("shop/item", sort="updated", descending=True))
    assert column(view, pager.page(view, 0), "item_id")[0] == "i02"  # rewritten last
    view = pager.open_view(ViewSpec("shop/item", sort="feature version"))  # one version: the id order
    assert view.index_order and column(view, pager.page(view, 0), "item_id")[0] == "i01"


def test_sort_by_unknown_column_is_refused(shop):
    with pytest.raises(ValueError, match="no column"):
        pager_for(shop).open_view(ViewSpec("shop/item", sort="nope"))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("PEAR", ["i02"]),  # case-insensitive, any id or user column
        ("i0", ["i01", "i02", "i03", "i04", "i06"]),
        ("%", ["i02"]),  # wildcards are literal
        ("a_b", ["i03"]),
        ("_", ["i03"]),
        ("2.5", ["i02"]),  # numbers as stored
        ("name: i", ["i04", "i06"]),  # one column only: kiwi, lime (every item_id has an i)
        ("nope: pear", []),  # not a column: searched as plain text
    ],
)
def test_filter(shop, text, expected):
    pager = pager_for(shop)
    view = pager.open_view(ViewSpec("shop/item", filter=text))
    assert column(view, pager.page(view, 0), "item_id") == expected
    assert view.count == len(expected)


def test_plain_filter_skips_hashes_but_a_named_column_searches_them(shop):
    pager = pager_for(shop)
    assert pager.open_view(ViewSpec("shop/item", filter="q-i02")).count == 0
    view = pager.open_view(ViewSpec("shop/item", filter="provenance.default: q-i02"))
    assert view.count == 1
    today = format_time(pager.page(view, 0)[0][1 + view.column_index("created")])[:10]
    assert pager.open_view(ViewSpec("shop/item", filter=f"created: {today}")).count == 5


def test_filter_without_match_says_so(shop):
    view = pager_for(shop).open_view(ViewSpec("shop/item", filter="zzz"))
    assert view.count == 0 and "zzz" in view.note


def test_filter_and_sort_together(shop):
    pager = pager_for(shop)
    view = pager.open_view(ViewSpec("shop/item", sort="price", descending=True, filter="p"))
    assert column(view, pager.page(view, 0), "item_id") == ["i02", "i01", "i03"]  # pear, apple, plum


def test_old_views_are_refused_once_replaced(shop):
    pager = pager_for(shop)
    old = pager.open_view(ViewSpec("shop/item", sort="price"))
    pager.open_view(ViewSpec("shop/item"))
    with pytest.raises(StaleView):
        pager.page(old, 0)


def test_a_build_can_be_interrupted(shop):
    pager = pager_for(shop)
    pager.open_view(ViewSpec("shop/item"))
    pager._connection().set_progress_handler(lambda: 1, 1)  # what connection.interrupt() does, deterministically
    with pytest.raises(Interrupted):
        pager.open_view(ViewSpec("shop/item", sort="price"))
    pager._connection().set_progress_handler(None, 1)
    assert pager.open_view(ViewSpec("shop/item", sort="price")).count == 5


def test_interrupt_from_another_thread_is_safe_when_idle(shop):
    pager = pager_for(shop)
    pager.open_view(ViewSpec("shop/item"))
    t = threading.Thread(target=pager.interrupt)
    t.start()
    t.join()
    assert pager.open_view(ViewSpec("shop/item", sort="name")).count == 5


# ----- what is not current ------------------------------------------------------------------


def test_definition_change_hides_old_rows_and_says_why(graph, store_path):
    declare("1")
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write("shop/item", items())
    g2 = mx.FeatureGraph()
    with g2.use():
        declare("2")
    project = open_project(db=store_path)
    pager = project.store.sample_pages(g2)
    view = pager.open_view(ViewSpec("shop/item"))
    assert view.count == 0
    assert "earlier versions" in view.note and "6" in view.note


def test_feature_without_table(graph, store_path):
    declare()
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write("shop/item", items())
    project = open_project(db=store_path)
    project.graph = graph
    view = project.store.sample_pages(graph).open_view(ViewSpec("shop/stock"))
    assert view.count == 0 and "no stored samples" in view.note


def test_the_pager_never_writes_and_reads_during_writes(shop):
    pager = pager_for(shop)
    view = pager.open_view(ViewSpec("shop/item"))
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        pager._connection().execute("CREATE TABLE x (a)")
    shop.store.write("shop/item", items([("i07", "date", 4.0, None)]))
    assert len(pager.page(view, 0)) >= 5
    assert pager.open_view(ViewSpec("shop/item")).count == 6


# ----- finding ids ------------------------------------------------------------------------------


def test_position_of(shop):
    pager = pager_for(shop)
    view = pager.open_view(ViewSpec("shop/stock"))
    assert pager.position_of(view, {"shop": "south", "item_id": "i02"}) == 4
    assert pager.jump_to(view, {"shop": "south", "item_id": "i02"}) == 4
    assert pager.position_of(view, {"shop": "south", "item_id": "zzz"}) is None
    view = pager.open_view(ViewSpec("shop/stock", sort="count", descending=True))
    assert pager.position_of(view, {"shop": "north", "item_id": "i03"}) == 1
    view = pager.open_view(ViewSpec("shop/stock", filter="south"))
    assert pager.position_of(view, {"shop": "north", "item_id": "i01"}) is None
    view = pager.open_view(ViewSpec("shop/stock", sort="shop", descending=True))
    assert pager.position_of(view, {"shop": "north", "item_id": "i03"}) == 3
    with pytest.raises(ValueError, match="missing"):
        pager.position_of(view, {"shop": "north"})


def test_position_of_soft_deleted_is_none(shop):
    pager = pager_for(shop)
    view = pager.open_view(ViewSpec("shop/item"))
    assert pager.position_of(view, {"item_id": "i05"}) is None
    assert pager.position_of(view, {"item_id": "i06"}) == 4


def test_position_of_rowid_follows_a_row_across_sorts(shop):
    pager = pager_for(shop)
    view = pager.open_view(ViewSpec("shop/item"))
    rowid = pager.page(view, 0)[3][0]  # i04
    view = pager.open_view(ViewSpec("shop/item", sort="price", descending=True))
    assert pager.position_of_rowid(view, rowid) == 1
    view = pager.open_view(ViewSpec("shop/item"))
    assert pager.position_of_rowid(view, rowid) == 3
    assert pager.position_of_rowid(view, 10_000) is None


def test_parse_ids(shop):
    stock = shop.graph.feature_plan("shop/stock")
    assert parse_ids(stock, "north, i01") == {"shop": "north", "item_id": "i01"}
    assert parse_ids(stock, "item_id=i01, shop=south") == {"shop": "south", "item_id": "i01"}
    for bad, message in [
        ("north", "2 id columns"),
        ("", "type"),
        ("shop=a, x=b", "not an id column"),
        ("shop=a", "missing"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_ids(stock, bad)


def test_parse_ids_converts_types(demo_store):
    project = open_project(db=demo_store)
    chunk = project.graph.feature_plan("video/chunk")
    assert parse_ids(chunk, "v0001, 3") == {"video_id": "v0001", "chunk_id": 3}
    with pytest.raises(ValueError, match="chunk_id is int"):
        parse_ids(chunk, "v0001, three")


def test_formatting():
    assert format_value(None) == ""
    assert format_value(2.0) == "2.0"
    assert format_value(1, ColumnType("bool")) == "true"
    assert format_value("2024-01-02T03:04:05.000000", ColumnType("datetime")) == "2024-01-02 03:04:05"
    assert format_value(b"abc") == "<3 bytes>"
    assert format_time(0) == "1970-01-01 00:00:00"
    assert iso_time(1_500_000) == "1970-01-01T00:00:01.500000Z"


# ----- export -----------------------------------------------------------------------------------


def test_export_csv_follows_the_view(shop, tmp_path):
    target = tmp_path / "items.csv"
    spec = ViewSpec("shop/item", sort="price", descending=True, filter="p")
    result = Exporter(shop.path, shop.graph, spec, target).run()
    assert result.rows == 3 and result.format == "csv" and target.exists()
    with open(target, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["item_id"] for r in rows] == ["i02", "i01", "i03"]
    assert list(rows[0])[:4] == ["item_id", "name", "price", "note"]
    assert "metaxy_provenance_by_field.default" in rows[0] and "metaxy_created_at" in rows[0]
    assert rows[0]["metaxy_feature_version"] == shop.graph.feature_version("shop/item")
    assert rows[1]["note"] == ""


def test_export_parquet_keeps_types(shop, tmp_path):
    target = tmp_path / "items.parquet"
    progress = []
    result = Exporter(shop.path, shop.graph, ViewSpec("shop/item"), target).run(
        lambda n, total: progress.append((n, total))
    )
    df = pl.read_parquet(target)
    assert result.rows == 5 and df.height == 5
    assert df.schema["price"] == pl.Float64 and df.schema["note"] == pl.String
    assert df.schema["metaxy_created_at"] == pl.Datetime("us", "UTC")
    assert df.get_column("item_id").to_list() == ["i01", "i02", "i03", "i04", "i06"]
    assert progress[-1] == (5, 5)


def test_export_typed_user_columns(demo_store, tmp_path):
    project = open_project(db=demo_store)
    target = tmp_path / "audio.parquet"
    Exporter(project.path, project.graph, ViewSpec("audio", filter="spk_019"), target).run()
    df = pl.read_parquet(target)
    assert df.schema["recorded_at"] == pl.Datetime("us") and df.schema["sample_rate"] == pl.Int64
    assert set(df.get_column("speaker_id")) == {"spk_019"}


def test_export_of_an_empty_view_has_the_columns(shop, tmp_path):
    target = tmp_path / "none.parquet"
    assert Exporter(shop.path, shop.graph, ViewSpec("shop/item", filter="zzz"), target).run().rows == 0
    assert pl.read_parquet(target).columns[0] == "item_id"


def test_cancelled_export_leaves_nothing(shop, tmp_path):
    target = tmp_path / "items.csv"
    target.write_text("keep me")
    exporter = Exporter(shop.path, shop.graph, ViewSpec("shop/item"), target, batch_rows=1)

    def progress(n, total):
        exporter.cancel()

    with pytest.raises(Interrupted):
        exporter.run(progress)
    assert target.read_text() == "keep me"
    assert list(tmp_path.glob(".*part")) == []


def test_export_refuses_bad_targets(shop, tmp_path):
    with pytest.raises(ValueError, match="choose a .csv, .parquet or .json file"):
        Exporter(shop.path, shop.graph, ViewSpec("shop/item"), tmp_path / "x.txt")
    with pytest.raises(ValueError, match="does not exist"):
        Exporter(shop.path, shop.graph, ViewSpec("shop/item"), tmp_path / "no" / "x.csv").run()
    assert format_of("a.PQ") == "parquet" and format_of("a") is None
    assert default_export_path("video/chunk", "csv").name == "video__chunk.csv"
    assert export_name(feature_columns(shop.graph.feature_plan("shop/item"))[4]) == "metaxy_provenance"


# ----- export in a child process ----------------------------------------------------------------


def test_export_job_round_trips_as_json(shop, tmp_path):
    job = ExportJob.of(shop.path, shop.graph, ViewSpec("shop/item", sort="price", filter="p"), tmp_path / "a.pq")
    assert job.format == "parquet"
    assert ExportJob.from_json(job.to_json()) == job


def test_export_in_a_child_process(shop, tmp_path):
    target = tmp_path / "items.csv"
    progress = []
    job = ExportJob.of(shop.path, shop.graph, ViewSpec("shop/item", sort="name"), target)
    result = ExportProcess(job).run(lambda n, total: progress.append((n, total)))
    assert result.rows == 5 and result.path == target
    assert [r.split(",")[0] for r in target.read_text().splitlines()[1:]] == ["i01", "i04", "i06", "i02", "i03"]
    assert progress[-1] == (5, 5)


def test_child_process_errors_come_back(shop, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        ExportProcess(ExportJob.of(shop.path, shop.graph, ViewSpec("shop/item"), tmp_path / "no" / "x.csv")).run()
    job = ExportJob.of(tmp_path / "missing.db", shop.graph, ViewSpec("shop/item"), tmp_path / "x.csv")
    with pytest.raises(ValueError, match="unable to open"):
        ExportProcess(job).run()
    assert not (tmp_path / "x.csv").exists()


def test_cancelling_the_child_process_leaves_nothing(graph, tmp_path):
    declare()
    n = 100_000
    with mx.SQLiteMetadataStore(tmp_path / "big.db") as store:
        store.write(
            "shop/item",
            pl.DataFrame(
                {
                    "item_id": [f"i{i:06d}" for i in range(n)],
                    "name": ["x"] * n,
                    "price": [1.0] * n,
                    "note": [None] * n,
                    "metaxy_provenance_by_field": [{"default": str(i)} for i in range(n)],
                },
                schema_overrides={"note": pl.String},
            ),
        )
    target = tmp_path / "big.csv"
    process = ExportProcess(ExportJob.of(tmp_path / "big.db", graph, ViewSpec("shop/item", sort="name"), target))
    seen = []

    def progress(done, total):
        seen.append(done)
        process.cancel()

    with pytest.raises(Interrupted):
        process.run(progress)
    assert seen and seen[0] < n
    assert not target.exists() and list(tmp_path.glob(".*part")) == []
    with pytest.raises(Interrupted):  # cancelled before it starts: no child at all
        process.run()


def test_the_samples_services_never_import_textual():
    import subprocess
    import sys

    code = (
        "import sys, metaxy_tui.service.samples, metaxy_tui.service.detail, metaxy_tui.service.export; "
        "print('textual' in sys.modules, 'pyarrow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["False", "False"]
