"""What a pipeline written for Metaxy relies on (SPEC 1, 3, 4, 5): columns the class does not
annotate, expansion children keyed by their own ids, lean root samples, deletes on the current
feature version, an upstream never written, and Metaxy's names for things."""

from __future__ import annotations

import narwhals as nw
import polars as pl
import pytest
from pydantic import Field

import metaxy_tui as mx
from tests.helpers import store_digest


def pbf(*values: str, field: str = "default") -> list[dict]:
    return [{field: v} for v in values]


# ----- columns the class does not annotate (SPEC 1) ------------------------------------------------


def declare_parent():
    class Parent(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="examples/parent", id_columns=["sample_uid"], fields=[mx.FieldSpec("embeddings", code_version="1")]
        ),
    ):
        """Nothing annotated: Metaxy's basic example."""

    class Child(
        mx.BaseFeature,
        spec=mx.FeatureSpec(key="examples/child", id_columns=["sample_uid"], deps=[Parent], fields=["predictions"]),
    ):
        pass

    return Parent, Child


def test_unannotated_columns_are_stored_typed_from_the_frame_and_read_back(graph, store_path):
    Parent, Child = declare_parent()
    frame = pl.DataFrame(
        {
            "sample_uid": [1, 2, 3],
            "raw_data": ["a", "b", "c"],
            "metaxy_provenance_by_field": pbf("v1", "v2", "v3", field="embeddings"),
        },
        schema_overrides={"sample_uid": pl.UInt32},
    )
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(Parent, frame)
        got = store.read(Parent).sort("sample_uid")
        assert got.schema["sample_uid"] == pl.Int64  # the id column is typed by the first write
        assert got.get_column("raw_data").to_list() == ["a", "b", "c"]
        # a later write without the column: its rows read back null; a new column appears
        store.write(
            Parent,
            pl.DataFrame(
                {"sample_uid": [4], "score": [0.5], "metaxy_provenance_by_field": pbf("v4", field="embeddings")}
            ),
        )
        got = store.read(Parent).sort("sample_uid")
        assert got.get_column("raw_data").to_list() == ["a", "b", "c", None]
        assert got.get_column("score").to_list() == [None, None, None, 0.5]
        # the child's increment carries the upstream's columns, and so does the child once written
        inc = store.resolve_update(Child)
        assert len(inc.added) == 4 and "raw_data" in inc.added.columns
        store.write(Child, inc.added)
        assert store.read(Child).sort("sample_uid").get_column("raw_data").to_list() == ["a", "b", "c", None]


def test_a_recorded_type_is_kept_by_later_writes(graph, store_path):
    Parent, _ = declare_parent()
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(
            Parent,
            pl.DataFrame({"sample_uid": [1], "n": [3], "metaxy_provenance_by_field": pbf("v1", field="embeddings")}),
        )
        before = store_digest(store_path)
        with pytest.raises(mx.InputError) as info:
            store.write(
                Parent,
                pl.DataFrame(
                    {"sample_uid": [2], "n": ["three"], "metaxy_provenance_by_field": pbf("v2", field="embeddings")}
                ),
            )
        assert "'n'" in str(info.value) and "integers" in str(info.value)
        with pytest.raises(mx.InputError, match="sample_uid"):  # the id column is an integer now
            store.write(
                Parent, pl.DataFrame({"sample_uid": ["x"], "metaxy_provenance_by_field": pbf("v2", field="embeddings")})
            )
        assert store_digest(store_path) == before


@pytest.mark.parametrize(
    "column, words",
    [
        ("metaxy_note", "system column"),
        ("_mx_fv", "system column"),
        ("bad name", "invalid column name"),
        ("Path", "differs only in case"),
    ],
)
def test_unannotated_column_names_that_cannot_be_stored_are_refused(graph, store_path, column, words):
    class Clip(mx.BaseFeature, spec=mx.FeatureSpec(key="clip", id_columns=["clip_id"])):
        clip_id: str
        path: str

    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(Clip, pl.DataFrame({"clip_id": ["c0"], "path": ["p"], "metaxy_provenance_by_field": pbf("a")}))
        before = store_digest(store_path)
        with pytest.raises(mx.InputError) as info:
            store.write(
                Clip,
                pl.DataFrame({"clip_id": ["c1"], "path": ["p"], column: ["x"], "metaxy_provenance_by_field": pbf("b")}),
            )
        assert words in str(info.value) and repr(column) in str(info.value)
        assert store_digest(store_path) == before


