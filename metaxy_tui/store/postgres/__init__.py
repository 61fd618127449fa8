"""The PostgreSQL metadata store (SPEC 9). psycopg 3 is imported only when a store connects:
`pip install "metaxy-tui[postgresql]"`."""

from .store import PostgreSQLMetadataStore

__all__ = ["PostgreSQLMetadataStore"]
