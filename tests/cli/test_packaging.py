"""The wheel carries the demo: every file of sample_data/ matches setup.py's package data.

.ci/run builds the wheel and runs the demo from it; this catches a new kind of data file
early, without a build.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _sample_patterns() -> set[str]:
    """The globs setup.py gives the sample_data packages (read from its source, not run)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.DictComp) and isinstance(node.value, ast.List):
            return {elt.value for elt in node.value.elts}
    raise AssertionError("setup.py: no package_data for the sample_data packages")


def test_every_sample_data_file_is_packaged():
    patterns = _sample_patterns()
    missed = [
        p.relative_to(ROOT)
        for p in (ROOT / "sample_data").rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and not p.name.endswith((".db", ".db-wal", ".db-shm"))
        and p.suffix != ".py"
        and not any(p.match(g) for g in patterns)
    ]
    assert not missed, f"add their suffixes to setup.py's package_data: {missed}"


def test_demo_project_is_found():
    from metaxy_tui.service.demo import demo_dir

    assert (demo_dir() / "metaxy.toml").is_file()
    assert (demo_dir() / "data" / "videos.csv").is_file()