def test_a_column_of_a_type_sqlite_cannot_hold_is_refused_by_name(graph, store_path):
    class Clip(mx.BaseFeature, spec=mx.FeatureSpec(key="clip", id_columns=["clip_id"])):
        clip_id: str

    with mx.SQLiteMetadataStore(store_path) as store:
        with pytest.raises(mx.InputError, match=r"'tags'.*List"):
            store.write(
                Clip, pl.DataFrame({"clip_id": ["c1"], "tags": [["a", "b"]], "metaxy_provenance_by_field": pbf("b")})
            )
        assert store.count(Clip) == 0


def test_aggregation_member_columns_are_not_stored_on_the_group(graph, store_path):
    from tests.helpers import declare_seed

    Audio, Speaker = declare_seed()
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(
            Audio,
            pl.DataFrame(
                {
                    "audio_id": ["a1", "a2"],
                    "speaker_id": ["s1", "s1"],
                    "duration_seconds": [1.0, 2.0],
                    "path": ["x", "y"],
                    "metaxy_provenance_by_field": pbf("p1", "p2"),
                }
            ),
        )
        inc = store.resolve_update(Speaker)
        rows = inc.added.to_polars().with_columns(n_dim=pl.lit(3), path=pl.lit("e.npy"))
        store.write(Speaker, rows)  # one row per member: they describe the audio, not the speaker
        got = store.read(Speaker)
        assert got.height == 1 and "audio_id" not in got.columns and "duration_seconds" not in got.columns


# ----- pydantic descriptions ------------------------------------------------------------------------


def test_pydantic_field_descriptions_are_the_columns_descriptions(graph):
    class Video(mx.BaseFeature, spec=mx.FeatureSpec(key="video", id_columns=["id"])):
        id: str = Field(description="Unique identifier for the video")
        path: str = Field(description="Path to the processed video file")
        frames: int

    d = Video.definition()
    assert d.column_descriptions == {
        "id": "Unique identifier for the video",
        "path": "Path to the processed video file",
    }
    again = mx.FeatureDefinition.from_dict(d.to_dict())
    assert again.column_descriptions == d.column_descriptions


# ----- root samples need only ids and provenance (SPEC 4) ------------------------------------------


def test_root_samples_need_only_ids_and_provenance_and_carry_other_columns_unchecked(graph, store_path):
    class Video(mx.BaseFeature, spec=mx.FeatureSpec(key="video", id_columns=["id"])):
        id: str
        path: str  # not Optional, and absent from the samples: checked when written, not here

    samples = pl.DataFrame(
        {
            "id": ["v1", "v2"],
            "raw_video_path": ["/r/1", "/r/2"],
            "duration": ["long", 3],
            "metaxy_provenance_by_field": pbf("a", "b"),
        },
        strict=False,
    )
    with mx.SQLiteMetadataStore(store_path) as store:
        inc = store.resolve_update(Video, samples=samples)
        added = inc.added.to_polars()
        assert len(inc.added) == 2 and added.get_column("raw_video_path").to_list() == ["/r/1", "/r/2"]
        # Metaxy's increments hand the data version to the pipeline too
        assert added.get_column("metaxy_data_version").to_list() == added.get_column("metaxy_provenance").to_list()
        with pytest.raises(mx.InputError, match="'path'"):
            store.write(Video, inc.added)
        store.write(Video, added.with_columns(path=pl.lit("/p")).drop("duration"))
        assert store.count(Video) == 2


def test_root_samples_still_need_their_ids(graph, store_path):
    class Video(mx.BaseFeature, spec=mx.FeatureSpec(key="video", id_columns=["id"])):
        id: str

    with mx.SQLiteMetadataStore(store_path) as store:
        with pytest.raises(mx.InputError, match="missing id column"):
            store.resolve_update(Video, samples=pl.DataFrame({"metaxy_provenance_by_field": pbf("a")}))
        with pytest.raises(mx.InputError, match="duplicate id"):
            store.resolve_update(
                Video, samples=pl.DataFrame({"id": ["v", "v"], "metaxy_provenance_by_field": pbf("a", "b")})
            )


# ----- expansion children keyed by their own ids (SPEC 3, 4, 5) -------------------------------------


def declare_videos():
    class Video(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="video/raw", id_columns=["video_id"], fields=[mx.FieldSpec("audio", code_version="1"), "frames"]
        ),
    ):
        video_id: str
        path: str

    class Chunk(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key=["video", "chunk"],
            id_columns=["video_chunk_id"],
            deps=[mx.FeatureDep(feature=Video, lineage=mx.LineageRelationship.expansion(on=["video_id"]))],
            fields=["audio", "frames"],
        ),
    ):
        video_chunk_id: str
        path: str

    return Video, Chunk


