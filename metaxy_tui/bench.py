"""Benchmark of resolve_update and of explanations, against Metaxy 0.1.11's Delta and DuckDB stores.

    metaxy-tui bench [--rows 100000 1000000] [--runs 5] [--cases ...] [--engines ...]
                     [--metaxy-python PYTHON] [--no-metaxy] [--workdir DIR [--keep]] [--json FILE]
    (or python -m metaxy_tui.bench with the same options)

Cases, each on stores built once per size through the public API of each engine:

- identity-new / -stale: root `bench/sample` (sample_id, group_id, value, path) -> `bench/child`
  (1:1); "new" resolves the child while it has no rows, "stale" after materialising it and
  rewriting 10% of the root rows (chosen by hash, so spread over the groups) with new provenance;
- aggregation-new / -stale: the same root -> `bench/group`, N:1 on group_id, 10 members a group;
- biggroup-new: the same rows, all in one group (metaxy-tui only: linear aggregation);
- explain-identity / explain-aggregation: on the stale stores, the command line
  `metaxy-tui resolve F --format json` against `... --explain --format json`, whole processes
  (metaxy-tui only);
- review-identity / review-aggregation: on the stale stores, the TUI's review screen, headless,
  from opening until its first page of samples shows (metaxy-tui only); and ":browsed", the
  whole app: the browser highlights the feature and explains it ahead, then `v` is pressed and
  the clock runs until the review's first page shows.

Each timed run is one resolve in a fresh process: imports and opening are not timed; the clock
covers `resolve_update(child)` and materialising its three frames as polars (or pyarrow)
frames with every column. Peak memory is the process's ru_maxrss (interpreter and imports
included). The data is generated once by this process and handed to every engine as Parquet,
so all engines see the same rows. Metaxy runs in the interpreter given by --metaxy-python
(default: this one, when `import metaxy` works there); its DuckDB store is made to run offline
(the `hashfuncs` extension it downloads is dropped, with md5, DuckDB's own hash). The engines'
counts must agree with each other and with what the data implies: when they do not, the
benchmark says which and exits 1.

This module imports only the standard library at the top: worker processes load it by file
path, so that a Metaxy worker never imports metaxy_tui (or the other way round).
"""

import argparse
import gc
import importlib.metadata
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

ENGINES = ("metaxy-tui", "delta", "duckdb", "postgresql", "metaxy-postgresql")
ENGINE_TITLE = {
    "metaxy-tui": "metaxy-tui",
    "delta": "Metaxy Delta",
    "duckdb": "Metaxy DuckDB",
    "postgresql": "metaxy-tui PG",
    "metaxy-postgresql": "Metaxy PostgreSQL",
}
OURS_ENGINES = ("metaxy-tui", "postgresql")  # run in this interpreter
PG_ENGINES = ("postgresql", "metaxy-postgresql")  # need --pg-url (a server; one database per store)
PG_TIME_TARGET, PG_MEMORY_TARGET = 0.1, 0.25  # the PostgreSQL store against Metaxy's (issue 15)
RESOLVE_CASES = ("identity-new", "identity-stale", "aggregation-new", "aggregation-stale", "biggroup-new")
EXPLAIN_CASES = ("explain-identity", "explain-aggregation")
REVIEW_CASES = ("review-identity", "review-aggregation")
CASES = RESOLVE_CASES + EXPLAIN_CASES + REVIEW_CASES
OURS_ONLY = ("biggroup-new",) + EXPLAIN_CASES + REVIEW_CASES
REVIEW_TARGET = 1.0  # seconds until the review screen shows its first page
GROUP_SIZE = 10
STALE_FRACTION = 0.10
TIME_TARGET = 0.25
MEMORY_TARGET = 0.50
LINEAR_TARGET = 2.0  # one group of all rows vs groups of 10
EXPLAIN_TARGET = 2.0
TARGET_ROWS = 1_000_000
WORKER_TIMEOUT_S = 3600
RESULT_MARK = "@@bench-result@@ "
PBF = "metaxy_provenance_by_field"
PROVENANCE = "metaxy_provenance"
ROOT_KEY = "bench/sample"
CHILD_KEY = {"identity": "bench/child", "aggregation": "bench/group", "biggroup": "bench/group"}
CHILD_ID = {"identity": "sample_id", "aggregation": "group_id", "biggroup": "group_id"}
ROOT_COLUMNS = {"sample_id": str, "group_id": int, "value": float, "path": str}


