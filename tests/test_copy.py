"""`copy`: a whole store moved between SQLite and PostgreSQL (store/transfer.py), on real stores.

The store copied is the demo pipeline (identity, aggregation and expansion features, rewrites
that left superseded rows, soft deletes) plus a hard delete, audit entries and a second graph
snapshot under which one feature was written again (two feature versions in one table). What is
compared is what users and explanations see: every feature's increments, explanations, rows
with their whole history, snapshots, writes and the audit log.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

import metaxy_tui as mx
from metaxy_tui.errors import StoreError
from metaxy_tui.graph import FeatureGraph
from metaxy_tui.service.copy_store import CopyCancelled, copy_between
from metaxy_tui.service.demo_code import load_demo_modules
from metaxy_tui.store import transfer_form
from metaxy_tui.store.copy import copy_store
from tests.helpers import store_digest

TRANSCRIPT = "video/transcript"


def _second_graph(graph: FeatureGraph, version: str = "copy-test-2") -> FeatureGraph:
    """The demo graph with the transcript's field code version bumped: a new feature version."""
    snap = json.loads(json.dumps(graph.to_snapshot()))
    for f in snap["features"]:
        if f["key"] == TRANSCRIPT:
            for field in f["fields"]:
                field["code_version"] = version
    return FeatureGraph.from_snapshot(snap)


@pytest.fixture(scope="module")
def rich_master(tmp_path_factory, demo_store_master):
    """The demo store, plus a hard delete, audit entries and a second feature version."""
    path = tmp_path_factory.mktemp("copy") / "rich.db"
    shutil.copyfile(demo_store_master, path)
    graph, _ = load_demo_modules()
    store = mx.SQLiteMetadataStore(path, graph=graph)
    with store:
        faces = store.read_metadata("video/face_detection")
        ids = faces.select(graph.definition("video/face_detection").id_columns).head(2)
        assert store.delete_metadata("video/face_detection", ids=ids, soft=False) == 2
        store.record_audit(
            action="accept",
            feature="video/chunk",
            feature_version=graph.feature_version("video/chunk"),
            ids=[{"video_id": "v1", "chunk_id": 3}],
            duration_s=0.25,
            outcome="ok",
            user="tester",
        )
        entry = store.start_audit(
            action="recompute",
            feature=TRANSCRIPT,
            feature_version=graph.feature_version(TRANSCRIPT),
            user="tester",
            executor="local",
        )
        store.finish_audit(entry, outcome="failed", duration_s=1.5, detail="boom on v2")
        rows = store.read_metadata(TRANSCRIPT)
        second = _second_graph(graph)
        store.use_graph(second)
        keep = [c for c in rows.columns if not c.startswith("metaxy_") or c == "metaxy_provenance_by_field"]
        store.write_metadata(TRANSCRIPT, rows.head(5).select(keep))
        store.write_metadata(TRANSCRIPT, rows.head(2).select(keep))  # supersedes two of them
    return path


@pytest.fixture
def rich(rich_master, tmp_path):
    target = tmp_path / "rich.db"
    shutil.copyfile(rich_master, target)
    return target


