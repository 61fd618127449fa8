"""resolve, approve, history: what is pending and why, doing it, and the record of it."""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import datetime, timedelta, timezone

import click
import polars as pl

from .. import jsontext
from ..service import review
from ..service.recompute import DEFAULT_EXECUTOR, EXECUTORS, Executor, executor_for, executor_problem
from ..vocabulary import AuditAction, OutputFormat
from .main import Context, cli, fail, opened
from .output import Progress, counts_text, echo, format_choice, print_json, print_table


@cli.command()
@click.argument("feature")
@click.option(
    "--format",
    "fmt",
    type=format_choice(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.CSV),
    default="table",
    show_default=True,
)
@click.option("--explain", is_flag=True, help="Say why each sample is added, changed or removed.")
@click.pass_obj
def resolve(ctx: Context, feature: str, fmt: str, explain: bool) -> None:
    """Which samples of FEATURE must be computed (added), recomputed (changed) or are gone (removed).

    Nothing is written. Root features have no upstream to resolve against: use `import --dry-run`.

    \b
    Examples:
      metaxy-tui resolve speaker/embedding
      metaxy-tui resolve speaker/embedding --explain
      metaxy-tui resolve video/chunk --format json > pending.json
    """
    with opened(ctx, mode="r") as project:
        fp = project.graph.feature_plan(feature)
        if fp.is_root:
            fail(
                f"{feature} is a root feature: its samples come from files (metaxy-tui import {feature} FILE "
                "--dry-run shows what an import would change)"
            )
        inc = project.store.resolve_update(feature)
        ex = project.store.explain(feature, inc) if explain else None
    rows = review.pending_samples(inc, ex)
    counts = inc.counts
    if fmt == OutputFormat.JSON:
        columns = ["status", *inc.key, "provenance"] + (["reason", "reason_group"] if ex is not None else [])
        samples = (
            rows.select(jsontext.obj(rows, columns)).to_series() if rows.height else pl.Series([], dtype=pl.String)
        )
        items: list = [
            ("feature", feature),
            ("key", list(inc.key)),
            ("counts", counts),
            ("samples", jsontext.Lines(samples)),
        ]
        if ex is not None:
            items += [
                ("groups", [{"group": g, "count": n} for g, n in ex.group_counts()]),
                ("reasons", jsontext.Lines(ex.json_lines())),
            ]
            if ex.notes:
                items.append(("notes", ex.notes))
        sys.stdout.flush()
        jsontext.write_document(items)
        return
    if fmt == OutputFormat.CSV:
        columns = ["status", *inc.key, "provenance"] + (["reason_group", "reason"] if explain else [])
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows.iter_rows(named=True))
        return
    echo(f"{feature}: {counts_text(counts)}", style="bold")
    if ex is not None:
        for group, n in ex.group_counts():
            echo(f"  {n:>6}  {group}")
        for note in ex.notes:
            echo(f"  note: {note}")
    headers = ["status", *inc.key, "provenance"] + (["reason"] if explain else [])
    print_table(headers, [[r.get(h) for h in headers] for r in rows.iter_rows(named=True)])


def _parse_ids(values: tuple[str, ...], key: list[str], label: str = "--ids") -> list[dict]:
    """`--ids a1 a2` for a one-column key; `--ids video_id=v1,chunk_id=3` otherwise (`label`: how the
    command names the ids in messages)."""
    out = []
    for v in values:
        if "=" in v:
            pairs = {}
            for part in v.split(","):
                if "=" not in part:
                    fail(f"{label} {v}: {part!r} is not col=value (this feature's key: {', '.join(key)})", code=2)
                col, value = part.split("=", 1)
                pairs[col.strip()] = value
            if set(pairs) != set(key):
                fail(f"{label} {v}: give exactly the key columns {', '.join(key)}", code=2)
            out.append(pairs)
        elif len(key) == 1:
            out.append({key[0]: v})
        else:
            fail(f"{label} {v}: this feature's key has several columns ({', '.join(key)}); write col=value,...", code=2)
    return out


