"""The demo store: the video/speaker project from sample_data/, materialized, with pending work."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from ..config import default_store_path
from ..errors import MetaxyError, StoreError
from ..graph import FeatureGraph
from ..store import SQLiteMetadataStore
from .project import Project

DEMO_PROJECT = "video_demo"


def demo_dir() -> Path:
    """The demo project: metaxy_tui/sample_data/video_demo in an installed wheel (setup.py maps
    sample_data/ there), sample_data/video_demo at the top of a source checkout or editable install."""
    package = Path(__file__).resolve().parents[1]
    for base in (package / "sample_data", package.parent / "sample_data"):
        if (base / DEMO_PROJECT / "metaxy.toml").is_file():
            return base / DEMO_PROJECT
    raise StoreError(f"the demo project is missing from this installation of metaxy-tui (looked in "
                     f"{package / 'sample_data'}): reinstall metaxy-tui")


def default_demo_path() -> Path:
    return default_store_path().with_name("demo.db")


def load_demo_modules() -> tuple[FeatureGraph, ModuleType]:
    """Import the demo's features into a graph of their own; returns (graph, pipeline module)."""
    folder = str(demo_dir())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    if "video_demo.features" in sys.modules:
        features = sys.modules["video_demo.features"]
        graph = features.Video.graph()
    else:
        graph = FeatureGraph()
        with graph.use():
            features = importlib.import_module("video_demo.features")
    with graph.use():
        pipeline = importlib.import_module("video_demo.pipeline")
    for key, fn in pipeline.COMPUTE.items():  # also when the features module was reloaded since
        graph.computes.setdefault(key, fn)
    return graph, pipeline


def _is_demo_store(path: Path) -> bool:
    """Whether the file is a store that recorded the demo project (read-only: a file of another
    program is refused before anything in it is touched)."""
    try:
        with SQLiteMetadataStore(path).open("r") as store:
            return any(s["project"] == DEMO_PROJECT for s in store.snapshots())
    except MetaxyError:
        return False


def build_demo(path: str | os.PathLike | None = None, *, pending: bool = True,
               progress: Callable[[str, int, int], None] | None = None) -> Path:
    """(Re)build the demo store at `path`; refuses to overwrite a file that is not a demo store."""
    target = Path(path) if path is not None else default_demo_path()
    if target.exists():
        if target.is_dir():
            raise StoreError(f"{target} is a directory, not a store file")
        if target.stat().st_size and not _is_demo_store(target):
            raise StoreError(f"{target} exists and is not a demo store; choose another --db path")
        for suffix in ("", "-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
    graph, pipeline = load_demo_modules()
    store = SQLiteMetadataStore(target, graph=graph, project=DEMO_PROJECT, name="demo")
    with store:
        pipeline.materialize(store, progress=progress)
        if pending:
            pipeline.make_pending_work(store)
    return target


def open_demo_project(path: str | os.PathLike) -> Project:
    graph, _ = load_demo_modules()
    store = SQLiteMetadataStore(path, graph=graph, project=DEMO_PROJECT, name="demo")
    store.open("w")
    return Project(store, graph, graph, store.stored_graph(), f"{path} (demo)", demo=True)


def demo_compute_functions() -> dict:
    _, pipeline = load_demo_modules()
    return dict(pipeline.COMPUTE)