# =============================================================================================
# Data (made by the driver, read by every worker)
# =============================================================================================
def root_frame(n: int, family: str = "aggregation"):
    """The root's rows: ids s0000000.., group_id = i // 10 (biggroup: 0), a float, a path, random-looking pbf."""
    import polars as pl

    i = pl.int_range(0, n, eager=True, dtype=pl.Int64)
    sample_id = "s" + i.cast(pl.String).str.zfill(7)
    return pl.DataFrame(
        {
            "sample_id": sample_id,
            "group_id": i * 0 if family == "biggroup" else i // GROUP_SIZE,
            "value": (i.hash(11) % 1_000_000).cast(pl.Float64) / 1000.0,
            "path": "data/raw/" + sample_id + ".wav",
            PBF: pl.DataFrame({"default": i.hash(1).cast(pl.String)}).to_struct(),
        }
    )


def changed_rows(n: int, family: str = "aggregation"):
    """10% of the root rows (the lowest hashes: spread over all groups) with new provenance."""
    import polars as pl

    df = root_frame(n, family)
    pick = df.get_column("sample_id").hash(7).rank("ordinal") <= int(n * STALE_FRACTION)
    df = df.filter(pick)
    i = df.get_column("sample_id").str.slice(1).cast(pl.Int64)
    return df.with_columns(pl.DataFrame({"default": "v2:" + i.hash(2).cast(pl.String)}).to_struct().alias(PBF))


def expected_counts(n: int, family: str, stage: str) -> dict:
    """What every engine must report (rows, and distinct keys) for a case, from the data alone."""
    import polars as pl

    root = root_frame(n, family)
    key = CHILD_ID[family]
    if stage == "new":
        return {
            "added": n,
            "changed": 0,
            "removed": 0,
            "added_keys": root.get_column(key).n_unique(),
            "changed_keys": 0,
            "removed_keys": 0,
        }
    groups = changed_rows(n, family).get_column(key).unique()
    members = root.filter(pl.col(key).is_in(groups.implode())).height
    return {
        "added": 0,
        "changed": members,
        "removed": 0,
        "added_keys": 0,
        "changed_keys": groups.len(),
        "removed_keys": 0,
    }


def _write_data(workdir: str, n: int, family: str) -> dict:
    data = "biggroup" if family == "biggroup" else "grouped"
    paths = {
        "root": os.path.join(workdir, f"root-{data}-{n}.parquet"),
        "changed": os.path.join(workdir, f"changed-{data}-{n}.parquet"),
    }
    if not os.path.exists(paths["root"]):
        root_frame(n, family).write_parquet(paths["root"])
        changed_rows(n, family).write_parquet(paths["changed"])
    return paths


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


def _new_class(base: type, name: str, spec, columns: dict, extra: dict | None = None) -> type:
    ns = {"__annotations__": dict(columns), "__module__": "metaxy_bench_features", **(extra or {})}
    return types.new_class(name, (base,), {"spec": spec}, lambda body: body.update(ns))


def _graph(mx, family: str, extra: dict | None = None):
    """The bench graph, made by the same public-API calls with either library as `mx`."""
    graph = mx.FeatureGraph()
    with graph.use():
        sample = _new_class(
            mx.BaseFeature,
            "Sample",
            mx.FeatureSpec(key=ROOT_KEY, id_columns=["sample_id"], fields=[mx.FieldSpec(key="default")]),
            ROOT_COLUMNS,
            extra,
        )
        if family == "identity":
            child = _new_class(
                mx.BaseFeature,
                "Child",
                mx.FeatureSpec(
                    key=CHILD_KEY[family],
                    id_columns=["sample_id"],
                    deps=[mx.FeatureDep(feature=ROOT_KEY)],
                    fields=[mx.FieldSpec(key="default", code_version="1")],
                ),
                {"sample_id": str, "out_path": str},
                extra,
            )
        else:
            child = _new_class(
                mx.BaseFeature,
                "Group",
                mx.FeatureSpec(
                    key=CHILD_KEY[family],
                    id_columns=["group_id"],
                    deps=[mx.FeatureDep(feature=ROOT_KEY, lineage=mx.LineageRelationship.aggregation(on=["group_id"]))],
                    fields=[mx.FieldSpec(key="embedding", code_version="1")],
                ),
                {"group_id": int, "out_path": str},
                extra,
            )
    return graph, sample, child


