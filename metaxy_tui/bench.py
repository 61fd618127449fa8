"""Benchmark of resolve_update at 100,000 and 1,000,000 upstream rows, against Metaxy 0.1.11.

    python -m metaxy_tui.bench [--rows 100000 1000000] [--runs 5] [--cases ...]
                               [--workdir DIR [--keep]] [--hash xxhash64] [--no-metaxy] [--json FILE]

Two case families, each built once per size with bulk writes through the public API:

- identity: root `bench/sample` (sample_id, group_id, value, path) -> `bench/child` (1:1);
- aggregation: the same root -> `bench/group`, N:1 on group_id (10 members per group).

"new" times resolve_update of the child while it has no rows; "stale" first materialises the
child from that increment (one row per group for aggregation), then rewrites 10% of the root
rows (chosen by hash, so spread over the groups) with new provenance, and times it again.

Each timed run is one resolve_update in a fresh Python process: imports and opening the store
are not timed; the clock covers `resolve_update(child)` and `len()` of its three frames. Peak
memory is that process's `ru_maxrss` (so it includes the interpreter and its imports). When
`import metaxy` works, the same data goes into a Metaxy 0.1.11 DeltaMetadataStore and is timed
the same way (each build process generates the data with polars, so identical values need the
same polars version on both sides). The targets (at 1,000,000 rows, each case: at most 1/4 of
Metaxy's time and 1/2 of its peak memory) are printed next to the ratios; this is a
measurement, not a test, and always exits 0 once it has run.

This module imports only the standard library at the top: worker processes load it by file
path, so that a Metaxy worker never imports metaxy_tui (or the other way round).
"""

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import types

CASES = ("identity-new", "identity-stale", "aggregation-new", "aggregation-stale")
FAMILIES = ("identity", "aggregation")
GROUP_SIZE = 10
STALE_FRACTION = 0.10
TIME_TARGET = 0.25
MEMORY_TARGET = 0.50
TARGET_ROWS = 1_000_000
# Metaxy 0.1.11 at 1,000,000 rows as docs/PERF-NOTES.md records it (DuckDB store, md5, a prototype's
# measurement on this kind of machine): seconds, peak GB. Printed for context only.
PERF_NOTES_METAXY = {"identity-new": (3.9, 0.76), "identity-stale": (6.6, 0.89),
                     "aggregation-new": (7.3, 0.68), "aggregation-stale": (20.5, 0.70)}
WORKER_TIMEOUT_S = 3600
RESULT_MARK = "@@bench-result@@ "
PBF = "metaxy_provenance_by_field"
PROVENANCE = "metaxy_provenance"
ROOT_KEY = "bench/sample"
CHILD_KEY = {"identity": "bench/child", "aggregation": "bench/group"}
CHILD_ID = {"identity": "sample_id", "aggregation": "group_id"}
ROOT_COLUMNS = {"sample_id": str, "group_id": int, "value": float, "path": str}


# =============================================================================================
# Worker side: runs in a fresh interpreter, one action per process.
# =============================================================================================
def _rss_kib() -> int:
    """Current resident set size in KiB (Linux), 0 where unknown."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def _peak_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


def _root_frame(n: int):
    """The root's rows: ids s0000000.., group_id = i // 10, a float, a path, random-looking pbf."""
    import polars as pl

    i = pl.int_range(0, n, eager=True, dtype=pl.Int64)
    sample_id = "s" + i.cast(pl.String).str.zfill(7)
    return pl.DataFrame({
        "sample_id": sample_id,
        "group_id": i // GROUP_SIZE,
        "value": (i.hash(11) % 1_000_000).cast(pl.Float64) / 1000.0,
        "path": "data/raw/" + sample_id + ".wav",
        PBF: pl.DataFrame({"default": i.hash(1).cast(pl.String)}).to_struct(),
    })


def _changed_rows(n: int):
    """10% of the root rows (the lowest hashes: spread over all groups) with new provenance."""
    import polars as pl

    df = _root_frame(n)
    pick = df.get_column("sample_id").hash(7).rank("ordinal") <= int(n * STALE_FRACTION)
    df = df.filter(pick)
    i = df.get_column("sample_id").str.slice(1).cast(pl.Int64)
    return df.with_columns(pl.DataFrame({"default": "v2:" + i.hash(2).cast(pl.String)}).to_struct().alias(PBF))


