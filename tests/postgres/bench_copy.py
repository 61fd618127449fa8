"""Time and peak memory of `copy` at scale: SQLite -> PostgreSQL and back (README: PostgreSQL store).

    .venv/bin/python -m tests.postgres.bench_copy [--rows 1000000] [--workdir DIR]

Builds (once per workdir) a SQLite store with the bench's data (metaxy_tui/bench.py): a root of
ROWS samples, then 10% of them rewritten (ROWS * 1.1 rows in its table, a tenth superseded), and
an aggregation child of ROWS / 10 groups. Each copy runs in a fresh interpreter, which reports
its wall time and peak RSS (VmHWM); the copies' pending counts are checked against the source's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, time
from metaxy_tui.store.copy import copy_store
t = time.perf_counter()
s = copy_store(sys.argv[1], sys.argv[2])
seconds = time.perf_counter() - t
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "rows": s.rows, "summary": s.text()}))
"""


def build(path: Path, n: int) -> None:
    import metaxy_tui as mx
    from metaxy_tui import bench

    graph, sample, child = bench._graph(mx, "aggregation")
    with graph.use(), mx.SQLiteMetadataStore(path, graph=graph) as store:
        store.write_metadata(sample, bench.root_frame(n))
        inc = store.resolve_update(child)
        store.write_metadata(child, bench._child_rows(inc.added.to_polars(), "aggregation"))
        store.write_metadata(sample, bench.changed_rows(n))


def pending(location: str) -> dict:
    import metaxy_tui as mx
    from metaxy_tui import bench
    from metaxy_tui.store import store_at

    graph, _sample, child = bench._graph(mx, "aggregation")
    store = store_at(location)
    with graph.use(), store.open("r"):
        store.use_graph(graph)
        return store.pending_counts(child)


def run(source: str, target: str) -> dict:
    p = subprocess.run(
        [sys.executable, "-c", CHILD, source, target], capture_output=True, text=True, timeout=3600, check=False
    )
    if p.returncode:
        raise SystemExit(p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    from tests import pg_server

    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench-copy-"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"source-{a.rows}.db"
    if not source.exists():
        t = time.perf_counter()
        build(source, a.rows)
        print(f"built {source} in {time.perf_counter() - t:.1f} s ({source.stat().st_size / 1e6:.0f} MB)")
    server = pg_server.shared()
    try:
        url = server.new_database("copy")
        to_pg = run(str(source), url)
        print(f"SQLite -> PostgreSQL: {to_pg['seconds']:.1f} s, peak {to_pg['peak_mb']:.0f} MB  ({to_pg['summary']})")
        back = work / "back.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{back}{suffix}").unlink(missing_ok=True)
        to_sqlite = run(url, str(back))
        print(
            f"PostgreSQL -> SQLite: {to_sqlite['seconds']:.1f} s, peak {to_sqlite['peak_mb']:.0f} MB  "
            f"({to_sqlite['summary']})"
        )
        counts = [pending(str(source)), pending(url), pending(str(back))]
        print("pending counts (source, PostgreSQL, back):", counts)
        assert counts[0] == counts[1] == counts[2]
    finally:
        server.stop()
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