def _typed_ids(project, feature: str, ids: list[dict]) -> list[dict]:
    plan = project.graph.feature_plan(feature)
    out = []
    for d in ids:
        row = {}
        for c, v in d.items():
            t = plan.definition.columns[c].name
            try:
                row[c] = int(v) if t == "int" else float(v) if t == "float" else v
            except ValueError:
                fail(f"--ids: {c}={v!r} is not a {t}", code=2)
        out.append(row)
    return out


ACTIONS = {
    AuditAction.RECOMPUTE: "--recompute",
    AuditAction.ACCEPT: "--accept",
    AuditAction.DELETE_REMOVED: "--delete-removed",
}


@cli.command()
@click.argument("feature", required=False)
@click.argument("more_ids", nargs=-1, metavar="[ID]...")
@click.option("--recompute", is_flag=True, help="Run the feature's compute function.")
@click.option("--accept", is_flag=True, help="Carry stored outputs to the new provenance.")
@click.option("--delete-removed", is_flag=True, help="Soft-delete the removed samples.")
@click.option("--ids", multiple=True, metavar="ID", help="Only these samples: --ids a1 a2, or repeat --ids.")
@click.option("--all", "all_samples", is_flag=True, help="Every pending sample of FEATURE.")
@click.option("--all-pending", is_flag=True, help="Everything pending in every feature, upstream first.")
@click.option("--batch-size", type=click.IntRange(min=1), default=review.DEFAULT_BATCH, show_default=True)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    help="Where --recompute runs the compute function's batches: local (this process, the default) "
    'or ray (Ray tasks; needs pip install "metaxy-tui[ray]").',
)
@click.option(
    "--ray-address",
    metavar="ADDR",
    envvar="RAY_ADDRESS",
    show_envvar=True,
    help="With --executor ray: the cluster to use (host:6379, ray://host:10001, auto); "
    "without it a local Ray is started for the run and shut down after.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def approve(
    click_ctx: click.Context,
    feature: str | None,
    more_ids: tuple[str, ...],
    recompute: bool,
    accept: bool,
    delete_removed: bool,
    ids: tuple[str, ...],
    all_samples: bool,
    all_pending: bool,
    batch_size: int,
    executor: str | None,
    ray_address: str | None,
    yes: bool,
) -> None:
    """Approve pending work: recompute, accept or delete removed samples; every action is audited.

    \b
    Examples:
      metaxy-tui approve speaker/embedding --recompute --all --yes
      metaxy-tui approve speaker/embedding --recompute --ids spk_019 spk_039
      metaxy-tui approve video/chunk --delete-removed --all
      metaxy-tui approve --all-pending --yes
      metaxy-tui approve video/face_detection --recompute --all --executor ray --yes
      metaxy-tui approve video/face_detection --recompute --all --ray-address ray://head:10001 --yes
    """
    ctx: Context = click_ctx.obj
    chosen = [
        a
        for a, on in (
            (AuditAction.RECOMPUTE, recompute),
            (AuditAction.ACCEPT, accept),
            (AuditAction.DELETE_REMOVED, delete_removed),
        )
        if on
    ]
    if more_ids and not ids:
        fail(f"unexpected arguments {' '.join(more_ids)} (ids go after --ids)", code=2)
    ids = ids + more_ids
    runner = _executor(click_ctx, executor, ray_address, recompute or all_pending)
    if all_pending:
        if feature or chosen or ids or all_samples:
            fail("--all-pending takes no FEATURE, action or sample selection", code=2)
        _approve_all(ctx, yes, batch_size, runner)
        return
    if feature is None or len(chosen) != 1:
        fail("give FEATURE and exactly one of --recompute, --accept, --delete-removed (or --all-pending)", code=2)
    action = chosen[0]
    if bool(ids) == all_samples:
        fail("choose the samples: --ids ID ... or --all", code=2)
    with opened(ctx, feature=feature) as project:
        plan = project.graph.feature_plan(feature)
        if plan.is_root:
            fail(f"{feature} is a root feature: nothing to approve (use import)")
        keys = _typed_ids(project, feature, _parse_ids(ids, list(plan.key))) if ids else None
        if keys is not None:
            _check_pending(project, feature, action, keys)
        upstream = review.pending_upstream(project, feature)
        if upstream:
            echo(
                f"warning: upstream {', '.join(upstream)} has pending work; approve it first (or use --all-pending)",
                style="yellow",
            )
        if keys is not None:
            n = len(keys)
        else:
            counts = project.store.pending_counts(feature)
            n = counts["removed"] if action == AuditAction.DELETE_REMOVED else counts["added"] + counts["changed"]
        if not yes:
            downstream = project.graph.plan().downstream_closure(feature)
            _confirm(
                f"{action.replace('_', ' ')} {n} samples of {feature}"
                + (f" (downstream: {', '.join(downstream)} will then be pending)" if downstream else "")
                + "?"
            )
        if action == AuditAction.RECOMPUTE:
            on = f" on {runner.name}" if runner.name != DEFAULT_EXECUTOR else ""
            with Progress(f"recompute {feature}{on}", n) as bar:
                result = review.recompute(
                    project,
                    feature,
                    keys,
                    batch_size=batch_size,
                    executor=runner,
                    progress=lambda d, t: bar.update(d, t),
                )
            _ran_on(runner)
        elif action == AuditAction.ACCEPT:
            result = review.accept(project, feature, keys)
        else:
            result = review.delete_removed(project, feature, keys)
            more = review.downstream_removals(project, feature) if result.done else {}
            if more:
                echo(
                    "downstream now removed: "
                    + ", ".join(f"{k} ({v})" for k, v in more.items())
                    + " — run approve FEATURE --delete-removed --all on them to walk on"
                )
    _report(result)


