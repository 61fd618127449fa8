"""Stores: the one interface (interface.py), what every store shares (records, pages, validation),
and the implementations (sqlite/, postgres/)."""

from __future__ import annotations

import os

from .interface import MetadataStore
from .postgres.connection import is_postgres_url
from .postgres.store import PostgreSQLMetadataStore
from .sqlite.store import SQLiteMetadataStore


def store_at(location: str | os.PathLike[str]) -> MetadataStore:
    """The store at `location`, not opened: the one place that maps a location to an implementation
    (a postgresql:// connection string: a PostgreSQL store; a path: an SQLite file). A child
    process reopens its parent's store with it (`store_location`)."""
    if is_postgres_url(location):
        return PostgreSQLMetadataStore(str(location))
    return SQLiteMetadataStore(location)


def store_location(store: MetadataStore) -> str:
    """What `store_at` reopens `store` from: its file, or its full connection string (the password
    included, unlike `store.path`: pass it to a child process, never show it)."""
    return str(getattr(store, "url", None) or store.path)


__all__ = [
    "MetadataStore",
    "PostgreSQLMetadataStore",
    "SQLiteMetadataStore",
    "is_postgres_url",
    "store_at",
    "store_location",
]
