"""resolve_update for roots and identity (1:1) lineage (SPEC §3, §4)."""

from __future__ import annotations

import narwhals as nw
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import xxhash

import metaxy_tui as mx

INITIAL = "__metaxy_initial__"


def H(text: str) -> str:  # the default store hash (xxhash64, untruncated)
    return str(xxhash.xxh64_intdigest(text.encode("utf-8")))


def samples(**provenance: str) -> pl.DataFrame:
    """Root samples of feature `a` (id, n) with provenance per id: samples(x="p1", y="p2")."""
    ids = list(provenance)
    return pl.DataFrame(
        {"id": ids, "n": list(range(len(ids))), "metaxy_provenance_by_field": [{"default": provenance[i]} for i in ids]}
    )


def ids(frame) -> list:
    df = frame.to_polars() if hasattr(frame, "to_polars") else frame
    return sorted(df.get_column("id").to_list())


def build(a_cv: str = INITIAL, b_cv: str = INITIAL):
    """a (root) -> b (identity) -> c (identity)."""
    g = mx.FeatureGraph()
    with g.use():

        class A(
            mx.BaseFeature,
            spec=mx.FeatureSpec(key="a", id_columns=["id"], fields=[mx.FieldSpec("default", code_version=a_cv)]),
        ):
            id: str
            n: int

        class B(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="b", id_columns=["id"], deps=[A], fields=[mx.FieldSpec("default", code_version=b_cv)]
            ),
        ):
            id: str

        class C(mx.BaseFeature, spec=mx.FeatureSpec(key="c", id_columns=["id"], deps=[B])):
            id: str

    return g, A, B, C


@pytest.fixture
def chain(make_store, store_path):
    g, A, B, C = build()
    store = make_store(store_path, graph=g)
    store.open("w")
    yield store, A, B, C
    store.close()


# ----- roots -----------------------------------------------------------------------------------


def test_root_added_changed_removed(chain):
    store, A, _, _ = chain
    inc = store.resolve_update(A, samples=samples(x="1", y="2"))
    assert ids(inc.added) == ["x", "y"] and len(inc.changed) == 0 and len(inc.removed) == 0
    store.write_metadata(A, inc.added)
    assert store.resolve_update(A, samples=samples(x="1", y="2")).is_empty

    inc = store.resolve_update(A, samples=samples(x="1b", z="3"))
    assert ids(inc.added) == ["z"]
    assert ids(inc.changed) == ["x"]
    assert ids(inc.removed) == ["y"]
    changed = inc.changed.to_polars()
    assert changed.get_column("metaxy_provenance_by_field").to_list() == [{"default": "1b"}]
    assert changed.get_column("metaxy_provenance").to_list() == [H("1b")]


def test_root_without_samples_is_a_clear_error(chain):
    store, A, _, _ = chain
    with pytest.raises(mx.InputError) as info:
        store.resolve_update(A)
    assert "samples" in str(info.value) and "'a'" in str(info.value)


def test_root_provenance_is_hash_of_fields_in_sorted_order(make_store, store_path, graph):
    class V(mx.BaseFeature, spec=mx.FeatureSpec(key="v", id_columns=["id"], fields=["zeta", "alpha"])):
        id: str

    with make_store(store_path) as store:
        inc = store.resolve_update(
            V, samples=pl.DataFrame({"id": ["1"], "metaxy_provenance_by_field": [{"zeta": "z", "alpha": "a"}]})
        )
    assert inc.added.to_polars().get_column("metaxy_provenance").to_list() == [H("a|z")]


def test_only_the_row_provenance_is_compared(chain):
    store, A, _, _ = chain
    store.write(A, samples(x="1"))
    # a user column changed but the provenance did not: not a change
    moved = samples(x="1").with_columns(pl.lit(99).alias("n"))
    assert store.resolve_update(A, samples=moved).is_empty


