from __future__ import annotations

import pytest

import metaxy_tui as mx


@pytest.fixture
def graph():
    """A fresh, active feature graph for the test's feature classes."""
    g = mx.FeatureGraph()
    with g.use():
        yield g


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "store.db"
