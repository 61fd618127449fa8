"""Bad input gives an error naming the problem and leaves the store unchanged.

Issue: "missing or null id column, duplicate ids in one write, wrong value type, unknown
feature key, feature keys and column names that look like SQL gives an error naming the
problem and leaves the store unchanged".
"""

from __future__ import annotations

import sqlite3

import polars as pl
import pytest

import metaxy_tui as mx


def dump(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def good_rows(n: int = 2) -> list[dict]:
    return [
        {
            "audio_id": f"a{i}",
            "speaker_id": "s1",
            "duration": 1.5,
            "takes": i,
            "metaxy_provenance_by_field": {"default": f"p{i}"},
        }
        for i in range(n)
    ]


@pytest.fixture
def setup(graph, store_path):
    class Audio(mx.BaseFeature, spec=mx.FeatureSpec(key="audio", id_columns=["audio_id"])):
        audio_id: str
        speaker_id: str
        duration: float
        takes: int
        note: str | None

    class Video(mx.BaseFeature, spec=mx.FeatureSpec(key="video", id_columns=["video_id"], fields=["audio", "frames"])):
        video_id: str

    store = mx.SQLiteMetadataStore(store_path)
    store.open("w")
    store.write(Audio, pl.DataFrame(good_rows()))
    store.write(
        Video, pl.DataFrame({"video_id": ["v0"], "metaxy_provenance_by_field": [{"audio": "a", "frames": "f"}]})
    )
    before = dump(store_path)
    yield store, Audio, Video
    after = dump(store_path)
    store.close()
    assert after == before, "the store changed"


def rows_with(**changes) -> pl.DataFrame:
    """Three good rows, with column values replaced: rows_with(takes=[1, 2.5, 3])."""
    base = pl.DataFrame(good_rows(3))
    return base.with_columns([pl.Series(c, v) for c, v in changes.items()])


def problems(err: mx.InputError) -> list[tuple]:
    return [(p.column, p.row) for p in err.problems]


def test_missing_id_column(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with().drop("audio_id"))
    assert "'audio_id'" in str(info.value) and "missing" in str(info.value) and "'audio'" in str(info.value)
    assert ("audio_id", None) in problems(info.value)


def test_null_id(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with(audio_id=["x", None, "z"]))
    assert problems(info.value) == [("audio_id", 1)]
    assert "row 2" in str(info.value) and "'audio_id'" in str(info.value)


def test_duplicate_ids_in_one_write(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with(audio_id=["x", "y", "x"]))
    text = str(info.value)
    assert "duplicate" in text and "'x'" in text and "1" in text and "3" in text


def test_identical_duplicate_rows_of_a_root_are_still_duplicates(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError, match="duplicate"):
        store.write(Audio, pl.concat([rows_with().head(1), rows_with().head(1)]))


@pytest.mark.parametrize(
    "column, values, words",
    [
        ("takes", ["1", "2", "3"], ["'takes'", "integer"]),
        ("duration", ["long", "short", "x"], ["'duration'", "number"]),
        ("speaker_id", [1.5, 2.0, 3.0], ["'speaker_id'", "text"]),
        ("audio_id", [True, False, True], ["'audio_id'", "text"]),
    ],
)
def test_wrong_value_type(setup, column, values, words):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with(**{column: values}))
    for w in words:
        assert w in str(info.value)


def test_integers_in_a_text_column_are_stored_as_their_decimal_text(graph, store_path):
    """Metaxy's own examples give integer ids to `str` columns: that is lossless, so it is
    stored as text (a float or a bool still is not)."""

    class Clip(mx.BaseFeature, spec=mx.FeatureSpec(key="clip", id_columns=["clip_id"])):
        clip_id: str

    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(
            Clip, pl.DataFrame({"clip_id": [7, 12], "metaxy_provenance_by_field": [{"default": "a"}, {"default": "b"}]})
        )
        got = store.read(Clip)
        assert got.schema["clip_id"] == pl.String
        assert sorted(got.get_column("clip_id").to_list()) == ["12", "7"]


def test_missing_required_column(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with().drop("duration"))
    assert "'duration'" in str(info.value)


