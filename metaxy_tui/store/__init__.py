"""The SQLite metadata store."""

from .sqlite.store import SQLiteMetadataStore

__all__ = ["SQLiteMetadataStore"]
