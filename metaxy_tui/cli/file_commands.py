"""import and export: samples in and out of files."""

from __future__ import annotations

import click

from ..service.importer import apply_import, plan_import
from .main import Context, cli, fail, opened
from .output import Progress, echo, print_json


@cli.command("import")
@click.argument("feature")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--full-set",
    is_flag=True,
    help="The file is the feature's complete set: stored samples it lacks "
    "are soft-deleted. Default: a partial batch (others are kept).",
)
@click.option(
    "--provenance",
    default="auto",
    show_default=True,
    metavar="MODE",
    help="column (a metaxy_provenance_by_field column), content (a hash of each row), "
    "file:COLUMN (a hash of the file COLUMN names), or auto.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "tsv", "parquet", "json", "ndjson"]),
    help="The file's format (default: from its extension).",
)
@click.option(
    "--keep-extra-columns",
    is_flag=True,
    help="Store file columns that match no feature column as "
    "columns of their own (typed from the file). Default: such a column is an error.",
)
@click.option("--dry-run", is_flag=True, help="Validate and say what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_obj
def import_samples(
    ctx: Context,
    feature: str,
    file: str,
    full_set: bool,
    provenance: str,
    file_format: str | None,
    keep_extra_columns: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import samples of a root FEATURE from FILE (CSV, TSV, Parquet, JSON or NDJSON).

    Every row is validated first; any problem is reported with its row and column and
    nothing is written. The write is one transaction.

    \b
    Examples:
      metaxy-tui import audio data/audio_update.csv --dry-run
      metaxy-tui import audio data/audio_update.csv
      metaxy-tui import video videos.parquet --full-set --provenance file:path
      metaxy-tui import audio recordings.csv --keep-extra-columns
    """
    if provenance not in ("auto", "column", "content") and not (provenance.startswith("file:") and len(provenance) > 5):
        raise click.BadParameter(f"{provenance!r}: use auto, column, content or file:COLUMN", param_hint="--provenance")
    with opened(ctx, mode="r" if dry_run else "w", feature=feature) as project:
        with Progress(f"reading {file}") as bar:
            plan = plan_import(
                project,
                feature,
                file,
                format=file_format,
                full_set=full_set,
                provenance=provenance,
                keep_extra=keep_extra_columns,
                progress=lambda what, done, total: bar.update(done, total, what),
            )
        report = {
            "feature": plan.feature,
            "file": file,
            "rows": plan.rows,
            "added": plan.added,
            "changed": plan.changed,
            "unchanged": plan.unchanged,
            "removed": plan.removed,
            "full_set": full_set,
            "provenance": plan.provenance,
            "dry_run": dry_run,
            "problems": [
                {"row": p.row + 1 if p.row is not None else None, "column": p.column, "message": p.message}
                for p in plan.problems
            ],
        }
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
                note = plan.absent_note()
                if note:
                    echo(note)
            return
        with Progress(f"importing into {feature}", plan.rows) as bar:
            result = apply_import(project, plan, progress=lambda what, done, total: bar.update(done, total, what))
    if as_json:
        print_json(report | {"written": result.written, "deleted": result.deleted})
    else:
        echo(f"{file} -> {plan.feature}: {plan.summary()}; {result.summary()}")


@cli.command()
@click.argument("feature")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "json"]),
    help="The file's format (default: from the output's extension).",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The file to write.")
@click.option("--filter", "text", default="", metavar="TEXT", help="Only rows containing TEXT (as in the TUI).")
@click.option("--sort", metavar="COLUMN", help="Sort by this column (ascending; --descending to reverse).")
@click.option("--descending", is_flag=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_obj
def export(
    ctx: Context, feature: str, fmt: str | None, output: str, text: str, sort: str | None, descending: bool, force: bool
) -> None:
    """Write FEATURE's current rows (with provenance) to a CSV, Parquet or JSON file.

    The file appears only once complete: an interrupted export leaves nothing behind.

    \b
    Examples:
      metaxy-tui export speaker/embedding -o embeddings.parquet
      metaxy-tui export audio --format csv -o audio.csv --filter spk_019
      metaxy-tui export video/chunk -o chunks.json --sort start_s
    """
    from pathlib import Path

    from ..service.export import Exporter, format_of
    from ..service.samples import ViewSpec

    fmt = fmt or format_of(output)
    if fmt is None:
        fail(f"{output}: cannot tell the format from the extension; pass --format csv|parquet|json")
    target = Path(output)
    if target.exists() and not force:
        fail(f"{output} exists; pass --force to overwrite it")
    with opened(ctx, mode="r") as project:
        project.graph.feature_plan(feature)  # unknown features fail here, by name
        if project.store.path == ":memory:":
            fail("no store file to export from yet")
        try:
            exporter = Exporter(project.location, project.graph, ViewSpec(feature, sort, descending, text), target, fmt)
        except ValueError as e:
            fail(str(e))
        with Progress(f"exporting {feature}") as bar:
            try:
                result = exporter.run(progress=lambda done, total: bar.update(done, total))
            except ValueError as e:
                fail(str(e))
    echo(f"{result.rows:,} rows of {feature} written to {output} ({fmt})")


__all__ = ["import_samples", "export"]
