"""Recompute throughput of the demo's compute function, per executor (local, ray).

    python -m metaxy_tui.bench_recompute [--samples 20000] [--batch-size 500] [--runs 3]
                                         [--executors local ray] [--ray-address ADDR]
                                         [--feature video/face_detection] [--work-ms 0] [--json FILE]

The store is the demo's graph with its videos repeated under new ids until `video/chunk` has
about `--samples` chunks; `--feature` (face detection by default: a Python loop hashing each
chunk) then has every chunk pending, and each run recomputes all of it on a fresh copy of
that store through the review service, as `approve --recompute --all` does. `--work-ms`
adds that much busy CPU time per sample to the demo's function, to see where Ray pays off.

Per executor, the medians of the runs: wall time of the recompute (the Ray session is started
before the clock and timed apart, as `start`), samples per second, batches, the time spent
inside the compute function summed over batches, and the overhead per batch: the wall time
beyond what the function needs with the executor's workers busy all the time,
(wall - compute / workers) / batches, with 1 worker locally and the cluster's CPUs on Ray.
That overhead holds what the approving process does per batch (cutting the batch, checking
and writing its rows in one transaction) and, on Ray, moving the batch and its result.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from .executors import Batch, BatchResult, ComputeTask, Executor, make_executor
from .service import review
from .service.demo import DEMO_PROJECT, load_demo_modules
from .service.project import Project
from .store.sqlite_store import SQLiteMetadataStore

CHUNKS_PER_VIDEO = 31  # about: the demo's videos last 310 s on average, cut in 10 s chunks


class Timed(Executor):
    """Wraps an executor and keeps each batch's result (its time in the function)."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.name = inner.name
        self.results: list[BatchResult] = []

    def prepare(self, task: ComputeTask) -> None:
        self.inner.prepare(task)

    def start(self) -> None:
        self.inner.__enter__()

    def stop(self) -> None:
        self.inner.__exit__(None, None, None)

    def describe(self) -> str:
        return self.inner.describe()

    def map(self, task: ComputeTask, batches: Iterable[Batch], cancelled: Callable[[], bool]) -> Iterator[BatchResult]:
        for result in self.inner.map(task, batches, cancelled):
            self.results.append(result)
            yield result


def with_work(fn: Callable, work_ms: float, rows: pl.DataFrame) -> Any:
    """The demo's function plus `work_ms` of busy CPU per sample (a heavier model)."""
    deadline = time.perf_counter() + work_ms * rows.height / 1000
    while time.perf_counter() < deadline:
        pass
    return fn(rows)


