"""Opening a project: a store plus the feature graph to read it with.

The graph comes from the project's code when its metaxy.toml names entrypoints; a store
file opened on its own is read with the graph snapshot recorded inside it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import MetaxyConfig, default_store_path, find_config, init_metaxy
from ..errors import ConfigError, MetaxyError, StoreError, UnknownFeatureError
from ..graph import FeatureGraph
from ..store import MetadataStore, PostgreSQLMetadataStore, SQLiteMetadataStore, is_postgres_url
from .demo_code import DEMO_PROJECT, demo_dir, load_demo_modules
from .explanations import ExplanationCache

log = logging.getLogger(__name__)


@dataclass
class Project:
    store: MetadataStore
    graph: FeatureGraph  # what everything is resolved with
    code_graph: FeatureGraph | None  # the project's code, when it was loaded
    stored_graph: FeatureGraph  # the latest snapshot recorded in the store
    source: str  # where this came from, for titles and messages
    config: MetaxyConfig | None = None
    notes: list[str] = field(default_factory=list)
    demo: bool = False  # the bundled demo: the TUI opens it on a feature with pending work
    explanations: ExplanationCache = field(default_factory=ExplanationCache, repr=False, compare=False)

    @property
    def has_code(self) -> bool:
        return self.code_graph is not None

    @property
    def is_empty(self) -> bool:
        return len(self.graph) == 0

    @property
    def path(self) -> str:
        return self.store.path

    @property
    def location(self) -> str:
        """Where a child process reopens the store (store_at): a PostgreSQL store's connection
        string with its password (`path` masks it)."""
        from ..store import store_location

        return store_location(self.store)

    def close(self) -> None:
        self.store.close()

    def described_graph(self) -> FeatureGraph:
        """The graph with what the store knows beyond the code: columns the data brought."""
        try:
            return self.store.effective_graph(self.graph)
        except MetaxyError:  # the store is gone (closed): the code's graph still describes it
            return self.graph

    def reload_stored_graph(self) -> None:
        self.stored_graph = self.store.stored_graph()
        if self.code_graph is None:
            self.graph = self.stored_graph
            self.store.use_graph(self.graph)


def _is_bundled_demo(store: MetadataStore) -> bool:
    snapshots = store.snapshots()
    if not snapshots or snapshots[-1]["project"] != DEMO_PROJECT:
        return False
    try:
        demo_dir()
    except StoreError:
        return False
    return True


def _hash_settings(cfg: MetaxyConfig | None, store: str | None) -> tuple:
    """The hash settings of the project's store, for a new --db store made for that project."""
    if cfg is None:
        return ()
    try:
        return cfg.hash_settings(store)
    except ConfigError:
        return ()


def open_project(
    *,
    config: str | os.PathLike | None = None,
    store: str | None = None,
    db: str | os.PathLike | None = None,
    mode: str = "w",
    create: bool = True,
    search_from: str | os.PathLike | None = None,
    require_code: bool = False,
    feature: str | None = None,
) -> Project:
    """Open the store named by `db`, or by metaxy.toml (given or found), or the default one.

    `create=False` refuses to create a missing store file (`--db PATH` for a command that only
    reads). A `db` file that does not exist yet and may be created is created with the features
    of the project found from the current folder (or `config`), which are recorded in it;
    `require_code=True` refuses to create one without a project (a writing command), and
    `feature` must then be one of its features, so that a mistyped command leaves no file behind.
    """
    cfg: MetaxyConfig | None = None
    server = is_postgres_url(db)  # --db postgresql://...: a PostgreSQL store (its project's code, if found here)
    new_db = (
        db is not None and not server and str(db) != ":memory:" and create and mode == "w" and not Path(db).exists()
    )
    config_path = Path(config) if config else (find_config(search_from) if db is None or new_db or server else None)
    if config is not None and not Path(config).is_file():
        raise ConfigError(f"{config}: no such configuration file")
    if config_path is not None:
        cfg = init_metaxy(config_path, load_entrypoints=True)
    code_graph = FeatureGraph.get_active() if cfg is not None and cfg.entrypoints else None
    if code_graph is not None and len(code_graph) == 0:
        code_graph = None
    if new_db and code_graph is None and require_code:
        raise StoreError(
            f"no store at {db}, and no project here to create it with (run this in a folder with a "
            f"metaxy.toml whose entrypoints define the features, or `metaxy-tui demo --db {db}`)"
        )
    if new_db and code_graph is not None and feature is not None and feature not in code_graph:
        raise UnknownFeatureError(feature, code_graph.keys)
    s: PostgreSQLMetadataStore | SQLiteMetadataStore
    if server:
        s = pg = PostgreSQLMetadataStore(str(db), project=cfg.project if cfg else None)
        pg.name = pg.path
        source = f"PostgreSQL {pg.where}"
    elif db is not None:
        path = Path(db)
        s = SQLiteMetadataStore(
            path, *_hash_settings(cfg, store) if new_db else (), name=str(path), project=cfg.project if cfg else None
        )
        source = f"{path}"
    elif cfg is not None:
        s = cfg.get_store(store)
        source = f"{cfg.path} (store {s.name}" + (
            f", PostgreSQL {s.where})" if isinstance(s, PostgreSQLMetadataStore) else ")"  # kind "postgresql"
        )
    else:
        if store is not None:
            raise ConfigError(f"--store {store}: no metaxy.toml found in {Path.cwd()} or its parents")
        s = SQLiteMetadataStore(default_store_path(), name="default")
        source = f"{s.path} (default store)"
    p = Path(s.path)
    if getattr(s, "kind", "sqlite") == "sqlite" and s.path != ":memory:":
        if p.exists() and p.is_dir():
            raise StoreError(f"{p} is a directory, not a store file")
        if not p.exists() and mode == "r" and code_graph is not None and db is None:
            # reading a project whose store was never written: its code alone, over an empty store
            empty = SQLiteMetadataStore(":memory:", project=s.project, name=s.name, graph=code_graph)
            empty.open("w")
            project = Project(empty, code_graph, code_graph, FeatureGraph(), source, cfg)
            project.notes.append(f"no store at {p} yet")
            return project
        if not p.exists() and (not create or mode == "r"):
            raise StoreError(
                f"no store at {p} (run `metaxy-tui demo --db {p}` to build one, "
                "or open a project folder with a metaxy.toml)"
            )
        if p.exists() and not os.access(p, os.R_OK):
            raise StoreError(f"{p} is not readable (check its permissions)")
        if p.exists() and mode == "w" and not os.access(p, os.W_OK):
            mode = "r"
    s.open(mode)
    try:
        stored = s.stored_graph()
    except Exception:
        s.close()
        raise
    demo = False
    if code_graph is None and cfg is None and _is_bundled_demo(s):
        # the demo store that `metaxy-tui demo` built: its code ships with metaxy-tui
        code_graph, _ = load_demo_modules()
        source += " (demo)"
        demo = True
    graph = code_graph if code_graph is not None else stored
    s.use_graph(graph)
    if (new_db or (server and mode == "w" and not s.snapshots())) and code_graph is not None:
        # a --db store made for this project: it knows its features
        s.push_graph(code_graph)
        stored = s.stored_graph()
    project = Project(s, graph, code_graph, stored, source, cfg, demo=demo)
    if not s.writable:
        project.notes.append("opened read-only")
    log.info("opened %s: %d features, %s", source, len(graph), "read-write" if s.writable else "read-only")
    return project
