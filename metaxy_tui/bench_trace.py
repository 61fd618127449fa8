"""Benchmark of tracing one sample and of a change's blast radius, at 1,000,000 rows.

    python -m metaxy_tui.bench_trace [--rows 1000000] [--runs 20] [--workdir DIR [--keep]] [--json FILE]

One store, built once through the public API (bulk writes of what resolve_update gives):

    item (root, N rows) ──1:1──> item/label ──1:1──> label/score        (N rows each)
         └──N:1 on group_id (10 members a group)──> group/summary       (N/10 rows)
    bundle (root, N/10 rows) ──1:N, 10 children each──> bundle/piece    (N rows, keyed by piece_id alone)

Timed, each the median (and max) over `--runs` different samples, in this process after one
warm-up, the store opened as the CLI opens it:

- trace of an item (root, N rows: its label, its score, its group, walked to the end);
- trace of a group (its 10 members of the N-row item, and on up);
- trace of a label (a derived N-row feature: up to its item, down to its score);
- trace of a piece (an expansion child keyed by its own id: up to its bundle) and of a bundle
  (down to its 10 children through the key index);
- the definition impact of a code change to `item.default` (counts and ids of every stale
  feature: item, label, score, group) and the blast radius of approving 10,000 labels
  (their scores, read by key);
- one `metaxy-tui trace` command in a fresh process (imports and all), for the wall time a
  user waits.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PBF = "metaxy_provenance_by_field"
PROV = "metaxy_provenance"
GROUP = 10


def build(path: Path, rows: int) -> None:
    import polars as pl

    import metaxy_tui as mx

    graph = mx.FeatureGraph()
    with graph.use():

        class Item(mx.BaseFeature, spec=mx.FeatureSpec(key="item", id_columns=["item_id"], fields=["default"])):
            item_id: str
            group_id: int

        class Label(
            mx.BaseFeature,
            spec=mx.FeatureSpec(key="item/label", id_columns=["item_id"], deps=[Item], fields=["default"]),
        ):
            item_id: str
            label: str

        class Score(
            mx.BaseFeature,
            spec=mx.FeatureSpec(key="label/score", id_columns=["item_id"], deps=[Label], fields=["default"]),
        ):
            item_id: str
            score: float

        class Summary(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="group/summary",
                id_columns=["group_id"],
                deps=[mx.FeatureDep(feature=Item, lineage=mx.LineageRelationship.aggregation(on=["group_id"]))],
                fields=["default"],
            ),
        ):
            group_id: int
            n: int

        class Bundle(mx.BaseFeature, spec=mx.FeatureSpec(key="bundle", id_columns=["bundle_id"], fields=["default"])):
            bundle_id: str

        class Piece(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="bundle/piece",
                id_columns=["piece_id"],
                deps=[mx.FeatureDep(feature=Bundle, lineage=mx.LineageRelationship.expansion(on=["bundle_id"]))],
                fields=["default"],
            ),
        ):
            piece_id: str

        store = mx.SQLiteMetadataStore(path, project="bench_trace")
        with store:
            ids = pl.int_range(0, rows, eager=True)
            store.write(
                Item,
                pl.DataFrame(
                    {
                        "item_id": "i" + ids.cast(pl.String).str.zfill(7),
                        "group_id": (ids // GROUP).cast(pl.Int64),
                        PBF: pl.DataFrame({"default": "p" + ids.cast(pl.String)}).to_struct(),
                    }
                ),
            )
            added = store.resolve_update(Label).added.to_polars()
            store.write(Label, added.select("item_id", PBF, PROV).with_columns(label=pl.lit("x")))
            added = store.resolve_update(Score).added.to_polars()
            store.write(Score, added.select("item_id", PBF, PROV).with_columns(score=pl.lit(0.5)))
            added = store.resolve_update(Summary).added.to_polars()
            store.write(
                Summary,
                added.group_by("group_id").agg(
                    pl.len().cast(pl.Int64).alias("n"), pl.col(PBF).first(), pl.col(PROV).first()
                ),
            )
            bundles = pl.int_range(0, rows // GROUP, eager=True)
            store.write(
                Bundle,
                pl.DataFrame(
                    {
                        "bundle_id": "b" + bundles.cast(pl.String).str.zfill(6),
                        PBF: pl.DataFrame({"default": "q" + bundles.cast(pl.String)}).to_struct(),
                    }
                ),
            )
            parents = store.resolve_update(Piece).added.to_polars().select("bundle_id", PBF, PROV)
            children = parents.join(pl.DataFrame({"k": list(range(GROUP))}), how="cross")
            store.write(
                Piece, children.with_columns(piece_id=pl.col("bundle_id") + "-" + pl.col("k").cast(pl.String)).drop("k")
            )


def timed(fn, samples: list) -> dict:
    fn(samples[0])  # warm-up: caches of the graph and the SQLite pages
    times = []
    for s in samples:
        start = time.perf_counter()
        fn(s)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "max_s": max(times), "runs": len(times)}


def measure(path: Path, rows: int, runs: int) -> dict:
    import random

    from metaxy_tui.graph import FeatureGraph
    from metaxy_tui.service.impact import approval_impact, definition_impact
    from metaxy_tui.service.project import open_project
    from metaxy_tui.service.trace import trace_sample

    rng = random.Random(17)
    project = open_project(db=path, mode="r")
    out: dict = {}
    try:
        items = [f"i{rng.randrange(rows):07d}" for _ in range(runs + 1)]
        groups = [rng.randrange(rows // GROUP) for _ in range(runs + 1)]
        bundles = [f"b{rng.randrange(rows // GROUP):06d}" for _ in range(runs + 1)]

        def trace(feature, ids):
            t = trace_sample(project, feature, ids)
            assert t.nodes() > 1, (feature, ids)
            return t

        out["trace item (root)"] = timed(lambda i: trace("item", {"item_id": i}), items)
        out["trace group (10 members)"] = timed(lambda g: trace("group/summary", {"group_id": g}), groups)
        out["trace label (identity)"] = timed(lambda i: trace("item/label", {"item_id": i}), items)
        out["trace piece (expansion child)"] = timed(lambda b: trace("bundle/piece", {"piece_id": f"{b}-3"}), bundles)
        out["trace bundle (10 children)"] = timed(lambda b: trace("bundle", {"bundle_id": b}), bundles)

        snap = project.store.snapshot()
        new = copy.deepcopy(snap)
        for f in new["features"]:
            if f["key"] == "item":
                f["fields"][0]["code_version"] = "2"
        old_graph, new_graph = FeatureGraph.from_snapshot(snap), FeatureGraph.from_snapshot(new)
        impact = {}

        def definition(_):
            impact["result"] = definition_impact(project, old_graph, new_graph)

        out["impact of a code change (4 features)"] = timed(definition, list(range(max(3, runs // 4))))
        out["impact of a code change (4 features)"]["stale_samples"] = impact["result"].total
        labels = [{"item_id": f"i{rng.randrange(rows):07d}"} for _ in range(10_000)]
        radius = {}

        def approval(_):
            radius["result"] = approval_impact(project, "item/label", [(k, ["default"]) for k in labels])

        out["blast radius of approving 10,000 labels"] = timed(approval, list(range(max(3, runs // 4))))
        out["blast radius of approving 10,000 labels"]["stale_samples"] = radius["result"].total
    finally:
        project.close()
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "metaxy_tui",
            "--db",
            str(path),
            "trace",
            "group/summary",
            str(groups[0]),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    out["metaxy-tui trace (a fresh process)"] = {"median_s": wall, "max_s": wall, "runs": 1}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m metaxy_tui.bench_trace", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workdir", type=Path, help="Where the store is built (reused when it is there).")
    parser.add_argument("--keep", action="store_true", help="Keep the store for another run.")
    parser.add_argument("--json", type=Path, help="Also write the results to this file.")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="metaxy-bench-trace-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"trace-{args.rows}.db"
    try:
        if not path.exists():
            start = time.perf_counter()
            build(path, args.rows)
            print(f"built {path} ({args.rows:,} rows a feature) in {time.perf_counter() - start:.1f} s", flush=True)
        results = measure(path, args.rows, args.runs)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    width = max(len(k) for k in results)
    print(f"\n{'case, ' + format(args.rows, ',') + ' rows':<{width}}  median     max")
    for name, r in results.items():
        extra = f"   ({r['stale_samples']:,} stale samples)" if "stale_samples" in r else ""
        print(f"{name:<{width}}  {r['median_s'] * 1000:7.1f} ms {r['max_s'] * 1000:7.1f} ms{extra}")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "results": results}, indent=2))


if __name__ == "__main__":
    main()
