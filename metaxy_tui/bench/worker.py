"""Worker side: runs in a fresh interpreter, one action per process (build, resolve, cli, review),
and prints its result after RESULT_MARK for the driver to read.
"""

import gc
import json
import os
import resource
import subprocess
import sys
import time

from .cases import CHILD_ID, CHILD_KEY, PBF, PROVENANCE, RESULT_MARK
from .engines import _engine, _height, _keys


def _rss_kib() -> int:
    """Current resident set size in KiB (Linux), 0 where unknown."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def _peak_kib(usage=None) -> int:
    """This process's peak resident memory in KiB.

    On Linux, VmHWM of /proc/self/status: ru_maxrss survives fork and exec, so a worker started
    by a driver holding 350 MB of generated data reported at least 350 MB whatever it used.
    `usage` (a child's rusage, from wait4) is used as given.
    """
    if usage is None:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    peak = (usage or resource.getrusage(resource.RUSAGE_SELF)).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


def _child_rows(added, family: str):
    """What a pipeline writes for the child after computing the increment's samples."""
    import polars as pl

    key = CHILD_ID[family]
    out = added.select([key, PBF, PROVENANCE])
    if family != "identity":  # one row per member -> one row per group
        out = out.unique(subset=[key], keep="first", maintain_order=True)
    return out.with_columns(("out/" + pl.col(key).cast(pl.String) + ".npy").alias("out_path"))


def _do_build(a: dict) -> dict:
    """stage "new": the root alone; stage "stale": child materialised, then 10% of the root rewritten."""
    import polars as pl

    t0 = time.perf_counter()
    eng = _engine(a)
    family = a["family"]
    with eng.session("w"):
        if a["stage"] == "new":
            root = pl.read_parquet(a["data"]["root"])
            eng.write(eng.sample, root)
            written = root.height
        else:
            inc, parts = eng.resolve()
            added = pl.from_arrow(parts[0].to_native()) if a["engine"] == "duckdb" else eng.frames(parts)[0]
            child = _child_rows(added, family)
            del inc, parts, added
            eng.write(eng.child, child)
            changed = pl.read_parquet(a["data"]["changed"])
            eng.write(eng.sample, changed)
            written = child.height + changed.height
    return {"seconds": time.perf_counter() - t0, "written": written, "peak_kib": _peak_kib()}


def _do_resolve(a: dict) -> dict:
    t_start = time.perf_counter()
    eng = _engine(a)
    with eng.session("r"):
        gc.collect()
        rss_before = _rss_kib()
        t0, cpu0 = time.perf_counter(), time.process_time()
        inc, parts = eng.resolve()
        added, changed, removed = eng.frames(parts)  # every column, in memory
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        peak = _peak_kib()
        setup = t0 - t_start
        key = CHILD_ID[a["family"]]
        counts = {
            "added": _height(added),
            "changed": _height(changed),
            "removed": _height(removed),
            "added_keys": _keys(added, key),
            "changed_keys": _keys(changed, key),
            "removed_keys": _keys(removed, key),
        }
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "setup_seconds": setup,
        "peak_kib": peak,
        "rss_before_kib": rss_before,
        "counts": counts,
    }


def _do_cli(a: dict) -> dict:
    """One `metaxy-tui resolve` command as a whole process: wall time and its own peak memory."""
    cmd = [
        sys.executable,
        "-m",
        "metaxy_tui",
        "--db",
        a["path"],
        "resolve",
        CHILD_KEY[a["family"]],
        "--format",
        "json",
    ] + (["--explain"] if a["explain"] else [])
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        p = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - t0
        err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        return {"error": f"{' '.join(cmd[2:])} exited {code}: {err.strip()[-500:]}"}
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "setup_seconds": 0.0,
        "peak_kib": _peak_kib(usage),
        "rss_before_kib": 0,
        "counts": {},
    }


def _do_review(a: dict) -> dict:
    """The TUI's review screen on the stale store, headless: from pushing it until its first page of
    samples is shown (the explanation runs in the screen's worker, as in the app)."""
    import asyncio

    from textual.app import App

    from metaxy_tui.service.project import open_project
    from metaxy_tui.tui.screens.review import ReviewScreen
    from metaxy_tui.tui.widgets.review_samples import ReviewSamples

    project = open_project(db=a["path"], mode="r", create=False)
    feature = CHILD_KEY[a["family"]]
    out: dict = {}

    class Host(App[None]):
        def on_mount(self) -> None:
            out["t0"], out["cpu0"] = time.perf_counter(), time.process_time()
            self.push_screen(ReviewScreen(project, feature))

    async def browsed(pilot) -> None:
        """The app as a user meets it: the browser shows statuses and explains the highlighted
        feature ahead; once that is done, `v` is pressed and the clock starts."""
        from metaxy_tui.tui.screens.browser import BrowserScreen
        from metaxy_tui.tui.widgets.feature_tree import FeatureTree

        t = time.perf_counter()
        while not isinstance(pilot.app.screen, BrowserScreen):
            await asyncio.sleep(0.01)
        pilot.app.screen.query_one(FeatureTree).select_feature(feature)
        while not project.explanations.has(project, feature):
            await asyncio.sleep(0.01)
            if time.perf_counter() - t > 300:
                raise TimeoutError("the browser did not explain ahead in 300 s")
        out["ahead"] = time.perf_counter() - t
        out["t0"], out["cpu0"] = time.perf_counter(), time.process_time()
        await pilot.press("v")

    async def run() -> None:
        if a.get("browsed"):
            from metaxy_tui.tui.app import MetaxyApp

            app: App = MetaxyApp(project)
        else:
            app = Host()
        async with app.run_test(size=(160, 50)) as pilot:
            if a.get("browsed"):
                await browsed(pilot)
            while True:
                await asyncio.sleep(0.005)
                screen = pilot.app.screen
                if (
                    isinstance(screen, ReviewScreen)
                    and screen.model is not None
                    and screen.query_one(ReviewSamples).row_count
                ):
                    out["seconds"] = time.perf_counter() - out["t0"]
                    out["cpu"] = time.process_time() - out["cpu0"]
                    out["samples"] = screen.model.total
                    break
                if time.perf_counter() - out.get("t0", time.perf_counter()) > 300:
                    raise TimeoutError("the review screen did not show samples in 300 s")

    gc.collect()
    asyncio.run(run())
    project.close()
    return {
        "seconds": out["seconds"],
        "cpu_seconds": out["cpu"],
        "setup_seconds": 0.0,
        "peak_kib": _peak_kib(),
        "rss_before_kib": 0,
        "counts": {},
        "samples": out["samples"],
        "ahead_seconds": out.get("ahead"),
    }


def _worker_main() -> None:
    action = json.loads(sys.argv[1])
    result = {"build": _do_build, "resolve": _do_resolve, "cli": _do_cli, "review": _do_review}[action["action"]](
        action
    )
    sys.stdout.write("\n" + RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()
