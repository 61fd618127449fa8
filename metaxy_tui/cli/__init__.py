"""The `metaxy-tui` command line."""

from .main import cli, main
from . import (bench_command, file_commands, inspect_commands, snapshot_commands,  # noqa: E402,F401  (commands
               trace_commands, work_commands)  # register themselves)

__all__ = ["cli", "main"]