def test_removed_rows_are_never_deleted_automatically(chain):
    store, A, B, _ = chain
    store.write(A, samples(x="1", y="2"))
    store.write(B, store.resolve_update(B).added)
    inc = store.resolve_update(A, samples=samples(x="1"))
    assert ids(inc.removed) == ["y"]
    store.delete(A, ids=[{"id": "y"}])
    inc_b = store.resolve_update(B)
    assert ids(inc_b.removed) == ["y"]
    # resolving twice reports the same and removes nothing
    assert ids(store.resolve_update(B).removed) == ["y"]
    assert ids(store.read(B)) == ["x", "y"]


# ----- identity --------------------------------------------------------------------------------


def test_identity_added_changed_removed(chain):
    store, A, B, _ = chain
    store.write(A, samples(x="1", y="2", z="3"))
    inc = store.resolve_update(B)
    assert ids(inc.added) == ["x", "y", "z"]
    assert sorted(inc.added.to_polars().get_column("n").to_list()) == [0, 1, 2]  # upstream columns are carried
    store.write(B, inc.added)
    assert store.resolve_update(B).is_empty

    store.write(A, samples(x="1b", w="4"))
    store.delete(A, ids=[{"id": "z"}])
    inc = store.resolve_update(B)
    assert ids(inc.added) == ["w"]
    assert ids(inc.changed) == ["x"]
    assert ids(inc.removed) == ["z"]
    assert inc.counts == {"added": 1, "changed": 1, "removed": 1}


def test_derived_provenance_formula(chain):
    store, A, B, _ = chain
    store.write(A, samples(x="p1"))
    row = next(iter(store.resolve_update(B).added))
    field = H("|".join(["default", INITIAL, "a.default", "p1"]))
    assert row["metaxy_provenance_by_field"] == {"default": field}
    assert row["metaxy_provenance"] == H(field)


def test_upstream_soft_delete_then_rewrite(chain):
    store, A, B, _ = chain
    store.write(A, samples(x="1", y="2"))
    store.write(B, store.resolve_update(B).added)
    store.delete(A, ids=[{"id": "y"}], soft=True)
    assert ids(store.resolve_update(B).removed) == ["y"]
    store.write(A, samples(y="2"))
    assert store.resolve_update(B).is_empty


def test_upstream_hard_delete(chain):
    store, A, B, _ = chain
    store.write(A, samples(x="1", y="2"))
    store.write(B, store.resolve_update(B).added)
    store.write(A, samples(y="2b"))
    store.delete(A, ids=[{"id": "y"}], soft=False)
    inc = store.resolve_update(B)
    assert ids(inc.removed) == ["y"] and len(inc.added) == 0 and len(inc.changed) == 0
    assert store.read(A, include_history=True, include_deleted=True).get_column("id").to_list() == ["x"]


def test_downstream_soft_deleted_row_comes_back_as_added(chain):
    store, A, B, _ = chain
    store.write(A, samples(x="1"))
    store.write(B, store.resolve_update(B).added)
    store.delete(B, ids=[{"id": "x"}])
    assert ids(store.resolve_update(B).added) == ["x"]


# ----- definition changes -------------------------------------------------------------------------


def _populate(store, A, B, C):
    store.write(A, samples(x="1", y="2"))
    store.write(B, store.resolve_update(B).added)
    store.write(C, store.resolve_update(C).added)


def test_root_code_version_bump(make_store, store_path):
    g1, A1, B1, C1 = build()
    with make_store(store_path, graph=g1) as store:
        _populate(store, A1, B1, C1)
    g2, A2, B2, C2 = build(a_cv="2")
    assert A2.feature_version() != A1.feature_version()
    with make_store(store_path, graph=g2) as store:
        # every sample of the root comes back as added; the old rows stay as history
        inc = store.resolve_update(A2, samples=samples(x="1", y="2"))
        assert ids(inc.added) == ["x", "y"] and len(inc.changed) == 0
        assert store.read(A2).height == 0
        old = store.read(A2, all_feature_versions=True)
        assert ids(old) == ["x", "y"]
        assert set(old.get_column("metaxy_feature_version")) == {A1.feature_version()}
        assert ids(store.read("a", feature_version=A1.feature_version())) == ["x", "y"]
        # downstream: the upstream is empty under its new version and b's own version moved too
        assert store.resolve_update(B2).is_empty
        store.write(A2, inc.added)
        inc_b = store.resolve_update(B2)
        assert ids(inc_b.added) == ["x", "y"] and len(inc_b.changed) == 0
        assert store.resolve_update(C2).is_empty  # b is empty under its new version
        versions = store.read(A2, all_feature_versions=True).get_column("metaxy_feature_version")
        assert set(versions) == {A1.feature_version(), A2.feature_version()}


