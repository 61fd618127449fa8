"""Property tests: order independence, idempotent resolving, and the two hash implementations."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

import metaxy_tui as mx
from metaxy_tui.hashing import Hasher, HashAlgorithm

# HYPOTHESIS_MAX=300 runs more examples by hand
# on the profile loaded by tests/conftest.py (fixed seed and stored examples in CI)
SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_MAX", "25")))

G = mx.FeatureGraph()
with G.use():

    class Item(mx.BaseFeature, spec=mx.FeatureSpec(key="item", id_columns=["item_id"], fields=["a", "b"])):
        item_id: str
        grp: str

    class ItemCopy(
        mx.BaseFeature, spec=mx.FeatureSpec(key="item/copy", id_columns=["item_id"], deps=[Item], fields=["a", "b"])
    ):
        item_id: str

    class Group(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="group",
            id_columns=["grp"],
            deps=[mx.FeatureDep(Item, lineage=mx.LineageRelationship.aggregation(on=["grp"]))],
            fields=[mx.FieldSpec("summary", code_version="3")],
        ),
    ):
        grp: str


ids_st = st.text(alphabet="abcxyz0123_-é", min_size=1, max_size=4)
prov_st = st.text(min_size=0, max_size=6)


@st.composite
def item_rows(draw, min_size=1):
    ids = draw(st.lists(ids_st, min_size=min_size, max_size=8, unique=True))
    return [
        {
            "item_id": i,
            "grp": draw(st.sampled_from(["g1", "g2", "g3"])),
            "metaxy_provenance_by_field": {"a": draw(prov_st), "b": draw(prov_st)},
        }
        for i in ids
    ]


def frame(rows) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "item_id": pl.String,
            "grp": pl.String,
            "metaxy_provenance_by_field": pl.Struct({"a": pl.String, "b": pl.String}),
        },
    )


def provenance_by(df: pl.DataFrame, key: str) -> dict:
    return dict(df.select(key, "metaxy_provenance").unique().rows())


def resolved(rows_in_write_order, split: int) -> tuple[dict, dict, dict]:
    """Write the items in two batches in the given order; provenance per id of root, copy and group."""
    with tempfile.TemporaryDirectory() as tmp:
        with mx.SQLiteMetadataStore(Path(tmp) / "p.db", graph=G) as store:
            root = provenance_by(
                store.resolve_update(Item, samples=frame(rows_in_write_order)).added.to_polars(), "item_id"
            )
            store.write(Item, frame(rows_in_write_order[:split]))
            if rows_in_write_order[split:]:
                store.write(Item, frame(rows_in_write_order[split:]))
            copy = provenance_by(store.resolve_update(ItemCopy).added.to_polars(), "item_id")
            groups = provenance_by(store.resolve_update(Group).added.to_polars(), "grp")
    return root, copy, groups


@SETTINGS
@given(rows=item_rows(), data=st.data())
def test_same_rows_in_any_order_give_the_same_provenance(rows, data):
    order = data.draw(st.permutations(rows))
    split_a = data.draw(st.integers(1, len(rows)))
    split_b = data.draw(st.integers(1, len(rows)))
    first = resolved(rows, split_a)
    second = resolved(list(order), split_b)
    assert first == second
    root, copy, groups = first
    assert set(root) == set(copy) == {r["item_id"] for r in rows}
    assert set(groups) == {r["grp"] for r in rows}


def write_back(store, feature, inc, one_per: str | None = None):
    for part in (inc.added, inc.changed):
        df = part.to_polars()
        if one_per is not None:
            df = df.unique(one_per, keep="first").select(one_per, "metaxy_provenance_by_field", "metaxy_provenance")
        if df.height:
            store.write(feature, df)
    removed = inc.removed.to_polars()
    if removed.height:
        key = list(feature.spec().id_columns)
        store.delete(feature, ids=removed.select(key))


@SETTINGS
@given(rounds=st.lists(item_rows(min_size=0), min_size=1, max_size=3))
def test_resolving_after_writing_back_is_empty(rounds):
    with tempfile.TemporaryDirectory() as tmp:
        with mx.SQLiteMetadataStore(Path(tmp) / "p.db", graph=G) as store:
            for rows in rounds:
                samples = frame(rows)
                write_back(store, Item, store.resolve_update(Item, samples=samples))
                assert store.resolve_update(Item, samples=samples).is_empty
                assert sorted(store.read(Item).get_column("item_id").to_list()) == sorted(r["item_id"] for r in rows)
                for feature, one_per in ((ItemCopy, None), (Group, "grp")):
                    inc = store.resolve_update(feature)
                    assert store.pending_counts(feature) == inc.counts  # the lean path agrees
                    write_back(store, feature, inc, one_per=one_per)
                    assert store.resolve_update(feature).is_empty
                    assert store.pending_counts(feature) == {"added": 0, "changed": 0, "removed": 0}
                # only provenance is compared, so an item that moved group with the same provenance keeps
                # its stored group: the groups are those of the stored items
                stored_groups = set(store.read(Item).get_column("grp").to_list())
                assert sorted(store.read(Group).get_column("grp").to_list()) == sorted(stored_groups)


@SETTINGS
@given(
    texts=st.lists(st.text(max_size=40), min_size=1, max_size=20),
    algorithm=st.sampled_from(list(HashAlgorithm)),
    truncation=st.one_of(st.none(), st.integers(min_value=1, max_value=70)),
)
def test_vectorised_hash_equals_scalar_hash(texts, algorithm, truncation):
    h = Hasher(algorithm, truncation)
    vector = pl.DataFrame({"s": texts}, schema={"s": pl.String}).select(h.expr(pl.col("s"))).to_series().to_list()
    assert vector == [h.hash(t) for t in texts]


@SETTINGS
@given(parts=st.lists(st.text(max_size=10), min_size=1, max_size=5), algorithm=st.sampled_from(list(HashAlgorithm)))
def test_join_expr_is_hash_of_pipe_joined(parts, algorithm):
    h = Hasher(algorithm, None)
    df = pl.DataFrame(
        {f"c{i}": [p] for i, p in enumerate(parts)}, schema={f"c{i}": pl.String for i in range(len(parts))}
    )
    got = df.select(h.join_expr([pl.col(c) for c in df.columns])).item()
    assert got == h.hash("|".join(parts))


def test_hash_algorithms_are_the_documented_ones():
    """xxhash: unsigned decimal, seed 0; sha256 and md5: lowercase hex; truncation cuts the string."""
    import hashlib

    import xxhash

    text = "speaker/embedding|ünïcode"
    raw = text.encode("utf-8")
    assert Hasher("xxhash64").hash(text) == str(xxhash.xxh64_intdigest(raw, seed=0))
    assert Hasher("xxhash32").hash(text) == str(xxhash.xxh32_intdigest(raw, seed=0))
    assert Hasher("sha256").hash(text) == hashlib.sha256(raw).hexdigest()
    assert Hasher("md5").hash(text) == hashlib.md5(raw).hexdigest()
    assert Hasher("xxhash64").hash("") == "17241709254077376921"
    assert Hasher("xxhash32", 8).hash(text) == str(xxhash.xxh32_intdigest(raw))[:8]
    assert Hasher("sha256", 3).hash(text) == hashlib.sha256(raw).hexdigest()[:3]