def _sorted(df: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    extra = [c for c in ("metaxy_feature_version", "metaxy_updated_at", "metaxy_deleted_at") if c in df.columns]
    return df.sort([*key, *extra], nulls_last=True)


def observe(store) -> dict:
    """What a store answers, in comparable form."""
    graph, _ = load_demo_modules()
    out: dict = {}
    with store.open("r"):
        store.use_graph(graph)
        gp = graph.plan()
        for key in gp.order():
            plan = gp[key]
            ids = list(plan.definition.id_columns)
            rows = store.read_metadata(key, all_feature_versions=True, include_history=True, include_deleted=True)
            out[f"rows {key}"] = _sorted(rows, ids)
            out[f"current {key}"] = _sorted(store.read_metadata(key), ids)
            out[f"writes {key}"] = store.history().writes_as_of(key)
            out[f"versions {key}"] = store.stored_feature_versions(key)
            if plan.is_root:
                continue
            inc = store.resolve_update(key)
            k = list(inc.key)
            for part in ("added", "changed", "removed"):
                frame = getattr(inc, part).to_polars()
                cols = [c for c in [*k, "metaxy_provenance", "metaxy_provenance_by_field"] if c in frame.columns]
                out[f"{part} {key}"] = frame.select(cols).sort(k)
            explanation = store.explain(key)
            out[f"explain {key}"] = explanation.frame.sort(k)
        out["snapshots"] = store.snapshots()
        out["graphs"] = [store.snapshot(s["id"]) for s in store.snapshots()]
        out["audit"] = store.audit_log()
        out["last write"] = store.last_write_id()
    return out


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, pl.DataFrame):
            assert x.columns == y.columns, name
            assert x.schema == y.schema, name
            assert x.equals(y), f"{name} differs:\n{x}\n{y}"
        else:
            assert x == y, name


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 150 rows: the demo's larger tables (300 to 9,000 rows) cross many batches, and
    large writes are cut in pieces."""
    monkeypatch.setattr(transfer_form, "BATCH_ROWS", 150)


def test_round_trip_sqlite_postgres_sqlite_gives_the_same_answers(rich, tmp_path, pg_url, small_batches):
    before = observe(mx.SQLiteMetadataStore(rich))
    assert before["audit"].height == 2 and len(before["snapshots"]) == 2
    assert before[f"rows {TRANSCRIPT}"].get_column("metaxy_feature_version").n_unique() == 2
    assert (
        before["rows audio"].get_column("metaxy_deleted_at").null_count() < before["rows audio"].height
    )  # soft deleted
    assert before["rows audio"].height > before["current audio"].height + 1  # superseded rows
    assert any(before[f"{p} {k}"].height for p in ("added", "changed", "removed") for k in ("video/chunk",))

    there = copy_store(str(rich), pg_url)
    assert there.rows == sum(before[k].height for k in before if k.startswith("rows "))
    assert there.audit_entries == 2 and there.snapshots == 2
    assert_same(before, observe(mx.PostgreSQLMetadataStore(pg_url)))

    back = tmp_path / "back.db"
    copy_store(pg_url, str(back))
    assert_same(before, observe(mx.SQLiteMetadataStore(back)))


def test_a_copy_to_sqlite_rebuilds_the_derived_data_it_needs(rich, tmp_path, pg_url):
    """The columnar copy and group digests of the loaded file match a recomputation from the rows."""
    import sqlite3

    from metaxy_tui.store.sqlite import upkeep

    copy_store(str(rich), pg_url)
    back = tmp_path / "back.db"
    copy_store(pg_url, str(back))
    graph, _ = load_demo_modules()
    store = mx.SQLiteMetadataStore(back, graph=graph)
    conn = sqlite3.connect(back)
    try:
        mirrors = conn.execute("SELECT count(*) FROM _metaxy_mirrors").fetchone()[0]
        complete = conn.execute("SELECT count(*) FROM _metaxy_group_complete").fetchone()[0]
        assert mirrors >= 5 and complete >= 1
        with store.open("r"):
            for key in graph.plan().order():
                d = store.effective_graph(graph).definition(key)
                fv = store.history().feature_version_id(key, graph.feature_version(key))
                assert upkeep.check(conn, d.key.table_name, d, fv, store.hasher) == []
    finally:
        conn.close()
    # and a later write keeps it all consistent (the store's own upkeep takes over)
    with mx.SQLiteMetadataStore(back, graph=graph) as s:
        s.delete_metadata("audio", ids=s.read_metadata("audio").select("audio_id").head(3))
    assert_same(observe(mx.SQLiteMetadataStore(back)), observe(mx.SQLiteMetadataStore(back)))


def test_sqlite_to_sqlite_and_postgres_to_postgres(rich, tmp_path, pg_server):
    before = observe(mx.SQLiteMetadataStore(rich))
    copy_store(str(rich), str(tmp_path / "same.db"))
    assert_same(before, observe(mx.SQLiteMetadataStore(tmp_path / "same.db")))
    a, b = pg_server.new_database(), pg_server.new_database()
    copy_store(str(rich), a)
    copy_store(a, b)
    assert_same(before, observe(mx.PostgreSQLMetadataStore(b)))
    # the copies take new snapshots, audit entries and writes after the copied ones
    graph, _ = load_demo_modules()
    third = _second_graph(graph, "copy-test-3")
    for store in (mx.SQLiteMetadataStore(tmp_path / "same.db"), mx.PostgreSQLMetadataStore(b)):
        with store:
            assert store.push_graph(third)["id"] == 3
            n = store.record_audit(
                action="accept", feature="audio", feature_version=None, ids=[], duration_s=0, outcome="ok"
            )
            assert n == 3
            store.use_graph(graph)
            store.delete_metadata("audio", ids=store.read_metadata("audio").select("audio_id").head(1))
            assert store.last_write_id() == before["last write"] + 1


def test_a_target_holding_data_is_refused_without_merge(rich, tmp_path, pg_url):
    other = tmp_path / "other.db"
    copy_store(str(rich), str(other))
    digest = store_digest(other)
    with pytest.raises(StoreError, match="already holds a store with data; pass --merge"):
        copy_store(str(rich), str(other))
    assert store_digest(other) == digest
    copy_store(str(rich), pg_url)
    with pytest.raises(StoreError, match="already holds a store with data"):
        copy_store(str(other), pg_url)


def test_the_same_store_is_refused(rich, pg_url):
    with pytest.raises(StoreError, match="the same store"):
        copy_store(str(rich), str(rich))
    with pytest.raises(StoreError, match="the same store"):
        copy_store(pg_url, pg_url + "&application_name=x")


def test_merge_appends_the_source_after_the_target(rich, tmp_path, pg_url):
    """Merging a store into a copy of itself: every write once more, renumbered after the target's;
    each live sample ends with the source's row, the target's becoming history; the answers are the
    source's."""
    before = observe(mx.SQLiteMetadataStore(rich))
    copy_store(str(rich), pg_url)
    summary = copy_store(str(rich), pg_url, merge=True)
    assert summary.merged and summary.write_offset == before["last write"]
    after = observe(mx.PostgreSQLMetadataStore(pg_url))
    assert after["last write"] == 2 * before["last write"]
    assert after["snapshots"] == before["snapshots"]  # the same project versions: reused
    assert after["audit"].height == 4
    assert sorted(after["audit"].get_column("id").to_list()) == [1, 2, 3, 4]
    graph, _ = load_demo_modules()
    for key in graph.plan().order():
        assert after[f"rows {key}"].height == 2 * before[f"rows {key}"].height, key
        assert (
            after[f"current {key}"]
            .drop("metaxy_created_at", "metaxy_updated_at")
            .equals(before[f"current {key}"].drop("metaxy_created_at", "metaxy_updated_at"))
        ), key
        for part in ("added", "changed", "removed"):
            if f"{part} {key}" in before:
                assert after[f"{part} {key}"].equals(before[f"{part} {key}"]), (part, key)
        writes = after[f"writes {key}"]
        ours = before[f"writes {key}"]
        assert writes.height == 2 * ours.height
    # back to SQLite, merged again into a file holding the original: the same rules there
    target = tmp_path / "target.db"
    shutil.copyfile(rich, target)
    copy_store(str(rich), str(target), merge=True)
    again = observe(mx.SQLiteMetadataStore(target))
    for key in graph.plan().order():
        assert again[f"rows {key}"].height == after[f"rows {key}"].height, key
        assert again[f"current {key}"].equals(after[f"current {key}"]) or again[f"current {key}"].drop(
            "metaxy_created_at", "metaxy_updated_at"
        ).equals(after[f"current {key}"].drop("metaxy_created_at", "metaxy_updated_at")), key


