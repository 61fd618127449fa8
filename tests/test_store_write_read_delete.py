"""The SQLite store (SPEC §5): the file format, writing, reading, deleting, graph snapshots."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import time

import polars as pl
import pytest

import metaxy_tui as mx


def declare(cv: str = "__metaxy_initial__"):
    class Audio(
        mx.BaseFeature,
        spec=mx.FeatureSpec(key="audio", id_columns=["audio_id"], fields=[mx.FieldSpec("default", code_version=cv)]),
    ):
        """Audio recordings."""

        audio_id: str
        speaker_id: str
        n: int

    class Emb(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="speaker/embedding",
            id_columns=["speaker_id"],
            deps=[mx.FeatureDep(Audio, lineage=mx.LineageRelationship.aggregation(on=["speaker_id"]))],
        ),
    ):
        speaker_id: str

    return Audio, Emb


def two_audio_versions():
    """Audio declared twice, each in a graph of its own: code version initial, then "2"."""
    g1 = mx.FeatureGraph()
    with g1.use():
        A1, _ = declare()
    g2 = mx.FeatureGraph()
    with g2.use():
        A2, _ = declare(cv="2")
    return A1, A2


def audio(*rows) -> pl.DataFrame:
    """audio(("a1", "s1", "p1"), ...) with n = the row's position."""
    return pl.DataFrame(
        [
            {"audio_id": a, "speaker_id": s, "n": i, "metaxy_provenance_by_field": {"default": p}}
            for i, (a, s, p) in enumerate(rows)
        ]
    )


def ids(df: pl.DataFrame) -> list:
    return sorted(df.get_column("audio_id").to_list())


def file_digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def store(graph, store_path):
    s = mx.SQLiteMetadataStore(store_path)
    s.open("w")
    yield s
    s.close()


# ----- the file ---------------------------------------------------------------------------------


