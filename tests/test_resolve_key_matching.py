"""Keys are matched through 64-bit hashes; a collision must never pair two different samples."""

from __future__ import annotations

import polars as pl

import metaxy_tui as mx
from metaxy_tui.store.sqlite import matching


def _features():
    class Item(mx.BaseFeature, spec=mx.FeatureSpec(key="item", id_columns=["item_id"])):
        item_id: str

    class Copy(mx.BaseFeature, spec=mx.FeatureSpec(key="item/copy", id_columns=["item_id"], deps=[Item])):
        item_id: str

    return Item, Copy


def _items(ids, version):
    return pl.DataFrame({"item_id": ids, "metaxy_provenance_by_field": [{"default": f"{i}-{version}"} for i in ids]})


def test_match_keys_pairs_only_equal_keys_even_when_every_hash_collides(monkeypatch):
    monkeypatch.setattr(matching, "_key_hash", lambda key: pl.lit(7, pl.UInt64).alias("__h"))
    left = pl.DataFrame({"k": ["a", "b", "c", "a"]})
    right = pl.DataFrame({"k": ["c", "x", "a"]})
    to_right, matched = matching.match_keys(left, right, ["k"])
    assert to_right.to_list() == [2, None, 0, 2]
    assert matched.to_list() == [True, False, True]


def test_resolve_is_exact_when_every_hash_collides(make_store, graph, store_path, monkeypatch):
    Item, Copy = _features()
    with make_store(store_path) as store:
        store.write(Item, _items(["a", "b", "c", "d"], 1))
        inc = store.resolve_update(Copy)
        store.write(Copy, inc.added)
        store.write(Item, _items(["b"], 2))  # b changed
        store.delete(Item, ids=[{"item_id": "d"}])  # d removed
        store.write(Item, _items(["e"], 1))  # e added
        honest = store.resolve_update(Copy)
        monkeypatch.setattr(matching, "_key_hash", lambda key: pl.lit(7, pl.UInt64).alias("__h"))
        colliding = store.resolve_update(Copy)
    for inc in (honest, colliding):
        assert inc.added.to_polars().get_column("item_id").to_list() == ["e"]
        assert inc.changed.to_polars().get_column("item_id").to_list() == ["b"]
        assert inc.removed.to_polars().get_column("item_id").to_list() == ["d"]