def test_derived_code_version_bump(make_store, store_path):
    g1, A1, B1, C1 = build()
    with make_store(store_path, graph=g1) as store:
        _populate(store, A1, B1, C1)
    g2, A2, B2, C2 = build(b_cv="2")
    assert A2.feature_version() == A1.feature_version()
    with make_store(store_path, graph=g2) as store:
        assert store.resolve_update(A2, samples=samples(x="1", y="2")).is_empty
        inc = store.resolve_update(B2)
        assert ids(inc.added) == ["x", "y"] and len(inc.changed) == 0 and len(inc.removed) == 0
        assert store.read(B2).height == 0
        assert ids(store.read(B2, all_feature_versions=True)) == ["x", "y"]
        assert store.resolve_update(C2).is_empty
        store.write(B2, inc.added)
        assert store.resolve_update(B2).is_empty
        assert ids(store.resolve_update(C2).added) == ["x", "y"]


def test_downstream_of_a_changed_upstream_version_sees_it_empty(make_store, store_path):
    """b reads only a.y; bumping a.x changes a's version but not b's: b's rows look removed."""

    def g_with(x_cv):
        g = mx.FeatureGraph()
        with g.use():

            class A(
                mx.BaseFeature,
                spec=mx.FeatureSpec(key="a", id_columns=["id"], fields=[mx.FieldSpec("x", code_version=x_cv), "y"]),
            ):
                id: str

            class B(
                mx.BaseFeature,
                spec=mx.FeatureSpec(
                    key="b", id_columns=["id"], deps=[A], fields=[mx.FieldSpec("fy", deps=[mx.FieldDep(A, ["y"])])]
                ),
            ):
                id: str

        return g, A, B

    rows = pl.DataFrame(
        {"id": ["1", "2"], "metaxy_provenance_by_field": [{"x": "x1", "y": "y1"}, {"x": "x2", "y": "y2"}]}
    )
    g1, A1, B1 = g_with(INITIAL)
    with make_store(store_path, graph=g1) as store:
        store.write(A1, rows)
        store.write(B1, store.resolve_update(B1).added)
    g2, A2, B2 = g_with("2")
    assert B2.feature_version() == B1.feature_version() and A2.feature_version() != A1.feature_version()
    with make_store(store_path, graph=g2) as store:
        inc = store.resolve_update(B2)
        assert ids(inc.removed) == ["1", "2"] and len(inc.added) == 0
        assert ids(store.read(B2)) == ["1", "2"]  # reported, not deleted
        store.write(A2, rows)
        assert store.resolve_update(B2).is_empty


# ----- data versions ------------------------------------------------------------------------------


def test_data_version_defaults_to_provenance(chain):
    store, A, B, _ = chain
    store.write(A, samples(x="p1"))
    row = store.read(A).row(0, named=True)
    assert row["metaxy_data_version_by_field"] == row["metaxy_provenance_by_field"] == {"default": "p1"}
    assert row["metaxy_data_version"] == row["metaxy_provenance"] == H("p1")


def test_root_data_version_early_cutoff(chain):
    store, A, B, _ = chain
    store.write(A, samples(x="p1"))
    store.write(B, store.resolve_update(B).added)
    rewritten = samples(x="p1-new").with_columns(pl.Series("metaxy_data_version_by_field", [{"default": "p1"}]))
    store.write(A, rewritten)
    row = store.read(A).row(0, named=True)
    assert row["metaxy_provenance_by_field"] == {"default": "p1-new"}
    assert row["metaxy_data_version_by_field"] == {"default": "p1"}
    assert store.resolve_update(B).is_empty
    moved = samples(x="p1-new").with_columns(pl.Series("metaxy_data_version_by_field", [{"default": "other"}]))
    store.write(A, moved)
    assert ids(store.resolve_update(B).changed) == ["x"]


