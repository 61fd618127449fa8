"""Where the engine's log goes: the `metaxy_tui` logger, every module's logger beneath it.

The library itself only logs (a NullHandler keeps it quiet); the command line sends it to stderr
with --verbose, and the TUI, which owns the terminal, to a file in the user log folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import platformdirs

LOGGER = "metaxy_tui"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_folder() -> Path:
    """platformdirs' user log folder for metaxy-tui (on Linux ~/.local/state/metaxy-tui/log)."""
    return Path(platformdirs.user_log_dir("metaxy-tui", appauthor=False))


def log_to_stderr(*, verbose: bool) -> None:
    """--verbose: debug lines on stderr, so that stdout stays the command's answer."""
    if not verbose:
        return
    _attach(logging.StreamHandler(), logging.DEBUG)


def log_to_file(*, verbose: bool = False) -> Path | None:
    """The TUI's log: metaxy-tui.log in log_folder() (info, or debug with --verbose); None when the
    folder cannot be written (the TUI runs without a log then)."""
    logger = logging.getLogger(LOGGER)
    for old in [h for h in logger.handlers if type(h) is logging.StreamHandler]:  # the TUI owns the terminal
        logger.removeHandler(old)
    path = log_folder() / "metaxy-tui.log"
    try:
        os.makedirs(path.parent, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return None
    _attach(handler, logging.DEBUG if verbose else logging.INFO)
    return path


def _attach(handler: logging.Handler, level: int) -> None:
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.setLevel(min(level, logger.level or level))


__all__ = ["LOGGER", "log_folder", "log_to_file", "log_to_stderr"]
