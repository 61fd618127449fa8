"""resolve_update through N:1 aggregation lineage: the seed's audio -> speaker/embedding."""

from __future__ import annotations

import polars as pl
import pytest
import xxhash

import metaxy_tui as mx
from tests.helpers import declare_seed


def H(text: str) -> str:
    return str(xxhash.xxh64_intdigest(text.encode("utf-8")))


def audio(*rows) -> pl.DataFrame:
    """audio(("a1", "s1", "a1_v1"), ...)"""
    return pl.DataFrame(
        [
            {
                "audio_id": a,
                "speaker_id": s,
                "duration_seconds": 1.0,
                "path": f"{a}.wav",
                "metaxy_provenance_by_field": {"default": p},
            }
            for a, s, p in rows
        ]
    )


SEED = [("a1", "s1", "a1_v1"), ("a2", "s1", "a2_v1"), ("a3", "s2", "a3_v1"), ("a4", "s2", "a4_v1")]


def embeddings(frames) -> pl.DataFrame:
    """What the seed pipeline writes: one row per speaker with the group's provenance."""
    df = pl.concat([f.to_polars() for f in frames])
    out = df.group_by("speaker_id", maintain_order=True).agg(
        pl.col("metaxy_provenance_by_field").first(), pl.col("metaxy_provenance").first()
    )
    return out.with_columns(pl.lit(512).alias("n_dim"), (pl.lit("emb/") + pl.col("speaker_id")).alias("path"))


def speakers(frame) -> list[str]:
    return sorted(set(frame.to_polars().get_column("speaker_id").to_list()))


def members(frame, speaker) -> list[str]:
    df = frame.to_polars().filter(pl.col("speaker_id") == speaker)
    return sorted(df.get_column("audio_id").to_list())


@pytest.fixture
def seeded(make_store, store_path, graph):
    Audio, Emb = declare_seed()
    store = make_store(store_path)
    store.open("w")
    store.write(Audio, audio(*SEED))
    inc = store.resolve_update(Emb)
    store.write(Emb, embeddings([inc.added]))
    yield store, Audio, Emb
    store.close()


def group_provenance(store, Emb, speaker):
    return store.read(Emb).filter(pl.col("speaker_id") == speaker).get_column("metaxy_provenance").item()


def test_first_run_one_row_per_member(make_store, store_path, graph):
    Audio, Emb = declare_seed()
    with make_store(store_path) as store:
        store.write(Audio, audio(*SEED))
        inc = store.resolve_update(Emb)
    assert len(inc.added) == 4 and len(inc.changed) == 0 and len(inc.removed) == 0
    assert inc.counts["added"] == 2
    assert members(inc.added, "s1") == ["a1", "a2"] and members(inc.added, "s2") == ["a3", "a4"]
    df = inc.added.to_polars()
    # every member row of a group carries the group's provenance
    per_group = df.group_by("speaker_id").agg(pl.col("metaxy_provenance").n_unique().alias("n"))
    assert per_group.get_column("n").to_list() == [1, 1]
    assert df.filter(pl.col("speaker_id") == "s1").get_column("metaxy_provenance").item(0) != df.filter(
        pl.col("speaker_id") == "s2"
    ).get_column("metaxy_provenance").item(0)


def test_group_provenance_formula(make_store, store_path, graph):
    Audio, Emb = declare_seed()
    with make_store(store_path) as store:
        store.write(Audio, audio(("a2", "s1", "v2"), ("a1", "s1", "v1")))
        row = store.resolve_update(Emb).added.to_polars().row(0, named=True)
    group = H("v1|v2")  # members ordered by the upstream id column
    field = H("|".join(["embedding", "1", "audio.default", group]))
    assert row["metaxy_provenance_by_field"] == {"embedding": field}
    assert row["metaxy_provenance"] == H(field)


def test_members_are_ordered_by_upstream_ids_numerically(make_store, graph, store_path):
    class Take(mx.BaseFeature, spec=mx.FeatureSpec(key="take", id_columns=["take_no"])):
        take_no: int
        scene: str

    class Scene(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="scene",
            id_columns=["scene"],
            deps=[mx.FeatureDep(Take, lineage=mx.LineageRelationship.aggregation(on=["scene"]))],
        ),
    ):
        scene: str

    with make_store(store_path) as store:
        store.write(
            Take,
            pl.DataFrame(
                {
                    "take_no": [10, 2, 1],
                    "scene": ["s", "s", "s"],
                    "metaxy_provenance_by_field": [{"default": f"t{i}"} for i in (10, 2, 1)],
                }
            ),
        )
        row = store.resolve_update(Scene).added.to_polars().row(0, named=True)
    field = H("|".join(["default", "__metaxy_initial__", "take.default", H("t1|t2|t10")]))
    assert row["metaxy_provenance_by_field"] == {"default": field}


def test_rerun_is_empty(seeded):
    store, Audio, Emb = seeded
    assert store.resolve_update(Audio, samples=audio(*SEED)).is_empty
    assert store.resolve_update(Emb).is_empty


