"""The `metaxy-tui` command line."""

from .main import cli, main
from . import file_commands, inspect_commands, snapshot_commands, trace_commands, work_commands  # noqa: E402,F401  (commands register themselves)

__all__ = ["cli", "main"]