class _Ours:
    """metaxy-tui driven through its public API."""

    def __init__(self, path: str, family: str, hash_algorithm: str, postgresql: bool = False):
        import metaxy_tui as mx

        self.graph, self.sample, self.child = _graph(mx, family)
        kind = mx.PostgreSQLMetadataStore if postgresql else mx.SQLiteMetadataStore
        self.store = kind(path, hash_algorithm=hash_algorithm, graph=self.graph)

    def session(self, mode: str):
        return _Session(self.graph.use(), _Opened(self.store, mode))

    def write(self, feature, df) -> None:
        self.store.write_metadata(feature, df)

    def resolve(self):
        inc = self.store.resolve_update(self.child)
        return inc, (inc.added, inc.changed, inc.removed)

    def frames(self, parts):
        return [p.to_polars() for p in parts]


class _Metaxy:
    """Metaxy 0.1.11: its DeltaMetadataStore (polars engine, default hash settings), or its
    DuckDBMetadataStore made to run offline (md5)."""

    def __init__(self, path: str, family: str, kind: str):
        import warnings

        import metaxy as mx

        warnings.simplefilter("ignore")
        mx.MetaxyConfig.set(mx.MetaxyConfig(project="bench"))
        self.graph, self.sample, self.child = _graph(mx, family, {"__metaxy_project__": "bench"})
        self.store = (
            _duckdb_store(path)
            if kind == "duckdb"
            else _postgres_store(path)
            if kind == "metaxy-postgresql"
            else _delta_store(path)
        )

    def session(self, mode: str):
        return _Session(self.graph.use(), self.store.open(mode))

    def write(self, feature, df) -> None:
        self.store.write(feature, df)

    def resolve(self):
        inc = self.store.resolve_update(self.child)
        return inc, (inc.new, inc.stale, inc.orphaned)

    def frames(self, parts):
        return [_native(f) for f in parts]


def _delta_store(path: str):
    from metaxy.ext.polars.handlers.delta import DeltaMetadataStore

    return DeltaMetadataStore(path)


def _postgres_store(url: str):
    """Metaxy 0.1.11's own PostgreSQL store (ibis; resolves in polars, in the client)."""
    from metaxy.ext.postgresql import PostgreSQLMetadataStore

    return PostgreSQLMetadataStore(url, auto_create_tables=True)


