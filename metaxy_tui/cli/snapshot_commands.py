"""push and diff: the feature graph recorded in the store."""

from __future__ import annotations

from typing import Any

import click

from ..service.graph_diff import FeatureGraph, diff_graphs, short, snapshot_graph
from ..service.impact import definition_impact
from ..service.graph_text import mermaid_diff
from ..vocabulary import OutputFormat
from .main import Context, cli, fail, opened
from .output import echo, format_choice, print_json


@cli.command()
@click.pass_obj
def push(ctx: Context) -> None:
    """Record the code's feature graph in the store (as `metaxy push`).

    Writes record the graph too; push records it before anything is written, so that the
    TUI and `diff` see the new definitions.

    \b
    Example:
      metaxy-tui push
    """
    with opened(ctx) as project:
        if project.code_graph is None:
            fail("no feature code loaded: run push in a project folder with a metaxy.toml (or pass --config)")
        result = project.store.push_graph(project.code_graph)
    word = "recorded" if result["new"] else "already recorded"
    echo(f"snapshot {result['id']}: project version {short(result['project_version'])} {word}")


def _snapshot_graph(project, ref: str | None, default: str) -> tuple[FeatureGraph, str]:
    """A graph by reference: 'code' (or Metaxy's 'current'), 'latest', a snapshot id, or a
    project version prefix."""
    ref = ref or default
    if ref in ("code", "current"):
        if project.code_graph is None:
            fail("no feature code loaded to compare with (run in a project folder or pass --config)")
        return project.code_graph, "code"
    if ref == "latest":
        snap = project.store.snapshot()
    elif ref.isdigit():
        snap = project.store.snapshot(int(ref))
    else:
        snap = project.store.snapshot(ref)
    if snap is None:
        known = ", ".join(f"{s['id']} ({short(s['project_version'])})" for s in project.store.snapshots()) or "none"
        fail(f"no snapshot {ref!r} in the store (snapshots: {known})")
    return snapshot_graph(snap), f"snapshot {short(snap['project_version'])}"


@cli.command()
@click.argument("from_ref", metavar="[FROM]", required=False)
@click.argument("to_ref", metavar="[TO]", required=False)
@click.option(
    "--format",
    "fmt",
    type=format_choice(OutputFormat.TERMINAL, OutputFormat.JSON, OutputFormat.MERMAID),
    default="terminal",
    show_default=True,
)
@click.option(
    "--impact",
    is_flag=True,
    help="For each change, the stored samples it would make stale, per "
    "downstream feature and field (counts and example ids); nothing is written.",
)
@click.pass_obj
def diff(ctx: Context, from_ref: str | None, to_ref: str | None, fmt: str, impact: bool) -> None:
    """What changed between two recorded graph snapshots, or between the store and the code.

    FROM and TO are a snapshot id, a project version (prefix), `latest` or `code` (also
    `current`, Metaxy's name). By default FROM is the store's latest snapshot and TO is the
    code; `diff code` alone is the same. `--format mermaid` draws both graphs in one
    flowchart, changes outlined. `--impact` adds each change's blast radius: a field whose
    version changes brings every stored sample of its feature back as added, and of each
    downstream feature with a field that reads it (field-level lineage), and no other.

    \b
    Examples:
      metaxy-tui diff                 # latest snapshot -> code
      metaxy-tui diff code --impact   # the same, with the samples each change makes stale
      metaxy-tui diff 1 2             # snapshot 1 -> snapshot 2
      metaxy-tui diff latest code --format json
      metaxy-tui diff latest current --format mermaid > changes.mmd
    """
    if impact and fmt == OutputFormat.MERMAID:
        fail("--impact shows in the terminal and json formats, not in mermaid", code=2)
    if from_ref in ("code", "current") and to_ref is None:
        from_ref, to_ref = "latest", from_ref  # `diff code`: the store against the code
    with opened(ctx, mode="r") as project:
        old, old_name = _snapshot_graph(project, from_ref, "latest")
        new, new_name = _snapshot_graph(project, to_ref, "code")
        changes = diff_graphs(old, new)
        blast = definition_impact(project, old, new, changes=changes) if impact else None
        known = {s.feature: s.count for s in blast.features} if blast is not None else {}  # counted already
        counts = {
            c.feature: known[c.feature]
            if c.feature in known
            else project.store.count(c.feature, feature_version=c.old_version)
            for c in changes
            if c.change == "changed"
        }
    if fmt == OutputFormat.MERMAID:
        click.echo(mermaid_diff(old, new, changes))
        return
    if fmt == OutputFormat.JSON:
        data: dict[str, Any] = {
            "from": old_name,
            "to": new_name,
            "changes": [
                c.to_dict()
                | {"consequence": c.consequence(counts.get(c.feature))}
                | ({"impact": [i.to_dict() for i in blast.for_feature(c.feature)]} if blast else {})
                for c in changes
            ],
        }
        if blast is not None:
            data["impact"] = blast.to_dict()
        print_json(data)
        return
    echo(f"{old_name} -> {new_name}", style="bold")
    if not changes:
        echo("no changes")
        return
    for c in changes:
        echo(c.describe(), style="bold")
        for f in c.fields:
            echo(f"    {f.describe()}")
        for o in c.other:
            echo(f"    {o}")
        echo(f"    → {c.consequence(counts.get(c.feature))}", style="italic")
        if blast is not None:
            for i in blast.for_feature(c.feature):
                _print_impact(i)
            moved_by = next((s for s in blast.features if s.feature == c.feature), None)
            if not blast.for_feature(c.feature) and moved_by is not None and moved_by.via:
                echo(
                    f"    impact: moved by an upstream change above ({'; '.join(moved_by.via)}), counted there",
                    style="dim",
                )
    if blast is not None:
        n = len([s for s in blast.features if s.count])
        echo()
        echo(
            f"blast radius: {blast.total:,} stored sample{'s' if blast.total != 1 else ''} in {n} feature"
            f"{'s' if n != 1 else ''} would be stale (computed without writing, {blast.seconds:.2f} s)",
            style="bold",
        )
        for s in blast.features:
            echo(f"    {s.describe()}")


def _print_impact(i) -> None:
    """One change's blast radius, under its feature's lines."""
    what = f"field {i.field}" if i.field else i.feature
    echo(f"    impact of {what} ({i.change.replace('_', ' ')}): {i.total:,} stale", style="bold yellow")
    for s in i.stale:
        echo(f"      {s.describe()}")
        for v in s.via:
            echo(f"          {v}", style="dim")
    for u in i.unaffected:
        echo(f"      unaffected: {u}", style="dim")
    if i.note:
        echo(f"      {i.note}", style="dim")


@cli.command("graph-diff")
@click.argument("action", type=click.Choice(["render"]))
@click.argument("from_ref", metavar="FROM")
@click.argument("to_ref", metavar="TO")
@click.option(
    "--format",
    "fmt",
    type=format_choice(OutputFormat.TERMINAL, OutputFormat.JSON, OutputFormat.MERMAID),
    default="terminal",
    show_default=True,
)
@click.pass_context
def graph_diff(ctx: click.Context, action: str, from_ref: str, to_ref: str, fmt: str) -> None:
    """Metaxy's spelling of `diff`: `graph-diff render latest current --format mermaid`.

    \b
    Example:
      metaxy-tui graph-diff render latest current --format mermaid
    """
    ctx.invoke(diff, from_ref=from_ref, to_ref=to_ref, fmt=fmt)