def _executor(click_ctx: click.Context, name: str | None, address: str | None, computes: bool) -> Executor:
    """The executor the options ask for, checked before anything is opened: without Ray
    installed, --executor ray says how to install it and changes nothing."""
    typed = click_ctx.get_parameter_source("ray_address") == click.core.ParameterSource.COMMANDLINE
    if name is None:
        name = "ray" if typed else DEFAULT_EXECUTOR
    if name != DEFAULT_EXECUTOR and not computes:
        fail(f"--executor {name} goes with --recompute or --all-pending (only they run a compute function)", code=2)
    if typed and name != "ray":
        fail("--ray-address goes with --executor ray", code=2)
    problem = executor_problem(name)
    if problem:
        fail(f"--executor {name}: {problem}; nothing was changed")
    return executor_for(name, address)


def _ran_on(runner: Executor) -> None:
    if runner.name != DEFAULT_EXECUTOR and runner.used:
        click.echo(f"batches ran on {runner.describe()}", err=True)


def _confirm(question: str) -> None:
    """Ask on a terminal; elsewhere (a script, a pipe) refuse: --yes is the way to confirm there."""
    if not sys.stdin.isatty():
        fail("not a terminal: pass --yes to confirm")
    click.confirm(question, abort=True)


def _check_pending(project, feature: str, action: str, keys: list[dict]) -> None:
    """Ids that are not pending for this action are an error, not silently nothing."""
    inc = project.store.resolve_update(feature)
    key = list(inc.key)
    frames = [inc.removed] if action == AuditAction.DELETE_REMOVED else [inc.added, inc.changed]
    pending = {tuple(r) for f in frames if len(f) for r in f.to_polars().select(key).iter_rows()}
    missing = [k for k in keys if tuple(k[c] for c in key) not in pending]
    if missing:
        what = "removed" if action == AuditAction.DELETE_REMOVED else "added or changed"
        fail(f"not {what} in {feature}: " + review.ids_text(missing) + " (see metaxy-tui resolve " + feature + ")")


