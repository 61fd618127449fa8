"""A pipeline process for the reliability tests: writes recognisable batches in a loop.

    python writer_child.py MODE STORE JOURNAL [--batches N] [--big ROWS] [--offset K] [--summary-every N]

After each call into the store returns, a line is appended to JOURNAL and fsynced, so a
test that kills this process knows which writes had returned before the kill:

    ready              setup is done (imports, the modes' initial rows): kill from now on
    begin <n>          step n starts (not fsynced: only for the kill statistics)
    tx+ / tx-          a write transaction begins (BEGIN IMMEDIATE starts) / ends (its COMMIT or
                       ROLLBACK starts); not fsynced. A kill after a `tx+` with no `tx-` after it
                       landed inside a write transaction, before its commit.
    paused             (METAXY_KILL_AIM only) the child waits inside a write transaction to be killed
    root <n>           root batch n was written (modes derived, recompute, pipeline)
    prog <r> <done>    recompute round r: `done` samples committed so far (mode recompute)
    w <n>              batch n plus its combined soft delete was written (mode delete)
    done <n>           step n is complete
    finished           (only when --batches is given) the loop ended normally

Every batch is recognisable in the store:

- new samples of batch n have ids `b<n>_<i>`, i < batch_size(n), column batch = n, payload
  and provenance `p<n>`;
- rewrites of the fixed set (ids `r_<i>`, i < REWRITE_ROWS, batch = -1) carry payload and
  provenance `v<n>` in every row;
- rel/derived rows carry value = "d:" + their upstream payload and src_batch = its batch.

Modes: root, derived, recompute, create, delete, import (the kill test) and pipeline (the
concurrency test; also a second writer). METAXY_KILL_AIM=<k>:<m> makes the child stop inside
its k-th write transaction after `ready`, at the m-th statement of it (or at its COMMIT if it
has fewer), journal `paused` and wait to be killed: a kill aimed inside a write. The module also gives the tests the feature graph
(`build_graph`) and the batch sizes, so the test and the child agree on both.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from pathlib import Path

import polars as pl

import metaxy_tui as mx

ITEM, DERIVED, SUMMARY = "rel/item", "rel/derived", "rel/summary"
REWRITE_ROWS = 2000  # the fixed id set r_<i> that rewrites replace
RECOMPUTE_ROWS = 2000  # samples of mode recompute
RECOMPUTE_BATCH = 250  # review.recompute batch size in mode recompute
CREATE_ROWS = 10  # rows written into each fresh file in mode create
BIG_EVERY = 7  # in the kill modes, every 7th new batch is large (several insert chunks)
BIG_ROWS = 60_000
SHARDS = 1000


def batch_size(n: int, *, big: bool = True) -> int:
    """How many new samples batch n writes (deterministic, so the test knows the count)."""
    if big and n % BIG_EVERY == BIG_EVERY - 1:
        return BIG_ROWS + n
    return 200 + (n * 37) % 600


def build_graph() -> mx.FeatureGraph:
    """rel/item (root) -> rel/derived (identity), rel/item -> rel/summary (aggregation by shard).

    Shards (i mod SHARDS) keep aggregation groups small: SQLite's window group_concat copies
    the whole group's string for every member row, so one 120,000-member group takes ~25 s.
    """
    graph = mx.FeatureGraph()
    with graph.use():

        class Item(mx.BaseFeature, spec=mx.FeatureSpec(key=ITEM, id_columns=["item_id"], fields=["default"])):
            """Items written by the reliability tests' pipeline process."""

            item_id: str
            batch: int
            shard: int
            payload: str

        class Derived(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key=DERIVED, id_columns=["item_id"], deps=[Item], fields=[mx.FieldSpec("out", code_version="1")]
            ),
        ):
            item_id: str
            src_batch: int
            value: str

        class Summary(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key=SUMMARY,
                id_columns=["shard"],
                deps=[mx.FeatureDep(Item, lineage=mx.LineageRelationship.aggregation(on=["shard"]))],
                fields=[mx.FieldSpec("total", code_version="1")],
            ),
        ):
            shard: int
            members: int

        @mx.compute(Derived)
        def compute_derived(rows: pl.DataFrame) -> pl.DataFrame:
            return derive(rows)

    return graph


