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

This package imports only the standard library at the top of each module: worker processes
load it by file path (as `metaxy_bench`), so that a Metaxy worker never imports metaxy_tui (or
the other way round). Here, the driver (main: builds the stores, runs the workers, prints);
cases.py the cases, the targets and the data; worker.py what one worker process does, over
engines.py (metaxy-tui and Metaxy driven alike); machine.py what a run records about the
machine; report.py the summaries and tables.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .cases import (
    CASES,
    ENGINES,
    EXPLAIN_CASES,
    GROUP_SIZE,
    MEMORY_TARGET,
    OURS_ENGINES,
    OURS_ONLY,
    PG_ENGINES,
    PG_MEMORY_TARGET,
    PG_TIME_TARGET,
    RESOLVE_CASES,
    RESULT_MARK,
    REVIEW_CASES,
    TARGET_ROWS,
    TIME_TARGET,
    WORKER_TIMEOUT_S,
    _write_data,
    expected_counts,
)
from .machine import _load, _metaxy_versions, engine_fingerprint, machine_info
from .report import HEADER, _row_text, _say, _summary, count_mismatches, extra_lines, pg_table, summary_table

__all__ = ["count_mismatches", "expected_counts", "main", "parse_args"]


# =============================================================================================
# Driver side: builds, runs the workers, prints.
# =============================================================================================


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


def _spawn(action: dict, cwd: str, python: str = sys.executable) -> dict:
    """Run one worker action in a fresh interpreter; returns its result (or {"error": ...})."""
    package = os.path.dirname(os.path.abspath(__file__))
    code = (
        "import importlib.util as u, sys; "
        f"s = u.spec_from_file_location('metaxy_bench', {os.path.join(package, '__init__.py')!r}, "
        f"submodule_search_locations=[{package!r}]); "
        "m = u.module_from_spec(s); sys.modules['metaxy_bench'] = m; s.loader.exec_module(m); "
        "import metaxy_bench.worker as w; w._worker_main()"
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


def _remove_store(path: str) -> None:
    for p in (path, path + "-wal", path + "-shm"):
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.remove(p)


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
