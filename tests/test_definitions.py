"""Feature definitions (SPEC §1): what a user may declare, and every definition error.

A definition error must name the feature and what is wrong, and be raised when the graph
is built (`graph.plan()`) or first used, never later while data is being written.
"""

from __future__ import annotations

import polars as pl
import pytest

import metaxy_tui as mx


def _feature(key, id_columns=("id",), *, deps=None, fields=None, columns=None, name="F", doc=None):
    """Declare a feature class in the active graph with the given user columns (default: id: str)."""
    annotations = dict(columns) if columns is not None else {c: str for c in id_columns}
    ns = {"__annotations__": annotations}
    if doc is not None:
        ns["__doc__"] = doc
    return type(
        name, (mx.BaseFeature,), ns, spec=mx.FeatureSpec(key=key, id_columns=list(id_columns), deps=deps, fields=fields)
    )


def _plan_error(graph) -> mx.DefinitionError:
    with pytest.raises(mx.DefinitionError) as info:
        graph.plan()
    return info.value


# ----- graph-level errors -------------------------------------------------------------------


def test_cycle_through_key_strings_is_reported_at_plan(graph):
    _feature("a", deps=["b"], name="A")
    _feature("b", deps=["c"], name="B")
    _feature("c", deps=["a"], name="C")
    err = _plan_error(graph)
    text = str(err)
    assert "cycle" in text
    assert err.feature in {"a", "b", "c"}
    for key in ("a", "b", "c"):
        assert key in text


def test_self_dependency_is_a_cycle(graph):
    _feature("loop", deps=["loop"])
    err = _plan_error(graph)
    assert err.feature == "loop" and "cycle" in str(err)


def test_cycle_is_raised_on_first_use_too(graph, store_path):
    A = _feature("a", deps=["b"], name="A")
    _feature("b", deps=["a"], name="B")
    with pytest.raises(mx.DefinitionError, match="cycle"):
        A.feature_version()
    with mx.SQLiteMetadataStore(store_path) as store:
        with pytest.raises(mx.DefinitionError, match="cycle"):
            store.resolve_update("a")


def test_dep_on_unknown_feature(graph):
    _feature("video/chunk", deps=["video/raw"])
    err = _plan_error(graph)
    assert err.feature == "video/chunk"
    assert "video/raw" in str(err) and "unknown" in str(err)


def test_unknown_dep_is_raised_on_first_use_of_an_unrelated_feature(graph, store_path):
    """The whole graph is checked: a broken definition is not silently ignored."""
    Ok = _feature("ok", name="Ok")
    _feature("broken", deps=["missing"], name="Broken")
    with mx.SQLiteMetadataStore(store_path) as store:
        with pytest.raises(mx.DefinitionError, match="missing"):
            store.write_metadata(Ok, pl.DataFrame({"id": ["1"], "metaxy_provenance_by_field": [{"default": "p"}]}))


def test_field_dep_on_unknown_field(graph):
    A = _feature("a", fields=["audio", "frames"], name="A")
    _feature("b", deps=[A], fields=[mx.FieldSpec("f", deps=[mx.FieldDep(A, ["subtitles"])])], name="B")
    err = _plan_error(graph)
    assert err.feature == "b"
    assert "subtitles" in str(err) and "'f'" in str(err)


def test_field_dep_on_feature_that_is_not_a_dep(graph):
    A = _feature("a", fields=["x"], name="A")
    C = _feature("c", fields=["x"], name="C")
    _feature("b", deps=[A], fields=[mx.FieldSpec("f", deps=[mx.FieldDep(C, ["x"])])], name="B")
    err = _plan_error(graph)
    assert err.feature == "b"
    assert "'c'" in str(err) and "deps" in str(err)


def test_field_dep_on_unknown_feature_key(graph):
    A = _feature("a", fields=["x"], name="A")
    _feature("b", deps=[A], fields=[mx.FieldSpec("f", deps=[mx.FieldDep("nowhere", ["x"])])], name="B")
    err = _plan_error(graph)
    assert err.feature == "b" and "nowhere" in str(err)


