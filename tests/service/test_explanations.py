"""Explanations are kept until the store changes (service/explanations.py): the browser explains
the highlighted feature ahead of a review, and the review starts from that answer."""

from __future__ import annotations

import threading
import time

import polars as pl

from metaxy_tui.service import review

FEATURE = "speaker/embedding"


def count_explains(project, monkeypatch, delay: float = 0.0) -> list[str]:
    """Every store.explain call, by feature (optionally slowed, to make two callers meet)."""
    calls: list[str] = []
    real = project.store.explain

    def explain(feature, *args, **kwargs):
        calls.append(str(feature))
        time.sleep(delay)
        return real(feature, *args, **kwargs)

    monkeypatch.setattr(project.store, "explain", explain)
    return calls


def rewrite_one_audio(project) -> None:
    row = project.store.read_metadata("audio").head(1)
    pbf = {k: v + "-again" for k, v in row.item(0, "metaxy_provenance_by_field").items()}
    row = row.drop("metaxy_provenance", "metaxy_data_version_by_field", "metaxy_data_version")
    project.store.write_metadata(
        "audio", row.with_columns(pl.lit(pl.Series([pbf])).alias("metaxy_provenance_by_field"))
    )


def test_an_explanation_is_kept_until_the_store_changes(project, monkeypatch):
    calls = count_explains(project, monkeypatch)
    first = review.explain(project, FEATURE)
    assert review.explain(project, FEATURE) is first
    assert calls == [FEATURE]

    rewrite_one_audio(project)  # a write: what was kept may no longer be true
    again = review.explain(project, FEATURE)
    assert again is not first and calls == [FEATURE, FEATURE]


def test_prefetch_does_the_work_once_and_the_review_reuses_it(project, monkeypatch):
    calls = count_explains(project, monkeypatch)
    assert review.prefetch(project, FEATURE) is True
    assert review.prefetch(project, FEATURE) is False  # already explained as the store is now
    assert review.prefetch(project, "audio") is False  # a root: nothing to review
    review.explain(project, FEATURE)
    assert calls == [FEATURE]


def test_a_review_opened_while_the_prefetch_runs_waits_for_it(project, monkeypatch):
    calls = count_explains(project, monkeypatch, delay=0.3)
    results = []
    ahead = threading.Thread(target=lambda: results.append(review.explain(project, FEATURE)))
    ahead.start()
    time.sleep(0.05)
    mine = review.explain(project, FEATURE)
    ahead.join()
    assert calls == [FEATURE] and results == [mine]


def test_a_failed_explanation_is_not_kept(project, monkeypatch):
    real = project.store.explain
    fail = [True]

    def explain(feature, *args, **kwargs):
        if fail[0]:
            raise RuntimeError("the store went away")
        return real(feature, *args, **kwargs)

    monkeypatch.setattr(project.store, "explain", explain)
    try:
        review.explain(project, FEATURE)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failure was not raised")
    fail[0] = False
    assert review.explain(project, FEATURE).counts()