def _pg_database(admin_url: str, name: str, *, drop_only: bool = False) -> str:
    """A fresh database `name` on the server of `admin_url` (dropped first); its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')
    parts = admin_url.split("?", 1)
    base = parts[0].rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{parts[1]}" if len(parts) > 1 else "")


def _duckdb_store(path: str):
    """Metaxy's DuckDB store without the `hashfuncs` community extension (downloaded from the
    network when the store opens), hashing with md5, which DuckDB has built in."""
    from metaxy.ext.duckdb import DuckDBMetadataStore
    from metaxy.versioning.types import HashAlgorithm

    class OfflineDuckDBMetadataStore(DuckDBMetadataStore):
        def __init__(self, database, **kwargs):
            super().__init__(database, hash_algorithm=HashAlgorithm.MD5, auto_create_tables=True, **kwargs)
            self.extensions = [e for e in self.extensions if e.name != "hashfuncs"]

    return OfflineDuckDBMetadataStore(path)


def _native(frame):
    """A Metaxy increment frame materialised: polars (collected) or pyarrow, every column."""
    native = frame.to_native()
    return native.collect() if hasattr(native, "collect") else native


def _height(df) -> int:
    return df.height if hasattr(df, "height") else df.num_rows


def _keys(df, key: str) -> int:
    if not _height(df):
        return 0
    if hasattr(df, "get_column"):
        return df.get_column(key).n_unique()
    import pyarrow.compute as pc  # a DuckDB result

    return len(pc.unique(df.column(key)))


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
    if a["engine"] in OURS_ENGINES:
        return _Ours(a["path"], a["family"], a["hash"], postgresql=a["engine"] == "postgresql")
    return _Metaxy(a["path"], a["family"], a["engine"])


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


# =============================================================================================
# Driver side: builds, runs the workers, prints.
# =============================================================================================
def _spawn(action: dict, cwd: str, python: str = sys.executable) -> dict:
    """Run one worker action in a fresh interpreter; returns its result (or {"error": ...})."""
    code = (
        "import importlib.util as u; "
        f"s = u.spec_from_file_location('metaxy_bench_worker', {os.path.abspath(__file__)!r}); "
        "m = u.module_from_spec(s); s.loader.exec_module(m); m._worker_main()"
    )
    try:
        p = subprocess.run(
            [python, "-c", code, json.dumps(action)], cwd=cwd, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT_S} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-8:])
    return {"error": f"worker exited {p.returncode}:\n{tail}"}


def _metaxy_versions(python: str) -> dict | None:
    """Metaxy's and its stores' versions in `python`, or None when `import metaxy` fails there."""
    code = (
        "import json, importlib.metadata as m, metaxy; v = {}\n"
        "for d in ('metaxy', 'deltalake', 'duckdb', 'polars'):\n"
        "    try: v[d] = m.version(d)\n"
        "    except Exception: v[d] = None\n"
        "print(json.dumps(v))"
    )
    try:
        p = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return None
    if p.returncode != 0 or not p.stdout.strip():
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


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


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


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
        rev = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if rev.returncode != 0:
            return "no git"
        outside = [f":!metaxy_tui/{p}" for p in ("bench.py", "cli", "service", "tui")]
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", "metaxy_tui", *outside],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return rev.stdout.strip() + (" +changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "no git"


def machine_info(metaxy: dict | None) -> dict:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cpu": _cpu_model(),
        "cores": cores,
        "memory": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "polars": _version("polars"),
        "metaxy-tui": _version("metaxy-tui"),
        "metaxy-tui git": _git_revision(),
        "engine sources": engine_fingerprint(),
    }
    if metaxy:
        info.update({f"metaxy side: {k}": v for k, v in metaxy.items()})
    else:
        info["metaxy"] = "not run"
    return info


def _summary(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[-1].get("error", "no runs") if runs else "no runs"}
    secs = [r["seconds"] for r in ok]
    return {
        "median": statistics.median(secs),
        "min": min(secs),
        "max": max(secs),
        "cpu": statistics.median(r.get("cpu_seconds", 0.0) for r in ok),
        "peak_kib": max(r["peak_kib"] for r in ok),
        "peak_kib_median": statistics.median(r["peak_kib"] for r in ok),
        "rss_before_kib": statistics.median(r["rss_before_kib"] for r in ok),
        "setup_seconds": statistics.median(r["setup_seconds"] for r in ok),
        "counts": ok[-1]["counts"],
        "ahead": statistics.median(r["ahead_seconds"] for r in ok) if all(r.get("ahead_seconds") for r in ok) else None,
        "runs": len(ok),
        "failed": len(runs) - len(ok),
    }


def _load() -> float:
    """The 1-minute load average: above the core count, other processes shared the machine."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _mb(kib: float) -> str:
    return f"{kib / 1024:,.0f}"


def _counts_text(c: dict) -> str:
    if not c:
        return ""
    return (
        f"+{c['added']:,} ({c['added_keys']:,} keys)  ~{c['changed']:,} ({c['changed_keys']:,} keys)  -{c['removed']:,}"
    )


def _row_text(engine: str, case: str, rows: int, s: dict) -> str:
    if "error" in s:
        return f"{engine:<13} {case:<26} {rows:>9,} FAILED: {s['error'].splitlines()[-1]}"
    fails = f"  ({s['failed']} runs failed)" if s["failed"] else ""
    return (
        f"{engine:<13} {case:<26} {rows:>9,} {s['median']:>8.2f} {s['min']:>7.2f} {s['max']:>7.2f} "
        f"{s['cpu']:>6.2f} {_mb(s['peak_kib']):>8} {s['load']:>5.1f}  {_counts_text(s['counts'])}{fails}"
    )


