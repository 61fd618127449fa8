"""The demo store: the video/speaker project from sample_data/, materialized, with pending work."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..config import default_store_path
from ..errors import MetaxyError, StoreError
from ..store import SQLiteMetadataStore
from .demo_code import DEMO_PROJECT, demo_dir, load_demo_modules
from .project import Project


def default_demo_path() -> Path:
    return default_store_path().with_name("demo.db")


def _is_demo_store(path: Path) -> bool:
    """Whether the file is a store that recorded the demo project (read-only: a file of another
    program is refused before anything in it is touched)."""
    try:
        with SQLiteMetadataStore(path).open("r") as store:
            return any(s["project"] == DEMO_PROJECT for s in store.snapshots())
    except MetaxyError:
        return False


def build_demo(
    path: str | os.PathLike | None = None,
    *,
    pending: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> Path:
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


# the demo's code (demo_code.py) is part of what this module offers
__all__ = [
    "DEMO_PROJECT",
    "build_demo",
    "default_demo_path",
    "demo_compute_functions",
    "demo_dir",
    "load_demo_modules",
    "open_demo_project",
]
