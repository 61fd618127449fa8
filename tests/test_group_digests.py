"""The columnar copy and the group digests always equal a recomputation from the rows, and the
aggregation's hashes are those of the old window path, whatever the writes and deletes."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metaxy_tui as mx
from metaxy_tui.store.sqlite import upkeep

SETTINGS = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_MAX", "25")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

G = mx.FeatureGraph()
with G.use():

    class Item(mx.BaseFeature, spec=mx.FeatureSpec(key="item", id_columns=["item_id"], fields=["a", "b"])):
        item_id: str
        grp: str | None
        n: int

    class Group(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="group",
            id_columns=["grp"],
            deps=[mx.FeatureDep(Item, lineage=mx.LineageRelationship.aggregation(on=["grp"]))],
            fields=[mx.FieldSpec("summary", code_version="3")],
        ),
    ):
        grp: str


ids_st = st.sampled_from([f"i{k}" for k in range(12)] + ["é1", "a|b", ""])
grp_st = st.sampled_from(["g1", "g2", "g3", None])
prov_st = st.text(alphabet="ab|xé", max_size=4)

write_op = st.builds(
    lambda rows: ("write", rows),
    st.lists(
        st.fixed_dictionaries({"item_id": ids_st, "grp": grp_st, "n": st.integers(-3, 3), "a": prov_st, "b": prov_st}),
        min_size=1,
        max_size=8,
        unique_by=lambda r: r["item_id"],
    ),
)
delete_op = st.builds(
    lambda ids, soft: ("delete", ids, soft), st.lists(ids_st, min_size=1, max_size=4, unique=True), st.booleans()
)
ops_st = st.lists(st.one_of(write_op, write_op, delete_op), min_size=1, max_size=7)


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "item_id": [r["item_id"] for r in rows],
            "grp": [r["grp"] for r in rows],
            "n": [r["n"] for r in rows],
            "metaxy_provenance_by_field": [{"a": r["a"], "b": r["b"]} for r in rows],
        },
        schema={
            "item_id": pl.String,
            "grp": pl.String,
            "n": pl.Int64,
            "metaxy_provenance_by_field": pl.Struct({"a": pl.String, "b": pl.String}),
        },
    )


def window_reference(path: Path, store) -> dict[str, str]:
    """Each group's expected provenance computed the old way: SQLite's window group_concat over the
    members ordered by id, hashed once per group."""
    plan = G.feature_plan("group")
    fv = store._fv_id("item", G.feature_version("item"))
    conn = sqlite3.connect(path)
    rows = conn.execute(
        'SELECT grp, group_concat(coalesce("metaxy_data_version_by_field.a", "metaxy_provenance_by_field.a"), \'|\') '
        'OVER w, group_concat(coalesce("metaxy_data_version_by_field.b", "metaxy_provenance_by_field.b"), \'|\') OVER w, '
        "row_number() OVER w FROM item WHERE _mx_fv = ? AND _mx_superseded IS NULL AND metaxy_deleted_at IS NULL "
        "AND grp IS NOT NULL WINDOW w AS (PARTITION BY grp ORDER BY item_id ROWS BETWEEN UNBOUNDED PRECEDING AND "
        "UNBOUNDED FOLLOWING)",
        (fv,),
    ).fetchall()
    conn.close()
    h = store.hasher
    out = {}
    spec = plan.definition.spec.fields[0]
    for grp, a, b, rn in rows:
        if rn != 1:
            continue
        va, vb = h.hash(a or ""), h.hash(b or "")
        field_hash = h.hash("|".join([spec.key.to_string(), spec.code_version, "item.a", va, "item.b", vb]))
        out[grp] = h.hash(field_hash)
    return out


def check_derived(store) -> list[str]:
    plan = G.feature_plan("item")
    fv = store._fv_id("item", plan.feature_version)
    if fv is None:
        return []
    with store._lock:
        store.conn.execute("BEGIN")
        try:
            return upkeep.check(store.conn, "item", plan.definition, fv, store.hasher)
        finally:
            store.conn.execute("COMMIT")


@SETTINGS
@given(ops_st)
def test_derived_tables_follow_every_write_and_delete(ops):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.db"
        with G.use(), mx.SQLiteMetadataStore(path, graph=G) as store:
            for op in ops:
                if op[0] == "write":
                    store.write_metadata(Item, _frame(op[1]))
                elif store._table("item") is not None:
                    store.delete_metadata(Item, ids=[{"item_id": i} for i in op[1]], soft=op[2])
                assert check_derived(store) == []
                if store._table("item") is None:
                    continue
                inc = store.resolve_update(Group)
                got = dict(inc.added.to_polars().select("grp", "metaxy_provenance").unique().rows())
                assert got == window_reference(path, store)
                assert None not in got  # rows without a group belong to none
                assert store.pending_counts(Group) == inc.counts
                members = inc.added.to_polars()
                live = store.read_metadata(Item).filter(pl.col("grp").is_not_null())
                assert members.height == live.height


@pytest.mark.parametrize("n_groups", [1, 7, 1000])
def test_one_group_and_many_give_the_old_hashes(tmp_path, n_groups):
    n = 3000
    rows = [
        {"item_id": f"s{i:05d}", "grp": f"g{i % n_groups}", "n": i, "a": str(i * 7 % 13), "b": f"b{i}"}
        for i in range(n)
    ]
    path = tmp_path / "g.db"
    with G.use(), mx.SQLiteMetadataStore(path, graph=G) as store:
        store.write_metadata(Item, _frame(rows[::-1]))  # written out of id order
        got = dict(store.resolve_update(Group).added.to_polars().select("grp", "metaxy_provenance").unique().rows())
        assert got == window_reference(path, store) and len(got) == n_groups
        store.write_metadata(Item, _frame([dict(r, a="new") for r in rows[5:9]]))
        assert check_derived(store) == []
        got = dict(store.resolve_update(Group).added.to_polars().select("grp", "metaxy_provenance").unique().rows())
        assert got == window_reference(path, store)


def test_without_digests_the_members_give_the_same_hashes(tmp_path):
    """A store whose digests are missing (written before the aggregation existed, or by an older
    version) builds the group strings from the members, with the same result."""
    path = tmp_path / "g.db"
    rows = [{"item_id": f"s{i:03d}", "grp": f"g{i % 5}", "n": i, "a": str(i), "b": "x"} for i in range(200)]
    with G.use(), mx.SQLiteMetadataStore(path, graph=G) as store:
        store.write_metadata(Item, _frame(rows))
        want = dict(store.resolve_update(Group).added.to_polars().select("grp", "metaxy_provenance").unique().rows())
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM _metaxy_group_complete")
    conn.commit()
    with G.use(), mx.SQLiteMetadataStore(path, graph=G).open("r") as store:
        got = dict(store.resolve_update(Group).added.to_polars().select("grp", "metaxy_provenance").unique().rows())
        assert got == want == window_reference(path, store)
    conn.execute("DELETE FROM _metaxy_mirrors")  # no columnar copy either: SQL's window numbers the members
    conn.commit()
    conn.close()
    with G.use(), mx.SQLiteMetadataStore(path, graph=G).open("r") as store:
        got = dict(store.resolve_update(Group).added.to_polars().select("grp", "metaxy_provenance").unique().rows())
        assert got == want


def test_small_writes_keep_few_chunks_and_dead_rows_are_dropped(tmp_path, monkeypatch):
    from metaxy_tui.store.sqlite import chunks

    monkeypatch.setattr(chunks, "DEAD_MIN", 10)
    path = tmp_path / "c.db"
    with G.use(), mx.SQLiteMetadataStore(path, graph=G) as store:
        for w in range(40):  # 40 writes of 5 new rows each
            store.write_metadata(
                Item, _frame([{"item_id": f"w{w}-{i}", "grp": "g1", "n": i, "a": "x", "b": "y"} for i in range(5)])
            )
        n_chunks = store.conn.execute("SELECT count(*) FROM _metaxy_chunks").fetchone()[0]
        assert n_chunks <= 8  # merged as they come, O(log n)
        # rewrite a third of the rows: once a quarter are dead, the chunks are cleaned
        store.write_metadata(
            Item,
            _frame(
                [
                    {"item_id": f"w{w}-{i}", "grp": "g2", "n": i, "a": "new", "b": "y"}
                    for w in range(14)
                    for i in range(5)
                ]
            ),
        )
        rows = store.conn.execute("SELECT coalesce(sum(n_rows), 0) FROM _metaxy_chunks").fetchone()[0]
        assert rows == 200  # the live rows only: the 70 replaced ones are gone from the copy
        assert check_derived(store) == []
        store.delete_metadata(Item, ids=[{"item_id": "w0-0"}, {"item_id": "w39-4"}], soft=False)
        assert check_derived(store) == []
        assert store.conn.execute("SELECT coalesce(sum(n_rows), 0) FROM _metaxy_chunks").fetchone()[0] == 198


def test_a_store_of_the_older_layout_gets_its_copy_on_the_next_write(tmp_path):
    """Layout 1 had no copy and no digests: reads go through SQL, and the next write builds both."""
    path = tmp_path / "old.db"
    rows = [{"item_id": f"s{i}", "grp": f"g{i % 3}", "n": i, "a": str(i), "b": "b"} for i in range(30)]
    with G.use(), mx.SQLiteMetadataStore(path, graph=G) as store:
        store.write_metadata(Item, _frame(rows))
        want = dict(store.resolve_update(Group).added.to_polars().select("grp", "metaxy_provenance").unique().rows())
    conn = sqlite3.connect(path)
    for t in (
        "_metaxy_chunk_columns",
        "_metaxy_chunks",
        "_metaxy_mirrors",
        "_metaxy_group_complete",
        "_metaxy_group_sets",
    ):
        conn.execute(f"DROP TABLE {t}")
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE name LIKE '_mx_item__groups_%' AND type = 'table'"
    ).fetchall():
        conn.execute(f'DROP TABLE "{name}"')
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with G.use(), mx.SQLiteMetadataStore(path, graph=G).open("r") as store:
        got = dict(store.resolve_update(Group).added.to_polars().select("grp", "metaxy_provenance").unique().rows())
        assert got == want
    with G.use(), mx.SQLiteMetadataStore(path, graph=G) as store:
        store.write_metadata(Item, _frame([dict(rows[0], a="changed")]))
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert check_derived(store) == []
        assert store.conn.execute("SELECT coalesce(sum(n_rows), 0) FROM _metaxy_chunks").fetchone()[0] == 30
        assert dict(
            store.resolve_update(Group).added.to_polars().select("grp", "metaxy_provenance").unique().rows()
        ) == window_reference(path, store)
