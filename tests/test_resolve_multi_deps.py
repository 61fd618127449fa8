"""resolve_update for features with several deps: joins, optional deps, field-level parents."""

from __future__ import annotations

import polars as pl
import pytest
import xxhash

import metaxy_tui as mx

INITIAL = "__metaxy_initial__"


def H(text: str) -> str:
    return str(xxhash.xxh64_intdigest(text.encode("utf-8")))


def rows(field: str, **prov) -> pl.DataFrame:
    return pl.DataFrame({"id": list(prov), "metaxy_provenance_by_field": [{field: p} for p in prov.values()]})


def ids(frame) -> list:
    return sorted((frame.to_polars() if hasattr(frame, "to_polars") else frame).get_column("id").to_list())


@pytest.fixture
def two_roots(graph):
    class Audio(mx.BaseFeature, spec=mx.FeatureSpec(key="audio", id_columns=["id"], fields=["audio"])):
        id: str
        audio_path: str | None

    class Frames(mx.BaseFeature, spec=mx.FeatureSpec(key="frames", id_columns=["id"], fields=["frames"])):
        id: str
        frames_path: str | None

    return Audio, Frames


def test_required_deps_are_inner_joined(make_store, two_roots, store_path):
    Audio, Frames = two_roots

    class Both(
        mx.BaseFeature,
        spec=mx.FeatureSpec(key="both", id_columns=["id"], deps=[Audio, Frames], fields=["audio", "frames"]),
    ):
        id: str

    with make_store(store_path) as store:
        store.write(Audio, rows("audio", x="a1", y="a2"))
        store.write(Frames, rows("frames", y="f2", z="f3"))
        inc = store.resolve_update(Both)
        assert ids(inc.added) == ["y"]
        store.write(Both, inc.added)
        store.write(Frames, rows("frames", x="f1"))
        assert ids(store.resolve_update(Both).added) == ["x"]
        store.delete(Audio, ids=[{"id": "y"}])
        assert ids(store.resolve_update(Both).removed) == ["y"]


def test_automatic_field_mapping_across_deps(two_roots):
    """Per dep: the upstream field with the same key, else all of that dep's fields."""
    Audio, Frames = two_roots

    class Both(
        mx.BaseFeature,
        spec=mx.FeatureSpec(key="both", id_columns=["id"], deps=[Audio, Frames], fields=["audio", "frames", "other"]),
    ):
        id: str

    parents = mx.FeatureGraph.get_active().feature_plan(Both).field_parents
    assert parents["audio"] == (("audio", "audio"), ("frames", "frames"))
    assert parents["frames"] == (("audio", "audio"), ("frames", "frames"))
    assert parents["other"] == (("audio", "audio"), ("frames", "frames"))


def test_field_level_parents_across_deps(make_store, two_roots, store_path):
    Audio, Frames = two_roots

    class Both(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="both",
            id_columns=["id"],
            deps=[Audio, Frames],
            fields=[
                mx.FieldSpec("a", deps=[mx.FieldDep(Audio, ["audio"])]),
                mx.FieldSpec("f", deps=[mx.FieldDep(Frames, ["frames"])]),
            ],
        ),
    ):
        id: str

    class AudioOnly(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="audio_only",
            id_columns=["id"],
            deps=[Audio, Frames],
            fields=[mx.FieldSpec("out", deps=[mx.FieldDep(Audio, ["audio"])])],
        ),
    ):
        id: str

    with make_store(store_path) as store:
        store.write(Audio, rows("audio", x="a1"))
        store.write(Frames, rows("frames", x="f1"))
        first = store.resolve_update(Both).added.to_polars().row(0, named=True)
        assert first["metaxy_provenance_by_field"] == {
            "a": H("|".join(["a", INITIAL, "audio.audio", "a1"])),
            "f": H("|".join(["f", INITIAL, "frames.frames", "f1"])),
        }
        store.write(Both, store.resolve_update(Both).added)
        store.write(AudioOnly, store.resolve_update(AudioOnly).added)
        store.write(Frames, rows("frames", x="f1-new"))
        inc = store.resolve_update(Both)
        assert ids(inc.changed) == ["x"]
        after = inc.changed.to_polars().row(0, named=True)["metaxy_provenance_by_field"]
        assert after["a"] == first["metaxy_provenance_by_field"]["a"]
        assert after["f"] != first["metaxy_provenance_by_field"]["f"]
        assert store.resolve_update(AudioOnly).is_empty  # frames are a dep, but not a parent of "out"
        store.write(Audio, rows("audio", x="a1-new"))
        assert ids(store.resolve_update(AudioOnly).changed) == ["x"]


