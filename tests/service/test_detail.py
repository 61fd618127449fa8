"""sample_detail: provenance by field, history, and upstream/downstream samples by lineage."""

from __future__ import annotations

import polars as pl
import pytest

import metaxy_tui as mx
from metaxy_tui.errors import UnknownFeatureError
from metaxy_tui.service.detail import sample_detail
from metaxy_tui.service.project import open_project

PBF = "metaxy_provenance_by_field"
PROV = "metaxy_provenance"


def declare(label_version: str = "1"):
    class Item(mx.BaseFeature, spec=mx.FeatureSpec(key="shop/item", id_columns=["item_id"], fields=["default"])):
        item_id: str
        category: str
        name: str

    class Category(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="shop/category",
            id_columns=["category"],
            deps=[mx.FeatureDep(Item, lineage=mx.LineageRelationship.aggregation(on=["category"]))],
            fields=["summary"],
        ),
    ):
        category: str
        n_items: int

    class Label(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="shop/label",
            id_columns=["item_id"],
            deps=[Item],
            fields=[mx.FieldSpec("text", code_version=label_version)],
        ),
    ):
        item_id: str
        text: str

    class Part(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="shop/part",
            id_columns=["item_id", "part"],
            deps=[mx.FeatureDep(Item, lineage=mx.LineageRelationship.expansion(on=["item_id"]))],
            fields=["default"],
        ),
    ):
        item_id: str
        part: int

    return Item, Category, Label, Part


ITEMS = [("i1", "fruit", "apple"), ("i2", "fruit", "pear"), ("i3", "veg", "leek"), ("i4", "fruit", "fig")]


def item_frame(rows, tag="p", data_versions=None) -> pl.DataFrame:
    records = []
    for i, c, n in rows:
        r = {"item_id": i, "category": c, "name": n, PBF: {"default": f"{tag}-{i}"}}
        if data_versions is not None:
            r["metaxy_data_version_by_field"] = {"default": data_versions.get(i, f"{tag}-{i}")}
        records.append(r)
    return pl.DataFrame(records)


def materialize(store):
    cat = store.resolve_update("shop/category")
    todo = cat.added.to_polars()
    if todo.height:
        groups = todo.group_by("category", maintain_order=True).agg(
            pl.len().cast(pl.Int64).alias("n_items"), pl.col(PBF).first(), pl.col(PROV).first()
        )
        store.write("shop/category", groups)
    label = store.resolve_update("shop/label").added.to_polars()
    if label.height:
        store.write(
            "shop/label",
            label.select("item_id", PBF, PROV).with_columns(pl.format("label {}", pl.col("item_id")).alias("text")),
        )
    part = store.resolve_update("shop/part").added.to_polars()
    if part.height:
        rows = [
            {"item_id": r["item_id"], "part": k, PBF: r[PBF], PROV: r[PROV]}
            for r in part.iter_rows(named=True)
            for k in range(3)
        ]
        store.write("shop/part", pl.DataFrame(rows))


@pytest.fixture
def shop(graph, store_path):
    declare()
    store = mx.SQLiteMetadataStore(store_path)
    with store:
        store.write("shop/item", item_frame(ITEMS, data_versions={"i2": "content-i2"}))
        materialize(store)
        store.write("shop/item", item_frame([("i1", "fruit", "green apple")], tag="q"))  # i1 gets history
        store.delete("shop/item", ids=[{"item_id": "i4"}])
    project = open_project(db=store_path)
    project.graph = graph  # read with the code's graph
    yield project
    project.close()


def test_current_sample_with_provenance_by_field(shop):
    d = sample_detail(shop, "shop/item", {"item_id": "i2"})
    assert d.state == "current" and d.found
    assert d.values == {"category": "fruit", "name": "pear"}
    assert [f.field for f in d.fields] == ["default"]
    field = d.fields[0]
    assert field.provenance == "p-i2" and field.data_version == "content-i2"
    assert field.field_version == shop.graph.field_versions("shop/item")["default"]
    assert d.data_version is not None and d.data_version != d.provenance
    assert d.feature_version == d.current_feature_version
    assert d.created_at is not None and d.deleted_at is None


def test_history_is_every_row_by_write(shop):
    d = sample_detail(shop, "shop/item", {"item_id": "i1"})
    assert d.history_total == 2 and len(d.history) == 2
    first, latest = d.history
    assert first.write_id < latest.write_id
    assert first.superseded_by == latest.write_id and "superseded" in first.state
    assert latest.state == "latest" and latest.kind == "write"
    assert d.values["name"] == "green apple"


def test_soft_deleted_sample_shows_its_tombstone(shop):
    d = sample_detail(shop, "shop/item", {"item_id": "i4"})
    assert d.state == "deleted" and d.deleted_at is not None
    assert [h.kind for h in d.history] == ["write", "soft_delete"]
    assert d.history[-1].state == "deleted"


