"""The store's lookups for traces and impacts (store/sqlite/lookups.py): their contracts, and that
each walks an index (EXPLAIN QUERY PLAN) rather than the feature."""

from __future__ import annotations

import sqlite3

import polars as pl
import pytest

from metaxy_tui.errors import InputError, UnknownFeatureError
from tests.trace_pipeline import build


@pytest.fixture
def clips(graph, store_path):
    store = build(store_path)
    store.open("r")
    yield store
    store.close()


def plans(store, run) -> list[str]:
    """The query plans of every SELECT on a feature table that `run()` executes."""
    seen: list[str] = []
    real = store._conn

    class Spy:
        def execute(self, sql, params=()):
            if sql.lstrip().upper().startswith("SELECT") and "_metaxy_" not in sql:
                seen.extend(r[3] for r in real.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())
            return real.execute(sql, params)

        def __getattr__(self, name):
            return getattr(real, name)

    store._conn = Spy()
    try:
        run()
    finally:
        store._conn = real
    return seen


def test_find_sample_current_deleted_and_earlier(clips):
    s = clips.find_sample("doc", {"doc_id": "d02"})
    assert s.ids == {"doc_id": "d02"} and s.values["author"] == "alice" and s.current_version and not s.deleted
    assert s.provenance_by_field == {"meta": "m-d02", "text": "t-d02-v2"}
    gone = clips.find_sample("doc", {"doc_id": "d05"})
    assert gone.deleted and gone.current_version  # its tombstone
    assert clips.find_sample("doc", {"doc_id": "nope"}) is None
    page = clips.find_sample("doc/page", {"page_id": "d01-p2"})
    assert page.row == {"page_id": "d01-p2", "number": 2, "doc_id": "d01"}  # the parent's doc_id travels along
    with pytest.raises(InputError, match="missing id column"):
        clips.find_sample("doc/page", {"doc_id": "d01"})
    with pytest.raises(UnknownFeatureError):
        clips.find_sample("nope", {"x": 1})


def test_linked_samples_pages_by_keyset_and_counts(clips):
    first = clips.linked_samples("doc/page", {"doc_id": "d01"}, limit=2)
    assert first.total == 3 and [s.ids["page_id"] for s in first.samples] == ["d01-p1", "d01-p2"]
    assert first.after == {"page_id": "d01-p2"}
    rest = clips.linked_samples("doc/page", {"doc_id": "d01"}, limit=2, after=first.after)
    assert [s.ids["page_id"] for s in rest.samples] == ["d01-p3"] and rest.after is None
    members = clips.linked_samples("doc", {"author": "bob"}, limit=10)
    assert [s.ids for s in members.samples] == [{"doc_id": "d04"}]  # d05 is deleted: not live
    assert clips.linked_samples("doc", {"author": None}).total == 0  # a null matches nothing
    assert clips.linked_samples("doc", {"nope": 1}).note == "doc has no column nope"
    assert clips.first_ids("doc/page", limit=2) == [{"page_id": "d01-p1"}, {"page_id": "d01-p2"}]
    for feature in ("doc", "doc/page", "author/profile"):
        assert clips.count_live(feature) == clips.count(feature)
    assert clips.count_live("doc") == 5  # d05 is soft-deleted


def test_expected_provenance_agrees_with_resolve(clips):
    for feature in ("author/profile", "doc/page", "doc/page_embedding"):
        plan = clips.graph().feature_plan(feature)
        current = clips.read_metadata(feature)
        keys = current.select(list(plan.key)).unique().to_dicts()
        expected = clips.expected_provenance(feature, keys)
        inc = clips.resolve_update(feature)
        changed = {tuple(r[c] for c in plan.key) for r in inc.changed.to_polars().iter_rows(named=True)}
        removed = {tuple(r[c] for c in plan.key) for r in inc.removed.to_polars().iter_rows(named=True)}
        mine_changed, mine_gone = set(), set()
        for r in current.iter_rows(named=True):
            k = tuple(r[c] for c in plan.key)
            if k not in expected:
                mine_gone.add(k)
            elif expected[k][0] != r["metaxy_provenance"]:
                mine_changed.add(k)
        assert (mine_changed, mine_gone) == (changed, removed), feature
    assert clips.expected_provenance("author/profile", [{"author": "alice"}])[("alice",)][1].keys() == {"summary"}
    assert clips.expected_provenance("doc", [{"doc_id": "d01"}]) == {}  # a root: nothing to compute


def test_rows_by_keys_is_frame_shaped(clips):
    rows = clips.rows_by_keys("doc/page", pl.DataFrame({"doc_id": ["d01", "d04"]}), ["page_id", "doc_id"])
    assert rows.sort("page_id")["page_id"].to_list() == ["d01-p1", "d01-p2", "d01-p3", "d04-p1", "d04-p2", "d04-p3"]
    assert rows.schema == {"page_id": pl.String, "doc_id": pl.String}
    assert clips.rows_by_keys("doc", pl.DataFrame({"doc_id": []}, schema={"doc_id": pl.String}), ["doc_id"]).height == 0


def test_parse_ids_types_values_and_names_bad_ones(clips):
    assert clips.parse_ids("doc/page", {"page_id": "d01-p1"}) == {"page_id": "d01-p1"}
    with pytest.raises(InputError, match="not an id column"):
        clips.parse_ids("doc/page", {"page_id": "x", "doc_id": "d01"})


def test_lookups_walk_indexes(clips):
    checks = {
        "by id": lambda: clips.find_sample("doc/page", {"page_id": "d01-p1"}),
        "members of a group": lambda: clips.linked_samples("doc", {"author": "alice"}, limit=1),
        "a parent's children, keyed by their own id": lambda: clips.linked_samples(
            "doc/page", {"doc_id": "d01"}, limit=1, after={"page_id": "d01-p1"}
        ),
        "an aggregation's inputs": lambda: clips.expected_provenance("author/profile", [{"author": "alice"}]),
        "an expansion's inputs": lambda: clips.expected_provenance("doc/page", [{"doc_id": "d01"}]),
        "first ids": lambda: clips.first_ids("doc/page_embedding"),
        "live count": lambda: clips.count_live("doc"),
    }
    for what, run in checks.items():
        found = plans(clips, run)
        assert found and all(p.startswith("SEARCH") or "SUBQUERY" in p or "CONSTANT" in p for p in found), (what, found)
        assert not any("TEMP B-TREE" in p for p in found), (what, found)


def test_consistent_reads_see_one_state(clips, store_path):
    with clips.consistent_reads():
        before = clips.linked_samples("doc", {"author": "alice"}).total
        other = sqlite3.connect(store_path)
        other.execute("UPDATE doc SET author = 'alice' WHERE doc_id = 'd04'")
        other.commit()
        other.close()
        assert clips.linked_samples("doc", {"author": "alice"}).total == before
    assert clips.linked_samples("doc", {"author": "alice"}).total == before + 1
