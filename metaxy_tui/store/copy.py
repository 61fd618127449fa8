"""Opening the two ends of a copy (store/transfer.py says what travels and how it loads): a store
location as `store_at` takes it, a file or a postgresql:// connection string."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator

import polars as pl

from ..columns import ColumnType
from ..errors import StoreError
from .postgres.connection import is_postgres_url
from .postgres.transfer import PgSource, PgTarget, same_database
from .sqlite.transfer import SQLiteSource, SQLiteTarget
from .transfer import copy_content
from .transfer_form import Content, CopySummary, Progress, Source, Target


def open_source(location: str) -> Source:
    if is_postgres_url(location):
        return PgSource(location)
    return SQLiteSource(location)


def open_target(location: str, content: Content) -> Target:
    """The target, its one transaction begun (a store's layout created in it when there is none,
    with the source's hash settings)."""
    if is_postgres_url(location):
        return PgTarget(location, content)
    return SQLiteTarget(location, content)


def same_store(a: str, b: str) -> bool:
    """Whether two locations name the same store (the same file, or the same database and schema)."""
    if is_postgres_url(a) != is_postgres_url(b):
        return False
    if is_postgres_url(a):
        return same_database(a, b)
    if not (os.path.exists(a) and os.path.exists(b)):
        return os.path.abspath(a) == os.path.abspath(b)
    return os.path.samefile(a, b)


def copy_store(
    source_location: str, target_location: str, *, merge: bool = False, progress: Progress | None = None
) -> CopySummary:
    """Copy the store at `source_location` into `target_location` (store_at's locations)."""
    if same_store(source_location, target_location):
        raise StoreError("the source and the target are the same store")
    try:
        source = open_source(source_location)
        try:
            content = source.content()
            target = open_target(target_location, content)
            return copy_content(_Cached(source, content), target, merge=merge, progress=progress)
        finally:
            source.close()
    except sqlite3.Error as e:  # a busy or damaged file, a full disk: said in one line
        raise StoreError(f"the copy failed and nothing was written: {_first_line(e)}") from None
    except Exception as e:
        if type(e).__module__.startswith("psycopg"):  # the server refused something (the driver is optional)
            raise StoreError(f"the copy failed and nothing was written: {_first_line(e)}") from None
        raise


def _first_line(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


class _Cached:
    """A source whose content was already read (once: the target needed its hash settings)."""

    def __init__(self, source: Source, content: Content):
        self._source = source
        self._content = content
        self.where = source.where

    def content(self) -> Content:
        return self._content

    def row_count(self, table: str) -> int:
        return self._source.row_count(table)

    def rows(self, table: str, columns: dict[str, ColumnType], fields: list[str]) -> Iterator[pl.DataFrame]:
        return self._source.rows(table, columns, fields)

    def close(self) -> None:
        self._source.close()


__all__ = ["CopySummary", "copy_store", "open_source", "open_target", "same_store"]