def chunks_of(rows: pl.DataFrame, n: int) -> pl.DataFrame:
    out = []
    for r in rows.iter_rows(named=True):
        for i in range(n):
            out.append(
                {
                    "video_id": r["video_id"],
                    "video_chunk_id": f"{r['video_id']}_{i}",
                    "path": f"c{i}",
                    "metaxy_provenance_by_field": r["metaxy_provenance_by_field"],
                    "metaxy_provenance": r["metaxy_provenance"],
                }
            )
    return pl.DataFrame(out)


def test_expansion_children_keyed_by_their_own_id(graph, store_path):
    Video, Chunk = declare_videos()
    videos = pl.DataFrame(
        {
            "video_id": [1, 2, 3],
            "path": ["a", "b", "c"],
            "metaxy_provenance_by_field": [{"audio": f"a{i}", "frames": f"f{i}"} for i in range(3)],
        }
    )
    with mx.SQLiteMetadataStore(store_path) as store:
        inc = store.resolve_update(Video, samples=nw.from_native(videos))
        store.write(Video, inc.added)
        inc = store.resolve_update(Chunk)
        assert inc.key == ("video_id",) and len(inc.added) == 3
        store.write(Chunk, chunks_of(inc.added.to_polars(), 3))
        assert store.read(Chunk).height == 9
        assert store.read(Chunk).schema["video_id"] == pl.String  # carried, though the class lacks it
        assert len(store.resolve_update(Chunk).added) == 0

        # video 2 goes: removed holds one row per parent, and deleting by it removes its children
        store.delete(Video, ids=[{"video_id": "2"}])
        inc = store.resolve_update(Chunk)
        removed = inc.removed.to_polars()
        assert removed.height == 1 and removed.get_column("video_id").to_list() == ["2"]
        assert store.delete(Chunk, ids=inc.removed) == 3
        assert sorted(store.read(Chunk).get_column("video_chunk_id").to_list()) == [
            "1_0",
            "1_1",
            "1_2",
            "3_0",
            "3_1",
            "3_2",
        ]
        assert store.resolve_update(Chunk).is_empty


def test_an_expansion_child_must_carry_its_parent_key(graph, store_path):
    Video, Chunk = declare_videos()
    with mx.SQLiteMetadataStore(store_path) as store:
        with pytest.raises(mx.InputError, match="'video_id'"):
            store.write(
                Chunk,
                pl.DataFrame(
                    {
                        "video_chunk_id": ["x"],
                        "path": ["p"],
                        "metaxy_provenance_by_field": [{"audio": "a", "frames": "f"}],
                    }
                ),
            )


# ----- deletes act on the current feature version (SPEC 5) ------------------------------------------


def test_delete_acts_on_the_current_feature_version_only_and_counts_samples(tmp_path):
    path = tmp_path / "s.db"
    g1 = mx.FeatureGraph()
    with g1.use():

        class Old(
            mx.BaseFeature,
            spec=mx.FeatureSpec(key="clip", id_columns=["clip_id"], fields=[mx.FieldSpec("default", code_version="1")]),
        ):
            clip_id: str

    g2 = mx.FeatureGraph()
    with g2.use():

        class New(
            mx.BaseFeature,
            spec=mx.FeatureSpec(key="clip", id_columns=["clip_id"], fields=[mx.FieldSpec("default", code_version="2")]),
        ):
            clip_id: str

    rows = pl.DataFrame({"clip_id": ["c1", "c2"], "metaxy_provenance_by_field": pbf("a", "b")})
    with mx.SQLiteMetadataStore(path) as store:
        store.write(Old, rows)
        store.write(New, rows)
        assert store.delete(New, ids=[{"clip_id": "c1"}, {"clip_id": "zz"}]) == 1
        assert store.delete(New, ids=[{"clip_id": "c1"}]) == 0  # already gone
        assert store.read(New).get_column("clip_id").to_list() == ["c2"]
        assert sorted(store.read(Old).get_column("clip_id").to_list()) == ["c1", "c2"]  # untouched
        assert store.delete(New, pl.col("clip_id") == "c2", soft=False) == 1  # Metaxy's positional filters
        assert store.read(New).height == 0 and store.read(Old).height == 2


