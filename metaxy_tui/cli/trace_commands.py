"""trace: one sample's lineage across the pipeline, up and down."""

from __future__ import annotations

import click

from ..service import trace as tracing
from ..service.samples import format_ids
from ..vocabulary import OutputFormat
from .main import Context, cli, opened
from .output import echo, format_choice, is_terminal, print_json
from .work_commands import _parse_ids

STATE_STYLES = {"current": "green", "stale": "yellow", "orphaned": "red", "deleted": "red", "earlier version": "yellow"}
HASH = 12  # characters of a hash in the text output (JSON has them whole)


@cli.command()
@click.argument("feature")
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@click.option(
    "--depth", type=click.IntRange(min=0), help="Walk at most N hops up and N down (default: the whole pipeline)."
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=tracing.DEFAULT_LIMIT,
    show_default=True,
    help="Samples listed per link (an aggregation's members, an expansion's children); the rest are counted.",
)
@click.option(
    "--format", "fmt", type=format_choice(OutputFormat.TEXT, OutputFormat.JSON), default="text", show_default=True
)
@click.pass_obj
def trace(ctx: Context, feature: str, ids: tuple[str, ...], depth: int | None, limit: int, fmt: str) -> None:
    """Where one sample came from and what it feeds: its lineage across the pipeline.

    Upward, every upstream sample it was computed from (the members of its group, its parent,
    the same sample upstream); downward, every sample it feeds. Each with its provenance by
    field and its state: current, stale (which fields moved), orphaned (its upstream is gone),
    deleted, or stored under an earlier feature version. Ids of a several-column key are
    written col=value,col=value; several IDs trace several samples (JSON: a list).

    \b
    Examples:
      metaxy-tui trace audio a0002
      metaxy-tui trace video/chunk video_id=v0001,chunk_id=0 --depth 1
      metaxy-tui trace speaker/embedding spk_010 --limit 50 --format json
    """
    with opened(ctx, mode="r") as project:
        key = tracing.id_columns(project, feature)
        traces = [
            tracing.trace_sample(project, feature, tracing.parse_ids(project, feature, texts), depth=depth, limit=limit)
            for texts in _parse_ids(ids, key, label="ID")
        ]
    if fmt == OutputFormat.JSON:
        data = [t.to_dict() for t in traces]
        print_json(data[0] if len(data) == 1 else data)
        return
    for i, t in enumerate(traces):
        if i:
            echo()
        _print(t)


def _short(value: str | None) -> str:
    if not value:
        return "-"
    return value if len(value) <= HASH + 1 else value[:HASH] + "…"


def _count(n: int) -> str:
    return f"{n:,} sample{'s' if n != 1 else ''}"


def _fields(node: tracing.TraceNode) -> str:
    parts = []
    for f in node.fields:
        mark = "" if f.current is None else (" ✓" if f.current else " ✗ moved")
        parts.append(f"{f.field} {_short(f.provenance)}{mark}")
    return " · ".join(parts)


def _state(node: tracing.TraceNode) -> str:
    return node.state if node.state == "current" else f"{node.state}: {node.detail}"


def _print(t: tracing.Trace) -> None:
    root = t.root
    head = f"{root.ref.feature}  {format_ids(root.ref.ids)}  {root.state}"
    echo(head, style="bold")
    echo(f"  {root.detail}", style=STATE_STYLES.get(root.state))
    echo(f"  provenance {root.provenance or '-'} · feature version {(root.feature_version or '-')[:8]}")
    echo(f"  fields: {_fields(root)}")
    for title, links, word in (("↑ computed from", root.upstream_links, "up"), ("↓ feeds", root.links, "down")):
        echo()
        echo(title, style="bold cyan" if word == "up" else "bold magenta")
        if not links:
            echo("  nothing: " + ("a root feature" if word == "up" else "no feature reads it"), style="dim")
            continue
        _links(links, "", word)
    if t.truncated:
        echo()
        echo(f"(stopped after {t.nodes():,} samples; use --depth or --limit to narrow the walk)", style="yellow")


def _links(links: list[tracing.TraceLink], prefix: str, word: str) -> None:
    for i, link in enumerate(links):
        last = i == len(links) - 1
        on = format_ids({c: "null" if v is None else v for c, v in link.on.items()})
        head = f"{link.feature} · {link.kind} on {on} · {link.relation} · {_count(link.total)}"
        if link.flows:
            head += f" · {'; '.join(link.flows)}"
        echo(prefix + ("└─ " if last else "├─ ") + head, style="bold")
        inner = prefix + ("   " if last else "│  ")
        if not link.nodes:
            echo(inner + "└─ " + (link.note or "none"), style="dim")
            continue
        for j, node in enumerate(link.nodes):
            node_last = j == len(link.nodes) - 1 and not link.more
            _node(node, inner, node_last, word)
        if link.more:
            echo(inner + f"└─ … and {link.more:,} more (--limit)", style="dim")


def _node(node: tracing.TraceNode, prefix: str, last: bool, word: str) -> None:
    text = prefix + ("└─ " if last else "├─ ") + format_ids(node.ref.ids) + "  " + _state(node)
    if node.repeated:
        text += "  (shown above)"
    echo(text, style=STATE_STYLES.get(node.state) if is_terminal() else None)
    inner = prefix + ("   " if last else "│  ") + "   "  # under the sample's ids
    echo(inner + _fields(node), style="dim")
    if node.links:
        _links(node.links, inner, word)
    elif node.walkable:
        echo(inner + f"… further {word} not walked (--depth)", style="dim")


__all__ = ["trace"]