def derive(rows: pl.DataFrame) -> pl.DataFrame:
    """rel/derived's rows for upstream rows (an increment frame: provenance columns kept)."""
    return rows.select(
        "item_id",
        pl.col("batch").alias("src_batch"),
        (pl.lit("d:") + pl.col("payload")).alias("value"),
        "metaxy_provenance_by_field",
        "metaxy_provenance",
    )


def new_batch(n: int, size: int | None = None) -> pl.DataFrame:
    size = batch_size(n) if size is None else size
    tag = f"p{n}"
    return pl.DataFrame(
        {
            "item_id": [f"b{n}_{i}" for i in range(size)],
            "batch": [n] * size,
            "shard": [i % SHARDS for i in range(size)],
            "payload": [tag] * size,
            "metaxy_provenance_by_field": [{"default": tag}] * size,
        }
    )


def rewrite_batch(n: int, rows: int = REWRITE_ROWS) -> pl.DataFrame:
    tag = f"v{n}"
    return pl.DataFrame(
        {
            "item_id": [f"r_{i}" for i in range(rows)],
            "batch": [-1] * rows,
            "shard": [i % SHARDS for i in range(rows)],
            "payload": [tag] * rows,
            "metaxy_provenance_by_field": [{"default": tag}] * rows,
        }
    )


class Journal:
    """Append-only lines; `sync=False` (for "begin" markers, statistics only) skips the fsync."""

    def __init__(self, path: str | os.PathLike):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.ready = False

    def __call__(self, line: str, sync: bool = True) -> None:
        os.write(self.fd, (line + "\n").encode())
        if sync:
            os.fsync(self.fd)
        if line == "ready":
            self.ready = True

    def begin(self, n: int) -> None:
        self(f"begin {n}", sync=False)


def trace_write_transactions(journal: Journal, aim: str | None = None) -> None:
    """Journal `tx+` / `tx-` around every write transaction of every connection this process opens
    (sqlite3's trace callback sees each statement as it starts), and with `aim` ("k:m") pause
    inside the k-th write transaction after `ready`, at its m-th statement (or its COMMIT)."""
    target, at = (int(x) for x in aim.split(":")) if aim else (0, 0)
    seen = {"transactions": 0}
    connect = sqlite3.connect

    def traced_connect(*args, **kwargs):
        conn = connect(*args, **kwargs)
        state = {"open": False, "statements": 0, "aimed": False}

        def pause() -> None:
            journal("paused")
            time.sleep(120)  # the test kills us now
            os._exit(3)  # no kill came: end without committing (the test reports it)

        def trace(sql: str) -> None:
            head = sql.lstrip()[:15].upper()
            if head.startswith("BEGIN IMMEDIATE"):
                state.update(open=True, statements=0, aimed=False)
                journal("tx+", sync=False)
                if journal.ready:
                    seen["transactions"] += 1
                    state["aimed"] = seen["transactions"] == target
            elif state["open"] and head.startswith(("COMMIT", "ROLLBACK", "END")):
                if state["aimed"]:
                    pause()
                state["open"] = False
                journal("tx-", sync=False)
            elif state["open"]:
                state["statements"] += 1
                if state["aimed"] and state["statements"] == at:
                    pause()

        conn.set_trace_callback(trace)
        return conn

    sqlite3.connect = traced_connect


