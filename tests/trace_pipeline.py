"""The clips pipeline of tests/fixtures/trace_pipeline (every lineage kind), for in-process tests.

Its features are defined afresh in the active graph (runpy, not import: each test gets its own
classes), and its store is built by the fixture's own build.py.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import metaxy_tui as mx

FOLDER = Path(__file__).parent / "fixtures" / "trace_pipeline"


def define() -> dict:
    """Define the clips features in the active graph; returns the module's names."""
    return runpy.run_path(str(FOLDER / "clips" / "features.py"), run_name="clips.features")


def build(path: Path, *, pending: bool = True) -> mx.SQLiteMetadataStore:
    """Define the features and build a clips store at `path` (d02 changed and d05 deleted when pending)."""
    define()
    store = mx.SQLiteMetadataStore(path, project="clips")
    runpy.run_path(str(FOLDER / "build.py"))["build"](store, pending=pending)
    return store


def materialize(store: mx.SQLiteMetadataStore) -> None:
    runpy.run_path(str(FOLDER / "build.py"))["materialize"](store)
