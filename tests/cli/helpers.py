"""Running `metaxy-tui` as a real subprocess, shared by the CLI test files: `from tests.cli.helpers import ...`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"
AUDIO_UPDATE = SAMPLE_DATA / "video_demo" / "data" / "audio_update.csv"
SCRIPT = Path(sys.executable).with_name("metaxy-tui")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "metaxy_tui"]


def env(tmp_path: Path) -> dict[str, str]:
    """The environment without METAXY_* settings, its data home in tmp_path, 200 columns wide."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("METAXY")}
    e.update(PYTHONDONTWRITEBYTECODE="1", XDG_DATA_HOME=str(tmp_path / "xdg"), COLUMNS="200")
    return e


def mx(tmp_path: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `metaxy-tui ARGS` (in tmp_path unless cwd is given), output captured as text, no stdin."""
    return subprocess.run(
        [*COMMAND, *args],
        cwd=cwd or tmp_path,
        env=env(tmp_path),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
