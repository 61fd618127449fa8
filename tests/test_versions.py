"""Definition versions (SPEC §2): field, feature and project versions, without data."""

from __future__ import annotations

import hashlib

import pytest

import metaxy_tui as mx
from tests.helpers import INITIAL, declare_seed


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seed_graph(audio_cv: str = INITIAL, embedding_cv: str = "1", with_extras: bool = False):
    """The seed's two features (optionally with an unrelated root and a second level)."""
    g = mx.FeatureGraph()
    with g.use():
        _, SpeakerEmbedding = declare_seed(audio_cv, embedding_cv)

        if with_extras:

            class Report(
                mx.BaseFeature,
                spec=mx.FeatureSpec(
                    key="speaker/report", id_columns=["speaker_id"], deps=[SpeakerEmbedding], fields=["summary"]
                ),
            ):
                speaker_id: str

            class Unrelated(mx.BaseFeature, spec=mx.FeatureSpec(key="weather", id_columns=["day"])):
                day: str

    return g


def test_seed_versions():
    g = seed_graph()
    assert g.feature_version("audio")[:8] == "c9762705"
    assert g.field_versions("audio")["default"][:8] == "80200592"
    assert g.feature_version("speaker/embedding")[:8] == "83296faf"
    assert g.field_versions("speaker/embedding")["embedding"][:8] == "8b5b20fb"


def test_versions_are_full_sha256_hex_and_follow_the_formula():
    g = seed_graph()
    audio_field = sha("audio.default" + INITIAL)
    assert g.field_versions("audio") == {"default": audio_field}
    assert g.feature_version("audio") == sha("default" + audio_field)
    emb_field = sha("speaker/embedding.embedding" + "1" + audio_field)
    assert g.field_versions("speaker/embedding") == {"embedding": emb_field}
    emb = sha("embedding" + emb_field)
    assert g.feature_version("speaker/embedding") == emb
    assert g.project_version == sha("audio" + g.feature_version("audio") + "speaker/embedding" + emb)


def test_class_methods_match_the_graph():
    g = seed_graph()
    Audio = g.get_feature_by_key("audio")
    assert Audio.feature_version() == g.feature_version("audio")
    assert Audio.field_versions() == g.field_versions("audio")
    assert len(Audio.feature_version()) == 64 and int(Audio.feature_version(), 16) >= 0


def test_parent_fields_are_ordered_by_their_upstream_key_and_field():
    """Parents enter in sorted "<upstream>.<field>" order, whatever order the deps are declared in."""
    versions = []
    for order in (("b", "a"), ("a", "b")):
        g = mx.FeatureGraph()
        with g.use():
            for key in ("a", "b"):
                type(
                    key.upper(),
                    (mx.BaseFeature,),
                    {"__annotations__": {"id": str}},
                    spec=mx.FeatureSpec(key=key, id_columns=["id"], fields=["y", "x"]),
                )
            type(
                "C",
                (mx.BaseFeature,),
                {"__annotations__": {"id": str}},
                spec=mx.FeatureSpec(
                    key="c", id_columns=["id"], deps=list(order), fields=[mx.FieldSpec("out", deps="ALL")]
                ),
            )
        fv = g.field_versions
        expected = sha("c.out" + INITIAL + fv("a")["x"] + fv("a")["y"] + fv("b")["x"] + fv("b")["y"])
        assert fv("c")["out"] == expected
        versions.append(g.feature_version("c"))
    assert versions[0] == versions[1]


def test_feature_version_does_not_depend_on_field_declaration_order():
    out = []
    for fields in (["audio", "frames"], ["frames", "audio"]):
        g = mx.FeatureGraph()
        with g.use():
            type(
                "V",
                (mx.BaseFeature,),
                {"__annotations__": {"video_id": str}},
                spec=mx.FeatureSpec(key="video", id_columns=["video_id"], fields=fields),
            )
        out.append(g.feature_version("video"))
    assert out[0] == out[1]


def test_code_version_change_propagates_downstream_only():
    before = seed_graph(with_extras=True)
    after = seed_graph(audio_cv="2", with_extras=True)
    assert after.field_versions("audio")["default"] != before.field_versions("audio")["default"]
    for key in ("audio", "speaker/embedding", "speaker/report"):
        assert after.feature_version(key) != before.feature_version(key), key
    assert after.field_versions("speaker/report")["summary"] != before.field_versions("speaker/report")["summary"]
    assert after.feature_version("weather") == before.feature_version("weather")
    assert after.project_version != before.project_version


def test_derived_code_version_change_leaves_upstream_alone():
    before = seed_graph(with_extras=True)
    after = seed_graph(embedding_cv="2", with_extras=True)
    assert after.feature_version("audio") == before.feature_version("audio")
    assert after.feature_version("weather") == before.feature_version("weather")
    assert after.feature_version("speaker/embedding") != before.feature_version("speaker/embedding")
    assert after.feature_version("speaker/report") != before.feature_version("speaker/report")