HEADER = (
    f"{'engine':<13} {'case':<26} {'rows':>9} {'median s':>8} {'min s':>7} {'max s':>7} {'cpu s':>6} "
    f"{'peak MB':>8} {'load':>5}  increment (+added ~changed -removed rows)"
)


def _remove_store(path: str) -> None:
    for p in (path, path + "-wal", path + "-shm"):
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.remove(p)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _ok(s: dict | None) -> bool:
    return bool(s) and "error" not in s


def _verdict(value: float, target: float, judged: bool) -> str:
    return ("meets" if value <= target else "MISSES") if judged else "(info)"


def summary_table(results: dict, rows_list: list[int], cases: list[str], engines: list[str]) -> list[str]:
    """One table: per case, each engine's median time and peak memory, and ours / theirs."""
    theirs = [e for e in engines if e != "metaxy-tui"]
    head = "| case | rows | metaxy-tui s / MB |" + "".join(f" {ENGINE_TITLE[e]} s / MB |" for e in theirs)
    head += "".join(
        f" time ours/{ENGINE_TITLE[e].split()[-1]} | peak ours/{ENGINE_TITLE[e].split()[-1]} |" for e in theirs
    )
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for rows in rows_list:
        judged = rows >= TARGET_ROWS
        for case in cases:
            if case in EXPLAIN_CASES + REVIEW_CASES:
                continue
            ours = results.get(("metaxy-tui", case, rows))
            if not _ok(ours):
                continue
            cells = [case, f"{rows:,}", f"{ours['median']:.2f} / {_mb(ours['peak_kib'])}"]
            for e in theirs:
                t = results.get((e, case, rows))
                cells.append(f"{t['median']:.2f} / {_mb(t['peak_kib'])}" if _ok(t) else "—")
            for e in theirs:
                t = results.get((e, case, rows))
                if _ok(t):
                    tr, mr = ours["median"] / t["median"], ours["peak_kib"] / t["peak_kib"]
                    cells += [
                        f"{tr:.2f} {_verdict(tr, TIME_TARGET, judged)}",
                        f"{mr:.2f} {_verdict(mr, MEMORY_TARGET, judged)}",
                    ]
                else:
                    cells += ["—", "—"]
            out.append("| " + " | ".join(cells) + " |")
    return out


def pg_table(results: dict, rows_list: list[int], cases: list[str]) -> list[str]:
    """The PostgreSQL store beside the SQLite store and Metaxy's PostgreSQL store."""
    out = [
        "| case | rows | metaxy-tui PG s / MB | metaxy-tui SQLite s / MB | Metaxy PostgreSQL s / MB | "
        "time PG/Metaxy PG | peak PG/Metaxy PG |",
        "|---|---|---|---|---|---|---|",
    ]
    for rows in rows_list:
        judged = rows >= TARGET_ROWS
        for case in cases:
            ours = results.get(("postgresql", case, rows))
            if case in EXPLAIN_CASES + REVIEW_CASES or not _ok(ours):
                continue
            lite, theirs = results.get(("metaxy-tui", case, rows)), results.get(("metaxy-postgresql", case, rows))
            cell = lambda s: f"{s['median']:.2f} / {_mb(s['peak_kib'])}" if _ok(s) else "—"  # noqa: E731
            cells = [case, f"{rows:,}", cell(ours), cell(lite), cell(theirs)]
            if _ok(theirs):
                tr, mr = ours["median"] / theirs["median"], ours["peak_kib"] / theirs["peak_kib"]
                cells += [
                    f"{tr:.3f} {_verdict(tr, PG_TIME_TARGET, judged)}",
                    f"{mr:.2f} {_verdict(mr, PG_MEMORY_TARGET, judged)}",
                ]
            else:
                cells += ["—", "—"]
            out.append("| " + " | ".join(cells) + " |")
    return out


