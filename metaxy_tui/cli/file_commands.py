"""import and export: samples in and out of files."""

from __future__ import annotations

import click

from ..service.importer import apply_import, plan_import
from .main import Context, cli, fail, opened
from .output import Progress, echo, print_json


@cli.command("import")
@click.argument("feature")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--full-set", is_flag=True, help="The file is the feature's complete set: stored samples it lacks "
              "are soft-deleted. Default: a partial batch (others are kept).")
@click.option("--provenance", default="auto", show_default=True, metavar="MODE",
              help="column (a metaxy_provenance_by_field column), content (a hash of each row), "
                   "file:COLUMN (a hash of the file COLUMN names), or auto.")
@click.option("--format", "file_format", type=click.Choice(["csv", "tsv", "parquet", "json", "ndjson"]),
              help="The file's format (default: from its extension).")
@click.option("--dry-run", is_flag=True, help="Validate and say what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_obj
def import_samples(ctx: Context, feature: str, file: str, full_set: bool, provenance: str,
                   file_format: str | None, dry_run: bool, as_json: bool) -> None:
    """Import samples of a root FEATURE from FILE (CSV, TSV, Parquet, JSON or NDJSON).

    Every row is validated first; any problem is reported with its row and column and
    nothing is written. The write is one transaction.

    \b
    Examples:
      metaxy-tui import audio data/audio_update.csv --dry-run
      metaxy-tui import audio data/audio_update.csv
      metaxy-tui import video videos.parquet --full-set --provenance file:path
    """
    with opened(ctx, mode="r" if dry_run else "w") as project:
        with Progress(f"reading {file}") as bar:
            plan = plan_import(project, feature, file, format=file_format, full_set=full_set, provenance=provenance,
                               progress=lambda what, done, total: bar.update(done, total, what))
        report = {"feature": plan.feature, "file": file, "rows": plan.rows, "added": plan.added,
                  "changed": plan.changed, "unchanged": plan.unchanged, "removed": plan.removed,
                  "full_set": full_set, "provenance": plan.provenance, "dry_run": dry_run,
                  "problems": [{"row": p.row + 1 if p.row is not None else None, "column": p.column,
                                "message": p.message} for p in plan.problems]}
        if plan.problems:
            if as_json:
                print_json(report | {"written": 0})
            for p in plan.problems:
                click.echo(f"metaxy-tui: error: {file}: {p.describe()}", err=True)
            raise click.exceptions.Exit(1)
        if dry_run:
            if as_json:
                print_json(report | {"written": 0})
            else:
                echo(f"{file} -> {plan.feature}: {plan.summary()} (dry run: nothing written)")
                if plan.absent_note():
                    echo(plan.absent_note())
            return
        with Progress(f"importing into {feature}", plan.rows) as bar:
            result = apply_import(project, plan, progress=lambda what, done, total: bar.update(done, total, what))
    if as_json:
        print_json(report | {"written": result.written, "deleted": result.deleted})
    else:
        echo(f"{file} -> {plan.feature}: {plan.summary()}; {result.summary()}")


__all__ = ["import_samples", "fail"]