def test_aggregation_on_column_the_upstream_lacks(graph):
    A = _feature("audio", ("audio_id",), columns={"audio_id": str, "path": str}, name="A")
    _feature(
        "speaker",
        ("speaker_id",),
        deps=[mx.FeatureDep(A, lineage=mx.LineageRelationship.aggregation(on=["speaker_id"]))],
        name="S",
    )
    err = _plan_error(graph)
    assert err.feature == "speaker"
    assert "speaker_id" in str(err) and "audio" in str(err)


def test_expansion_on_column_the_upstream_lacks(graph):
    V = _feature("video", ("video_id",), name="V")
    _feature(
        "video/chunk",
        ("video_id", "chunk_id"),
        deps=[mx.FeatureDep(V, lineage=mx.LineageRelationship.expansion(on=["parent_id"]))],
        columns={"video_id": str, "chunk_id": int},
        name="C",
    )
    err = _plan_error(graph)
    assert err.feature == "video/chunk" and "parent_id" in str(err)


def test_expansion_requires_on():
    with pytest.raises(mx.DefinitionError, match="on"):
        mx.LineageRelationship.expansion(on=None)


def test_aggregation_on_defaults_to_the_features_id_columns(graph):
    A = _feature("audio", ("audio_id",), columns={"audio_id": str, "speaker_id": str}, name="A")
    S = _feature(
        "speaker", ("speaker_id",), deps=[mx.FeatureDep(A, lineage=mx.LineageRelationship.aggregation())], name="S"
    )
    assert graph.feature_plan(S).key == ("speaker_id",)


def _two_deps_with_path(second_dep):
    A = _feature("a", columns={"id": str, "path": str}, name="A")
    _feature("c", columns={"id": str, "path": str}, name="C")
    return A, _feature("b", deps=[A, second_dep], name="B")


def test_user_columns_colliding_between_two_deps(graph):
    _two_deps_with_path("c")
    err = _plan_error(graph)
    assert err.feature == "b"
    text = str(err)
    assert "'path'" in text and "rename" in text and "select" in text


def test_rename_resolves_a_column_collision(graph, store_path):
    A, B = _two_deps_with_path(mx.FeatureDep("c", rename={"path": "c_path"}))
    graph.plan()
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(A, pl.DataFrame({"id": ["1"], "path": ["a.wav"], "metaxy_provenance_by_field": [{"default": "a"}]}))
        store.write(
            "c", pl.DataFrame({"id": ["1"], "path": ["c.wav"], "metaxy_provenance_by_field": [{"default": "c"}]})
        )
        rows = store.resolve_update(B).added.to_polars()
    assert rows.select("id", "path", "c_path").to_dicts() == [{"id": "1", "path": "a.wav", "c_path": "c.wav"}]


def test_select_resolves_a_column_collision(graph, store_path):
    A, B = _two_deps_with_path(mx.FeatureDep("c", select=[]))
    graph.plan()
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(A, pl.DataFrame({"id": ["1"], "path": ["a.wav"], "metaxy_provenance_by_field": [{"default": "a"}]}))
        store.write(
            "c", pl.DataFrame({"id": ["1"], "path": ["c.wav"], "metaxy_provenance_by_field": [{"default": "c"}]})
        )
        rows = store.resolve_update(B).added.to_polars()
    assert rows.get_column("path").to_list() == ["a.wav"]


def test_rename_of_a_column_the_upstream_lacks(graph):
    A = _feature("a", name="A")
    _feature("b", deps=[mx.FeatureDep(A, rename={"nope": "other"})], name="B")
    err = _plan_error(graph)
    assert err.feature == "b" and "nope" in str(err)