def extra_lines(results: dict, rows_list: list[int], cases: list[str]) -> list[str]:
    """Linear aggregation (one group vs groups of 10) and explanation costs (with / without --explain)."""
    out = []
    for rows in rows_list:
        judged = rows >= TARGET_ROWS
        big, grouped = (
            results.get(("metaxy-tui", "biggroup-new", rows)),
            results.get(("metaxy-tui", "aggregation-new", rows)),
        )
        if "biggroup-new" in cases and _ok(big) and _ok(grouped):
            r = big["median"] / grouped["median"]
            out.append(
                f"one group of {rows:,} members / {rows // GROUP_SIZE:,} groups of {GROUP_SIZE}: "
                f"{big['median']:.2f} / {grouped['median']:.2f} s = {r:.2f}x "
                f"{_verdict(r, LINEAR_TARGET, judged)} (target <= {LINEAR_TARGET:g}x)"
            )
        for case in REVIEW_CASES:
            r = results.get(("metaxy-tui", case, rows))
            if case in cases and _ok(r):
                out.append(
                    f"{case} at {rows:,}: the review screen shows its first page {r['median']:.2f} s after it "
                    f"opens (cpu {r['cpu']:.2f} s) {_verdict(r['median'], REVIEW_TARGET, judged)} "
                    f"(target < {REVIEW_TARGET:g} s)"
                )
            b = results.get(("metaxy-tui", case + ":browsed", rows))
            if case in cases and _ok(b):
                out.append(
                    f"{case} at {rows:,}, opened with v from the browser once it has explained the feature "
                    f"ahead ({b['ahead']:.2f} s after the app started): first page {b['median']:.2f} s "
                    f"{_verdict(b['median'], REVIEW_TARGET, judged)} (target < {REVIEW_TARGET:g} s)"
                )
        for case in EXPLAIN_CASES:
            if case not in cases:
                continue
            plain, why = results.get(("metaxy-tui", case + ":plain", rows)), results.get(("metaxy-tui", case, rows))
            if _ok(plain) and _ok(why):
                t, m = why["median"] / plain["median"], why["peak_kib"] / plain["peak_kib"]
                out.append(
                    f"{case} at {rows:,}: resolve --format json {plain['median']:.2f} s / {_mb(plain['peak_kib'])} MB, "
                    f"with --explain {why['median']:.2f} s / {_mb(why['peak_kib'])} MB: time {t:.2f}x "
                    f"{_verdict(t, EXPLAIN_TARGET, judged)}, peak {m:.2f}x {_verdict(m, EXPLAIN_TARGET, judged)} "
                    f"(target <= {EXPLAIN_TARGET:g}x)"
                )
    return out


def count_mismatches(results: dict, expected: dict) -> list[str]:
    """Where an engine's counts differ from what the data implies (and so from the other engines')."""
    out = []
    for (engine, case, rows), s in sorted(results.items()):
        want = expected.get((case, rows))
        if not _ok(s) or want is None or not s["counts"]:
            continue
        diff = {k: (s["counts"].get(k), v) for k, v in want.items() if s["counts"].get(k) != v}
        if diff:
            shown = ", ".join(f"{k} {got:,} (expected {v:,})" for k, (got, v) in diff.items())
            out.append(f"{ENGINE_TITLE[engine]} {case} at {rows:,} rows: {shown}")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="metaxy-tui bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000], help="upstream row counts")
    p.add_argument("--runs", type=int, default=5, help="timed runs per case (one fresh process each)")
    p.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    p.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    p.add_argument(
        "--metaxy-python",
        metavar="PYTHON",
        default=os.environ.get("METAXY_BENCH_PYTHON", sys.executable),
        help="the interpreter with metaxy==0.1.11 installed, for Metaxy's workers (default: "
        "$METAXY_BENCH_PYTHON, else this one)",
    )
    p.add_argument("--no-metaxy", action="store_true", help="run metaxy-tui only")
    p.add_argument("--workdir", help="where stores are built (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the stores (and a temporary workdir) after the run")
    p.add_argument(
        "--hash",
        default="xxhash64",
        choices=["xxhash64", "xxhash32", "sha256", "md5"],
        help="metaxy-tui's hash algorithm (Metaxy: Delta keeps its default, DuckDB uses md5)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument(
        "--pg-url",
        metavar="URL",
        help="a PostgreSQL server (a connection string to an existing "
        "database, e.g. postgresql://postgres@/postgres?host=/tmp/pg): the PostgreSQL engines make one "
        "database per store there, and drop it after",
    )
    args = p.parse_args(argv)
    if args.runs < 1 or any(r < GROUP_SIZE for r in args.rows):
        p.error("--runs must be >= 1 and every --rows >= %d" % GROUP_SIZE)
    return args


