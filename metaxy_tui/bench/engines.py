"""The engines a worker drives: metaxy-tui through its public API (_Ours) and Metaxy 0.1.11 (_Metaxy),
over the same bench graph; their stores, and reading an increment's frames either library returns.
"""

import types

from .cases import CHILD_KEY, OURS_ENGINES, ROOT_COLUMNS, ROOT_KEY


def _new_class(base: type, name: str, spec, columns: dict, extra: dict | None = None) -> type:
    ns = {"__annotations__": dict(columns), "__module__": "metaxy_bench_features", **(extra or {})}
    return types.new_class(name, (base,), {"spec": spec}, lambda body: body.update(ns))


def _graph(mx, family: str, extra: dict | None = None):
    """The bench graph, made by the same public-API calls with either library as `mx`."""
    graph = mx.FeatureGraph()
    with graph.use():
        sample = _new_class(
            mx.BaseFeature,
            "Sample",
            mx.FeatureSpec(key=ROOT_KEY, id_columns=["sample_id"], fields=[mx.FieldSpec(key="default")]),
            ROOT_COLUMNS,
            extra,
        )
        if family == "identity":
            child = _new_class(
                mx.BaseFeature,
                "Child",
                mx.FeatureSpec(
                    key=CHILD_KEY[family],
                    id_columns=["sample_id"],
                    deps=[mx.FeatureDep(feature=ROOT_KEY)],
                    fields=[mx.FieldSpec(key="default", code_version="1")],
                ),
                {"sample_id": str, "out_path": str},
                extra,
            )
        else:
            child = _new_class(
                mx.BaseFeature,
                "Group",
                mx.FeatureSpec(
                    key=CHILD_KEY[family],
                    id_columns=["group_id"],
                    deps=[mx.FeatureDep(feature=ROOT_KEY, lineage=mx.LineageRelationship.aggregation(on=["group_id"]))],
                    fields=[mx.FieldSpec(key="embedding", code_version="1")],
                ),
                {"group_id": int, "out_path": str},
                extra,
            )
    return graph, sample, child


class _Ours:
    """metaxy-tui driven through its public API."""

    def __init__(self, path: str, family: str, hash_algorithm: str, postgresql: bool = False):
        import metaxy_tui as mx

        self.graph, self.sample, self.child = _graph(mx, family)
        kind = mx.PostgreSQLMetadataStore if postgresql else mx.SQLiteMetadataStore
        self.store = kind(path, hash_algorithm=hash_algorithm, graph=self.graph)

    def session(self, mode: str):
        return _Session(self.graph.use(), _Opened(self.store, mode))

    def write(self, feature, df) -> None:
        self.store.write_metadata(feature, df)

    def resolve(self):
        inc = self.store.resolve_update(self.child)
        return inc, (inc.added, inc.changed, inc.removed)

    def frames(self, parts):
        return [p.to_polars() for p in parts]


class _Metaxy:
    """Metaxy 0.1.11: its DeltaMetadataStore (polars engine, default hash settings), or its
    DuckDBMetadataStore made to run offline (md5)."""

    def __init__(self, path: str, family: str, kind: str):
        import warnings

        import metaxy as mx

        warnings.simplefilter("ignore")
        mx.MetaxyConfig.set(mx.MetaxyConfig(project="bench"))
        self.graph, self.sample, self.child = _graph(mx, family, {"__metaxy_project__": "bench"})
        self.store = (
            _duckdb_store(path)
            if kind == "duckdb"
            else _postgres_store(path)
            if kind == "metaxy-postgresql"
            else _delta_store(path)
        )

    def session(self, mode: str):
        return _Session(self.graph.use(), self.store.open(mode))

    def write(self, feature, df) -> None:
        self.store.write(feature, df)

    def resolve(self):
        inc = self.store.resolve_update(self.child)
        return inc, (inc.new, inc.stale, inc.orphaned)

    def frames(self, parts):
        return [_native(f) for f in parts]


def _delta_store(path: str):
    from metaxy.ext.polars.handlers.delta import DeltaMetadataStore

    return DeltaMetadataStore(path)


def _postgres_store(url: str):
    """Metaxy 0.1.11's own PostgreSQL store (ibis; resolves in polars, in the client)."""
    from metaxy.ext.postgresql import PostgreSQLMetadataStore

    return PostgreSQLMetadataStore(url, auto_create_tables=True)


def _duckdb_store(path: str):
    """Metaxy's DuckDB store without the `hashfuncs` community extension (downloaded from the
    network when the store opens), hashing with md5, which DuckDB has built in."""
    from metaxy.ext.duckdb import DuckDBMetadataStore
    from metaxy.versioning.types import HashAlgorithm

    class OfflineDuckDBMetadataStore(DuckDBMetadataStore):
        def __init__(self, database, **kwargs):
            super().__init__(database, hash_algorithm=HashAlgorithm.MD5, auto_create_tables=True, **kwargs)
            self.extensions = [e for e in self.extensions if e.name != "hashfuncs"]

    return OfflineDuckDBMetadataStore(path)


def _native(frame):
    """A Metaxy increment frame materialised: polars (collected) or pyarrow, every column."""
    native = frame.to_native()
    return native.collect() if hasattr(native, "collect") else native


def _height(df) -> int:
    return df.height if hasattr(df, "height") else df.num_rows


def _keys(df, key: str) -> int:
    if not _height(df):
        return 0
    if hasattr(df, "get_column"):
        return df.get_column(key).n_unique()
    import pyarrow.compute as pc  # a DuckDB result

    return len(pc.unique(df.column(key)))


class _Opened:
    """metaxy-tui's `store.open(mode)` opens at once; `with store:` would open again for writing."""

    def __init__(self, store, mode: str):
        self.store, self.mode = store, mode

    def __enter__(self):
        return self.store.open(self.mode)

    def __exit__(self, *exc):
        self.store.close()


class _Session:
    """Enter a graph context and a store context together."""

    def __init__(self, *contexts):
        self.contexts = contexts

    def __enter__(self):
        for c in self.contexts:
            c.__enter__()
        return self

    def __exit__(self, *exc):
        for c in reversed(self.contexts):
            c.__exit__(*exc)


def _engine(a: dict):
    if a["engine"] in OURS_ENGINES:
        return _Ours(a["path"], a["family"], a["hash"], postgresql=a["engine"] == "postgresql")
    return _Metaxy(a["path"], a["family"], a["engine"])