def test_select_of_a_column_the_upstream_lacks(graph):
    A = _feature("a", name="A")
    _feature("b", deps=[mx.FeatureDep(A, select=["nope"])], name="B")
    err = _plan_error(graph)
    assert err.feature == "b" and "nope" in str(err)


@pytest.mark.parametrize("id_columns", [[], ()])
def test_empty_id_columns(graph, id_columns):
    with pytest.raises(mx.DefinitionError) as info:
        mx.FeatureSpec(key="things", id_columns=id_columns)
    assert info.value.feature == "things" and "id_columns" in str(info.value)


def test_duplicate_keys_from_two_classes(graph):
    _feature("audio", name="Audio")
    with pytest.raises(mx.DefinitionError) as info:
        _feature("audio", name="OtherAudio")
        graph.plan()
    assert info.value.feature == "audio"
    assert "OtherAudio" in str(info.value)


def test_duplicate_keys_spelled_as_string_and_list(graph):
    _feature("video/chunk", name="Chunk")
    with pytest.raises(mx.DefinitionError) as info:
        _feature(["video", "chunk"], name="Chunk2")
        graph.plan()
    assert info.value.feature == "video/chunk"


# ----- keys and column names ----------------------------------------------------------------

SQL_LIKE_KEYS = [
    'audio"; DROP TABLE x;--',
    "a b",
    "audio'; DELETE FROM _metaxy_info;--",
    "a.b",
    "a;b",
    "",
    "a//b",
    "/a",
    "a/",
    "a\nb",
    "a`b",
    "[a]",
]


@pytest.mark.parametrize("key", SQL_LIKE_KEYS)
def test_invalid_feature_keys_are_rejected(graph, key):
    with pytest.raises(mx.DefinitionError) as info:
        _feature(key)
    assert "invalid feature key" in str(info.value)
    assert repr(key) in str(info.value) or key == ""
    assert len(graph) == 0


def test_invalid_key_part_in_a_list(graph):
    with pytest.raises(mx.DefinitionError, match="invalid feature key"):
        _feature(["video", 'chunk"--'])


def test_invalid_key_in_a_dep(graph):
    with pytest.raises(mx.DefinitionError, match="invalid feature key"):
        _feature("b", deps=['a"; DROP TABLE a;--'])


@pytest.mark.parametrize("column", ['x"y', "a b", "1st", "x;DROP TABLE t", "", "x'y", "x`y"])
def test_invalid_id_column_names(graph, column):
    with pytest.raises(mx.DefinitionError) as info:
        _feature("things", (column,), columns={})
    assert info.value.feature == "things" and "column name" in str(info.value)


@pytest.mark.parametrize("column", ['x"y', "a b", "x;DROP TABLE t", "metaxy_extra"])
def test_invalid_user_column_names(graph, column):
    with pytest.raises(mx.DefinitionError) as info:
        _feature("things", columns={"id": str, column: str})
    assert info.value.feature == "things" and repr(column) in str(info.value)


def test_rename_to_an_invalid_column_name(graph):
    A = _feature("a", columns={"id": str, "path": str}, name="A")
    _feature("b", deps=[mx.FeatureDep(A, rename={"path": 'x"y'})], name="B")
    err = _plan_error(graph)
    assert err.feature == "b" and 'x"y' in str(err)


def test_unsupported_column_type(graph):
    with pytest.raises(mx.DefinitionError) as info:
        _feature("things", columns={"id": str, "tags": list})
    assert info.value.feature == "things" and "tags" in str(info.value)


# ----- accepted spellings --------------------------------------------------------------------


def test_key_as_string_or_list_is_the_same_key(graph):
    Chunk = _feature(["video", "chunk"], name="Chunk")
    assert Chunk.spec().key == mx.FeatureKey("video/chunk")
    assert Chunk.spec().key.to_string() == "video/chunk"
    assert "video/chunk" in graph and ["video", "chunk"] in graph
    assert graph.definition("video/chunk") is graph.definition(["video", "chunk"])


