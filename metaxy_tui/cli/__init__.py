"""The `metaxy-tui` command line."""

from .main import cli, main

# the command modules register themselves on `cli` when imported
from . import (  # noqa: F401
    bench_command,
    copy_command,
    file_commands,
    inspect_commands,
    snapshot_commands,
    trace_commands,
    work_commands,
)

__all__ = ["cli", "main"]