def test_derived_data_version_early_cutoff(chain):
    """b recomputed after a changed, but its content hash is the same: c is not stale."""
    store, A, B, C = chain
    store.write(A, samples(x="1", y="2"))
    store.write(
        B,
        store.resolve_update(B)
        .added.to_polars()
        .with_columns(
            pl.col("id")
            .map_elements(lambda i: {"default": f"content-{i}"}, return_dtype=pl.Struct({"default": pl.String}))
            .alias("metaxy_data_version_by_field")
        ),
    )
    store.write(C, store.resolve_update(C).added)
    store.write(A, samples(x="1b", y="2b"))
    inc_b = store.resolve_update(B)
    assert ids(inc_b.changed) == ["x", "y"]
    recomputed = (
        inc_b.changed.to_polars()
        .with_columns(
            pl.when(pl.col("id") == "x").then(pl.lit("content-x")).otherwise(pl.lit("content-y-NEW")).alias("dv")
        )
        .with_columns(pl.struct(pl.col("dv").alias("default")).alias("metaxy_data_version_by_field"))
        .drop("dv")
    )
    store.write(B, recomputed)
    assert store.resolve_update(B).is_empty
    inc_c = store.resolve_update(C)
    assert ids(inc_c.changed) == ["y"] and len(inc_c.added) == 0


# ----- shapes of ids and columns ------------------------------------------------------------------


def test_multiple_id_columns(make_store, graph, store_path):
    class Frame(mx.BaseFeature, spec=mx.FeatureSpec(key="frame", id_columns=["video_id", "frame_no"])):
        video_id: str
        frame_no: int

    class Emb(mx.BaseFeature, spec=mx.FeatureSpec(key="frame/emb", id_columns=["video_id", "frame_no"], deps=[Frame])):
        video_id: str
        frame_no: int

    def frames(rows):
        return pl.DataFrame(
            [{"video_id": v, "frame_no": f, "metaxy_provenance_by_field": {"default": p}} for v, f, p in rows]
        )

    with make_store(store_path) as store:
        store.write(Frame, frames([("v1", 0, "a"), ("v1", 1, "b"), ("v2", 0, "c")]))
        inc = store.resolve_update(Emb)
        assert inc.key == ("video_id", "frame_no") and len(inc.added) == 3
        store.write(Emb, inc.added)
        store.write(Frame, frames([("v1", 1, "b2"), ("v2", 1, "d")]))
        inc = store.resolve_update(Emb)
        assert inc.changed.to_polars().select("video_id", "frame_no").rows() == [("v1", 1)]
        assert inc.added.to_polars().select("video_id", "frame_no").rows() == [("v2", 1)]
        store.delete(Frame, ids=[{"video_id": "v1", "frame_no": 0}])
        assert store.resolve_update(Emb).removed.to_polars().select("video_id", "frame_no").rows() == [("v1", 0)]


def test_rename_and_select(make_store, graph, store_path):
    class Audio(mx.BaseFeature, spec=mx.FeatureSpec(key="audio", id_columns=["audio_id"])):
        audio_id: str
        path: str
        duration: float

    class Clip(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="clip",
            id_columns=["sample_id"],
            deps=[mx.FeatureDep(Audio, rename={"audio_id": "sample_id", "path": "source"}, select=["source"])],
        ),
    ):
        sample_id: str
        source: str

    with make_store(store_path) as store:
        store.write(
            Audio,
            pl.DataFrame(
                {
                    "audio_id": ["a1"],
                    "path": ["x.wav"],
                    "duration": [1.0],
                    "metaxy_provenance_by_field": [{"default": "p"}],
                }
            ),
        )
        inc = store.resolve_update(Clip)
        assert inc.key == ("sample_id",)
        df = inc.added.to_polars()
        assert set(df.columns) == {
            "sample_id",
            "source",
            "metaxy_provenance_by_field",
            "metaxy_provenance",
            "metaxy_data_version_by_field",
            "metaxy_data_version",
        }
        assert df.select("sample_id", "source").rows() == [("a1", "x.wav")]
        store.write(Clip, inc.added)
        assert store.read(Clip).select("sample_id", "source").rows() == [("a1", "x.wav")]
        assert store.resolve_update(Clip).is_empty