def _report(result: review.ActionResult) -> None:
    echo(result.describe(), style="green" if result.outcome in ("ok", "nothing to do") else "red")
    if result.note and result.outcome != "ok":
        echo(result.note)
    if result.failing:
        echo("failing samples: " + review.ids_text(result.failing))
    if result.traceback:
        click.echo(result.traceback, err=True)
    if result.outcome in ("failed", "cancelled"):
        raise click.exceptions.Exit(1)


def _approve_all(ctx: Context, yes: bool, batch_size: int, runner: Executor) -> None:
    with opened(ctx) as project:
        if not yes:
            _confirm("recompute and delete everything pending, upstream first?")
        with Progress("approve all") as bar:
            results = review.approve_all_pending(
                project,
                batch_size=batch_size,
                executor=runner,
                progress=lambda k, d, t: bar.update(d, t, f"recompute {k}"),
            )
    _ran_on(runner)
    if not results:
        echo("nothing pending")
    for r in results:
        echo(r.describe(), style="green" if r.outcome in ("ok", "nothing to do") else "yellow")
    if any(r.outcome in ("failed", "cancelled", "skipped") for r in results):
        raise click.exceptions.Exit(1)


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")


def parse_since(text: str) -> int:
    """'30m', '2h', '7d', '1w', or an ISO date/time (UTC unless it says otherwise) -> epoch µs."""
    m = _RELATIVE.match(text.strip())
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        try:
            when = datetime.now(timezone.utc) - timedelta(**{unit: int(m.group(1))})
        except OverflowError:
            fail(f"--since {text!r}: too far back", code=2)
    else:
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            fail(f"--since {text!r}: use an ISO date/time (2026-11-30, 2026-11-30T12:00) or 30m, 2h, 7d, 1w", code=2)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1_000_000)


@cli.command()
@click.option("--feature", help="Only this feature's entries.")
@click.option("--since", "since", metavar="WHEN", help="Only entries since WHEN: 2h, 7d, or 2026-11-30T12:00.")
@click.option(
    "--format", "fmt", type=format_choice(OutputFormat.TABLE, OutputFormat.JSON), default="table", show_default=True
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many entries (newest first).")
@click.pass_obj
def history(ctx: Context, feature: str | None, since: str | None, fmt: str, limit: int | None) -> None:
    """The audit log: who approved what, when, on how many samples, with what outcome.

    \b
    Examples:
      metaxy-tui history
      metaxy-tui history --feature speaker/embedding --since 7d
      metaxy-tui history --format json --limit 20
    """
    since_us = parse_since(since) if since else None
    with opened(ctx, mode="r") as project:
        if feature is not None and feature not in project.graph and feature not in project.stored_graph:
            from ..errors import UnknownFeatureError

            raise UnknownFeatureError(feature, sorted(set(project.graph.keys) | set(project.stored_graph.keys)))
        log = review.audit_log(project, feature=feature, since_us=since_us, limit=limit)
    if fmt == OutputFormat.JSON:
        print_json([r | {"at": r["at"].isoformat(), "ids": json.loads(r["ids"])} for r in log.iter_rows(named=True)])
        return
    print_table(
        ["time", "user", "action", "feature", "version", "samples", "seconds", "outcome"],
        [
            [
                r["at"].strftime("%Y-%m-%d %H:%M:%S"),
                r["user"],
                _action_text(r),
                r["feature"],
                (r["feature_version"] or "")[:8],
                r["n_samples"],
                f"{r['duration_s']:.2f}",
                r["outcome"],
            ]
            for r in log.iter_rows(named=True)
        ],
    )


def _action_text(entry: dict) -> str:
    """The action, with the executor when it is not the default: `recompute (ray)`."""
    on = entry.get("executor")
    return entry["action"] + (f" ({on})" if on and on != DEFAULT_EXECUTOR else "")


__all__ = ["resolve", "approve", "history", "parse_since"]