def build_store(path: Path, samples: int) -> int:
    """The demo graph with videos repeated until video/chunk has about `samples` chunks; returns
    the number of chunks."""
    graph, pipeline = load_demo_modules()
    videos = pipeline.read_videos()
    copies = max(1, -(-samples // (videos.height * CHUNKS_PER_VIDEO)))
    frames = []
    for i in range(copies):
        frames.append(
            videos.with_columns(
                pl.format("{}_{}", pl.col("video_id"), pl.lit(i)).alias("video_id"),
                pl.struct(
                    pl.format("{}{}", pl.col(pipeline.PBF).struct.field(f), pl.lit(i)).alias(f)
                    for f in ("audio", "frames")
                ).alias(pipeline.PBF),
            )
        )
    store = SQLiteMetadataStore(path, graph=graph, project=DEMO_PROJECT, name="bench")
    with store:
        store.write_metadata("video", pl.concat(frames))
        pipeline.materialize_feature(store, "video/chunk")
        return store.count("video/chunk")


def run_once(
    base: Path, workdir: Path, feature: str, executor: Executor, batch_size: int, fn: Callable | None, run: int
) -> dict:
    path = workdir / f"{executor.name}-{run}.db"
    shutil.copyfile(base, path)
    graph, _ = load_demo_modules()
    store = SQLiteMetadataStore(path, graph=graph, project=DEMO_PROJECT, name="bench")
    store.open("w")
    project = Project(store, graph, graph, store.stored_graph(), str(path), demo=True)
    timed = Timed(executor)
    try:
        t0 = time.perf_counter()
        result = review.recompute(project, feature, batch_size=batch_size, fn=fn, executor=timed)
        wall = time.perf_counter() - t0
    finally:
        project.close()
        path.unlink()
    if result.outcome != "ok":
        raise SystemExit(f"{executor.name}: {result.describe()}\n{result.traceback or ''}")
    return {
        "wall_s": wall,
        "samples": result.done,
        "batches": result.batches,
        "compute_s": sum(r.compute_s for r in timed.results),
    }


def workers_of(executor: Executor) -> int:
    if executor.name != "ray":
        return 1
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def bench(
    executor_names: list[str],
    *,
    samples: int,
    batch_size: int,
    runs: int,
    feature: str,
    work_ms: float,
    ray_address: str | None,
    workdir: Path,
) -> dict:
    base = workdir / "base.db"
    t0 = time.perf_counter()
    chunks = build_store(base, samples)
    built = time.perf_counter() - t0
    graph, _ = load_demo_modules()
    fn = graph.computes[feature]
    if work_ms:
        fn = functools.partial(with_work, fn, work_ms)
    rows = []
    for name in executor_names:
        executor = make_executor(name, address=ray_address) if name == "ray" else make_executor(name)
        executor.prepare(ComputeTask(feature, fn, tuple(sorted({f.__module__ for f in graph.computes.values()}))))
        t0 = time.perf_counter()
        with executor:  # a Ray session is started (or connected) once, outside the clock
            start = time.perf_counter() - t0
            workers = workers_of(executor)
            measured = [run_once(base, workdir, feature, executor, batch_size, fn, i) for i in range(runs)]
            t1 = time.perf_counter()
        stop = time.perf_counter() - t1
        wall = statistics.median(m["wall_s"] for m in measured)
        compute = statistics.median(m["compute_s"] for m in measured)
        n, batches = measured[0]["samples"], measured[0]["batches"]
        rows.append(
            {
                "executor": name,
                "where": executor.describe(),
                "workers": workers,
                "samples": n,
                "batches": batches,
                "wall_s": wall,
                "samples_per_s": n / wall,
                "compute_s": compute,
                "overhead_per_batch_ms": 1000 * (wall - compute / min(workers, batches)) / batches,
                "start_s": start,
                "stop_s": stop,
                "walls": [m["wall_s"] for m in measured],
            }
        )
    return {
        "feature": feature,
        "chunks": chunks,
        "batch_size": batch_size,
        "runs": runs,
        "work_ms": work_ms,
        "store_built_s": built,
        "machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
        "results": rows,
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def print_table(report: dict) -> None:
    print(
        f"recompute {report['feature']}: {report['chunks']:,} samples pending, batches of "
        f"{report['batch_size']}, {report['runs']} runs (medians)"
        + (f", +{report['work_ms']} ms of CPU per sample" if report["work_ms"] else "")
        + f"; {report['machine']}"
    )
    head = ["executor", "samples", "batches", "wall s", "samples/s", "compute s", "overhead/batch ms", "start s"]
    lines = [
        [
            r["executor"],
            f"{r['samples']:,}",
            str(r["batches"]),
            f"{r['wall_s']:.2f}",
            f"{r['samples_per_s']:,.0f}",
            f"{r['compute_s']:.2f}",
            f"{r['overhead_per_batch_ms']:.1f}",
            f"{r['start_s']:.1f}",
        ]
        for r in report["results"]
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    for line in lines:
        print("  ".join(c.rjust(w) for c, w in zip(line, widths)))
    for r in report["results"]:
        print(
            f"  {r['executor']}: {r['where']}; stop {r['stop_s']:.1f} s; walls "
            + ", ".join(f"{w:.2f}" for w in r["walls"])
        )
    print(
        "compute s: time inside the function, summed over batches; overhead/batch: "
        "(wall - compute / workers) / batches; start: starting or connecting the executor, not in wall"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m metaxy_tui.bench_recompute", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000, help="about this many pending samples")
    parser.add_argument("--batch-size", type=int, default=review.DEFAULT_BATCH)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--executors", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    parser.add_argument("--ray-address", help="use this Ray cluster (default: a local Ray started for the benchmark)")
    parser.add_argument(
        "--feature", default="video/face_detection", choices=["video/face_detection", "video/transcript"]
    )
    parser.add_argument("--work-ms", type=float, default=0.0, help="busy CPU per sample added to the function")
    parser.add_argument("--workdir", type=Path, help="where the stores go (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="mx-bench-recompute-", dir=args.workdir))
    try:
        report = bench(
            args.executors,
            samples=args.samples,
            batch_size=args.batch_size,
            runs=args.runs,
            feature=args.feature,
            work_ms=args.work_ms,
            ray_address=args.ray_address,
            workdir=workdir,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