def test_merge_refuses_another_hash_setting(rich, tmp_path, graph):
    class Root(mx.BaseFeature, spec=mx.FeatureSpec(key="root", id_columns=["rid"], fields=["v"])):
        rid: str

    md5 = tmp_path / "md5.db"
    with mx.SQLiteMetadataStore(md5, hash_algorithm="md5") as s:
        s.write_metadata(Root, pl.DataFrame({"rid": ["a"], "metaxy_provenance_by_field": [{"v": "1"}]}))
    digest = store_digest(md5)
    with pytest.raises(StoreError, match="cannot merge: .* hashes with"):
        copy_store(str(rich), str(md5), merge=True)
    assert store_digest(md5) == digest


class Boom(Exception):
    pass


def _fail_after(n: int):
    seen = {"rows": 0}

    def progress(what: str, done: int, total: int) -> None:
        seen["rows"] = done
        if done >= n and what.startswith("rows of"):
            raise Boom(f"stopped at {done}")

    return progress


def test_a_failure_mid_copy_leaves_the_target_unchanged(rich, tmp_path, pg_server, small_batches):
    # a new SQLite file: none is left behind
    new = tmp_path / "new.db"
    with pytest.raises(Boom):
        copy_store(str(rich), str(new), progress=_fail_after(100))
    assert not new.exists() and list(tmp_path.glob(".new.db*")) == []
    # an existing SQLite store (merge): byte for byte as it was
    existing = tmp_path / "existing.db"
    shutil.copyfile(rich, existing)
    digest = store_digest(existing)
    with pytest.raises(Boom):
        copy_store(str(rich), str(existing), merge=True, progress=_fail_after(100))
    assert store_digest(existing) == digest
    # an empty PostgreSQL database: still empty (not even the layout was created)
    url = pg_server.new_database()
    with pytest.raises(Boom):
        copy_store(str(rich), url, progress=_fail_after(100))
    import psycopg

    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
    # a PostgreSQL store holding data (merge): the same answers as before
    copy_store(str(rich), url)
    before = observe(mx.PostgreSQLMetadataStore(url))
    with pytest.raises(CopyCancelled):
        copy_between(str(rich), url, merge=True, cancelled=lambda: True)
    with pytest.raises(Boom):
        copy_store(str(rich), url, merge=True, progress=_fail_after(500))
    assert_same(before, observe(mx.PostgreSQLMetadataStore(url)))