def _child_rows(added, family: str):
    """What a pipeline writes for the child after computing the increment's samples."""
    import polars as pl

    key = CHILD_ID[family]
    out = added.select([key, PBF, PROVENANCE])
    if family == "aggregation":  # one row per member -> one row per group
        out = out.unique(subset=[key], keep="first", maintain_order=True)
    return out.with_columns(("out/" + pl.col(key).cast(pl.String) + ".npy").alias("out_path"))


def _new_class(base: type, name: str, spec, columns: dict, extra: dict | None = None) -> type:
    ns = {"__annotations__": dict(columns), "__module__": "metaxy_bench_features", **(extra or {})}
    return types.new_class(name, (base,), {"spec": spec}, lambda body: body.update(ns))


def _graph(mx, family: str, extra: dict | None = None):
    """The bench graph, made by the same public-API calls with either library as `mx`."""
    graph = mx.FeatureGraph()
    with graph.use():
        sample = _new_class(mx.BaseFeature, "Sample", mx.FeatureSpec(
            key=ROOT_KEY, id_columns=["sample_id"], fields=[mx.FieldSpec(key="default")]), ROOT_COLUMNS, extra)
        if family == "identity":
            child = _new_class(mx.BaseFeature, "Child", mx.FeatureSpec(
                key=CHILD_KEY[family], id_columns=["sample_id"], deps=[mx.FeatureDep(feature=ROOT_KEY)],
                fields=[mx.FieldSpec(key="default", code_version="1")]), {"sample_id": str, "out_path": str}, extra)
        else:
            child = _new_class(mx.BaseFeature, "Group", mx.FeatureSpec(
                key=CHILD_KEY[family], id_columns=["group_id"],
                deps=[mx.FeatureDep(feature=ROOT_KEY, lineage=mx.LineageRelationship.aggregation(on=["group_id"]))],
                fields=[mx.FieldSpec(key="embedding", code_version="1")]), {"group_id": int, "out_path": str}, extra)
    return graph, sample, child


class _Ours:
    """metaxy-tui driven through its public API."""

    def __init__(self, path: str, family: str, hash_algorithm: str):
        import metaxy_tui as mx

        self.graph, self.sample, self.child = _graph(mx, family)
        self.store = mx.SQLiteMetadataStore(path, hash_algorithm=hash_algorithm, graph=self.graph)

    def session(self, mode: str):
        return _Session(self.graph.use(), _Opened(self.store, mode))

    def write(self, feature, df) -> None:
        self.store.write_metadata(feature, df)

    def resolve(self):
        inc = self.store.resolve_update(self.child)
        return inc, (len(inc.added), len(inc.changed), len(inc.removed))

    def frames(self, inc):
        return inc.added.to_polars(), inc.changed.to_polars(), inc.removed.to_polars()


class _Metaxy:
    """Metaxy 0.1.11's DeltaMetadataStore (polars versioning engine), default hash settings."""

    def __init__(self, path: str, family: str, hash_algorithm: str):
        import warnings

        import metaxy as mx
        from metaxy.ext.polars.handlers.delta import DeltaMetadataStore

        warnings.simplefilter("ignore")
        mx.MetaxyConfig.set(mx.MetaxyConfig(project="bench"))
        self.graph, self.sample, self.child = _graph(mx, family, {"__metaxy_project__": "bench"})
        self.store = DeltaMetadataStore(path)

    def session(self, mode: str):
        return _Session(self.graph.use(), self.store.open(mode))

    def write(self, feature, df) -> None:
        self.store.write(feature, df)

    def resolve(self):
        inc = self.store.resolve_update(self.child)
        return inc, (len(inc.new), len(inc.stale), len(inc.orphaned))

    def frames(self, inc):
        return tuple(_native(f) for f in (inc.new, inc.stale, inc.orphaned))