def test_new_store_file_is_marked_and_in_wal_mode(graph, store_path):
    with mx.SQLiteMetadataStore(store_path):
        pass
    conn = sqlite3.connect(store_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA application_id").fetchone()[0] != 0
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    finally:
        conn.close()


def test_store_reopens(graph, store_path):
    Audio, _ = declare()
    with mx.SQLiteMetadataStore(store_path) as s:
        s.write(Audio, audio(("a1", "s1", "p1")))
    s = mx.SQLiteMetadataStore(store_path).open("r")
    try:
        assert ids(s.read(Audio)) == ["a1"]
    finally:
        s.close()


def test_with_store_open_r_as_in_metaxy(graph, store_path):
    Audio, _ = declare()
    store = mx.SQLiteMetadataStore(store_path)
    with store.open("w"):
        store.write(Audio, audio(("a1", "s1", "p1")))
    with store.open("r") as s:
        assert ids(s.read(Audio)) == ["a1"]
    assert not store.is_open


def test_with_store_open_w_closes_at_the_end(graph, store_path):
    Audio, _ = declare()
    store = mx.SQLiteMetadataStore(store_path)
    with store.open("w") as s:
        s.write(Audio, audio(("a1", "s1", "p1")))
    assert not store.is_open


def test_with_store_opens_and_closes(graph, store_path):
    Audio, _ = declare()
    store = mx.SQLiteMetadataStore(store_path)
    with store as s:
        assert s is store and store.is_open
        s.write(Audio, audio(("a1", "s1", "p1")))
        with store:  # nested use keeps it open
            pass
        assert store.is_open
    assert not store.is_open


def _foreign_db(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("mode", ["r", "w"])
def test_database_of_another_program_is_refused(tmp_path, mode):
    path = tmp_path / "notes.db"
    _foreign_db(path)
    with pytest.raises(mx.StoreFormatError) as info:
        mx.SQLiteMetadataStore(path).open(mode)
    text = str(info.value)
    assert str(path) in text and "not a metaxy-tui store" in text and "notes" in text


def test_refusing_a_foreign_database_leaves_it_untouched(tmp_path):
    path = tmp_path / "notes.db"
    _foreign_db(path)
    before = file_digest(path)
    with pytest.raises(mx.StoreFormatError):
        mx.SQLiteMetadataStore(path).open("w")
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()
    assert file_digest(path) == before


@pytest.mark.parametrize("mode", ["r", "w"])
def test_random_bytes_file_is_refused(tmp_path, mode):
    path = tmp_path / "noise.db"
    path.write_bytes(os.urandom(8192))
    before = file_digest(path)
    with pytest.raises(mx.StoreFormatError) as info:
        mx.SQLiteMetadataStore(path).open(mode)
    assert str(path) in str(info.value) and "not" in str(info.value)
    assert file_digest(path) == before


@pytest.mark.parametrize("mode", ["r", "w"])
def test_store_from_a_newer_version_is_refused(graph, store_path, mode):
    with mx.SQLiteMetadataStore(store_path):
        pass
    conn = sqlite3.connect(store_path)
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.execute(f"PRAGMA user_version = {current + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(mx.StoreFormatError) as info:
        mx.SQLiteMetadataStore(store_path).open(mode)
    assert "newer" in str(info.value) and str(store_path) in str(info.value)


def test_opening_a_missing_file_for_reading(tmp_path):
    with pytest.raises(mx.StoreError) as info:
        mx.SQLiteMetadataStore(tmp_path / "absent.db").open("r")
    assert "absent.db" in str(info.value)
    assert not (tmp_path / "absent.db").exists()


def test_a_closed_store_says_so_on_both_stores(graph, make_store, tmp_path):
    # (the PostgreSQL store's reads connection is None while closed: its reads say so, as SQLite's do)
    Audio, _ = declare()
    with make_store(tmp_path / "store.db") as s:
        s.write(Audio, audio(("a1", "s1", "p1")))
    s = make_store(tmp_path / "store.db")
    with pytest.raises(mx.StoreError, match="not open"):
        s.read(Audio)
    with pytest.raises(mx.StoreError, match="not open"):
        s.read_metadata(Audio, filters=pl.col("audio_id") == "a1")


def test_read_only_and_closed_store(graph, store_path):
    Audio, _ = declare()
    with mx.SQLiteMetadataStore(store_path) as s:
        s.write(Audio, audio(("a1", "s1", "p1")))
    s = mx.SQLiteMetadataStore(store_path)
    with pytest.raises(mx.StoreError, match="not open"):
        s.read(Audio)
    s.open("r")
    try:
        with pytest.raises(mx.StoreError, match="read-only"):
            s.write(Audio, audio(("a2", "s1", "p2")))
        with pytest.raises(mx.StoreError, match="read-only"):
            s.delete(Audio, ids=[{"audio_id": "a1"}])
        assert ids(s.read(Audio)) == ["a1"]
    finally:
        s.close()


# ----- writing and reading -------------------------------------------------------------------------


def test_write_fills_system_columns(store):
    Audio, _ = declare()
    assert store.write_metadata(Audio, audio(("a1", "s1", "p1")), materialization_id="run-7") == 1
    row = store.read_metadata(Audio).row(0, named=True)
    assert row["metaxy_provenance_by_field"] == {"default": "p1"}
    assert row["metaxy_provenance"] and row["metaxy_data_version"] == row["metaxy_provenance"]
    assert row["metaxy_feature_version"] == Audio.feature_version()
    assert row["metaxy_project_version"] == mx.FeatureGraph.get_active().project_version
    assert row["metaxy_created_at"] is not None and row["metaxy_created_at"] == row["metaxy_updated_at"]
    assert row["metaxy_deleted_at"] is None
    assert row["metaxy_materialization_id"] == "run-7"


def test_user_columns_round_trip_with_types(graph, store):
    class Rec(mx.BaseFeature, spec=mx.FeatureSpec(key="rec", id_columns=["id"])):
        id: str
        i: int
        f: float
        b: bool
        when: dt.datetime
        day: dt.date
        blob: bytes
        maybe: str | None

    df = pl.DataFrame(
        {
            "id": ["1", "2"],
            "i": [-(2**63), 2**63 - 1],
            "f": [0.1, -1e300],
            "b": [True, False],
            "when": [dt.datetime(2024, 5, 1, 12, 30, 0, 123456), dt.datetime(1970, 1, 1)],
            "day": [dt.date(2024, 2, 29), dt.date(1999, 12, 31)],
            "blob": [b"\x00\xff", b""],
            "maybe": ["x", None],
            "metaxy_provenance_by_field": [{"default": "p1"}, {"default": "p2"}],
        }
    )
    store.write(Rec, df)
    got = store.read(Rec, columns=list(df.columns[:-1])).sort("id")
    assert got.equals(df.drop("metaxy_provenance_by_field"))


def test_rewriting_an_id_supersedes_and_keeps_created_at(store):
    Audio, _ = declare()
    store.write(Audio, audio(("a1", "s1", "p1"), ("a2", "s1", "p2")))
    first = store.read(Audio).sort("audio_id")
    time.sleep(0.002)
    store.write(Audio, audio(("a1", "s1", "p1b")))
    now = store.read(Audio).sort("audio_id")
    assert now.height == 2
    a1_before, a1_now = first.row(0, named=True), now.row(0, named=True)
    assert a1_now["metaxy_provenance_by_field"] == {"default": "p1b"}
    assert a1_now["metaxy_created_at"] == a1_before["metaxy_created_at"]
    assert a1_now["metaxy_updated_at"] > a1_before["metaxy_updated_at"]
    assert now.row(1, named=True) == first.row(1, named=True)
    history = store.read(Audio, include_history=True)
    assert sorted(history.get_column("audio_id").to_list()) == ["a1", "a1", "a2"]
    assert sorted(r["default"] for r in history.get_column("metaxy_provenance_by_field")) == ["p1", "p1b", "p2"]


def test_read_filters_and_columns(store):
    Audio, _ = declare()
    store.write(Audio, audio(("a1", "s1", "p1"), ("a2", "s2", "p2"), ("a3", "s2", "p3")))
    assert ids(store.read(Audio, filters=pl.col("speaker_id") == "s2")) == ["a2", "a3"]
    assert ids(store.read(Audio, filters=[pl.col("speaker_id") == "s2", pl.col("n") > 1])) == ["a3"]
    df = store.read(Audio, columns=["audio_id", "metaxy_provenance"])
    assert df.columns == ["audio_id", "metaxy_provenance"] and df.height == 3
    with pytest.raises(mx.InputError, match="nope"):
        store.read(Audio, columns=["audio_id", "nope"])


def test_read_unwritten_feature_is_empty_with_its_columns(store):
    Audio, _ = declare()
    df = store.read(Audio)
    assert df.height == 0
    assert {"audio_id", "speaker_id", "n", "metaxy_provenance", "metaxy_provenance_by_field"} <= set(df.columns)


def test_read_all_feature_versions(graph, store_path):
    A1, A2 = two_audio_versions()
    with mx.SQLiteMetadataStore(store_path) as s:
        s.write(A1, audio(("a1", "s1", "p1"), ("a2", "s1", "p2")))
        s.write(A2, audio(("a1", "s1", "p1")))
        assert ids(s.read(A2)) == ["a1"]
        assert ids(s.read(A1)) == ["a1", "a2"]
        both = s.read(A2, all_feature_versions=True)
        assert sorted(both.select("audio_id", "metaxy_feature_version").rows()) == sorted(
            [("a1", A1.feature_version()), ("a2", A1.feature_version()), ("a1", A2.feature_version())]
        )
        assert ids(s.read(A2, feature_version=A1.feature_version())) == ["a1", "a2"]
        assert ids(s.read(A2, current_only=False)) == ["a1", "a1", "a2"]


# ----- deleting --------------------------------------------------------------------------------------


def test_soft_delete_hides_and_write_restores(store):
    Audio, _ = declare()
    store.write(Audio, audio(("a1", "s1", "p1"), ("a2", "s1", "p2")))
    created = store.read(Audio).filter(pl.col("audio_id") == "a2").get_column("metaxy_created_at").item()
    assert store.delete_metadata(Audio, ids=[{"audio_id": "a2"}], soft=True) == 1
    assert ids(store.read(Audio)) == ["a1"]
    deleted = store.read(Audio, include_deleted=True).filter(pl.col("audio_id") == "a2")
    assert deleted.height == 1 and deleted.get_column("metaxy_deleted_at").item() is not None
    assert ids(store.read(Audio, include_soft_deleted=True)) == ["a1", "a2"]
    store.write(Audio, audio(("a2", "s1", "p2")))
    back = store.read(Audio).filter(pl.col("audio_id") == "a2")
    assert back.height == 1 and back.get_column("metaxy_deleted_at").item() is None
    assert back.get_column("metaxy_created_at").item() >= created


def test_soft_delete_by_filter_and_by_frame(store):
    Audio, _ = declare()
    store.write(Audio, audio(("a1", "s1", "p1"), ("a2", "s2", "p2"), ("a3", "s2", "p3")))
    assert store.delete(Audio, filters=pl.col("speaker_id") == "s2") == 2
    assert ids(store.read(Audio)) == ["a1"]
    store.write(Audio, audio(("a2", "s2", "p2")))
    assert store.delete(Audio, ids=pl.DataFrame({"audio_id": ["a2", "zz"]})) == 1
    assert ids(store.read(Audio)) == ["a1"]


def test_hard_delete_removes_the_current_versions_rows_and_keeps_older_versions(graph, store_path):
    """SPEC 5: a delete acts on the current feature version only; older versions' rows and
    history stay."""
    A1, A2 = two_audio_versions()
    with mx.SQLiteMetadataStore(store_path) as s:
        s.write(A1, audio(("a1", "s1", "p1"), ("a2", "s1", "p2")))
        s.write(A1, audio(("a1", "s1", "p1b")))
        s.delete(A1, ids=[{"audio_id": "a1"}], soft=True)
        s.write(A2, audio(("a1", "s1", "p1c")))
        s.write(A2, audio(("a1", "s1", "p1d")))
        assert s.delete(A2, ids=[{"audio_id": "a1"}], soft=False) == 1
        assert s.read(A2, include_history=True, include_deleted=True).height == 0
        older = s.read(A1, include_history=True, include_deleted=True)
        assert ids(older) == ["a1", "a1", "a1", "a2"]  # two writes and a tombstone, untouched
        raw = sqlite3.connect(store_path)
        try:  # the current version's rows are gone from the file, history included
            assert raw.execute("SELECT count(*) FROM audio WHERE audio_id = 'a1'").fetchone()[0] == 3
        finally:
            raw.close()


def test_delete_needs_ids_or_filters(store):
    Audio, _ = declare()
    store.write(Audio, audio(("a1", "s1", "p1")))
    with pytest.raises(mx.InputError):
        store.delete(Audio)
    with pytest.raises(mx.InputError):
        store.delete(Audio, ids=[{"audio_id": "a1"}], filters=pl.col("n") == 0)
    with pytest.raises(mx.InputError, match="audio_id"):
        store.delete(Audio, ids=[{"speaker_id": "s1"}])
    assert ids(store.read(Audio)) == ["a1"]


# ----- graph snapshots ---------------------------------------------------------------------------------


def test_a_write_records_one_snapshot_per_project_version(graph, store_path):
    Audio, _ = declare()
    with mx.SQLiteMetadataStore(store_path) as s:
        s.write(Audio, audio(("a1", "s1", "p1")))
        s.write(Audio, audio(("a2", "s1", "p2")))
        snaps = s.snapshots()
        assert [x["project_version"] for x in snaps] == [graph.project_version]
    g2 = mx.FeatureGraph()
    with g2.use():
        A2, _ = declare(cv="2")
    with mx.SQLiteMetadataStore(store_path) as s:
        s.write(A2, audio(("a1", "s1", "p1")))
        assert [x["project_version"] for x in s.snapshots()] == [graph.project_version, g2.project_version]
        snap = s.snapshot()
        assert snap["project_version"] == g2.project_version
        keys = {f["key"]: f for f in snap["features"]}
        assert keys["audio"]["feature_version"] == A2.feature_version()
        assert keys["speaker/embedding"]["deps"][0]["lineage"]["kind"] == "aggregation"


def test_push_graph_records_explicitly(graph, store_path):
    declare()
    with mx.SQLiteMetadataStore(store_path) as s:
        assert s.snapshots() == []
        first = s.push_graph()
        assert first["new"] is True and first["project_version"] == graph.project_version
        again = s.push_graph()
        assert again["new"] is False and again["id"] == first["id"]
        assert len(s.snapshots()) == 1


def test_store_alone_is_enough_to_read(graph, store_path):
    Audio, Emb = declare()
    with mx.SQLiteMetadataStore(store_path) as s:
        s.write(Audio, audio(("a1", "s1", "p1"), ("a2", "s2", "p2")))
        s.write(Audio, audio(("a1", "s1", "p1b")))
    empty = mx.FeatureGraph()
    with mx.SQLiteMetadataStore(store_path, graph=empty) as s:
        df = s.read_metadata("audio")
        assert ids(df) == ["a1", "a2"]
        assert df.filter(pl.col("audio_id") == "a1").get_column("metaxy_provenance_by_field").item() == {
            "default": "p1b"
        }
        assert s.read_metadata("audio", include_history=True).height == 3
        stored = s.stored_graph()
        assert stored.keys == ["audio", "speaker/embedding"]
        assert stored.feature_version("speaker/embedding") == Emb.feature_version()
        assert stored.definition("audio").description == "Audio recordings."
        assert s.read_metadata("speaker/embedding").height == 0
        with pytest.raises(mx.UnknownFeatureError, match="nowhere"):
            s.read_metadata("nowhere")


# ----- hash settings -------------------------------------------------------------------------------------


def test_hash_settings_are_remembered(graph, store_path):
    Audio, _ = declare()
    with mx.SQLiteMetadataStore(store_path, hash_algorithm="sha256", hash_truncation_length=16) as s:
        s.write(Audio, audio(("a1", "s1", "p1")))
    with mx.SQLiteMetadataStore(store_path) as s:
        assert s.hasher.algorithm == mx.HashAlgorithm.SHA256 and s.hasher.truncation == 16
        inc = s.resolve_update(Audio, samples=audio(("a1", "s1", "p1"), ("a2", "s1", "p2")))
        assert [r["audio_id"] for r in inc.added] == ["a2"]
        assert inc.added.to_polars().get_column("metaxy_provenance").item() == hashlib.sha256(b"p2").hexdigest()[:16]
    with mx.SQLiteMetadataStore(store_path, hash_algorithm="sha256", hash_truncation_length=16) as s:
        assert ids(s.read(Audio)) == ["a1"]


@pytest.mark.parametrize(
    "setting",
    [
        {"hash_algorithm": "xxhash64"},
        {"hash_algorithm": "sha256"},
        {"hash_algorithm": "sha256", "hash_truncation_length": 8},
    ],
)
def test_conflicting_hash_setting_raises(graph, store_path, setting):
    with mx.SQLiteMetadataStore(store_path, hash_algorithm="sha256", hash_truncation_length=16):
        pass
    with pytest.raises(mx.StoreError) as info:
        mx.SQLiteMetadataStore(store_path, **setting).open("r")
    assert "sha256" in str(info.value)


def test_conflicting_truncation_alone_raises(graph, store_path):
    with mx.SQLiteMetadataStore(store_path, hash_algorithm="sha256", hash_truncation_length=16):
        pass
    with pytest.raises(mx.StoreError):
        mx.SQLiteMetadataStore(store_path, hash_truncation_length=8).open("r")


def test_unknown_hash_algorithm():
    with pytest.raises(ValueError, match="blake"):
        mx.SQLiteMetadataStore("unused.db", hash_algorithm="blake3")


# ----- more than one definition or connection ----------------------------------------------------------


def test_column_type_change_in_a_new_definition_round_trips(store_path):
    g1 = mx.FeatureGraph()
    with g1.use():

        class Code1(mx.BaseFeature, spec=mx.FeatureSpec(key="code", id_columns=["id"])):
            id: str
            code: int

    g2 = mx.FeatureGraph()
    with g2.use():

        class Code2(
            mx.BaseFeature,
            spec=mx.FeatureSpec(key="code", id_columns=["id"], fields=[mx.FieldSpec("default", code_version="2")]),
        ):
            id: str
            code: str

    with mx.SQLiteMetadataStore(store_path) as s:
        s.write(Code1, pl.DataFrame({"id": ["x"], "code": [5], "metaxy_provenance_by_field": [{"default": "p"}]}))
        values = ["0123", "1e3", "abc"]
        s.write(
            Code2,
            pl.DataFrame({"id": ["x", "y", "z"], "code": values, "metaxy_provenance_by_field": [{"default": "p"}] * 3}),
        )
        assert s.read(Code2).sort("id").get_column("code").to_list() == values


def test_two_store_objects_share_one_file(graph, store_path):
    Audio, Emb = declare()
    a = mx.SQLiteMetadataStore(store_path).open("w")
    b = mx.SQLiteMetadataStore(store_path).open("w")
    try:
        a.write(Audio, audio(("a1", "s1", "p1")))
        assert ids(b.read(Audio)) == ["a1"]
        b.write(Audio, audio(("a2", "s1", "p2")))
        assert ids(a.read(Audio)) == ["a1", "a2"]
        assert len(a.resolve_update(Emb).added) == 2
    finally:
        a.close()
        b.close()


def test_resolve_update_works_read_only(graph, store_path):
    Audio, Emb = declare()
    with mx.SQLiteMetadataStore(store_path) as s:
        s.write(Audio, audio(("a1", "s1", "p1")))
    s = mx.SQLiteMetadataStore(store_path).open("r")
    try:
        assert len(s.resolve_update(Emb).added) == 1
        inc = s.resolve_update(Audio, samples=audio(("a1", "s1", "p1b"), ("a2", "s1", "p2")))
        assert [r["audio_id"] for r in inc.changed] == ["a1"] and [r["audio_id"] for r in inc.added] == ["a2"]
    finally:
        s.close()


def test_delete_returns_the_number_of_samples(store):
    Audio, _ = declare()
    store.write(Audio, audio(("a1", "s1", "p1"), ("a2", "s1", "p2")))
    store.write(Audio, audio(("a1", "s1", "p1b")))
    store.write(Audio, audio(("a1", "s1", "p1c")))
    assert store.delete(Audio, ids=[{"audio_id": "a1"}], soft=True) == 1
    # samples deleted are visible ones: a1 was already soft-deleted (its rows go all the same)
    assert store.delete(Audio, ids=[{"audio_id": "a1"}, {"audio_id": "a2"}], soft=False) == 1
    assert store.read(Audio, include_history=True, include_deleted=True).height == 0


def test_switching_back_to_an_older_definition_keeps_the_newer_rows(store_path):
    def build(column_type, cv):
        g = mx.FeatureGraph()
        with g.use():
            return type(
                "Code",
                (mx.BaseFeature,),
                {"__annotations__": {"id": str, "code": column_type}},
                spec=mx.FeatureSpec(key="code", id_columns=["id"], fields=[mx.FieldSpec("default", code_version=cv)]),
            )

    V1, V2 = build(int, "1"), build(str, "2")
    pbf = [{"default": "p"}]
    with mx.SQLiteMetadataStore(store_path) as s:
        s.write(V1, pl.DataFrame({"id": ["x"], "code": [5], "metaxy_provenance_by_field": pbf}))
        s.write(V2, pl.DataFrame({"id": ["x"], "code": ["0123"], "metaxy_provenance_by_field": pbf}))
        s.write(V1, pl.DataFrame({"id": ["y"], "code": [7], "metaxy_provenance_by_field": pbf}))  # e.g. a checkout
        assert s.read(V1).sort("id").get_column("code").to_list() == [5, 7]
        assert s.read(V2).get_column("code").to_list() == ["0123"]


def _write_and_read_each(store_path, keys):
    g = mx.FeatureGraph()
    with g.use():
        classes = [
            type(
                f"F{i}",
                (mx.BaseFeature,),
                {"__annotations__": {"id": str}},
                spec=mx.FeatureSpec(key=k, id_columns=["id"]),
            )
            for i, k in enumerate(keys)
        ]
    with mx.SQLiteMetadataStore(store_path) as s:
        for i, cls in enumerate(classes):
            s.write(cls, pl.DataFrame({"id": [f"id{i}"], "metaxy_provenance_by_field": [{"default": "p"}]}))
        for i, cls in enumerate(classes):
            assert s.read(cls).get_column("id").to_list() == [f"id{i}"]


@pytest.mark.parametrize("keys", [["video", "video/latest"], ["video/latest", "video"], ["audio", "audio/ids"]])
def test_a_child_key_named_like_an_index(store_path, keys):
    _write_and_read_each(store_path, keys)


@pytest.mark.parametrize("key", ["sqlite_stats", "sqlite_master", "SQLite_x", "sqlite_/child"])
def test_feature_key_that_is_a_reserved_sqlite_table_name(store_path, key):
    """SQLite reserves table names starting with sqlite_ (any case): such a key is refused when the
    feature is declared, naming it (README: feature keys built to break SQL are refused), and no
    store file is touched."""
    with pytest.raises(mx.DefinitionError) as info:
        _write_and_read_each(store_path, [key])
    assert key.split("/")[0] in str(info.value) and "reserved" in str(info.value), str(info.value)
    assert not store_path.exists()