def read_journal(path: str | os.PathLike) -> list[list[str]]:
    """The journal's complete lines, split into words (a torn last line is ignored)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    return [line.split() for line in lines[:-1] if line]  # the part after the last newline is incomplete


def materialize(store: mx.SQLiteMetadataStore) -> int:
    """Bring rel/derived up to date with one write (a materialization)."""
    inc = store.resolve_update(DERIVED)
    todo = pl.concat([inc.added.to_polars(), inc.changed.to_polars()], how="diagonal_relaxed")
    if todo.height == 0:
        return 0
    return store.write_metadata(DERIVED, derive(todo))


def materialize_summary(store: mx.SQLiteMetadataStore) -> int:
    inc = store.resolve_update(SUMMARY)
    todo = pl.concat([inc.added.to_polars(), inc.changed.to_polars()], how="diagonal_relaxed")
    if todo.height == 0:
        return 0
    out = todo.group_by("shard").agg(
        pl.len().cast(pl.Int64).alias("members"), pl.first("metaxy_provenance_by_field"), pl.first("metaxy_provenance")
    )
    return store.write_metadata(SUMMARY, out)


def project_for(store: mx.SQLiteMetadataStore, graph: mx.FeatureGraph):
    from metaxy_tui.service.project import Project

    return Project(store, graph, graph, store.stored_graph(), store.path)


# ----- the modes ----------------------------------------------------------------------------


def run_root(store, graph, journal, args, workdir) -> None:
    """Even steps add batch n; odd steps rewrite the fixed set with provenance v<n>."""
    journal("ready")
    for n in steps(args):
        journal.begin(n)
        if n % 2 == 0:
            store.write_metadata(ITEM, new_batch(n))
        else:
            store.write_metadata(ITEM, rewrite_batch(n))
        journal(f"done {n}")


def run_derived(store, graph, journal, args, workdir) -> None:
    """Step n: root batch n, then a materialization of rel/derived (resolve + one write)."""
    journal("ready")
    for n in steps(args):
        journal.begin(n)
        store.write_metadata(ITEM, new_batch(n, batch_size(n, big=n % 3 == 0)))
        journal(f"root {n}")
        materialize(store)
        journal(f"done {n}")


def run_recompute(store, graph, journal, args, workdir) -> None:
    """Round r: rewrite every sample with payload v<r>, then review.recompute in batches."""
    from metaxy_tui.service import review

    project = project_for(store, graph)
    if store.count(ITEM) == 0:
        store.write_metadata(ITEM, rewrite_batch(0, RECOMPUTE_ROWS))
        result = review.recompute(project, DERIVED, batch_size=RECOMPUTE_ROWS)
        assert result.outcome == "ok", result.describe()
    journal("ready")
    for r in steps(args, start=1):
        journal.begin(r)
        store.write_metadata(ITEM, rewrite_batch(r, RECOMPUTE_ROWS))
        journal(f"root {r}")
        result = review.recompute(
            project, DERIVED, batch_size=RECOMPUTE_BATCH, progress=lambda done, total, r=r: journal(f"prog {r} {done}")
        )
        assert result.outcome == "ok", result.describe()
        journal(f"done {r}")


def run_create(store, graph, journal, args, workdir) -> None:
    """Step i: create a fresh store file c<i>.db next to STORE and write CREATE_ROWS rows."""
    journal("ready")
    for i in steps(args):
        journal.begin(i)
        s = mx.SQLiteMetadataStore(workdir / f"c{i}.db", graph=graph)
        with s:
            s.write_metadata(ITEM, new_batch(i, CREATE_ROWS))
        journal(f"done {i}")


def run_delete(store, graph, journal, args, workdir) -> None:
    """Step n: write batch n soft-deleting the even ids of batch n-1 in the same transaction;
    then soft-delete the odd ids of batch n-1 with delete_metadata."""
    journal("ready")
    for n in steps(args):
        journal.begin(n)
        prev = new_batch(n - 1, batch_size(n - 1, big=False)) if n else None
        size = batch_size(n, big=False)
        evens = prev.filter(pl.int_range(pl.len()) % 2 == 0).select("item_id") if prev is not None else None
        store.write_metadata(ITEM, new_batch(n, size), delete_ids=evens)
        journal(f"w {n}")
        if prev is not None:
            store.delete_metadata(ITEM, ids=prev.filter(pl.int_range(pl.len()) % 2 == 1).select("item_id"))
        journal(f"done {n}")


def run_import(store, graph, journal, args, workdir) -> None:
    """Step n: import batch n from a CSV file (plan_import, then apply_import)."""
    from metaxy_tui.service.importer import apply_import, plan_import

    project = project_for(store, graph)
    journal("ready")
    for n in steps(args):
        journal.begin(n)
        path = workdir / f"import_{n}.csv"
        rows = new_batch(n).select(
            "item_id", "batch", "shard", "payload", pl.col("payload").alias("provenance_default")
        )
        rows.write_csv(path)
        plan = plan_import(project, ITEM, path, provenance="column")
        if plan.problems:
            raise SystemExit(f"import plan failed: {plan.error()}")
        apply_import(project, plan)
        path.unlink()
        journal(f"done {n}")


def run_pipeline(store, graph, journal, args, workdir) -> None:
    """The concurrency test's writer: an optional big first batch (batch 0, --big rows), then
    new batches (even n) and rewrites of the fixed set (odd n), each followed by a
    materialization of rel/derived (and of rel/summary every --summary-every steps).
    `--offset` shifts batch numbers and writes new batches only (a second writer)."""
    if args.big and args.offset == 0:
        store.write_metadata(ITEM, new_batch(0, args.big))
        journal("root 0")
        materialize(store)
        materialize_summary(store)
        journal("done 0")
    journal("ready")
    for step in steps(args, start=1):
        n = step + args.offset
        journal.begin(n)
        if args.offset or n % 2 == 0:
            store.write_metadata(ITEM, new_batch(n, batch_size(n, big=False)))
        else:
            store.write_metadata(ITEM, rewrite_batch(n))
        journal(f"root {n}")
        materialize(store)
        if step % args.summary_every == 0:
            materialize_summary(store)
        journal(f"done {n}")


def pipeline_totals(steps_: int, big: int) -> list[int]:
    """rel/item's latest-row count after each root write of `pipeline` (offset 0), from 0."""
    totals = [0] + ([big] if big else [])
    for n in range(1, steps_ + 1):
        grow = batch_size(n, big=False) if n % 2 == 0 else (REWRITE_ROWS if n == 1 else 0)
        totals.append(totals[-1] + grow)
    return totals


