"""list, describe, graph, status: looking at features without changing anything."""

from __future__ import annotations

from typing import Any

import click

from ..service.graph_text import mermaid, neighbourhood
from ..service.status import iter_statuses
from ..vocabulary import OutputFormat
from .main import Context, cli, opened
from .output import counts_text, echo, format_choice, print_json, print_table


@cli.command("list")
@click.option(
    "--format", "fmt", type=format_choice(OutputFormat.TABLE, OutputFormat.JSON), default="table", show_default=True
)
@click.pass_obj
def list_features(ctx: Context, fmt: str) -> None:
    """List features with their 8-character versions.

    \b
    Examples:
      metaxy-tui list
      metaxy-tui --db demo.db list --format json
    """
    with opened(ctx, mode="r") as project:
        plan = project.graph.plan()
        rows: list[dict[str, Any]] = []
        for key in plan.order():
            fp = plan[key]
            rows.append(
                {
                    "feature": key,
                    "version": fp.feature_version[:8],
                    "fields": {f: v[:8] for f, v in sorted(fp.field_versions.items())},
                    "deps": [d.upstream for d in fp.deps],
                }
            )
    if fmt == OutputFormat.JSON:
        print_json(rows)
        return
    print_table(
        ["feature", "version", "fields", "upstream"],
        [
            [
                r["feature"],
                r["version"],
                ", ".join(f"{f} ({v})" for f, v in r["fields"].items()),
                ", ".join(r["deps"]) or "-",
            ]
            for r in rows
        ],
    )


@cli.command()
@click.argument("feature")
@click.option(
    "--format", "fmt", type=format_choice(OutputFormat.TEXT, OutputFormat.JSON), default="text", show_default=True
)
@click.pass_obj
def describe(ctx: Context, feature: str, fmt: str) -> None:
    """Show a feature's spec, fields, versions, deps and sample counts.

    \b
    Examples:
      metaxy-tui describe speaker/embedding
      metaxy-tui describe video/chunk --format json
    """
    with opened(ctx, mode="r") as project:
        fp = project.store.effective_graph(project.graph).feature_plan(feature)  # with columns from the data
        d = fp.definition
        rows = project.store.count(feature)
        counts = project.store.pending_counts(feature) if not fp.is_root else None
    data: dict[str, Any] = {
        "feature": fp.name,
        "description": d.description,
        "version": fp.feature_version,
        "id_columns": list(d.id_columns),
        "columns": {
            c: t.to_dict() | ({"description": d.column_descriptions[c]} if c in d.column_descriptions else {})
            for c, t in d.columns.items()
        },
        "fields": [
            {
                "field": f.key.to_string(),
                "code_version": f.code_version,
                "version": fp.field_versions[f.key.to_string()],
                "depends_on": [f"{u}.{uf}" for u, uf in fp.field_parents[f.key.to_string()]],
            }
            for f in d.spec.fields
        ],
        "deps": [
            {
                "feature": dp.upstream,
                "lineage": dp.kind,
                "on": list(dp.on),
                "optional": dp.optional,
                "columns": dict(dp.columns),
            }
            for dp in fp.deps
        ],
        "downstream": list(fp.downstream),
        "rows": rows,
        "pending": counts,
    }
    if fmt == OutputFormat.JSON:
        print_json(data)
        return
    echo(f"{fp.name}  version {fp.feature_version[:8]}", style="bold")
    if d.description:
        echo(d.description)
    echo(f"id columns: {', '.join(d.id_columns)}")
    echo("columns:")
    for c, t in d.columns.items():
        note = d.column_descriptions.get(c)
        echo(f"  {c}: {t.describe()}" + (f" — {note}" if note else ""))
    echo(f"rows: {rows}")
    if counts is not None:
        echo(f"pending: {counts_text(counts)}")
    echo(f"downstream: {', '.join(fp.downstream) or '-'}")
    print_table(
        ["field", "code version", "version", "depends on"],
        [[f["field"], f["code_version"], f["version"][:8], ", ".join(f["depends_on"]) or "-"] for f in data["fields"]],
        title="fields",
    )
    if data["deps"]:
        print_table(
            ["upstream", "lineage", "on", "optional"],
            [[x["feature"], x["lineage"], ", ".join(x["on"]), "yes" if x["optional"] else "no"] for x in data["deps"]],
            title="deps",
        )


@cli.command()
@click.argument("action", type=click.Choice(["render"]), required=False)
@click.option(
    "--format",
    "fmt",
    type=format_choice(OutputFormat.TERMINAL, OutputFormat.MERMAID),
    default="terminal",
    show_default=True,
)
@click.option("--feature", help="Only this feature and its neighbours.")
@click.option("--up", type=click.IntRange(min=0), help="With --feature: how many levels upstream (default: all).")
@click.option("--down", type=click.IntRange(min=0), help="With --feature: how many levels downstream (default: all).")
@click.option("--no-status", is_flag=True, help="Terminal form: do not compute each feature's status.")
@click.pass_obj
def graph(
    ctx: Context, action: str | None, fmt: str, feature: str | None, up: int | None, down: int | None, no_status: bool
) -> None:
    """Draw the feature graph, with versions and fields (`graph render`, Metaxy's spelling, too).

    \b
    Examples:
      metaxy-tui graph
      metaxy-tui graph --format mermaid > graph.mmd
      metaxy-tui graph render --format mermaid
      metaxy-tui graph --feature video/chunk --up 1 --down 1
    """
    if feature is None and (up is not None or down is not None):
        raise click.UsageError("--up and --down need --feature")
    with opened(ctx, mode="r") as project:
        keys = neighbourhood(project.graph, feature, up, down)
        if fmt == OutputFormat.MERMAID:
            click.echo(mermaid(project.graph, keys))
            return
        from ..service.lineage import render_text

        statuses = None if no_status else {st.key: st for st in iter_statuses(project, keys)}
        click.echo(render_text(project.graph.plan(), statuses, keys=keys))


@cli.command()
@click.option(
    "--format", "fmt", type=format_choice(OutputFormat.TABLE, OutputFormat.JSON), default="table", show_default=True
)
@click.option("--assert-in-sync", is_flag=True, help="Exit with status 1 when any feature has pending work.")
@click.pass_obj
def status(ctx: Context, fmt: str, assert_in_sync: bool) -> None:
    """Per feature: status, stored rows, and samples added, changed and removed.

    \b
    Examples:
      metaxy-tui status
      metaxy-tui status --format json
      metaxy-tui status --assert-in-sync   # in CI: fail when anything must be recomputed
    """
    with opened(ctx, mode="r") as project:
        statuses = list(iter_statuses(project))
    errors = [s for s in statuses if s.kind == "error"]
    if fmt == OutputFormat.JSON:
        print_json([s.to_dict() for s in statuses])
    else:
        print_table(
            ["feature", "status", "rows", "added", "changed", "removed"],
            [
                [s.key, s.label if s.kind != "pending" else "pending", s.rows, s.added, s.changed, s.removed]
                for s in statuses
            ],
        )
    if errors:
        for s in errors:
            click.echo(f"metaxy-tui: error: {s.key}: {s.error}", err=True)
        raise click.exceptions.Exit(1)
    if assert_in_sync and any(s.pending for s in statuses):
        if fmt != "json":
            click.echo("metaxy-tui: not in sync: " + ", ".join(s.key for s in statuses if s.pending), err=True)
        raise click.exceptions.Exit(1)


__all__ = ["list_features", "describe", "graph", "status"]
