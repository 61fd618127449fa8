"""`metaxy-tui` opens the TUI; its subcommands do the same work from scripts."""

from __future__ import annotations

import sys

import click

from ..errors import MetaxyError
from ..service.project import Project, open_project


class Context:
    def __init__(self, config: str | None, store: str | None, db: str | None):
        self.config = config
        self.store = store
        self.db = db

    def open(self, *, mode: str = "w", create: bool = True) -> Project:
        return open_project(config=self.config, store=self.store, db=self.db, mode=mode,
                            create=create and self.db is None)


def fail(message: str, code: int = 1) -> "click.exceptions.Exit":
    click.echo(f"metaxy-tui: error: {message}", err=True)
    raise click.exceptions.Exit(code)


def run_tui(project: Project) -> None:
    from ..tui.app import MetaxyApp

    try:
        MetaxyApp(project).run()
    finally:
        project.close()


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False), help="A metaxy.toml to use (default: found from the "
              "current folder up).")
@click.option("--store", "store_name", metavar="NAME", help="Which [stores.NAME] of metaxy.toml to open.")
@click.option("--db", type=click.Path(), help="Open this SQLite store file directly.")
@click.version_option(package_name="metaxy-tui")
@click.pass_context
def cli(ctx: click.Context, config: str | None, store_name: str | None, db: str | None) -> None:
    """Browse and curate a Metaxy-style metadata store in the terminal.

    Without a subcommand, opens the TUI on the project found through metaxy.toml (or
    --config / --store), on --db FILE, or on the default store in the user data folder.

    \b
    Examples:
      metaxy-tui                      # the project in this folder
      metaxy-tui --db demo.db         # a store file, read with its recorded graph
      metaxy-tui demo                 # build the demo store and open it
    """
    ctx.obj = Context(config, store_name, db)
    if ctx.invoked_subcommand is None:
        try:
            project = ctx.obj.open()
        except MetaxyError as e:
            fail(str(e))
        run_tui(project)


@cli.command()
@click.option("--db", "db_path", type=click.Path(dir_okay=False), help="Where to build it (default: demo.db in "
              "the user data folder). An existing demo store there is rebuilt.")
@click.option("--no-tui", is_flag=True, help="Build the store and print where it is, without opening the TUI.")
@click.option("--no-pending", is_flag=True, help="Leave no pending work (everything up to date).")
def demo(db_path: str | None, no_tui: bool, no_pending: bool) -> None:
    """Build the demo store (videos, chunks, faces, transcripts, speakers) and open it.

    All derived features are materialized, then a few upstream samples are changed, added
    and deleted, so that there is pending work to look at.

    \b
    Examples:
      metaxy-tui demo
      metaxy-tui demo --db /tmp/demo.db --no-tui
    """
    from ..service.demo import build_demo, open_demo_project

    try:
        path = build_demo(db_path, pending=not no_pending)
        if no_tui:
            click.echo(str(path))
            return
        project = open_demo_project(path)
    except MetaxyError as e:
        fail(str(e))
    run_tui(project)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="metaxy-tui", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
