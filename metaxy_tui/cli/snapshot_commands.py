"""push and diff: the feature graph recorded in the store."""

from __future__ import annotations

import click

from ..graph import FeatureGraph
from ..service.graph_diff import diff_graphs, short
from ..service.graph_text import mermaid_diff
from .main import Context, cli, fail, opened
from .output import echo, print_json


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
    return FeatureGraph.from_snapshot(snap), f"snapshot {short(snap['project_version'])}"


@cli.command()
@click.argument("from_ref", metavar="[FROM]", required=False)
@click.argument("to_ref", metavar="[TO]", required=False)
@click.option("--format", "fmt", type=click.Choice(["terminal", "json", "mermaid"]), default="terminal",
              show_default=True)
@click.pass_obj
def diff(ctx: Context, from_ref: str | None, to_ref: str | None, fmt: str) -> None:
    """What changed between two recorded graph snapshots, or between the store and the code.

    FROM and TO are a snapshot id, a project version (prefix), `latest` or `code` (also
    `current`, Metaxy's name). By default FROM is the store's latest snapshot and TO is the
    code. `--format mermaid` draws both graphs in one flowchart, changes outlined.

    \b
    Examples:
      metaxy-tui diff                 # latest snapshot -> code
      metaxy-tui diff 1 2             # snapshot 1 -> snapshot 2
      metaxy-tui diff latest code --format json
      metaxy-tui diff latest current --format mermaid > changes.mmd
    """
    with opened(ctx, mode="r") as project:
        old, old_name = _snapshot_graph(project, from_ref, "latest")
        new, new_name = _snapshot_graph(project, to_ref, "code")
        changes = diff_graphs(old, new)
        counts = {c.feature: project.store.count(c.feature, feature_version=c.old_version)
                  for c in changes if c.change == "changed"}
    if fmt == "mermaid":
        click.echo(mermaid_diff(old, new, changes))
        return
    if fmt == "json":
        print_json({"from": old_name, "to": new_name, "changes": [
            c.to_dict() | {"consequence": c.consequence(counts.get(c.feature))} for c in changes]})
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


@cli.command("graph-diff")
@click.argument("action", type=click.Choice(["render"]))
@click.argument("from_ref", metavar="FROM")
@click.argument("to_ref", metavar="TO")
@click.option("--format", "fmt", type=click.Choice(["terminal", "json", "mermaid"]), default="terminal",
              show_default=True)
@click.pass_context
def graph_diff(ctx: click.Context, action: str, from_ref: str, to_ref: str, fmt: str) -> None:
    """Metaxy's spelling of `diff`: `graph-diff render latest current --format mermaid`.

    \b
    Example:
      metaxy-tui graph-diff render latest current --format mermaid
    """
    ctx.invoke(diff, from_ref=from_ref, to_ref=to_ref, fmt=fmt)