def test_copy_resolves_store_names_from_metaxy_toml(rich, tmp_path, monkeypatch):
    (tmp_path / "metaxy.toml").write_text(
        'project = "p"\n[stores.laptop]\ntype = "sqlite"\n[stores.laptop.config]\npath = "rich.db"\n'
        '[stores.backup]\ntype = "sqlite"\n[stores.backup.config]\npath = "copies/backup.db"\n'
    )
    (tmp_path / "copies").mkdir()
    monkeypatch.chdir(tmp_path)
    summary = copy_between("laptop", "backup")
    assert summary.features == 6 and (tmp_path / "copies" / "backup.db").exists()
    assert_same(observe(mx.SQLiteMetadataStore(rich)), observe(mx.SQLiteMetadataStore(tmp_path / "copies/backup.db")))


def test_a_feature_whose_column_changed_type_is_refused(tmp_path):
    g1 = mx.FeatureGraph()
    with g1.use():

        class RootInt(
            mx.BaseFeature,
            spec=mx.FeatureSpec(key="root", id_columns=["rid"], fields=[mx.FieldSpec("v", code_version="1")]),
        ):
            rid: str
            size: int

    g2 = mx.FeatureGraph()
    with g2.use():

        class RootStr(
            mx.BaseFeature,
            spec=mx.FeatureSpec(key="root", id_columns=["rid"], fields=[mx.FieldSpec("v", code_version="2")]),
        ):
            rid: str
            size: str

    src = tmp_path / "src.db"
    with mx.SQLiteMetadataStore(src, graph=g1) as s:
        s.write_metadata(RootInt, pl.DataFrame({"rid": ["a"], "size": [1], "metaxy_provenance_by_field": [{"v": "1"}]}))
    with mx.SQLiteMetadataStore(src, graph=g2) as s:
        s.write_metadata(
            RootStr, pl.DataFrame({"rid": ["a"], "size": ["x"], "metaxy_provenance_by_field": [{"v": "2"}]})
        )
    with pytest.raises(StoreError, match="changed type between feature versions"):
        copy_store(str(src), str(tmp_path / "dst.db"))
    assert not (tmp_path / "dst.db").exists()