def steps(args, start: int = 0):
    n = start
    while args.batches is None or n < start + args.batches:
        yield n
        n += 1


MODES = {
    "root": run_root,
    "derived": run_derived,
    "recompute": run_recompute,
    "create": run_create,
    "delete": run_delete,
    "import": run_import,
    "pipeline": run_pipeline,
}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=sorted(MODES))
    p.add_argument("store")
    p.add_argument("journal")
    p.add_argument("--batches", type=int, default=None, help="stop after N steps (default: until killed)")
    p.add_argument("--big", type=int, default=0, help="mode pipeline: rows of the first batch")
    p.add_argument("--offset", type=int, default=0, help="mode pipeline: a second writer's batch numbers")
    p.add_argument("--summary-every", type=int, default=1, help="mode pipeline: materialize rel/summary every N steps")
    args = p.parse_args(argv)
    graph = build_graph()
    journal = Journal(args.journal)
    trace_write_transactions(journal, os.environ.get("METAXY_KILL_AIM"))
    workdir = Path(args.store).parent
    if args.mode == "create":
        MODES["create"](None, graph, journal, args, workdir)
    else:
        store = mx.SQLiteMetadataStore(args.store, graph=graph)
        with store:
            MODES[args.mode](store, graph, journal, args, workdir)
    if args.batches is not None:
        journal("finished")


if __name__ == "__main__":
    sys.exit(main())
