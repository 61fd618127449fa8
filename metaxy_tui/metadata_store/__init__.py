"""Metaxy's module path for stores (`metaxy.metadata_store`), for pipelines that import from it."""

from ..errors import MetaxyError as MetadataStoreError
from ..errors import StoreError, UnknownFeatureError as FeatureNotFoundError
from ..store import SQLiteMetadataStore
from ..store import SQLiteMetadataStore as MetadataStore

__all__ = ["FeatureNotFoundError", "MetadataStore", "MetadataStoreError", "SQLiteMetadataStore", "StoreError"]
