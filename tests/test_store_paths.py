"""Store files whose path holds characters that mean something in a URI."""

from __future__ import annotations

import polars as pl
import pytest

import metaxy_tui as mx
from metaxy_tui.service.demo import build_demo, open_demo_project
from metaxy_tui.service.samples import ViewSpec, open_pages


@pytest.mark.parametrize("name", ["data#1.db", "what?.db", "100%.db", "a b.db"])
def test_a_store_path_with_uri_characters_opens_read_only_too(tmp_path, name):
    graph = mx.FeatureGraph()
    with graph.use():

        class Clip(mx.BaseFeature, spec=mx.FeatureSpec(key="clip", id_columns=["clip_id"], fields=["default"])):
            clip_id: str

    path = tmp_path / name
    with mx.SQLiteMetadataStore(path, graph=graph) as s:
        s.write_metadata(
            "clip", pl.DataFrame({"clip_id": ["c1", "c2"], "metaxy_provenance_by_field": [{"default": "p"}] * 2})
        )
    with mx.SQLiteMetadataStore(path, graph=graph).open("r") as s:
        assert sorted(s.read_metadata("clip").get_column("clip_id")) == ["c1", "c2"]
        assert s.resolve_update(
            "clip",
            samples=pl.DataFrame({"clip_id": ["c1", "c2"], "metaxy_provenance_by_field": [{"default": "p"}] * 2}),
        ).is_empty


def test_the_demo_in_a_folder_with_a_hash_in_its_name(tmp_path):
    path = tmp_path / "runs#2" / "demo.db"
    path.parent.mkdir()
    build_demo(path)
    build_demo(path)  # recognised as a demo store, so it may be rebuilt
    project = open_demo_project(path)
    try:
        assert project.store.read_metadata("audio").height > 0
        pager = open_pages(project)  # the TUI's own read-only connection
        try:
            assert pager.count(pager.open_view(ViewSpec("audio"))).count == project.store.read_metadata("audio").height
        finally:
            pager.close()
    finally:
        project.close()


def test_a_store_keeps_the_hash_it_was_created_with(tmp_path):
    """Opened without a setting it hashes as created; asked for another setting it refuses, naming both."""
    import pytest

    import metaxy_tui as mx
    from metaxy_tui.errors import StoreError

    path = tmp_path / "hashed.db"
    with mx.SQLiteMetadataStore(path, hash_algorithm="md5"):
        pass
    again = mx.SQLiteMetadataStore(path)
    with again:
        assert again.hasher.algorithm.value == "md5"
    with pytest.raises(StoreError, match=r"hashes with md5.*but xxhash64.*was asked for"):
        mx.SQLiteMetadataStore(path, hash_algorithm="xxhash64").open("r")