def _native(frame):
    native = frame.to_native()
    return native.collect() if hasattr(native, "collect") else native


class _Opened:
    """metaxy-tui's `store.open(mode)` opens at once; `with store:` would open again for writing."""

    def __init__(self, store, mode: str):
        self.store, self.mode = store, mode

    def __enter__(self):
        return self.store.open(self.mode)

    def __exit__(self, *exc):
        self.store.close()


class _Session:
    """Enter a graph context and a store context together."""

    def __init__(self, *contexts):
        self.contexts = contexts

    def __enter__(self):
        for c in self.contexts:
            c.__enter__()
        return self

    def __exit__(self, *exc):
        for c in reversed(self.contexts):
            c.__exit__(*exc)


def _engine(a: dict):
    cls = _Ours if a["engine"] == "metaxy-tui" else _Metaxy
    return cls(a["path"], a["family"], a["hash"])


def _keys(df, key: str) -> int:
    return df.get_column(key).n_unique() if df.height else 0


def _do_build(a: dict) -> dict:
    """stage "new": the root alone; stage "stale": child materialised, then 10% of the root rewritten."""
    t0 = time.perf_counter()
    eng = _engine(a)
    n, family = a["rows"], a["family"]
    with eng.session("w"):
        if a["stage"] == "new":
            eng.write(eng.sample, _root_frame(n))
            written = n
        else:
            inc, _ = eng.resolve()
            added = eng.frames(inc)[0]
            child = _child_rows(added, family)
            del inc, added
            eng.write(eng.child, child)
            changed = _changed_rows(n)
            eng.write(eng.sample, changed)
            written = child.height + changed.height
    return {"seconds": time.perf_counter() - t0, "written": written, "peak_kib": _peak_kib()}


def _do_resolve(a: dict) -> dict:
    t_start = time.perf_counter()
    eng = _engine(a)
    with eng.session("r"):
        gc.collect()
        rss_before = _rss_kib()
        t0 = time.perf_counter()
        inc, sizes = eng.resolve()
        seconds = time.perf_counter() - t0
        peak = _peak_kib()
        setup = t0 - t_start
        key = CHILD_ID[a["family"]]
        added, changed, removed = eng.frames(inc)
        counts = {"added": sizes[0], "changed": sizes[1], "removed": sizes[2],
                  "added_keys": _keys(added, key), "changed_keys": _keys(changed, key),
                  "removed_keys": _keys(removed, key)}
    return {"seconds": seconds, "setup_seconds": setup, "peak_kib": peak, "rss_before_kib": rss_before,
            "counts": counts}


def _do_explain(a: dict) -> dict:
    """metaxy-tui only: why each pending sample is pending (store.explain), timed like a resolve."""
    eng = _engine(a)
    with eng.session("r"):
        gc.collect()
        rss_before = _rss_kib()
        t0 = time.perf_counter()
        ex = eng.store.explain(eng.child)
        seconds = time.perf_counter() - t0
        groups = {g: len(rs) for g, rs in ex.groups().items()}
    return {"seconds": seconds, "peak_kib": _peak_kib(), "rss_before_kib": rss_before, "reasons": len(ex.reasons),
            "groups": groups}


def _worker_main() -> None:
    action = json.loads(sys.argv[1])
    result = {"build": _do_build, "resolve": _do_resolve, "explain": _do_explain}[action["action"]](action)
    sys.stdout.write("\n" + RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


# =============================================================================================
# Driver side: builds, runs the workers, prints.
# =============================================================================================
def _spawn(action: dict, cwd: str) -> dict:
    """Run one worker action in a fresh interpreter; returns its result (or {"error": ...})."""
    code = ("import importlib.util as u; "
            f"s = u.spec_from_file_location('metaxy_bench_worker', {os.path.abspath(__file__)!r}); "
            "m = u.module_from_spec(s); s.loader.exec_module(m); m._worker_main()")
    try:
        p = subprocess.run([sys.executable, "-c", code, json.dumps(action)], cwd=cwd, capture_output=True,
                           text=True, timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT_S} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-8:])
    return {"error": f"worker exited {p.returncode}:\n{tail}"}