def test_member_changed(seeded):
    store, Audio, Emb = seeded
    before = group_provenance(store, Emb, "s1")
    other = group_provenance(store, Emb, "s2")
    store.write(Audio, audio(("a1", "s1", "a1_v2")))
    inc = store.resolve_update(Emb)
    assert len(inc.added) == 0 and len(inc.removed) == 0
    assert speakers(inc.changed) == ["s1"]
    assert members(inc.changed, "s1") == ["a1", "a2"]  # the seed prints "from 2 audio recordings"
    assert inc.counts["changed"] == 1
    store.write(Emb, embeddings([inc.changed]))
    assert group_provenance(store, Emb, "s1") != before
    assert group_provenance(store, Emb, "s2") == other
    assert store.resolve_update(Emb).is_empty


def test_member_added(seeded):
    store, Audio, Emb = seeded
    store.write(Audio, audio(("a5", "s1", "a5_v1")))
    inc = store.resolve_update(Emb)
    assert speakers(inc.changed) == ["s1"] and len(inc.added) == 0
    assert members(inc.changed, "s1") == ["a1", "a2", "a5"]


def test_new_group(seeded):
    store, Audio, Emb = seeded
    store.write(Audio, audio(("a9", "s3", "x")))
    inc = store.resolve_update(Emb)
    assert speakers(inc.added) == ["s3"] and len(inc.changed) == 0


def test_member_soft_deleted_then_rewritten(seeded):
    store, Audio, Emb = seeded
    original = group_provenance(store, Emb, "s1")
    store.delete(Audio, ids=[{"audio_id": "a2"}], soft=True)
    inc = store.resolve_update(Emb)
    assert speakers(inc.changed) == ["s1"] and members(inc.changed, "s1") == ["a1"]
    store.write(Emb, embeddings([inc.changed]))
    assert group_provenance(store, Emb, "s1") != original
    store.write(Audio, audio(("a2", "s1", "a2_v1")))  # the same member comes back
    inc = store.resolve_update(Emb)
    assert speakers(inc.changed) == ["s1"] and members(inc.changed, "s1") == ["a1", "a2"]
    assert set(inc.changed.to_polars().get_column("metaxy_provenance")) == {original}


def test_member_hard_deleted(seeded):
    store, Audio, Emb = seeded
    store.delete(Audio, ids=[{"audio_id": "a4"}], soft=False)
    inc = store.resolve_update(Emb)
    assert speakers(inc.changed) == ["s2"] and members(inc.changed, "s2") == ["a3"]


def test_member_moved_between_groups(seeded):
    store, Audio, Emb = seeded
    store.write(Audio, audio(("a2", "s2", "a2_v1")))  # same provenance, another speaker
    inc = store.resolve_update(Emb)
    assert speakers(inc.changed) == ["s1", "s2"]
    assert members(inc.changed, "s1") == ["a1"] and members(inc.changed, "s2") == ["a2", "a3", "a4"]


def test_whole_group_removed(seeded):
    store, Audio, Emb = seeded
    store.delete(Audio, ids=[{"audio_id": "a3"}, {"audio_id": "a4"}])
    inc = store.resolve_update(Emb)
    assert len(inc.added) == 0 and len(inc.changed) == 0
    assert inc.removed.to_polars().get_column("speaker_id").to_list() == ["s2"]
    assert sorted(store.read(Emb).get_column("speaker_id").to_list()) == ["s1", "s2"]


def test_member_count_matters(seeded):
    """A group whose members' values join to the same text must still differ by count."""
    store, Audio, Emb = seeded
    s1 = group_provenance(store, Emb, "s1")
    store.write(Audio, audio(("a0", "s1", "")))  # an empty provenance member
    inc = store.resolve_update(Emb)
    assert speakers(inc.changed) == ["s1"]
    assert set(inc.changed.to_polars().get_column("metaxy_provenance")) != {s1}


def test_embedding_code_version_bump_hides_old_rows(make_store, store_path):
    def build(cv):
        g = mx.FeatureGraph()
        with g.use():
            return (g, *declare_seed(embedding_cv=cv))

    g1, Audio1, Emb1 = build("1")
    with make_store(store_path, graph=g1) as store:
        store.write(Audio1, audio(*SEED))
        store.write(Emb1, embeddings([store.resolve_update(Emb1).added]))
    g2, Audio2, Emb2 = build("2")
    with make_store(store_path, graph=g2) as store:
        inc = store.resolve_update(Emb2)
        assert speakers(inc.added) == ["s1", "s2"] and len(inc.added) == 4
        assert len(inc.changed) == 0 and len(inc.removed) == 0
        assert store.read(Emb2).height == 0
        assert store.read(Emb2, all_feature_versions=True).height == 2


def test_aggregation_frames_go_back_to_the_store(seeded):
    """An aggregation frame has one row per member; its rows, given the downstream's own columns, store one
    sample per group (the upstream's member columns are not the downstream's)."""
    store, Audio, Emb = seeded
    store.write(Audio, audio(("a1", "s1", "a1_v2")))
    changed = store.resolve_update(Emb).changed.to_polars()
    out = changed.with_columns(pl.lit(512).alias("n_dim"), (pl.lit("emb/") + pl.col("speaker_id")).alias("path"))
    store.write(Emb, out)
    assert store.read(Emb).filter(pl.col("speaker_id") == "s1").height == 1
    assert store.resolve_update(Emb).is_empty