def test_row_batches_follow_writes(monkeypatch):
    from metaxy_tui.store.postgres.transfer import _batches

    monkeypatch.setattr(transfer_form, "BATCH_ROWS", 10)
    spans = [(1, 4, 3), (2, 5, 4), (3, 3, 2), (4, 25, 24), (5, 1, 0)]
    assert list(_batches(spans, "w", "r")) == [
        "w BETWEEN 1 AND 2",
        "w BETWEEN 3 AND 3",
        "w = 4 AND r >= 0 AND r < 10",
        "w = 4 AND r >= 10 AND r < 20",
        "w = 4 AND r >= 20 AND r < 30",
        "w BETWEEN 5 AND 5",
    ]
    assert Path  # (imported for the fixtures' paths)


def test_an_empty_target_takes_the_source_hash_setting(rich, tmp_path, pg_url):
    """A target store that exists but holds nothing (opened once, with the default xxhash64) ends
    with the source's setting: its resolves then agree."""
    md5 = tmp_path / "md5.db"
    with mx.SQLiteMetadataStore(md5, hash_algorithm="md5"):
        pass  # an empty md5 store
    with mx.PostgreSQLMetadataStore(pg_url, hash_algorithm="md5"):
        pass
    # the demo is xxhash64: both empty md5 stores take it
    copy_store(str(rich), str(md5))
    copy_store(str(rich), pg_url)
    assert _hash(mx.SQLiteMetadataStore(md5)) == _hash(mx.SQLiteMetadataStore(rich)) == "xxhash64"
    assert_same(observe(mx.SQLiteMetadataStore(rich)), observe(mx.PostgreSQLMetadataStore(pg_url)))


def _hash(store) -> str:
    with store.open("r"):
        return store.hasher.algorithm.value


def test_merge_of_another_project_adds_its_features(rich, tmp_path, pg_url, graph):
    """A source with other features: its tables are created in the target, its snapshot and
    feature version get the next ids, its writes follow the target's; the target's own answers
    stay as they were."""

    class Other(mx.BaseFeature, spec=mx.FeatureSpec(key="other", id_columns=["other_id"], fields=["v"])):
        other_id: str
        size: int

    small = tmp_path / "small.db"
    with mx.SQLiteMetadataStore(small, graph=graph) as s:
        s.write_metadata(
            Other,
            pl.DataFrame(
                {"other_id": ["a", "b", "c"], "size": [1, 2, 3], "metaxy_provenance_by_field": [{"v": "1"}] * 3}
            ),
        )
        s.write_metadata(
            Other, pl.DataFrame({"other_id": ["b"], "size": [20], "metaxy_provenance_by_field": [{"v": "2"}]})
        )
        s.delete_metadata(Other, ids=[{"other_id": "c"}])
        wanted = s.read_metadata(Other, include_history=True, include_deleted=True).sort(
            "other_id", "metaxy_updated_at"
        )
    before = observe(mx.SQLiteMetadataStore(rich))
    copy_store(str(rich), pg_url)
    for target in (str(rich), pg_url):
        summary = copy_store(str(small), target, merge=True)
        assert summary.write_offset == before["last write"] and summary.rows == 5
        store = mx.SQLiteMetadataStore(target) if target == str(rich) else mx.PostgreSQLMetadataStore(target)
        with store.open("r"):
            store.use_graph(graph)
            got = store.read_metadata(Other, include_history=True, include_deleted=True).sort(
                "other_id", "metaxy_updated_at"
            )
            assert got.drop("metaxy_project_version").equals(wanted.drop("metaxy_project_version"))
            assert [s["id"] for s in store.snapshots()] == [1, 2, 3]
            writes = store.history().writes_as_of("other").get_column(transfer_form.WRITE).to_list()
            assert writes == [before["last write"] + i for i in (1, 2, 3)]
            current = store.read_metadata(Other)
            assert sorted(current.get_column("other_id").to_list()) == ["a", "b"]
            assert store.resolve_update(Other, samples=current).counts == {"added": 0, "changed": 0, "removed": 0}
        after = observe(mx.SQLiteMetadataStore(target) if target == str(rich) else mx.PostgreSQLMetadataStore(target))
        for name in before:
            if name not in ("snapshots", "graphs", "last write"):
                x, y = before[name], after[name]
                assert x.equals(y) if isinstance(x, pl.DataFrame) else x == y, name


