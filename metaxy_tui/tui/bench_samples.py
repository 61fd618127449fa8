"""Benchmark of the Samples tab on a large feature, driven headless through the real app.

    python -m metaxy_tui.tui.bench_samples [--rows 1000000] [--db PATH] [--keep] [--export]

Builds (once; reused when --db names an existing file) a store whose root feature
`bench/sample` holds `--rows` current samples (plus a few superseded rows and soft deletes,
so the latest-row conditions do real work), then measures, in a fresh process so that the
build's memory does not count:

- first page: from selecting the feature with the Samples tab shown until page 0 is in the
  table (and the time until the row count arrives);
- last page: from pressing `end` until the last page is in the table;
- a deep jump by scrolling to the middle (OFFSET from the nearer end: the worst case);
- go to id (`g`), sort build (`o` on a user column), filter build (`/`);
- optionally (--export) CSV and Parquet export of the whole view;
- resident memory now and at peak (VmRSS / VmHWM), and the longest stall of the UI
  thread's event loop during the run (a ticker measures how late its 10 ms sleeps wake).

Times are wall-clock on this machine; each is one run, so treat ±30% as noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

FEATURE = "bench/sample"


# ----- building the store ------------------------------------------------------------------------


def build(path: Path, rows: int) -> float:
    import polars as pl

    import metaxy_tui as mx

    start = time.perf_counter()
    graph = mx.FeatureGraph()
    with graph.use():

        class Sample(
            mx.BaseFeature, spec=mx.FeatureSpec(key=FEATURE, id_columns=["sample_id"], fields=["default", "frames"])
        ):
            sample_id: str
            group_id: int
            value: float
            path: str

        ids = pl.int_range(0, rows, eager=True)
        frame = pl.DataFrame(
            {
                "sample_id": ids.map_elements(lambda i: f"s{i:07d}", return_dtype=pl.String),
                "group_id": ids // 10,
                "value": ((ids * 7919) % 1000) / 10,
                "path": ids.map_elements(lambda i: f"data/{i % 97}/{i:07d}.bin", return_dtype=pl.String),
            }
        ).with_columns(
            pl.struct(
                pl.format("p{}", (ids * 31) % 100_003).alias("default"), pl.format("f{}", ids).alias("frames")
            ).alias("metaxy_provenance_by_field")
        )
        store = mx.SQLiteMetadataStore(path)
        with store:
            store.write(Sample, frame)
            store.write(Sample, frame.slice(rows // 2, 3).with_columns(pl.col("value") + 1))  # history
            store.delete(Sample, ids=[{"sample_id": f"s{i:07d}"} for i in (10, rows // 3, rows - 5)])
    return time.perf_counter() - start


# ----- measuring ---------------------------------------------------------------------------------


def _memory_mb() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return {"rss_mb": round(out.get("VmRSS", 0), 1), "peak_rss_mb": round(out.get("VmHWM", 0), 1)}


async def _until(predicate, timeout: float = 120.0) -> float:
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the table did not get there")
        await asyncio.sleep(0.001)
    return time.perf_counter() - start


class StallWatch:
    """How long the UI thread's event loop went without running a 5 ms ticker, and where.

    A watchdog thread samples the main thread's stack whenever the ticker is over 50 ms
    late, so a stall can be traced to its code.
    """

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0
        self.where: dict[str, str] = {}
        self.phase = "start"
        self._stop = threading.Event()

    async def ticker(self) -> None:
        while not self._stop.is_set():
            now = time.perf_counter()
            self.worst = max(self.worst, now - self.last)
            self.last = now
            await asyncio.sleep(0.005)

    def watchdog(self) -> None:
        main = threading.main_thread().ident
        while not self._stop.wait(0.01):
            late = time.perf_counter() - self.last
            if late > 0.05 and self.phase not in self.where:
                frame = sys._current_frames().get(main)
                stack = traceback.extract_stack(frame)[-4:] if frame is not None else []
                self.where[self.phase] = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(stack))

    def start(self) -> None:
        asyncio.get_running_loop().create_task(self.ticker())
        threading.Thread(target=self.watchdog, daemon=True).start()

    def reset(self, phase: str) -> float:
        worst, self.worst, self.phase = self.worst, 0.0, phase
        self.last = time.perf_counter()
        return worst

    def stop(self) -> None:
        self._stop.set()


async def measure(db: Path, export: bool) -> dict:
    from ..service.project import open_project
    from .app import MetaxyApp
    from .widgets.feature_tree import FeatureTree
    from .widgets.sample_table import SampleTable
    from .widgets.samples_panel import SamplesPanel

    results: dict = {"memory_after_imports": _memory_mb()}
    stalls: dict[str, float] = {}
    project = open_project(db=db, mode="r")
    app = MetaxyApp(project)
    watch = StallWatch()
    painted: dict[int, float] = {}

    async def press(pilot, *keys: str) -> None:
        """Press without waiting for the app to go idle (pilot.press waits for workers too)."""
        task = asyncio.get_running_loop().create_task(pilot.press(*keys))
        await asyncio.sleep(0)
        tasks.append(task)

    tasks: list = []
    async with app.run_test(size=(160, 50)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        panel = app.browser.query_one(SamplesPanel)
        table = app.browser.query_one(SampleTable)
        app.browser.query_one(FeatureTree).select_feature(FEATURE)
        await pilot.pause()
        results["memory_before_samples_tab"] = _memory_mb()

        original = table.render_line

        def spy(y: int):  # when each row is first drawn from data (not as a placeholder)
            strip = original(y)
            if table.view is not None and y > 0:
                row = int(table.scroll_y) + y - 1
                if row not in painted and table._cache.get(row // table.view.page_size) is not None:
                    painted[row] = time.perf_counter()
            return strip

        table.render_line = spy
        watch.start()
        watch.reset("first page")

        # the tab loads its view when shown: from the key to the first page drawn
        start = time.perf_counter()
        await press(pilot, "s")
        await _until(lambda: 0 in painted)
        results["first_page_painted_s"] = painted[0] - start
        await _until(lambda: table.view.count is not None)
        results["count_s"] = time.perf_counter() - start
        results["rows"] = table.view.count
        results["memory_first_page"] = _memory_mb()
        table.focus()
        await pilot.pause()
        stalls["first page"] = watch.reset("end")

        last_row = table.view.count - 1
        start = time.perf_counter()
        await press(pilot, "end")
        await _until(lambda: last_row in painted)
        results["last_page_painted_after_end_s"] = painted[last_row] - start
        stalls["end"] = watch.reset("deep scroll")

        middle = table.view.count // 2 + 77
        start = time.perf_counter()
        table.scroll_to(y=middle, animate=False, immediate=True)
        await _until(lambda: middle in painted)
        results["middle_page_painted_after_scroll_s"] = painted[middle] - start
        nearby = middle + 400
        start = time.perf_counter()
        table.scroll_to(y=nearby, animate=False, immediate=True)  # a page or two on: keyset
        await _until(lambda: nearby in painted)
        results["nearby_page_painted_after_scroll_s"] = painted[nearby] - start
        stalls["deep scroll"] = watch.reset("go to id")

        target = f"s{int(table.view.count * 0.9):07d}"
        await pilot.press("g", *target)
        start = time.perf_counter()
        await press(pilot, "enter")
        await _until(lambda: table.current_row() is not None and table.current_row()[1] == target)
        results["go_to_id_s"] = time.perf_counter() - start
        await pilot.pause()
        results["memory_after_paging"] = _memory_mb()
        stalls["go to id"] = watch.reset("sort")

        table.move_cursor(column=table.view.column_index("value"))
        start = time.perf_counter()
        await press(pilot, "o")
        await _until(lambda: table.view.spec.sort == "value" and panel.building is None)
        results["sort_build_s"] = time.perf_counter() - start
        results["memory_after_sort"] = _memory_mb()
        stalls["sort"] = watch.reset("filter")

        await pilot.press("x")
        await _until(lambda: table.view.spec.sort is None and panel.building is None)
        await pilot.press("slash", "9", "9")
        start = time.perf_counter()
        await press(pilot, "enter")
        await _until(lambda: table.view.spec.filter == "99" and panel.building is None)
        results["filter_build_s"] = time.perf_counter() - start
        results["filter_rows"] = table.view.count
        await pilot.press("x")
        await _until(lambda: not table.view.spec.filter and panel.building is None and table.current_row() is not None)
        results["memory_browsing"] = _memory_mb()
        stalls["filter"] = watch.reset("export")

        if export:
            folder = Path(tempfile.mkdtemp(prefix="mx-export-"))
            for fmt in ("csv", "parquet"):
                await pilot.press("e")
                panel.query_one("#samples-export-path").value = str(folder / f"all.{fmt}")
                start = time.perf_counter()
                await press(pilot, "enter")
                await _until(lambda: panel.exporting)
                await _until(lambda: not panel.exporting, timeout=600)
                results[f"export_{fmt}_s"] = time.perf_counter() - start
                results[f"export_{fmt}_file_mb"] = round((folder / f"all.{fmt}").stat().st_size / 2**20, 1)
                results[f"memory_after_export_{fmt}"] = _memory_mb()
                # the export runs in a child process: its own peak, apart from the TUI's
                results[f"export_{fmt}_child_peak_rss_mb"] = panel.last_export.peak_rss_mb
                (folder / f"all.{fmt}").unlink()
            folder.rmdir()
            stalls["export"] = watch.reset("end")
        for task in tasks:
            await task
        watch.stop()
    project.close()
    results["ui_longest_stall_ms"] = {k: round(v * 1000, 1) for k, v in stalls.items()}
    if watch.where:
        results["ui_stalls_over_50ms_at"] = watch.where
    return results


# ----- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metaxy_tui.tui.bench_samples", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="the store to use (built there when missing)")
    parser.add_argument("--keep", action="store_true", help="keep a store built in a temporary folder")
    parser.add_argument("--export", action="store_true", help="also time CSV and Parquet export")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--measure-only", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)

    if args.measure_only is not None:
        print(json.dumps(asyncio.run(measure(args.measure_only, args.export))))
        return 0

    temp = None
    db = args.db
    if db is None:
        temp = tempfile.mkdtemp(prefix="mx-bench-samples-")
        db = Path(temp) / "samples.db"
    if not db.exists():
        print(f"building {args.rows:,} samples into {db} …", flush=True)
        print(f"  built in {build(db, args.rows):.1f} s", flush=True)
    child = [sys.executable, "-m", "metaxy_tui.tui.bench_samples", "--measure-only", str(db)]
    if args.export:
        child.append("--export")
    out = subprocess.run(child, capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout, out.stderr, file=sys.stderr)
        return 1
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for key, value in results.items():
        if isinstance(value, float):
            print(f"{key:32s} {value * 1000:9.1f} ms" if key.endswith("_s") else f"{key:32s} {value}")
        else:
            print(f"{key:32s} {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if temp is not None and not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        os.rmdir(temp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