def _families(cases: list[str]) -> list[tuple[str, list[str]]]:
    out = []
    for family in ("identity", "aggregation", "biggroup"):
        wanted = [c for c in RESOLVE_CASES if c.startswith(family + "-") and c in cases]
        for kind in ("explain-", "review-"):
            if (kind + family) in cases:
                wanted.append(kind + family)
        if wanted:
            out.append((family, wanted))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    metaxy = None if args.no_metaxy else _metaxy_versions(args.metaxy_python)
    engines = [e for e in args.engines if (e in OURS_ENGINES or metaxy) and (e not in PG_ENGINES or args.pg_url)]
    info = machine_info(metaxy)
    workdir = args.workdir or tempfile.mkdtemp(prefix="metaxy_tui_bench_")
    os.makedirs(workdir, exist_ok=True)

    _say("metaxy-tui benchmark: resolve_update and explanations, against Metaxy 0.1.11")
    _say("  " + ", ".join(f"{k} {v}" for k, v in info.items()))
    _say(f"  metaxy-tui: SQLiteMetadataStore, hash {args.hash}; runs per case {args.runs}, one per fresh process")
    if metaxy:
        _say(
            f"  Metaxy {metaxy.get('metaxy')} in {args.metaxy_python}: Delta store (xxhash32 cut to 8, its default), "
            "DuckDB store (md5, offline)"
        )
    elif not args.no_metaxy:
        _say(f"  Metaxy: `import metaxy` fails in {args.metaxy_python} (give --metaxy-python): comparison skipped")
    _say(f"  workdir {workdir}" + (" (stores kept)" if args.keep else " (stores removed after use)"))
    _say(
        "  time = resolve_update(child) + its three frames in memory with every column (wall clock; cpu s: the "
        "process's CPU time for the same, all threads); peak MB = the process's peak resident memory (VmHWM; for "
        "a command line, its ru_maxrss, started from a small process); explain cases time whole "
        "`metaxy-tui resolve` processes; load = highest 1-minute load average around the case's runs (above "
        f"{info['cores']}: the machine was shared)"
    )
    _say()

    results: dict[tuple[str, str, int], dict] = {}
    expected: dict[tuple[str, int], dict] = {}
    raw: list[dict] = []
    builds: list[dict] = []
    for rows in args.rows:
        for family, cases in _families(list(args.cases)):
            data = _write_data(workdir, rows, family)
            for stage in ("new", "stale"):
                expected[(f"{family}-{stage}", rows)] = expected_counts(rows, family, stage)
            for engine in engines:
                if engine != "metaxy-tui" and all(c in OURS_ONLY for c in cases):
                    continue
                if engine in PG_ENGINES:
                    path = _pg_database(args.pg_url, f"bench_{engine.replace('-', '_')}_{family}_{rows}")
                else:
                    suffix = {"metaxy-tui": ".db", "duckdb": ".duckdb", "delta": ""}[engine]
                    path = os.path.join(workdir, f"{engine}-{family}-{rows}{suffix}")
                    _remove_store(path)
                base = {"engine": engine, "family": family, "rows": rows, "path": path, "hash": args.hash, "data": data}
                python = sys.executable if engine in OURS_ENGINES else args.metaxy_python
                for stage in ("new", "stale"):
                    on_stale = (f"explain-{family}", f"review-{family}")
                    stage_cases = [c for c in cases if c == f"{family}-{stage}" or (stage == "stale" and c in on_stale)]
                    later = any(c == f"{family}-stale" or c in on_stale for c in cases)
                    if not stage_cases and not (stage == "new" and later):
                        continue
                    b = _spawn({**base, "action": "build", "stage": stage}, workdir, python)
                    builds.append({**base, "stage": stage, **b})
                    if "error" in b:
                        _say(f"{engine:<13} {family}-{stage:<14} {rows:>9,} BUILD FAILED: {b['error']}")
                        break
                    _say(
                        f"  built {engine} {family} ({stage}) at {rows:,} rows: {b['written']:,} rows written in "
                        f"{b['seconds']:.1f} s"
                    )
                    for case in stage_cases:
                        if case in EXPLAIN_CASES + REVIEW_CASES and engine != "metaxy-tui":
                            continue
                        if case in EXPLAIN_CASES:
                            actions = [
                                (case + ":plain", {"action": "cli", "explain": False}),
                                (case, {"action": "cli", "explain": True}),
                            ]
                        elif case in REVIEW_CASES:
                            actions = [
                                (case, {"action": "review"}),
                                (case + ":browsed", {"action": "review", "browsed": True}),
                            ]
                        else:
                            if engine not in OURS_ENGINES and case in OURS_ONLY:
                                continue
                            actions = [(case, {"action": "resolve"})]
                        for name, extra in actions:
                            runs, load = [], _load()
                            for i in range(args.runs):
                                r = _spawn({**base, **extra}, workdir, python)
                                runs.append(r)
                                raw.append({**base, "case": name, "run": i, **r})
                            results[(engine, name, rows)] = {**_summary(runs), "load": max(load, _load())}
                            _say(_row_text(engine, name, rows, results[(engine, name, rows)]))
                if not args.keep:
                    if engine in PG_ENGINES:
                        _pg_database(args.pg_url, path.split("?")[0].rsplit("/", 1)[1], drop_only=True)
                    else:
                        _remove_store(path)

    _say()
    _say("Results (seconds per resolve, medians; peak = max over runs)")
    _say(HEADER)
    for rows in args.rows:
        for case in CASES:
            names = (case + ":plain", case) if case in EXPLAIN_CASES else (case,)
            names += (case + ":browsed",) if case in REVIEW_CASES else ()
            for name in names:
                for engine in engines:
                    if (engine, name, rows) in results:
                        _say(_row_text(engine, name, rows, results[(engine, name, rows)]))
    _say()
    _say(
        f"Summary (targets judged at {TARGET_ROWS:,} rows: time <= {TIME_TARGET:g}x, peak <= {MEMORY_TARGET:g}x "
        "of each Metaxy store)"
    )
    for line in summary_table(results, args.rows, list(args.cases), [e for e in engines if e not in PG_ENGINES]):
        _say(line)
    if any(e in PG_ENGINES for e in engines):
        _say()
        _say(
            f"PostgreSQL (targets at {TARGET_ROWS:,} rows: time <= {PG_TIME_TARGET:g}x, peak <= {PG_MEMORY_TARGET:g}x "
            "of Metaxy's PostgreSQL store)"
        )
        for line in pg_table(results, args.rows, list(args.cases)):
            _say(line)
    for line in extra_lines(results, args.rows, list(args.cases)):
        _say(line)
    mismatches = count_mismatches(results, expected)
    _say()
    if mismatches:
        _say("COUNTS DISAGREE:")
        for m in mismatches:
            _say("  " + m)
    else:
        _say("counts: every engine agrees with the data in every case")
    elapsed = time.perf_counter() - started
    _say(f"total benchmark time {elapsed:.0f} s, load now {_load():.1f}")
    changed_engine = engine_fingerprint() != info["engine sources"]
    if changed_engine:
        _say("WARNING: the engine's sources changed during the run: these results mix engine versions")
    if not (args.keep or args.workdir):
        shutil.rmtree(workdir, ignore_errors=True)

    if args.json:
        doc = {
            "machine": info,
            "settings": {k: v for k, v in vars(args).items() if k != "json"},
            "workdir": workdir,
            "elapsed_seconds": elapsed,
            "engine_changed_during_run": changed_engine,
            "builds": builds,
            "runs": raw,
            "mismatches": mismatches,
            "summary": [{"engine": e, "case": c, "rows": r, **s} for (e, c, r), s in results.items()],
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1, default=str)
            f.write("\n")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
