"""The demo project's code, which ships inside metaxy-tui: where it is and its features loaded.

Both opening a project (project.py recognises the demo store and loads its code) and building the
demo store (demo.py) need it; it imports neither.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from ..errors import StoreError
from ..graph import FeatureGraph

DEMO_PROJECT = "video_demo"


def demo_dir() -> Path:
    """The demo project: metaxy_tui/sample_data/video_demo in an installed wheel (setup.py maps
    sample_data/ there), sample_data/video_demo at the top of a source checkout or editable install."""
    package = Path(__file__).resolve().parents[1]
    for base in (package / "sample_data", package.parent / "sample_data"):
        if (base / DEMO_PROJECT / "metaxy.toml").is_file():
            return base / DEMO_PROJECT
    raise StoreError(
        f"the demo project is missing from this installation of metaxy-tui (looked in "
        f"{package / 'sample_data'}): reinstall metaxy-tui"
    )


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
