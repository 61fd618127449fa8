"""The SQLite metadata store."""

from .sqlite_store import SQLiteMetadataStore

__all__ = ["SQLiteMetadataStore"]