def _metaxy_version() -> str | None:
    """Metaxy's version when `import metaxy` works in this interpreter, else None."""
    if importlib.util.find_spec("metaxy") is None:
        return None
    p = subprocess.run([sys.executable, "-c", "import metaxy; print(metaxy.__version__)"], capture_output=True,
                       text=True, timeout=300)
    return p.stdout.strip().splitlines()[-1] if p.returncode == 0 and p.stdout.strip() else None


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _memory_gib() -> str:
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        return f"{kib / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        return "?"


def engine_fingerprint() -> str:
    """A digest of the engine's sources (the package without bench, cli, service and tui).

    The package is often installed editable while it is being changed: a digest that differs
    at the end of a run means the results mix engine versions.
    """
    import hashlib

    root = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        dirs[:] = sorted(d for d in dirs if not (rel == "." and d in ("cli", "service", "tui", "__pycache__")))
        for name in sorted(files):
            if name.endswith(".py") and not (rel == "." and name == "bench.py"):
                digest.update(os.path.join(rel, name).encode())
                with open(os.path.join(folder, name), "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()[:12]


def _git_revision() -> str:
    """The checkout's commit (with "+changes" when the engine differs from it), when there is one."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        if rev.returncode != 0:
            return "no git"
        outside = [f":!metaxy_tui/{p}" for p in ("bench.py", "cli", "service", "tui")]
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "metaxy_tui", *outside],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev.stdout.strip() + (" +changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "no git"


def machine_info(metaxy_version: str | None) -> dict:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cores": cores, "cpu_count": os.cpu_count(), "memory": _memory_gib(),
        "platform": platform.platform(), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "polars": _version("polars"), "metaxy-tui": _version("metaxy-tui"),
        "metaxy-tui git": _git_revision(), "engine sources": engine_fingerprint(),
        "metaxy": metaxy_version or "not importable",
    }
    if metaxy_version:
        info["deltalake"] = _version("deltalake")
    return info


def _summary(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[-1].get("error", "no runs") if runs else "no runs"}
    secs = [r["seconds"] for r in ok]
    return {"median": statistics.median(secs), "min": min(secs), "max": max(secs),
            "peak_kib": max(r["peak_kib"] for r in ok),
            "peak_kib_median": statistics.median(r["peak_kib"] for r in ok),
            "rss_before_kib": statistics.median(r["rss_before_kib"] for r in ok),
            "setup_seconds": statistics.median(r["setup_seconds"] for r in ok),
            "counts": ok[-1]["counts"], "runs": len(ok), "failed": len(runs) - len(ok)}


def _load() -> float:
    """The 1-minute load average: above the core count, other processes shared the machine."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _mb(kib: float) -> str:
    return f"{kib / 1024:,.0f}"


def _counts_text(c: dict, family: str) -> str:
    if family == "aggregation":
        return (f"+{c['added']:,} ({c['added_keys']:,} groups)  ~{c['changed']:,} ({c['changed_keys']:,} groups)"
                f"  -{c['removed']:,}")
    return f"+{c['added']:,}  ~{c['changed']:,}  -{c['removed']:,}"


HEADER = (f"{'engine':<11} {'case':<18} {'rows':>9} {'median s':>9} {'min s':>7} {'max s':>7} "
          f"{'peak MB':>8} {'before MB':>9} {'setup s':>7} {'load':>5}  increment (+added ~changed -removed rows)")


def _row_text(engine: str, case: str, rows: int, s: dict) -> str:
    if "error" in s:
        return f"{engine:<11} {case:<18} {rows:>9,} FAILED: {s['error'].splitlines()[-1]}"
    family = case.split("-")[0]
    fails = f"  ({s['failed']} runs failed)" if s["failed"] else ""
    return (f"{engine:<11} {case:<18} {rows:>9,} {s['median']:>9.2f} {s['min']:>7.2f} {s['max']:>7.2f} "
            f"{_mb(s['peak_kib']):>8} {_mb(s['rss_before_kib']):>9} {s['setup_seconds']:>7.2f} {s['load']:>5.1f}  "
            f"{_counts_text(s['counts'], family)}{fails}")


def _remove_store(path: str) -> None:
    for p in (path, path + "-wal", path + "-shm"):
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.remove(p)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _ratio_lines(results: dict, rows_list: list[int], cases: list[str]) -> list[str]:
    out = [f"{'case':<18} {'rows':>9} {'time ours/metaxy':>24} {'<= %.2f?' % TIME_TARGET:>10} "
           f"{'peak ours/metaxy':>24} {'<= %.2f?' % MEMORY_TARGET:>10}"]
    for rows in rows_list:
        for case in cases:
            ours = results.get(("metaxy-tui", case, rows))
            theirs = results.get(("metaxy", case, rows))
            if not ours or not theirs or "error" in ours or "error" in theirs:
                out.append(f"{case:<18} {rows:>9,} {'n/a':>24}")
                continue
            t = ours["median"] / theirs["median"]
            m = ours["peak_kib"] / theirs["peak_kib"]
            judged = rows >= TARGET_ROWS
            tv = ("meets" if t <= TIME_TARGET else "misses") if judged else "(info)"
            mv = ("meets" if m <= MEMORY_TARGET else "misses") if judged else "(info)"
            tt = f"{t:.3f} ({ours['median']:.2f}/{theirs['median']:.2f}s)"
            mt = f"{m:.3f} ({_mb(ours['peak_kib'])}/{_mb(theirs['peak_kib'])}MB)"
            out.append(f"{case:<18} {rows:>9,} {tt:>24} {tv:>10} {mt:>24} {mv:>10}")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m metaxy_tui.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000], help="upstream row counts")
    p.add_argument("--runs", type=int, default=5, help="timed runs per case (one fresh process each)")
    p.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    p.add_argument("--workdir", help="where stores are built (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the stores (and a temporary workdir) after the run")
    p.add_argument("--hash", default="xxhash64", choices=["xxhash64", "xxhash32", "sha256", "md5"],
                   help="metaxy-tui's hash algorithm (Metaxy keeps its default, xxhash32 cut to 8)")
    p.add_argument("--no-metaxy", action="store_true", help="do not run Metaxy even when importable")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--no-explain", dest="explain", action="store_false",
                   help="skip timing store.explain (why each sample is stale) in the stale cases")
    args = p.parse_args(argv)
    if args.runs < 1 or any(r < GROUP_SIZE for r in args.rows):
        p.error("--runs must be >= 1 and every --rows >= %d" % GROUP_SIZE)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    metaxy_version = None if args.no_metaxy else _metaxy_version()
    engines = ["metaxy-tui"] + (["metaxy"] if metaxy_version else [])
    info = machine_info(metaxy_version)
    workdir = args.workdir or tempfile.mkdtemp(prefix="metaxy_tui_bench_")
    os.makedirs(workdir, exist_ok=True)

    _say("metaxy-tui resolve_update benchmark")
    _say("  " + ", ".join(f"{k} {v}" for k, v in info.items()))
    _say(f"  metaxy-tui: SQLiteMetadataStore, hash {args.hash}; runs per case {args.runs}, one resolve per process")
    if metaxy_version:
        _say(f"  metaxy {metaxy_version}: DeltaMetadataStore (polars engine), hash xxhash32 truncated to 8 "
             "(its defaults)")
    elif not args.no_metaxy:
        _say("  metaxy: not importable here, comparison skipped")
    _say(f"  workdir {workdir}" + (" (stores kept)" if args.keep else " (stores removed after use)"))
    _say("  time = resolve_update(child) + len() of its frames; peak MB = the process's ru_maxrss (interpreter "
         "and imports included); before MB = RSS just before the resolve; setup s = imports + open, untimed; "
         f"load = highest 1-minute load average around the case's runs (above {info['cores']}: the machine was shared)")
    _say()

    results: dict[tuple[str, str, int], dict] = {}
    explains: list[dict] = []
    raw: list[dict] = []
    builds: list[dict] = []
    for rows in args.rows:
        for family in FAMILIES:
            cases = [c for c in args.cases if c.startswith(family + "-")]
            for engine in engines if cases else ():
                path = os.path.join(workdir, f"{engine}-{family}-{rows}" + (".db" if engine == "metaxy-tui" else ""))
                _remove_store(path)
                base = {"engine": engine, "family": family, "rows": rows, "path": path, "hash": args.hash}
                for stage in ("new", "stale"):
                    case = f"{family}-{stage}"
                    if stage == "stale" and case not in cases:
                        break
                    b = _spawn({**base, "action": "build", "stage": stage}, workdir)
                    builds.append({**base, "stage": stage, **b})
                    if "error" in b:
                        _say(f"{engine:<11} {case:<18} {rows:>9,} BUILD FAILED: {b['error']}")
                        break
                    _say(f"  built {engine} {family} ({stage}) at {rows:,} rows: {b['written']:,} rows written in "
                         f"{b['seconds']:.1f} s")
                    if case not in cases:
                        continue
                    runs = []
                    load = _load()
                    for i in range(args.runs):
                        r = _spawn({**base, "action": "resolve"}, workdir)
                        runs.append(r)
                        raw.append({**base, "case": case, "run": i, **r})
                    results[(engine, case, rows)] = {**_summary(runs), "load": max(load, _load())}
                    _say(_row_text(engine, case, rows, results[(engine, case, rows)]))
                    if engine == "metaxy-tui" and stage == "stale" and args.explain:
                        e = _spawn({**base, "action": "explain"}, workdir)
                        explains.append({**base, "case": case, **e})
                        if "error" in e:
                            _say(f"  explain FAILED: {e['error']}")
                        else:
                            top = "; ".join(f"{n:,} {g}" for g, n in list(e["groups"].items())[:3])
                            _say(f"  explain {case} at {rows:,} rows: {e['seconds']:.2f} s, peak {_mb(e['peak_kib'])} "
                                 f"MB, {e['reasons']:,} reasons ({top})")
                if not args.keep:
                    _remove_store(path)

    _say()
    _say("Results (seconds per resolve; peak = max over runs)")
    _say(HEADER)
    for rows in args.rows:
        for case in args.cases:
            for engine in engines:
                if (engine, case, rows) in results:
                    _say(_row_text(engine, case, rows, results[(engine, case, rows)]))
    if "metaxy" in engines:
        _say()
        _say(f"metaxy-tui / Metaxy {metaxy_version} (time: medians; memory: peak RSS; targets judged at "
             f"{TARGET_ROWS:,} rows)")
        for line in _ratio_lines(results, args.rows, list(args.cases)):
            _say(line)
    if TARGET_ROWS in args.rows:
        _say()
        _say(f"For context only: metaxy-tui at {TARGET_ROWS:,} rows against the Metaxy 0.1.11 figures in PERF-NOTES "
             "(its DuckDB store with md5, not measured by this run)")
        for case in args.cases:
            ours = results.get(("metaxy-tui", case, TARGET_ROWS))
            if ours and "error" not in ours:
                secs, gb = PERF_NOTES_METAXY[case]
                _say(f"{case:<18} time {ours['median']:.2f}/{secs:.1f}s = {ours['median'] / secs:.3f}   "
                     f"peak {ours['peak_kib'] / 2**20:.2f}/{gb:.2f}GB = {ours['peak_kib'] / 2**20 / gb:.3f}")
    elapsed = time.perf_counter() - started
    _say()
    _say(f"total benchmark time {elapsed:.0f} s")
    changed_engine = engine_fingerprint() != info["engine sources"]
    if changed_engine:
        _say("WARNING: the engine's sources changed during the run: these results mix engine versions")
    if not (args.keep or args.workdir):
        shutil.rmtree(workdir, ignore_errors=True)

    if args.json:
        doc = {"machine": info, "settings": {k: v for k, v in vars(args).items() if k != "json"},
               "workdir": workdir, "elapsed_seconds": elapsed, "engine_changed_during_run": changed_engine,
               "builds": builds, "runs": raw, "explain": explains,
               "summary": [{"engine": e, "case": c, "rows": r, **s} for (e, c, r), s in results.items()]}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
