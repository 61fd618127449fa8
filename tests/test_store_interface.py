"""Every store implements the one interface (metaxy_tui/store/interface.py) the rest of the code uses."""

from __future__ import annotations

import inspect

import metaxy_tui as mx
from metaxy_tui.store.interface import MetadataStore, iter_protocol_methods


def test_the_sqlite_store_implements_the_interface(tmp_path):
    store = mx.SQLiteMetadataStore(tmp_path / "s.db")
    assert isinstance(store, MetadataStore)
    for name in iter_protocol_methods():
        wanted = getattr(MetadataStore, name)
        got = getattr(type(store), name, None)
        assert got is not None, name
        if inspect.isfunction(wanted) and inspect.isfunction(got):
            want_params = [p for p in inspect.signature(wanted).parameters.values()
                           if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"]
            have = inspect.signature(got).parameters
            for p in want_params:
                assert p.name in have, f"{name}: no parameter {p.name!r}"


# What the PostgreSQL store does not implement yet: the TUI's samples table pages (SamplePages) read
# SQLite files. Listed here so that the gap is explicit, and this test fails once it is closed.
POSTGRES_NOT_YET = {"sample_pages"}


def test_the_postgresql_store_implements_the_interface(pg_url):
    store = mx.PostgreSQLMetadataStore(pg_url)
    assert all(getattr(type(store), name, None) is None for name in POSTGRES_NOT_YET)
    for name in iter_protocol_methods():
        if name in POSTGRES_NOT_YET:
            continue
        wanted = getattr(MetadataStore, name)
        got = getattr(type(store), name, None)
        assert got is not None, name
        if inspect.isfunction(wanted) and inspect.isfunction(got):
            want_params = [p for p in inspect.signature(wanted).parameters.values()
                           if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"]
            have = inspect.signature(got).parameters
            for p in want_params:
                assert p.name in have, f"{name}: no parameter {p.name!r}"