def test_unknown_ids_and_features(shop):
    d = sample_detail(shop, "shop/item", {"item_id": "nope"})
    assert d.state == "not stored" and not d.found and d.history == [] and d.upstream == d.downstream == []
    with pytest.raises(UnknownFeatureError):
        sample_detail(shop, "shop/nope", {"item_id": "i1"})
    with pytest.raises(ValueError, match="missing id column"):
        sample_detail(shop, "shop/part", {"item_id": "i1"})


def test_root_links_downstream_by_lineage(shop):
    d = sample_detail(shop, "shop/item", {"item_id": "i3"})
    assert d.upstream == []
    by_feature = {g.feature: g for g in d.downstream}
    assert set(by_feature) == {"shop/category", "shop/label", "shop/part"}
    cat = by_feature["shop/category"]
    assert cat.kind == "aggregation" and cat.relation == "the group it belongs to"
    assert [s.ref.ids for s in cat.samples] == [{"category": "veg"}] and cat.on == {"category": "veg"}
    label = by_feature["shop/label"]
    assert label.kind == "identity" and [s.ref.ids for s in label.samples] == [{"item_id": "i3"}]
    assert label.samples[0].values == {"text": "label i3"}
    part = by_feature["shop/part"]
    assert part.kind == "expansion" and part.total == 3 and part.relation == "its children"
    assert [s.ref.ids["part"] for s in part.samples] == [0, 1, 2]


def test_aggregation_lists_every_member_with_its_data_version(shop):
    d = sample_detail(shop, "shop/category", {"category": "fruit"})
    (members,) = d.upstream
    assert members.feature == "shop/item" and members.kind == "aggregation"
    assert members.relation == "the members of its group"
    # current members: i1 (rewritten), i2; i4 is soft-deleted
    assert [s.ref.ids for s in members.samples] == [{"item_id": "i1"}, {"item_id": "i2"}]
    assert members.samples[1].data_version_by_field == {"default": "content-i2"}
    assert members.samples[0].data_version_by_field == {"default": "q-i1"}
    assert members.samples[0].data_version == members.samples[0].provenance
    assert d.downstream == []


def test_identity_and_expansion_upstream(shop):
    label = sample_detail(shop, "shop/label", {"item_id": "i2"})
    (up,) = label.upstream
    assert up.kind == "identity" and [s.ref.ids for s in up.samples] == [{"item_id": "i2"}]
    part = sample_detail(shop, "shop/part", {"item_id": "i3", "part": 1})
    (parent,) = part.upstream
    assert parent.kind == "expansion" and parent.relation == "its parent"
    assert [s.ref.ids for s in parent.samples] == [{"item_id": "i3"}]
    assert parent.samples[0].values == {"category": "veg", "name": "leek"}


def test_upstream_gone_is_explained(shop):
    d = sample_detail(shop, "shop/label", {"item_id": "i4"})  # its item was soft-deleted
    (up,) = d.upstream
    assert up.samples == [] and up.total == 0 and "no current sample" in up.note


def test_link_limit_counts_the_rest(shop):
    d = sample_detail(shop, "shop/item", {"item_id": "i3"}, link_limit=2)
    part = next(g for g in d.downstream if g.feature == "shop/part")
    assert len(part.samples) == 2 and part.total == 3


def test_earlier_version_after_a_definition_change(graph, store_path):
    declare("1")
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write("shop/item", item_frame(ITEMS))
        materialize(store)
    g2 = mx.FeatureGraph()
    with g2.use():
        declare("2")  # shop/label's field changes: a new feature version
    project = open_project(db=store_path)
    project.graph = g2
    d = sample_detail(project, "shop/label", {"item_id": "i1"})
    assert d.state == "earlier version"
    assert d.feature_version is not None and d.feature_version != d.current_feature_version
    assert d.history and not d.history[0].current_version
    assert "under an earlier version" in d.history[0].state
    item = sample_detail(project, "shop/item", {"item_id": "i1"})
    label = next(g for g in item.downstream if g.feature == "shop/label")
    assert label.samples == [] and "current feature version" in label.note


def test_demo_store_lineage(demo_store):
    project = open_project(db=demo_store)
    chunk = sample_detail(project, "video/chunk", {"video_id": "v0001", "chunk_id": 2})
    assert [g.feature for g in chunk.upstream] == ["video"]
    assert [g.feature for g in chunk.downstream] == ["video/face_detection", "video/transcript"]
    assert chunk.upstream[0].samples[0].data_version_by_field.keys() == {"audio", "frames"}
    video = sample_detail(project, "video", {"video_id": "v0001"})
    assert video.downstream[0].total == 55
    project.close()