def test_the_dump_sees_a_write_and_a_soft_delete(graph, store_path):
    """The unchanged-store check compares dumps: make sure a dump notices what a write would change."""

    class T(mx.BaseFeature, spec=mx.FeatureSpec(key="t", id_columns=["id"])):
        id: str
        note: str | None

    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(T, pl.DataFrame({"id": ["a"], "metaxy_provenance_by_field": [{"default": "p"}]}))
        before = dump(store_path)
        store.write(T, pl.DataFrame({"id": ["b"], "metaxy_provenance_by_field": [{"default": "p"}]}))
        after_write = dump(store_path)
        assert after_write != before
        store.delete(T, ids=[{"id": "b"}])
        assert dump(store_path) != after_write


def test_fraction_in_an_int_column(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with(takes=[1.0, 2.0, 2.5]))
    assert problems(info.value) == [("takes", 2)]
    assert "fraction" in str(info.value) and "row 3" in str(info.value)


def test_whole_floats_in_an_int_column_are_accepted(graph, store_path):
    class T(mx.BaseFeature, spec=mx.FeatureSpec(key="t", id_columns=["id"])):
        id: str
        n: int

    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(T, pl.DataFrame({"id": ["a"], "n": [3.0], "metaxy_provenance_by_field": [{"default": "p"}]}))
        assert store.read(T).get_column("n").to_list() == [3]


def test_uint64_above_int64(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with(takes=pl.Series([1, 2**63, 2**64 - 1], dtype=pl.UInt64)))
    assert ("takes", 1) in problems(info.value) and ("takes", 2) in problems(info.value)
    assert "64 bits" in str(info.value)


def test_float_two_to_the_63_in_an_int_column(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with(takes=[1.0, 2.0**63, 3.0]))
    assert problems(info.value) == [("takes", 1)]


def test_float_far_out_of_range_in_an_int_column(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with(takes=[1.0, -1e30, float("inf")]))
    assert ("takes", 1) in problems(info.value) and ("takes", 2) in problems(info.value)


def test_nan_in_a_required_float_column(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with(duration=[1.0, float("nan"), 2.0]))
    assert problems(info.value) == [("duration", 1)]
    assert "NaN" in str(info.value)


def test_null_in_a_required_column(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with(speaker_id=["s", None, "s"]))
    assert problems(info.value) == [("speaker_id", 1)]


@pytest.mark.parametrize(
    "pbf, words",
    [
        ([{"audio": "a", "subtitles": "s"}] * 3, ["'subtitles'", "unknown field"]),
        ([{"audio": "a"}] * 3, ["'frames'", "missing"]),
        ([{"audio": "a", "frames": None}] * 3, ["'frames'"]),
        ([{"audio": 1, "frames": 2}] * 3, ["strings"]),
        (["a|f"] * 3, ["struct"]),
    ],
)
def test_wrong_provenance_struct(setup, pbf, words):
    store, _, Video = setup
    df = pl.DataFrame({"video_id": ["v1", "v2", "v3"], "metaxy_provenance_by_field": pbf})
    with pytest.raises(mx.InputError) as info:
        store.write(Video, df)
    assert "metaxy_provenance_by_field" in str(info.value) and "'video'" in str(info.value)
    for w in words:
        assert w in str(info.value)


def test_missing_provenance_column(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError, match="metaxy_provenance_by_field"):
        store.write(Audio, rows_with().drop("metaxy_provenance_by_field"))


def test_every_problem_is_reported_at_once(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with(audio_id=["x", None, "z"], takes=[1.5, 2.0, 3.0]))
    assert set(problems(info.value)) == {("audio_id", 1), ("takes", 0)}


def test_unknown_feature_key(setup):
    store, _, _ = setup
    df = rows_with()
    for call in (
        lambda: store.write("audio/raw", df),
        lambda: store.read("audio/raw"),
        lambda: store.resolve_update("audio/raw", samples=df),
        lambda: store.delete("audio/raw", ids=[{"audio_id": "a0"}]),
    ):
        with pytest.raises(mx.UnknownFeatureError) as info:
            call()
        assert "'audio/raw'" in str(info.value) and "audio" in str(info.value)


