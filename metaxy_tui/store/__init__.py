"""Stores: the one interface (interface.py), what every store shares (records, pages, validation),
and the implementations (sqlite/; a PostgreSQL one goes beside it)."""

from __future__ import annotations

import os

from .interface import MetadataStore
from .sqlite.store import SQLiteMetadataStore


def store_at(location: str | os.PathLike) -> MetadataStore:
    """The store at `location`, not opened: the one place that maps a location to an implementation
    (a path: an SQLite file). A child process reopens its parent's store with it."""
    return SQLiteMetadataStore(location)


__all__ = ["MetadataStore", "SQLiteMetadataStore", "store_at"]
