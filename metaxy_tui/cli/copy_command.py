"""copy: move a whole store between SQLite and PostgreSQL (either way)."""

from __future__ import annotations

import sys

import click

from ..service.copy_store import copy_between
from .main import Context, cli, fail
from .output import Progress, echo


@cli.command("copy")
@click.option(
    "--from",
    "source",
    metavar="STORE",
    help="The store to copy: a SQLite file, a postgresql:// connection string, or a [stores.NAME] of metaxy.toml "
    "(default: the global --db or --store).",
)
@click.option(
    "--to",
    "target",
    required=True,
    metavar="STORE",
    help="Where to copy it (as --from). A new file or an empty database is created; one holding data is "
    "refused unless --merge.",
)
@click.option(
    "--merge",
    is_flag=True,
    help="Add the source to a target that already holds data: its writes come after the target's, renumbered.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before merging (needed with --merge outside a terminal).")
@click.pass_obj
def copy_command(ctx: Context, source: str | None, target: str, merge: bool, yes: bool) -> None:
    """Copy a store's features, history, graph snapshots and audit log to another store.

    Either end may be SQLite or PostgreSQL. Every row version is copied with its system
    columns (superseded and soft-deleted rows too), with the writes log, so that resolves and
    explanations give the same answers on the copy. The target is written in one transaction:
    a failed or interrupted copy (Ctrl-C) leaves it as it was. A progress bar shows on stderr
    in a terminal; the last line says what was copied.

    \b
    Examples:
      metaxy-tui copy --from metadata.db --to postgresql://curator@db.internal/metadata
      metaxy-tui copy --from postgresql://curator@db.internal/metadata --to backup.db
      metaxy-tui copy --from dev --to shared              # [stores.NAME] of metaxy.toml
      metaxy-tui copy --from laptop.db --to shared --merge --yes
      metaxy-tui --store dev copy --to backup.db          # --from defaults to --db / --store
    """
    source = source or ctx.db or ctx.store
    if source is None:
        fail("give the store to copy: --from STORE (or the global --db / --store)", code=2)
    if merge and not yes:
        if not sys.stdin.isatty():
            fail("not a terminal: pass --yes to confirm --merge")
        click.confirm(f"merge {source} into {target}?", abort=True)
    with Progress("copy: opening") as bar:
        summary = copy_between(
            source,
            target,
            merge=merge,
            config=ctx.config,
            progress=lambda what, done, total: bar.update(done, total, f"copy: {what}"),
        )
    echo(summary.text())
