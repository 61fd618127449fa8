"""Differential: the same steps on an SQLite store and a PostgreSQL store give the same increments,
row counts and provenance strings (SPEC 9), with the hash computed in the client (xxhash) and in
PostgreSQL (md5, sha256)."""

from __future__ import annotations

import random

import polars as pl
import pytest

import metaxy_tui as mx

HASHINGS = [("xxhash64", None), ("xxhash32", 8), ("md5", None), ("sha256", 16)]
STAMPS = ("metaxy_created_at", "metaxy_updated_at", "metaxy_deleted_at")


def graph() -> mx.FeatureGraph:
    g = mx.FeatureGraph()
    with g.use():

        class Clip(mx.BaseFeature, spec=mx.FeatureSpec(key="clip", id_columns=["clip_id"], fields=["audio", "frames"])):
            clip_id: str
            speaker: str | None
            seconds: float

        class Caption(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="clip/caption",
                id_columns=["clip_id"],
                deps=[Clip],
                fields=[mx.FieldSpec(key="text", code_version="2", deps=[mx.FieldDep(feature=Clip, fields=["audio"])])],
            ),
        ):
            clip_id: str
            seconds: float

        class Voice(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="voice",
                id_columns=["speaker"],
                deps=[mx.FeatureDep(feature=Clip, lineage=mx.LineageRelationship.aggregation(on=["speaker"]))],
                fields=["embedding"],
            ),
        ):
            speaker: str

        class Chunk(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="clip/chunk",
                id_columns=["chunk_id"],
                deps=[mx.FeatureDep(feature=Clip, lineage=mx.LineageRelationship.expansion(on=["clip_id"]))],
                fields=["audio", "frames"],
            ),
        ):
            chunk_id: str
            clip_id: str

    return g


def clips(rng: random.Random, ids: list[int], version: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "clip_id": [f"c{i:03d}" for i in ids],
            "speaker": [None if i % 17 == 0 else f"s{i % 7}" for i in ids],
            "seconds": [round(rng.uniform(1, 9), 3) for _ in ids],
            "metaxy_provenance_by_field": [
                {"audio": f"a{i}-{version}", "frames": f"f{i}-{version if i % 3 else 'x'}"} for i in ids
            ],
        }
    )


def materialize(store, feature: str, inc) -> None:
    todo = pl.concat([inc.added.to_polars(), inc.changed.to_polars()], how="vertical_relaxed")
    if feature == "clip/caption":
        store.write(feature, todo.select("clip_id", "seconds", "metaxy_provenance_by_field"))
    elif feature == "voice":
        store.write(
            feature, todo.group_by("speaker", maintain_order=True).agg(pl.col("metaxy_provenance_by_field").first())
        )
    else:
        rows = todo.with_columns(pl.int_ranges(0, 1 + pl.col("seconds").cast(pl.Int64) % 3).alias("n")).explode("n")
        store.write(
            feature,
            rows.select(
                (pl.col("clip_id") + "/" + pl.col("n").cast(pl.String)).alias("chunk_id"),
                "clip_id",
                "metaxy_provenance_by_field",
            ),
        )
    if len(inc.removed):
        store.delete(feature, ids=inc.removed)


def canonical(df: pl.DataFrame) -> list:
    df = df.drop([c for c in (*STAMPS, "metaxy_project_version") if c in df.columns])
    return sorted(map(repr, df.to_dicts()))


def scenario(store) -> list:
    """Writes, resolves, materializations, soft and hard deletes; everything observed, in order."""
    rng = random.Random(7)
    seen = []
    derived = ["clip/caption", "voice", "clip/chunk"]
    with store:
        store.write("clip", clips(rng, list(range(60)), "v1"))
        for step in range(4):
            for f in derived:
                inc = store.resolve_update(f)
                seen.append(
                    (
                        step,
                        f,
                        store.pending_counts(f),
                        [canonical(getattr(inc, p).to_polars()) for p in ("added", "changed", "removed")],
                    )
                )
                materialize(store, f, inc)
            changed = rng.sample(range(60), 12)
            store.write("clip", clips(rng, changed + list(range(60 + step * 5, 65 + step * 5)), f"v{step + 2}"))
            store.delete("clip", ids=[{"clip_id": f"c{i:03d}"} for i in rng.sample(range(60), 3)], soft=bool(step % 2))
            seen.append(
                (step, "samples", store.resolve_update("clip", samples=clips(rng, list(range(50)), "v1")).counts)
            )
        for f in ["clip", *derived]:
            seen.append(
                (
                    f,
                    store.count(f),
                    canonical(store.read(f)),
                    canonical(store.read(f, include_history=True, include_deleted=True)),
                )
            )
    return seen


@pytest.mark.parametrize("hashing", HASHINGS, ids=lambda h: f"{h[0]}-{h[1]}")
def test_the_same_steps_give_the_same_results_in_both_stores(tmp_path, pg_url, hashing):
    lite = scenario(mx.SQLiteMetadataStore(tmp_path / "s.db", *hashing, graph=graph()))
    pg = scenario(mx.PostgreSQLMetadataStore(pg_url, *hashing, graph=graph()))
    assert len(lite) == len(pg)
    for a, b in zip(lite, pg):
        assert a == b