def test_optional_dep_is_left_joined_with_empty_string(make_store, two_roots, store_path):
    Audio, Frames = two_roots

    class Mixed(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="mixed",
            id_columns=["id"],
            deps=[Audio, mx.FeatureDep(Frames, optional=True)],
            fields=[mx.FieldSpec("out", deps=mx.ALL)],
        ),
    ):
        id: str

    with make_store(store_path) as store:
        store.write(Audio, rows("audio", x="a1", y="a2"))
        store.write(Frames, rows("frames", x="f1", z="f3"))
        inc = store.resolve_update(Mixed)
        assert ids(inc.added) == ["x", "y"]  # y has no frames yet: still expected; z has no audio: not
        by_id = {r["id"]: r for r in inc.added}
        assert by_id["y"]["frames_path"] is None
        want_y = H("|".join(["out", INITIAL, "audio.audio", "a2", "frames.frames", ""]))
        want_x = H("|".join(["out", INITIAL, "audio.audio", "a1", "frames.frames", "f1"]))
        assert by_id["y"]["metaxy_provenance_by_field"] == {"out": want_y}
        assert by_id["x"]["metaxy_provenance_by_field"] == {"out": want_x}
        store.write(Mixed, inc.added)
        assert store.resolve_update(Mixed).is_empty
        store.write(Frames, rows("frames", y="f2"))  # the optional input arrives
        assert ids(store.resolve_update(Mixed).changed) == ["y"]


def test_optional_dep_declared_first_is_still_left_joined(make_store, two_roots, store_path):
    Audio, Frames = two_roots

    class Mixed(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="mixed",
            id_columns=["id"],
            deps=[mx.FeatureDep(Frames, optional=True), Audio],
            fields=[mx.FieldSpec("out", deps=mx.ALL)],
        ),
    ):
        id: str

    with make_store(store_path) as store:
        store.write(Audio, rows("audio", x="a1", y="a2"))
        store.write(Frames, rows("frames", x="f1", z="f3"))
        assert ids(store.resolve_update(Mixed).added) == ["x", "y"]


def test_identity_plus_aggregation(make_store, graph, store_path):
    """A speaker profile joins the speaker's own row (identity) and all their audio (aggregation)."""

    class Speaker(mx.BaseFeature, spec=mx.FeatureSpec(key="speaker", id_columns=["speaker_id"], fields=["bio"])):
        speaker_id: str
        name: str

    class Audio(mx.BaseFeature, spec=mx.FeatureSpec(key="audio", id_columns=["audio_id"], fields=["wave"])):
        audio_id: str
        speaker_id: str

    class Profile(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="speaker/profile",
            id_columns=["speaker_id"],
            deps=[Speaker, mx.FeatureDep(Audio, lineage=mx.LineageRelationship.aggregation(on=["speaker_id"]))],
            fields=[mx.FieldSpec("profile", deps=mx.ALL)],
        ),
    ):
        speaker_id: str

    with make_store(store_path) as store:
        store.write(
            Speaker,
            pl.DataFrame(
                {
                    "speaker_id": ["s1", "s2"],
                    "name": ["Ann", "Bob"],
                    "metaxy_provenance_by_field": [{"bio": "b1"}, {"bio": "b2"}],
                }
            ),
        )
        store.write(
            Audio,
            pl.DataFrame(
                {
                    "audio_id": ["a1", "a2", "a3"],
                    "speaker_id": ["s1", "s1", "s2"],
                    "metaxy_provenance_by_field": [{"wave": w} for w in ("w1", "w2", "w3")],
                }
            ),
        )
        inc = store.resolve_update(Profile)
        assert inc.key == ("speaker_id",)
        df = inc.added.to_polars()
        assert sorted(df.select("speaker_id", "audio_id").rows()) == [("s1", "a1"), ("s1", "a2"), ("s2", "a3")]
        s1 = df.filter(pl.col("speaker_id") == "s1").row(0, named=True)
        assert s1["name"] == "Ann"
        assert s1["metaxy_provenance_by_field"] == {
            "profile": H("|".join(["profile", INITIAL, "audio.wave", H("w1|w2"), "speaker.bio", "b1"]))
        }
        profiles = df.unique("speaker_id").select("speaker_id", "metaxy_provenance_by_field", "metaxy_provenance")
        store.write(Profile, profiles)
        assert store.resolve_update(Profile).is_empty
        store.write(
            Speaker,
            pl.DataFrame({"speaker_id": ["s2"], "name": ["Bob"], "metaxy_provenance_by_field": [{"bio": "b2-new"}]}),
        )
        store.write(
            Audio,
            pl.DataFrame({"audio_id": ["a4"], "speaker_id": ["s1"], "metaxy_provenance_by_field": [{"wave": "w4"}]}),
        )
        assert sorted(set(store.resolve_update(Profile).changed.to_polars().get_column("speaker_id"))) == ["s1", "s2"]


def test_deps_joined_on_renamed_ids(make_store, graph, store_path):
    class Left(mx.BaseFeature, spec=mx.FeatureSpec(key="left", id_columns=["left_id"])):
        left_id: str

    class Right(mx.BaseFeature, spec=mx.FeatureSpec(key="right", id_columns=["right_id"])):
        right_id: str

    class Pair(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="pair",
            id_columns=["id"],
            deps=[mx.FeatureDep(Left, rename={"left_id": "id"}), mx.FeatureDep(Right, rename={"right_id": "id"})],
        ),
    ):
        id: str

    with make_store(store_path) as store:
        store.write(Left, pl.DataFrame({"left_id": ["1", "2"], "metaxy_provenance_by_field": [{"default": "l"}] * 2}))
        store.write(Right, pl.DataFrame({"right_id": ["2", "3"], "metaxy_provenance_by_field": [{"default": "r"}] * 2}))
        inc = store.resolve_update(Pair)
        assert inc.key == ("id",) and ids(inc.added) == ["2"]
