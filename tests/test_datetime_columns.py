"""Datetime and date columns: ISO 8601 text with or without an offset, and ids of those types."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import metaxy_tui as mx

PBF = "metaxy_provenance_by_field"


@pytest.fixture
def store(tmp_path):
    graph = mx.FeatureGraph()
    with graph.use():

        class Event(mx.BaseFeature, spec=mx.FeatureSpec(key="event", id_columns=["when"], fields=["default"])):
            when: dt.datetime
            day: dt.date
            seen: dt.datetime | None

    with mx.SQLiteMetadataStore(tmp_path / "store.db", graph=graph) as s:
        yield s


def rows(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame({**columns, PBF: [{"default": "p"}] * n})


def test_text_with_an_offset_is_stored_in_utc_and_text_without_one_as_given(store):
    store.write_metadata(
        "event",
        rows(
            when=["2024-05-01T12:00:00+02:00", "2024-05-01T10:00:01Z", "2024-05-01T12:00:02", "2024-05-01T12:00:03.5"],
            day=["2024-05-01"] * 4,
            seen=["2024-05-01T12:00:00", "2024-05-01T12:00:00+02:00", None, "2024-05-01T12:00:00-01:30"],
        ),
    )
    got = store.read_metadata("event").sort("when").select("when", "seen").rows()
    assert got == [
        (dt.datetime(2024, 5, 1, 10, 0, 0), dt.datetime(2024, 5, 1, 12, 0)),
        (dt.datetime(2024, 5, 1, 10, 0, 1), dt.datetime(2024, 5, 1, 10, 0)),
        (dt.datetime(2024, 5, 1, 12, 0, 2), None),
        (dt.datetime(2024, 5, 1, 12, 0, 3, 500000), dt.datetime(2024, 5, 1, 13, 30)),
    ]


def test_text_that_is_no_datetime_names_the_row_and_column(store):
    with pytest.raises(mx.InputError) as e:
        store.write_metadata(
            "event", rows(when=["2024-05-01T12:00:00", "yesterday"], day=["2024-05-01"] * 2, seen=[None, None])
        )
    assert "when" in str(e.value) and "row 2" in str(e.value) and "not a datetime" in str(e.value)
    assert store.read_metadata("event").height == 0


@pytest.mark.parametrize("soft", [True, False])
def test_deleting_by_datetime_ids(store, soft):
    when = [dt.datetime(2024, 5, 1, 12, 0, s) for s in range(3)]
    store.write_metadata("event", rows(when=when, day=[dt.date(2024, 5, 1)] * 3, seen=[None] * 3))
    assert store.delete_metadata("event", ids=[{"when": when[0]}], soft=soft) == 1
    assert store.delete_metadata("event", ids=pl.DataFrame({"when": when[1:2]}), soft=soft) == 1
    assert store.read_metadata("event").get_column("when").to_list() == when[2:]


def test_writing_with_delete_ids_of_a_datetime_key(store):
    when = [dt.datetime(2024, 5, 1, 12, 0, s) for s in range(3)]
    store.write_metadata("event", rows(when=when, day=[dt.date(2024, 5, 1)] * 3, seen=[None] * 3))
    store.write_metadata(
        "event",
        rows(when=when[2:], day=[dt.date(2024, 5, 2)], seen=[None]),
        delete_ids=pl.DataFrame({"when": when[:1]}),
    )
    got = store.read_metadata("event").sort("when").select("when", "day").rows()
    assert got == [(when[1], dt.date(2024, 5, 1)), (when[2], dt.date(2024, 5, 2))]


def test_a_first_value_that_is_no_date_is_reported_not_a_crash(store):
    with pytest.raises(mx.InputError) as e:
        store.write_metadata(
            "event",
            rows(when=["2024-05-01T12:00:00", "2024-05-01T12:00:01"], day=["someday", "2024-05-01"], seen=[None, None]),
        )
    assert "day" in str(e.value) and "row 1," in str(e.value) and "not a date" in str(e.value)