def test_features_referenced_by_class_or_key_string(graph, store_path):
    A = _feature("audio/raw", name="A")
    B1 = _feature("by/class", deps=[A], name="B1")
    B2 = _feature("by/string", deps=["audio/raw"], name="B2")
    B3 = _feature("by/list", deps=[mx.FeatureDep(["audio", "raw"])], name="B3")
    for B in (B1, B2, B3):
        assert graph.feature_plan(B).deps[0].upstream == "audio/raw"
    assert mx.get_feature_by_key("audio/raw") is A
    rows = pl.DataFrame({"id": ["1", "2"], "metaxy_provenance_by_field": [{"default": "p1"}, {"default": "p2"}]})
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write_metadata("audio/raw", rows)
        by_class = store.read_metadata(A).drop("metaxy_created_at", "metaxy_updated_at")
        by_key = store.read_metadata("audio/raw").drop("metaxy_created_at", "metaxy_updated_at")
        assert by_class.equals(by_key) and by_class.height == 2
        inc_class = store.resolve_update(B2).added.to_polars()
        inc_key = store.resolve_update("by/string").added.to_polars()
        assert inc_class.equals(inc_key) and inc_class.height == 2


def test_fields_as_bare_strings_and_default_field(graph):
    A = _feature("a", name="A")
    B = _feature("b", fields=["x", mx.FieldSpec("y", code_version="2")], name="B")
    assert set(A.field_versions()) == {"default"}
    assert set(B.field_versions()) == {"x", "y"}
    assert B.spec().field("x").code_version == "__metaxy_initial__"


def test_bare_class_dep_is_identity(graph):
    A = _feature("a", name="A")
    B = _feature("b", deps=[A], name="B")
    dep = B.spec().deps[0]
    assert dep.lineage == mx.LineageRelationship.identity()
    assert graph.feature_plan(B).deps[0].kind == "identity"


def test_docstring_becomes_description(graph, store_path):
    A = _feature(
        "a",
        name="A",
        doc="""Audio recordings.

        One row per file.
        """,
    )
    assert A.definition().description == "Audio recordings.\n\nOne row per file."
    with mx.SQLiteMetadataStore(store_path) as store:
        store.push_graph(graph)
        assert store.stored_graph().definition("a").description == "Audio recordings.\n\nOne row per file."


def test_no_docstring_no_description(graph):
    A = _feature("a", name="A")
    assert A.definition().description is None


def test_graph_use_isolates_definitions():
    g1, g2 = mx.FeatureGraph(), mx.FeatureGraph()
    outer = mx.FeatureGraph.get_active()
    with g1.use():
        assert mx.FeatureGraph.get_active() is g1
        A1 = _feature("shared", fields=[mx.FieldSpec("default", code_version="1")], name="A1")
        with g2.use():
            assert mx.FeatureGraph.get_active() is g2
            A2 = _feature("shared", fields=[mx.FieldSpec("default", code_version="2")], name="A2")
            only2 = _feature("only/two", name="Only2")
        assert mx.FeatureGraph.get_active() is g1
    assert mx.FeatureGraph.get_active() is outer
    assert g1.keys == ["shared"] and g2.keys == ["only/two", "shared"]
    assert "shared" not in outer or outer.definition("shared").cls not in (A1, A2)
    assert A1.feature_version() != A2.feature_version()
    assert A1.graph() is g1 and A2.graph() is g2 and only2.graph() is g2


def test_store_follows_the_graph_of_the_class_it_is_given(store_path):
    g1, g2 = mx.FeatureGraph(), mx.FeatureGraph()
    with g1.use():
        A1 = _feature("a", fields=["one"], name="A1")
    with g2.use():
        A2 = _feature("a", fields=["two"], name="A2")
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(A1, pl.DataFrame({"id": ["1"], "metaxy_provenance_by_field": [{"one": "p"}]}))
        # the same key in another graph is another feature version: its rows are not these
        assert store.read(A2).height == 0
        assert store.read(A1).height == 1
        with pytest.raises(mx.InputError):
            store.write(A2, pl.DataFrame({"id": ["1"], "metaxy_provenance_by_field": [{"one": "p"}]}))


