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
            want_params = [
                p
                for p in inspect.signature(wanted).parameters.values()
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"
            ]
            have = inspect.signature(got).parameters
            for p in want_params:
                assert p.name in have, f"{name}: no parameter {p.name!r}"


def test_the_postgresql_store_implements_the_interface(pg_url):
    store = mx.PostgreSQLMetadataStore(pg_url)
    assert isinstance(store, MetadataStore)
    for name in iter_protocol_methods():
        wanted = getattr(MetadataStore, name)
        got = getattr(type(store), name, None)
        assert got is not None, name
        if inspect.isfunction(wanted) and inspect.isfunction(got):
            want_params = [
                p
                for p in inspect.signature(wanted).parameters.values()
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"
            ]
            have = inspect.signature(got).parameters
            for p in want_params:
                assert p.name in have, f"{name}: no parameter {p.name!r}"


def _pages_methods():
    from metaxy_tui.store.interface import SamplePages

    return [n for n in dir(SamplePages) if not n.startswith("_") and callable(getattr(SamplePages, n))]


def test_both_stores_sample_pages_implement_samplepages(tmp_path, pg_url):
    from metaxy_tui.store.interface import SamplePages

    for store in (mx.SQLiteMetadataStore(tmp_path / "s.db"), mx.PostgreSQLMetadataStore(pg_url)):
        pages = store.sample_pages()
        try:
            for name in _pages_methods():
                got = getattr(pages, name, None)
                assert got is not None, f"{type(pages).__name__}.{name}"
                want = [
                    p.name
                    for p in inspect.signature(getattr(SamplePages, name)).parameters.values()
                    if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
                ]
                have = inspect.signature(got).parameters
                assert all(p in have for p in want), f"{type(pages).__name__}.{name}: {want} vs {list(have)}"
        finally:
            pages.close()
