"""bench: the benchmark of resolving and explaining, against Metaxy 0.1.11 (metaxy_tui/bench/)."""

from __future__ import annotations

import click

from .main import cli


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Time resolve_update and explanations at 100,000 and 1,000,000 rows, against Metaxy 0.1.11.

    Each case runs in fresh processes; the engines' counts must agree with each other and with
    the data, or the command exits 1. `metaxy-tui bench --help` lists the options.

    \b
    Examples:
      metaxy-tui bench --rows 100000 --runs 3 --no-metaxy
      metaxy-tui bench --metaxy-python ../mxref/bin/python --json bench.json
    """
    from .. import bench as runner

    code = runner.main(list(args))
    if code:
        raise click.exceptions.Exit(code)