# ----- names that differ only in case ---------------------------------------------------------------
# SQLite table and column names are case-insensitive, so two names that differ only in case would
# be one table or one column. SPEC 1 (a definition error is raised when the graph is built, naming
# the feature and what is wrong) and the README (names that differ only in case are definition
# errors) decide: they are refused when the graph is built, naming both names, never stored.


def _refused(graph, build) -> mx.DefinitionError:
    """The DefinitionError raised by declaring the classes (graph.add) or by building the plan."""
    with pytest.raises(mx.DefinitionError) as info:
        build()
        graph.plan()
    return info.value


def test_feature_keys_differing_only_in_case(graph):
    def build():
        _feature("Audio", columns={"id": str, "x": int}, name="Upper")
        _feature("audio", columns={"id": str, "y": str}, name="Lower")

    err = _refused(graph, build)
    assert err.feature in ("Audio", "audio") and "'Audio'" in str(err) and "'audio'" in str(err), str(err)
    assert "case" in str(err)
    assert "Audio" not in graph or "audio" not in graph  # the second one was not registered


def test_user_columns_differing_only_in_case(graph):
    err = _refused(graph, lambda: _feature("people", columns={"id": str, "name": str, "Name": str}, name="People"))
    assert err.feature == "people" and "'name'" in str(err) and "'Name'" in str(err), str(err)


def test_a_written_column_differing_only_in_case_from_a_declared_one_is_refused(graph, store_path):
    """The write side of the test above: a frame's undeclared `NAME` next to the declared `name` is an
    error naming it (SPEC 1: a column name SQLite cannot hold apart is a clear error), and nothing is
    written. (Today it is refused as an unknown column; once undeclared columns are stored, as the
    name SQLite cannot hold.)"""
    People = _feature("people", columns={"id": str, "name": str}, name="People")
    with mx.SQLiteMetadataStore(store_path) as store:
        store.write(
            People, pl.DataFrame({"id": ["0"], "name": ["zero"], "metaxy_provenance_by_field": [{"default": "p"}]})
        )
        with pytest.raises(mx.MetaxyError, match="NAME"):
            store.write(
                People,
                pl.DataFrame(
                    {"id": ["1"], "name": ["low"], "NAME": ["Up"], "metaxy_provenance_by_field": [{"default": "p"}]}
                ),
            )
        assert store.read(People).select("id", "name").rows() == [("0", "zero")]


def test_fields_differing_only_in_case(graph):
    err = _refused(graph, lambda: _feature("f", fields=["x", "X"], name="F"))
    assert err.feature == "f" and "'x'" in str(err) and "'X'" in str(err), str(err)


@pytest.mark.parametrize("column", ["Metaxy_provenance", "METAXY_CREATED_AT", "_MX_FV"])
def test_reserved_column_names_in_another_case(graph, column):
    """A user column spelling a system column in another case would be that column in SQLite:
    refused (SPEC 1: a name colliding with a system column is a clear error), declared or not."""
    err = _refused(graph, lambda: _feature("a", ("id", column), columns={"id": str, column: str}, name="A"))
    assert err.feature == "a" and f"'{column}'" in str(err) and "reserved" in str(err), str(err)


@pytest.mark.parametrize("column", ["Metaxy_provenance", "METAXY_CREATED_AT", "_MX_FV"])
def test_a_written_column_named_like_a_system_column_in_another_case_is_refused(graph, store_path, column):
    A = _feature("a", name="A")
    with mx.SQLiteMetadataStore(store_path) as store:
        with pytest.raises(mx.MetaxyError, match=column):
            store.write(A, pl.DataFrame({"id": ["1"], column: ["v"], "metaxy_provenance_by_field": [{"default": "p"}]}))
        assert store.read(A).height == 0