def test_delete_takes_narwhals_filters_as_metaxy_does(graph, store_path):
    class Clip(mx.BaseFeature, spec=mx.FeatureSpec(key="clip", id_columns=["clip_id"])):
        clip_id: str
        n: int

    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(
            Clip,
            pl.DataFrame(
                {"clip_id": ["a", "b", "c"], "n": [1, 2, 3], "metaxy_provenance_by_field": pbf("1", "2", "3")}
            ),
        )
        assert store.delete(Clip, [nw.col("n") >= 2]) == 2
        assert store.read(Clip, filters=[nw.col("n") >= 1]).get_column("clip_id").to_list() == ["a"]


# ----- an upstream never written (SPEC 4) -----------------------------------------------------------


def test_a_derived_feature_whose_upstream_was_never_written_has_nothing_to_do(graph, store_path):
    from metaxy_tui.service.project import Project
    from metaxy_tui.service.status import all_statuses
    from tests.helpers import declare_seed

    Audio, Speaker = declare_seed()
    with mx.SQLiteMetadataStore(store_path) as store:
        inc = store.resolve_update(Speaker)
        assert inc.is_empty and inc.counts == {"added": 0, "changed": 0, "removed": 0}
        assert store.pending_counts(Speaker) == {"added": 0, "changed": 0, "removed": 0}
        assert store.waiting_on(Speaker) == ["audio"]
        status = all_statuses(Project(store, graph, graph, mx.FeatureGraph(), "test"))
        assert status["speaker/embedding"].kind == "waiting"
        assert status["speaker/embedding"].label == "waiting on audio"


# ----- Metaxy's names ------------------------------------------------------------------------------


def test_metaxy_module_paths_and_lazy_frame_calls(graph, store_path):
    from metaxy_tui.metadata_store.system import SystemTableStorage

    Parent, Child = declare_parent()
    with mx.SQLiteMetadataStore(store_path).open("w") as store:
        result = SystemTableStorage(store).push_graph_snapshot()
        assert result.project_version == graph.project_version and not result.already_pushed
        assert SystemTableStorage(store).push_graph_snapshot().already_pushed
        store.write(
            Parent,
            pl.DataFrame({"sample_uid": [1, 2], "metaxy_provenance_by_field": pbf("v1", "v2", field="embeddings")}),
        )
        lazy = store.read(Parent, columns=["sample_uid"], with_feature_history=False)
        df = lazy.collect().to_polars()
        assert isinstance(df, pl.DataFrame) and df.columns == ["sample_uid"] and lazy.collect().shape[0] == 2
        key = mx.FeatureKey(["examples", "child"])
        assert mx.current_graph().get_feature_version(key) == Child.feature_version()
        assert mx.get_feature_by_key(key) is Child


def test_resolve_update_takes_metaxys_options_and_refuses_what_it_cannot_honour(graph, store_path):
    from tests.helpers import declare_seed

    Audio, Speaker = declare_seed()
    samples = pl.DataFrame(
        {"audio_id": ["a1", "a2"], "speaker_id": ["s1", "s2"], "metaxy_provenance_by_field": pbf("p1", "p2")}
    )
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(
            Audio,
            store.resolve_update(Audio, samples=samples)
            .added.to_polars()
            .with_columns(duration_seconds=pl.lit(1.0), path=pl.lit("x")),
        )
        assert len(store.resolve_update(Audio, samples=samples, lazy=False).added) == 0
        everything = store.resolve_update(Audio, samples=samples, skip_comparison=True)
        assert len(everything.added) == 2 and len(everything.changed) == 0
        assert len(store.resolve_update(Speaker, skip_comparison=True).added) == 2
        with pytest.raises(mx.InputError, match="global_filters"):
            store.resolve_update(Speaker, global_filters=[pl.col("speaker_id") == "s1"])


def test_unannotated_columns_two_upstreams_share_do_not_break_the_graph(graph, store_path):
    class Audio(mx.BaseFeature, spec=mx.FeatureSpec(key="audio", id_columns=["clip_id"])):
        clip_id: str

    class Frames(mx.BaseFeature, spec=mx.FeatureSpec(key="frames", id_columns=["clip_id"])):
        clip_id: str

    class Both(mx.BaseFeature, spec=mx.FeatureSpec(key="both", id_columns=["clip_id"], deps=[Audio, Frames])):
        clip_id: str

    with mx.SQLiteMetadataStore(store_path) as store:
        for feature, origin in ((Audio, "a"), (Frames, "f")):
            store.write(
                feature, pl.DataFrame({"clip_id": ["c1"], "origin": [origin], "metaxy_provenance_by_field": pbf("p")})
            )
        added = store.resolve_update(Both).added.to_polars()
        assert added.height == 1 and added.get_column("origin").to_list() == ["a"]  # the first dep's