@pytest.mark.parametrize(
    "key", ['audio"; DROP TABLE audio;--', "audio; DELETE FROM _metaxy_info", "a b", "audio' OR '1'='1"]
)
def test_feature_key_that_looks_like_sql(setup, key):
    store, _, _ = setup
    df = rows_with()
    for call in (
        lambda: store.write(key, df),
        lambda: store.read(key),
        lambda: store.resolve_update(key, samples=df),
        lambda: store.delete(key, ids=[{"audio_id": "a0"}]),
        lambda: store.delete(key, filters=pl.lit(True)),
    ):
        with pytest.raises((mx.DefinitionError, mx.UnknownFeatureError)) as info:
            call()
        assert repr(key) in str(info.value)


@pytest.mark.parametrize("column", ['x"; DROP TABLE audio;--', "a b", "takes]", "metaxy_feature_version2"])
def test_column_name_that_looks_like_sql(setup, column):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.write(Audio, rows_with().with_columns(pl.lit(1).alias(column)))
    # a column the class does not annotate is stored (SPEC 1), but not under a name like these
    message = str(info.value)
    assert repr(column) in message and ("invalid column name" in message or "system column" in message)


def test_id_values_that_look_like_sql_are_just_values(graph, store_path):
    class T(mx.BaseFeature, spec=mx.FeatureSpec(key="t", id_columns=["id"])):
        id: str

    nasty = ['x"); DROP TABLE t;--', "' OR 1=1 --", "%", "_", "\x00"]
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(T, pl.DataFrame({"id": nasty, "metaxy_provenance_by_field": [{"default": "p"}] * len(nasty)}))
        assert sorted(store.read(T).get_column("id").to_list()) == sorted(nasty)
        assert store.delete(T, ids=[{"id": "%"}]) == 1
        assert sorted(store.read(T).get_column("id").to_list()) == sorted(set(nasty) - {"%"})


def test_not_a_frame(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError, match="str"):
        store.write(Audio, "audio.csv")


def test_rows_that_do_not_form_a_table(setup):
    store, Audio, _ = setup
    rows = good_rows(2)
    rows[1]["takes"] = "two"
    with pytest.raises(mx.InputError):
        store.write(Audio, rows)


def test_bad_samples_to_resolve_update(setup):
    store, Audio, _ = setup
    with pytest.raises(mx.InputError) as info:
        store.resolve_update(Audio, samples=rows_with(audio_id=["x", "x", "y"]))
    assert "duplicate" in str(info.value)


def test_failure_during_the_insert_rolls_back(setup):
    store, Audio, _ = setup

    def boom(done, total):
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        store.write(Audio, rows_with(audio_id=["n1", "n2", "a0"]), progress=boom)
    assert sorted(store.read(Audio).get_column("audio_id").to_list()) == ["a0", "a1"]


@pytest.mark.parametrize("column", ["rowid", "ROWID", "oid"])  # (an annotation starting with "_" is no column)
def test_column_named_rowid(graph, column):
    """A user column named like SQLite's rowid would shadow the rowid the store itself reads and
    updates by: refused when the graph is built, naming the column and the feature (SPEC 1: a
    column name SQLite cannot hold is a clear error; README: names that look like SQL)."""
    with pytest.raises(mx.DefinitionError) as info:
        type(
            "T",
            (mx.BaseFeature,),
            {"__annotations__": {"id": str, column: str}},
            spec=mx.FeatureSpec(key="t", id_columns=["id"]),
        )
        graph.plan()
    assert info.value.feature == "t" and f"'{column}'" in str(info.value), str(info.value)


@pytest.mark.parametrize("column", ["rowid", "OID", "_rowid_"])
def test_a_written_column_named_rowid_is_refused(graph, store_path, column):
    """The same name in a frame, undeclared: an error naming it, and nothing written (refused as an
    unknown column today; as a name SQLite cannot hold once undeclared columns are stored, SPEC 1)."""
    T = type("T", (mx.BaseFeature,), {"__annotations__": {"id": str}}, spec=mx.FeatureSpec(key="t", id_columns=["id"]))
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(T, pl.DataFrame({"id": ["a"], "metaxy_provenance_by_field": [{"default": "0"}]}))
        with pytest.raises(mx.MetaxyError, match=column):
            store.write(
                T,
                pl.DataFrame(
                    {
                        "id": ["x", "y"],
                        column: ["same", "same"],
                        "metaxy_provenance_by_field": [{"default": "1"}, {"default": "2"}],
                    }
                ),
            )
        assert store.read(T).get_column("id").to_list() == ["a"]