def test_a_busy_target_is_a_one_line_error(rich, tmp_path, monkeypatch):
    """A target file another process holds a write lock on: an error naming the cause, nothing written."""
    import sqlite3

    from metaxy_tui.store.sqlite import transfer as sqlite_transfer

    target = tmp_path / "busy.db"
    copy_store(str(rich), str(target))
    digest = store_digest(target)
    real = sqlite3.connect

    def impatient(*args, **kwargs):
        kwargs["timeout"] = 0.1
        return real(*args, **kwargs)

    monkeypatch.setattr(sqlite_transfer.sqlite3, "connect", impatient)
    holder = sqlite3.connect(target, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="the copy failed and nothing was written: database is locked"):
            copy_store(str(rich), str(target), merge=True)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store_digest(target) == digest


def test_every_column_type_survives_the_round_trip(tmp_path, pg_url, graph):
    class Typed(mx.BaseFeature, spec=mx.FeatureSpec(key="typed/all", id_columns=["tid", "part"], fields=["v"])):
        tid: str
        part: int
        ratio: float | None
        flag: bool | None
        seen: dt.datetime | None
        day: dt.date | None
        blob: bytes | None
        note: str | None

    frame = pl.DataFrame(
        {
            "tid": ["a", "a", "b", 'c,"q"\n'],
            "part": [1, 2, 1, -(2**62)],
            "ratio": [0.1 + 0.2, None, float("inf"), -0.0],
            "flag": [True, False, None, True],
            "seen": [
                dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
                None,
                dt.datetime(1970, 1, 1),
                dt.datetime(2999, 12, 31),
            ],
            "day": [dt.date(2024, 2, 29), None, dt.date(1, 1, 1), dt.date(2024, 1, 1)],
            "blob": [b"\x00\xff", None, b"", b"x"],
            "note": ["", None, "ünï", "tab\there"],
            "metaxy_provenance_by_field": [{"v": str(i)} for i in range(4)],
        },
        schema_overrides={"seen": pl.Datetime("us")},
    )
    src = tmp_path / "typed.db"
    with mx.SQLiteMetadataStore(src, graph=graph) as s:
        s.write_metadata(Typed, frame)
        s.write_metadata(
            Typed, frame.head(1).with_columns(pl.lit(None, pl.String).alias("note")), materialization_id="m2"
        )
        s.delete_metadata(Typed, ids=[{"tid": "b", "part": 1}])
        want = s.read_metadata(Typed, include_history=True, include_deleted=True).sort(
            "tid", "part", "metaxy_updated_at"
        )
    copy_store(str(src), pg_url)
    back = tmp_path / "back.db"
    copy_store(pg_url, str(back))
    for store in (mx.PostgreSQLMetadataStore(pg_url, graph=graph), mx.SQLiteMetadataStore(back, graph=graph)):
        with store.open("r"):
            got = store.read_metadata(Typed, include_history=True, include_deleted=True)
            got = got.sort("tid", "part", "metaxy_updated_at")
            assert got.schema == want.schema
            assert got.equals(want), f"{store}:\n{got}\n{want}"