def test_versions_ignore_descriptions_columns_and_metadata():
    g1, g2 = mx.FeatureGraph(), mx.FeatureGraph()
    with g1.use():
        type(
            "A",
            (mx.BaseFeature,),
            {"__annotations__": {"id": str}, "__doc__": "one"},
            spec=mx.FeatureSpec(key="a", id_columns=["id"]),
        )
    with g2.use():
        type(
            "A",
            (mx.BaseFeature,),
            {"__annotations__": {"id": str, "extra": int}, "__doc__": "two"},
            spec=mx.FeatureSpec(key="a", id_columns=["id"], metadata={"owner": "me"}),
        )
    assert g1.feature_version("a") == g2.feature_version("a")


def video_graph(audio_cv: str = INITIAL, frames_cv: str = INITIAL):
    """video(audio, frames) -> faces(frames only), transcript(audio only), audio_copy (automatic)."""
    g = mx.FeatureGraph()
    with g.use():

        class Video(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="video",
                id_columns=["video_id"],
                fields=[mx.FieldSpec("audio", code_version=audio_cv), mx.FieldSpec("frames", code_version=frames_cv)],
            ),
        ):
            video_id: str

        class Faces(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="video/faces",
                id_columns=["video_id"],
                deps=[Video],
                fields=[mx.FieldSpec("faces", deps=[mx.FieldDep(feature=Video, fields=["frames"])])],
            ),
        ):
            video_id: str

        class Transcript(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="video/transcript",
                id_columns=["video_id"],
                deps=[Video],
                fields=[mx.FieldSpec("text", deps=[mx.FieldDep(feature="video", fields=["audio"])])],
            ),
        ):
            video_id: str

        class Automatic(
            mx.BaseFeature,
            spec=mx.FeatureSpec(key="video/remux", id_columns=["video_id"], deps=[Video], fields=["audio", "other"]),
        ):
            video_id: str

        class Everything(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="video/all", id_columns=["video_id"], deps=[Video], fields=[mx.FieldSpec("all", deps=mx.ALL)]
            ),
        ):
            video_id: str

    return g


def test_field_level_deps_prune_version_changes():
    base = video_graph()
    audio = video_graph(audio_cv="2")
    frames = video_graph(frames_cv="2")
    assert audio.field_versions("video")["frames"] == base.field_versions("video")["frames"]
    assert audio.field_versions("video")["audio"] != base.field_versions("video")["audio"]
    # faces reads only frames
    assert audio.feature_version("video/faces") == base.feature_version("video/faces")
    assert frames.feature_version("video/faces") != base.feature_version("video/faces")
    # transcript reads only audio
    assert frames.feature_version("video/transcript") == base.feature_version("video/transcript")
    assert audio.feature_version("video/transcript") != base.feature_version("video/transcript")
    # ALL reads both
    assert audio.feature_version("video/all") != base.feature_version("video/all")
    assert frames.feature_version("video/all") != base.feature_version("video/all")


def test_automatic_field_mapping():
    """No deps: the upstream field with the same key, else every field of that dep."""
    base, audio, frames = video_graph(), video_graph(audio_cv="2"), video_graph(frames_cv="2")
    remux = lambda g: g.field_versions("video/remux")  # noqa: E731
    assert frames.field_versions("video/remux")["audio"] == remux(base)["audio"]
    assert audio.field_versions("video/remux")["audio"] != remux(base)["audio"]
    assert audio.field_versions("video/remux")["other"] != remux(base)["other"]
    assert frames.field_versions("video/remux")["other"] != remux(base)["other"]
    parents = base.feature_plan("video/remux").field_parents
    assert parents["audio"] == (("video", "audio"),)
    assert parents["other"] == (("video", "audio"), ("video", "frames"))
    fv = base.field_versions("video")
    assert remux(base)["audio"] == sha("video/remux.audio" + INITIAL + fv["audio"])


@pytest.mark.parametrize("spelling", [mx.ALL, "ALL", "__METAXY_ALL_DEP__"])
def test_all_spellings_are_the_same(spelling):
    g = mx.FeatureGraph()
    with g.use():
        type(
            "V",
            (mx.BaseFeature,),
            {"__annotations__": {"id": str}},
            spec=mx.FeatureSpec(key="v", id_columns=["id"], fields=["a", "b"]),
        )
        type(
            "D",
            (mx.BaseFeature,),
            {"__annotations__": {"id": str}},
            spec=mx.FeatureSpec(key="d", id_columns=["id"], deps=["v"], fields=[mx.FieldSpec("x", deps=spelling)]),
        )
    assert g.feature_plan("d").field_parents["x"] == (("v", "a"), ("v", "b"))