def test_select_empty_keeps_only_ids_and_system_columns(make_store, graph, store_path):
    class A(mx.BaseFeature, spec=mx.FeatureSpec(key="a", id_columns=["id"])):
        id: str
        secret: str

    class B(mx.BaseFeature, spec=mx.FeatureSpec(key="b", id_columns=["id"], deps=[mx.FeatureDep(A, select=[])])):
        id: str

    with make_store(store_path) as store:
        store.write(A, pl.DataFrame({"id": ["1"], "secret": ["s"], "metaxy_provenance_by_field": [{"default": "p"}]}))
        cols = store.resolve_update(B).added.to_polars().columns
    assert "secret" not in cols and "id" in cols and "metaxy_provenance" in cols


# ----- the Increment and its frames ---------------------------------------------------------------


def test_increment_aliases(chain):
    store, A, _, _ = chain
    store.write(A, samples(x="1", y="2"))
    inc = store.resolve_update(A, samples=samples(x="1b", z="3"))
    assert inc.new.to_polars().equals(inc.added.to_polars()) and ids(inc.new) == ["z"]
    assert inc.stale.to_polars().equals(inc.changed.to_polars()) and ids(inc.stale) == ["x"]
    assert inc.orphaned.to_polars().equals(inc.removed.to_polars()) and ids(inc.orphaned) == ["y"]


def test_frames_len_polars_iteration_and_write_back(chain):
    store, A, B, _ = chain
    store.write(A, samples(x="1", y="2"))
    inc = store.resolve_update(B)
    assert len(inc.added) == 2 and len(inc.changed) == 0 and len(inc.removed) == 0
    df = inc.added.to_polars()
    assert isinstance(df, pl.DataFrame) and df.height == 2
    rows = list(inc.added)
    assert all(isinstance(r, dict) for r in rows)
    assert sorted(r["id"] for r in rows) == ["x", "y"]
    assert {r["id"]: r["metaxy_provenance"] for r in rows} == dict(df.select("id", "metaxy_provenance").rows())
    assert store.write_metadata(B, inc.added) == 2
    assert store.write_metadata(B, inc.changed) == 0  # an empty frame is fine too
    assert ids(store.read(B)) == ["x", "y"]
    assert store.resolve_update(B).is_empty


@pytest.mark.parametrize(
    "kind", ["polars", "pandas", "pyarrow", "narwhals-polars", "narwhals-pandas", "narwhals-pyarrow"]
)
def test_inputs_as_any_frame_library(chain, kind):
    store, A, _, _ = chain
    base = samples(x="1", y="2")
    rows = base.to_dicts()
    native = {
        "polars": lambda: base,
        "pandas": lambda: pd.DataFrame(rows),
        "pyarrow": lambda: pa.Table.from_pylist(rows),
        "narwhals-polars": lambda: nw.from_native(base),
        "narwhals-pandas": lambda: nw.from_native(pd.DataFrame(rows)),
        "narwhals-pyarrow": lambda: nw.from_native(pa.Table.from_pylist(rows)),
    }[kind]
    inc = store.resolve_update(A, samples=native())
    assert ids(inc.added) == ["x", "y"]
    assert sorted(inc.added.to_polars().get_column("metaxy_provenance").to_list()) == sorted([H("1"), H("2")])
    assert store.write_metadata(A, native()) == 2
    got = store.read(A).sort("id")
    assert got.select("id", "n").rows() == [("x", 0), ("y", 1)]
    assert got.get_column("metaxy_provenance_by_field").to_list() == [{"default": "1"}, {"default": "2"}]
    assert store.resolve_update(A, samples=native()).is_empty
