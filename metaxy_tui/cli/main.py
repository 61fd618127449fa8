"""`metaxy-tui` opens the TUI; its subcommands do the same work from scripts."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import NoReturn
from collections.abc import Iterator

import click

from ..errors import MetaxyError
from ..service.logs import log_to_file, log_to_stderr
from ..service.project import Project, open_project


class Context:
    def __init__(self, config: str | None, store: str | None, db: str | None, verbose: bool = False):
        self.config = config
        self.store = store
        self.db = db
        self.verbose = verbose

    def open(self, *, mode: str = "w", create_db: bool | None = None, feature: str | None = None) -> Project:
        """The project for a command. A --db file that does not exist is created only by a command
        that writes (mode "w"), with the features of the project in the current folder; a command
        that reads refuses it ("no store at PATH") and creates nothing, so a typo leaves no file."""
        if create_db is None:
            create_db = mode == "w"
        return open_project(
            config=self.config,
            store=self.store,
            db=self.db,
            mode=mode,
            create=create_db if self.db is not None else True,
            require_code=True,
            feature=feature,
        )


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"metaxy-tui: error: {message}", err=True)
    raise click.exceptions.Exit(code)


@contextlib.contextmanager
def opened(ctx: "Context", *, mode: str = "w", feature: str | None = None) -> Iterator[Project]:
    """The project for one command, closed afterwards (mode "w": the command writes)."""
    project = ctx.open(mode=mode, feature=feature)
    try:
        yield project
    finally:
        project.close()


def stdout_gone() -> "click.exceptions.Exit":
    """The reader of our output went away (`metaxy-tui resolve F | head`): stop quietly, as a
    command killed by SIGPIPE would, and keep Python's exit-time flush from failing again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    raise click.exceptions.Exit(141)


class MetaxyGroup(click.Group):
    """Turns our errors into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MetaxyError as e:
            fail(str(e))
        except BrokenPipeError:
            stdout_gone()
        except OSError as e:
            fail(f"{e.filename or ''}: {e.strerror or e}" if getattr(e, "filename", None) else str(e))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, KeyboardInterrupt):
            raise
        except Exception as e:  # a bug of ours: say so plainly; the traceback on request
            if os.environ.get("METAXY_TUI_DEBUG"):
                traceback.print_exc()
            fail(f"internal error: {type(e).__name__}: {e} (set METAXY_TUI_DEBUG=1 for the traceback)", code=70)


def run_tui(project: Project, *, verbose: bool = False) -> None:
    from ..tui.app import MetaxyApp

    log_to_file(verbose=verbose)  # the TUI owns the terminal: its log goes to a file
    try:
        MetaxyApp(project).run()
    finally:
        project.close()


@click.group(cls=MetaxyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="A metaxy.toml to use (default: found from the current folder up).",
)
@click.option("--store", "store_name", metavar="NAME", help="Which [stores.NAME] of metaxy.toml to open.")
@click.option(
    "--db",
    type=click.Path(),
    help="Open this SQLite store file, or a PostgreSQL store (postgresql://user@host/database), directly.",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Log what the engine does (debug) to stderr; the TUI logs to "
    "metaxy-tui.log in the user log folder (README: Logs).",
)
@click.version_option(package_name="metaxy-tui")
@click.pass_context
def cli(ctx: click.Context, config: str | None, store_name: str | None, db: str | None, verbose: bool) -> None:
    """Browse and curate a Metaxy-style metadata store in the terminal.

    Without a subcommand, opens the TUI on the project found through metaxy.toml (or
    --config / --store), on --db FILE, or on the default store in the user data folder.

    \b
    Examples:
      metaxy-tui                      # the project in this folder
      metaxy-tui --db demo.db         # a store file, read with its recorded graph
      metaxy-tui demo                 # build the demo store and open it
    """
    ctx.obj = Context(config, store_name, db, verbose)
    if ctx.invoked_subcommand is None:
        run_tui(ctx.obj.open(create_db=False), verbose=verbose)  # the TUI opens an existing --db store only
        return
    log_to_stderr(verbose=verbose)


@cli.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    help="Where to build it (default: demo.db in the user data folder). An existing demo store there is rebuilt.",
)
@click.option("--no-tui", is_flag=True, help="Build the store and print where it is, without opening the TUI.")
@click.option("--no-pending", is_flag=True, help="Leave no pending work (everything up to date).")
@click.pass_obj
def demo(ctx: Context, db_path: str | None, no_tui: bool, no_pending: bool) -> None:
    """Build the demo store (videos, chunks, faces, transcripts, speakers) and open it.

    All derived features are materialized, then a few upstream samples are changed, added
    and deleted, so that there is pending work to look at.

    \b
    Examples:
      metaxy-tui demo
      metaxy-tui demo --db /tmp/demo.db --no-tui
      metaxy-tui --db demo.db demo
    """
    from ..service.demo import build_demo, open_demo_project

    path = build_demo(db_path or ctx.db, pending=not no_pending)  # `metaxy-tui --db PATH demo` too
    if no_tui:
        click.echo(str(path))
        return
    run_tui(open_demo_project(path), verbose=ctx.verbose)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="metaxy-tui", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # raised outside a command (click's own output)
        try:
            stdout_gone()
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