def test_a_re_added_expansion_parent_has_one_reason(make_store, tmp_path):
    """Regression (found running the graph properties on PostgreSQL): a parent whose children were
    soft-deleted and that comes back was explained once per tombstoned child."""
    store = make_store(tmp_path / "e.db", graph=graph())
    rng = random.Random(1)
    with store:
        store.write("clip", clips(rng, [1, 2], "v1"))
        materialize(store, "clip/chunk", store.resolve_update("clip/chunk"))
        store.write(
            "clip/chunk",
            pl.DataFrame(
                {
                    "chunk_id": ["c001/7", "c001/8"],
                    "clip_id": ["c001", "c001"],
                    "metaxy_provenance_by_field": store.read("clip/chunk")
                    .filter(pl.col("clip_id") == "c001")
                    .get_column("metaxy_provenance_by_field")
                    .to_list()[:1]
                    * 2,
                }
            ),
        )
        store.delete("clip", ids=[{"clip_id": "c001"}])
        materialize(store, "clip/chunk", store.resolve_update("clip/chunk"))
        store.write("clip", clips(rng, [1], "v1"))
        inc = store.resolve_update("clip/chunk")
        reasons = store.explain("clip/chunk", inc).reasons
    assert [(r.status, r.key) for r in reasons] == [("added", {"clip_id": "c001"})]


def test_text_with_newlines_quotes_and_commas_reads_back(tmp_path, pg_url):
    """Results travel as CSV text: quoted newlines, quotes, commas, empty strings and nulls survive."""
    tricky = ["plain", "two\nlines", 'a "quote"', "comma, inside", '"\n"', "", "ünï\r\ncode", "\\N", "NULL"]
    frame = pl.DataFrame(
        {
            "clip_id": [f"c{i:04d}" for i in range(400)],
            "speaker": [tricky[i % len(tricky)] if i % 11 else None for i in range(400)],
            "seconds": [i / 7 for i in range(400)],
            "metaxy_provenance_by_field": [
                {"audio": tricky[i % len(tricky)] + str(i), "frames": "f"} for i in range(400)
            ],
        }
    )
    out = {}
    for kind, store in (
        ("sqlite", mx.SQLiteMetadataStore(tmp_path / "t.db", graph=graph())),
        ("pg", mx.PostgreSQLMetadataStore(pg_url, graph=graph())),
    ):
        with store:
            store.write("clip", frame)
            back = store.read("clip").sort("clip_id")
            assert back.select(frame.columns).equals(frame), kind
            inc = store.resolve_update("voice")
            out[kind] = [canonical(getattr(inc, p).to_polars()) for p in ("added", "changed", "removed")]
    assert out["sqlite"] == out["pg"]


def ordered_keys(store) -> list:
    """Each derived feature's added and changed rows, in the order resolve_update gives them, over
    rounds of rewrites, deletes and materializations (which leave the server's rows out of order)."""
    rng = random.Random(3)
    out = []
    with store:
        ids = list(range(80))
        rng.shuffle(ids)
        store.write("clip", clips(rng, ids[:50], "v1"))
        store.write("clip", clips(rng, ids[50:], "v1"))
        for step in range(4):
            for f in ("clip/caption", "voice", "clip/chunk"):
                inc = store.resolve_update(f)
                for part in (inc.added, inc.changed):
                    out.append((step, f, part.to_polars().select(pl.all().exclude("^metaxy_.*$")).rows()))
                materialize(store, f, inc)
            store.write("clip", clips(rng, rng.sample(ids, 30) + [200 + step], f"v{step + 2}"))
            store.delete("clip", ids=[{"clip_id": f"c{i:03d}"} for i in rng.sample(ids, 2)], soft=bool(step % 2))
    return out


def test_results_read_in_many_small_batches_are_the_same(tmp_path, pg_server, monkeypatch):
    """The client receives, hashes and filters a result batch by batch (store/postgres/reads.py:
    BATCH_BYTES, 8 MB). With batches of a row or two, every step still gives what the SQLite store
    gives, and the increments keep the SQLite store's row order."""
    from metaxy_tui.store.postgres import reads

    monkeypatch.setattr(reads, "BATCH_BYTES", 60)
    lite = scenario(mx.SQLiteMetadataStore(tmp_path / "s.db", graph=graph()))
    assert lite == scenario(mx.PostgreSQLMetadataStore(pg_server.new_database(), graph=graph()))
    lite_order = ordered_keys(mx.SQLiteMetadataStore(tmp_path / "o.db", graph=graph()))
    assert sum(len(rows) for _step, _f, rows in lite_order) > 100
    assert lite_order == ordered_keys(mx.PostgreSQLMetadataStore(pg_server.new_database(), graph=graph()))
