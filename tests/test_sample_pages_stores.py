"""The samples table's pages on SQLite and PostgreSQL: the same demo-like data, paged, sorted and
filtered, give the same pages, positions, sample detail reads and export rows on both stores."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import metaxy_tui as mx
from metaxy_tui.store.pages import ViewSpec

PAGE = 7


def declare():
    class Clip(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="media/clip", id_columns=["source", "clip_no"], fields=[mx.FieldSpec("default", code_version="1")]
        ),
    ):
        source: str
        clip_no: int
        title: str | None
        score: float | None
        ok: bool | None
        taken: dt.datetime | None
        day: dt.date | None

    class Tag(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="media/tag",
            id_columns=["source", "clip_no", "tag"],
            deps=[mx.FeatureDep(feature=Clip)],
            fields=["label"],
        ),
    ):
        source: str
        clip_no: int
        tag: str

    return Clip, Tag


TITLES = ["Intro", "intro take 2", "100% done", "a_b", "ab", "Zebra", None, "émile", "Apple pie", "apple"]


def clips(n: int, tag: str = "p", start: int = 0) -> pl.DataFrame:
    rows = []
    for k in range(start, start + n):
        rows.append(
            {
                "source": ["cam_a", "cam_B", "Cam_c"][k % 3],
                "clip_no": k,
                "title": TITLES[k % len(TITLES)],
                "score": None if k % 7 == 0 else [1.0, 2.5, 0.1, -3.0, 2.0, 1e20][k % 6],
                "ok": None if k % 5 == 0 else bool(k % 2),
                "taken": None
                if k % 11 == 0
                else dt.datetime(2024, 1 + k % 12, 1 + k % 28, k % 24, k % 60, 0, k * 1000),
                "day": None if k % 13 == 0 else dt.date(2023, 1 + k % 12, 1 + k % 27),
                "metaxy_provenance_by_field": {"default": f"{tag}-{k}"},
            }
        )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "title": pl.String,
            "score": pl.Float64,
            "ok": pl.Boolean,
            "taken": pl.Datetime("us"),
            "day": pl.Date,
        },
    )


def tags(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "source": ["cam_a", "cam_B", "Cam_c"][k % 3],
                "clip_no": k,
                "tag": t,
                "metaxy_provenance_by_field": {"label": f"t{k}{t}"},
            }
            for k in range(n)
            for t in (["x", "y"] if k % 4 == 0 else ["x"])
        ]
    )


@pytest.fixture
def stores(graph, tmp_path, pg_url):
    declare()
    sqlite = mx.SQLiteMetadataStore(tmp_path / "s.db")
    pg = mx.PostgreSQLMetadataStore(pg_url)
    for store in (sqlite, pg):
        with store:
            store.write("media/clip", clips(60))
            store.write("media/clip", clips(5, tag="q", start=10))  # supersedes 10..14
            store.delete("media/clip", ids=[{"source": "cam_B", "clip_no": 16}, {"source": "cam_a", "clip_no": 3}])
            store.write("media/tag", tags(30))
    yield {"sqlite": sqlite, "postgresql": pg}


def _cells(view, rows):
    """The rows as the table shows them, the created/updated times left out (each store wrote at its own time)."""
    keep = [i for i, c in enumerate(view.columns) if not c.is_time]
    return [tuple(view.cell_text(r, i) for i in keep) for r in rows]


def _values(view, rows):
    """The raw values (as SQLite holds them), without the row handle, the version id and the times."""
    keep = [i for i, c in enumerate(view.columns) if not c.is_time and c.kind != "feature_version"]
    return [tuple(r[1 + i] for i in keep) for r in rows]


def _all_pages(pages, view, order):
    out = {}
    for i in order:
        out[i] = pages.page(view, i)
    return [r for i in sorted(out) for r in out[i]]


SPECS = [
    ViewSpec("media/clip"),
    ViewSpec("media/clip", sort="source", descending=True),
    ViewSpec("media/clip", sort="title"),
    ViewSpec("media/clip", sort="title", descending=True),
    ViewSpec("media/clip", sort="score"),
    ViewSpec("media/clip", sort="score", descending=True),
    ViewSpec("media/clip", sort="ok"),
    ViewSpec("media/clip", sort="taken", descending=True),
    ViewSpec("media/clip", sort="day"),
    ViewSpec("media/clip", sort="clip_no", descending=True),
    ViewSpec("media/clip", sort="provenance"),
    ViewSpec("media/clip", sort="feature version"),
    ViewSpec("media/clip", sort="updated", descending=True),
    ViewSpec("media/clip", filter="intro"),
    ViewSpec("media/clip", filter="APPLE", sort="clip_no"),
    ViewSpec("media/clip", filter="100%"),
    ViewSpec("media/clip", filter="a_b"),
    ViewSpec("media/clip", filter="cam_b", sort="score", descending=True),
    ViewSpec("media/clip", filter="ok: 1"),
    ViewSpec("media/clip", filter="score: 2.0"),
    ViewSpec("media/clip", filter="score: 1e"),
    ViewSpec("media/clip", filter="score: .0e+2"),
    ViewSpec("media/clip", filter="taken: 2024-03"),
    ViewSpec("media/clip", filter="taken: T05"),
    ViewSpec("media/clip", filter="day: -02-"),
    ViewSpec("media/clip", filter="provenance.default: q-"),
    ViewSpec("media/clip", filter="1"),
    ViewSpec("media/clip", filter="nothing like this"),
    ViewSpec("media/tag", sort="tag", descending=True),
    ViewSpec("media/tag", filter="x"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.feature}|{s.sort}|{s.descending}|{s.filter}")
def test_both_stores_give_the_same_pages(stores, spec):
    got = {}
    for kind, store in stores.items():
        pages = store.sample_pages(page_size=PAGE)
        try:
            view = pages.open_view(spec, count=False)
            view = pages.count(view)
            n_pages = view.pages
            forward = _all_pages(pages, view, range(n_pages))
            # a fresh view read from the end backwards (OFFSET from the far end, keyset before)
            view2 = pages.count(pages.open_view(spec, count=False))
            backward = _all_pages(pages, view2, reversed(range(n_pages)))
            jumpy = _all_pages(pages, view2, [n_pages // 2, 0, n_pages - 1] if n_pages else [])
            assert _values(view2, backward) == _values(view, forward)
            positions = [pages.position_of_rowid(view2, r[0]) for r in backward]
            assert positions == list(range(len(backward)))
            found = [pages.position_of(view2, view2.ids_of(r)) for r in backward[::5]]
            assert found == list(range(0, len(backward), 5))
            assert pages.position_of(view2, {c: ("nope" if c != "clip_no" else -1) for c in view2.id_columns}) is None
            got[kind] = (
                view.count,
                view.note,
                [c.name for c in view.columns],
                _cells(view, forward),
                _values(view, forward),
                len(jumpy),
            )
        finally:
            pages.close()
    assert got["sqlite"][0] == len(got["sqlite"][3])
    assert got["sqlite"] == got["postgresql"]


def test_both_stores_give_the_same_sample_detail_and_export(stores, graph):
    clip = graph.feature_plan("media/clip")
    tag = graph.feature_plan("media/tag")
    got = {}
    for kind, store in stores.items():
        pages = store.sample_pages(page_size=PAGE)
        try:
            view = pages.open_view(ViewSpec("media/clip", sort="score"))
            first = pages.page(view, 0)[2]
            ids = view.ids_of(first)
            rows = [
                pages.sample_row(clip, i)
                for i in (
                    ids,
                    {"source": "cam_B", "clip_no": 10},
                    {"source": "cam_B", "clip_no": 16},
                    {"source": "x", "clip_no": 1},
                )
            ]
            shown = [
                None
                if r is None
                else (
                    {k: v for k, v in r.columns.items() if not k.endswith("_at")},
                    r.current_version,
                    r.feature_version,
                )
                for r in rows
            ]
            history, total = pages.sample_history(clip, {"source": "cam_B", "clip_no": 10}, 10)
            hist = [(h.kind, h.feature_version, h.provenance, h.state, h.deleted_at is None) for h in history]
            linked = pages.linked_rows(tag, {"source": "cam_a", "clip_no": 0}, ["label"], 10)
            linked = (
                [(r.values, r.provenance, r.data_version, r.data_version_by_field) for r in linked[0]],
                *linked[1:],
            )
            missing = pages.linked_rows(tag, {"nope": 1}, ["label"], 10)
            export = pages.export_rows(
                clip.definition, clip.feature_version, ViewSpec("media/clip", filter="cam", sort="taken"), batch_rows=4
            )
            batches = list(export.batches)
            exported = (
                [c.name for c in export.columns],
                export.total,
                [len(b) for b in batches],
                [
                    tuple(v for c, v in zip(export.columns, r[1:]) if not c.is_time and c.kind != "feature_version")
                    for b in batches
                    for r in b
                ],
            )
            got[kind] = (shown, hist, total, linked, missing, exported)
        finally:
            pages.close()
    assert got["sqlite"][0][1] is not None and got["sqlite"][0][3] is None
    assert got["sqlite"][5][1] == sum(got["sqlite"][5][2]) > 4
    assert got["sqlite"] == got["postgresql"]


def test_interrupt_cancels_the_running_statement_on_postgresql(stores):
    import threading
    import time

    from metaxy_tui.store.pages import Interrupted

    pages = stores["postgresql"].sample_pages(page_size=PAGE)
    try:
        view = pages.open_view(ViewSpec("media/clip", sort="title"))
        pages.interrupt()  # nothing running: harmless
        timer = threading.Timer(0.3, pages.interrupt)
        timer.start()
        start = time.monotonic()
        with pytest.raises(Interrupted), pages._lock:
            pages._run("SELECT pg_sleep(10)")  # stands for a long view build or deep page
        assert time.monotonic() - start < 5
        assert len(pages.page(view, 1)) == PAGE  # the connection is still usable
    finally:
        pages.close()
