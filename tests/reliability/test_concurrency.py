"""One writer, many readers, with real processes.

A pipeline process (writer_child.py, mode pipeline) writes batches while this process
holds a store open read-only for the whole test (as the TUI does) and reads it over and
over, and `metaxy-tui status` / `metaxy-tui resolve` run again and again as other
processes. No one may see "database is locked" or any other error, a half-applied write
or an id twice; once the writer is done the long-lived store sees everything.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

import metaxy_tui as mx
from metaxy_tui.service.status import iter_statuses
from metaxy_tui.store.sqlite import reader as reader_module
from tests.reliability.helpers import integrity

HERE = Path(__file__).resolve().parent
CHILD = HERE / "writer_child.py"
sys.path.insert(0, str(HERE))
import writer_child as wc  # noqa: E402

CLI = str(Path(sys.executable).parent / "metaxy-tui")
BIG = 120_000  # > reader.COLUMNAR_MIN_ROWS: rel/item and rel/derived are read column by column, on threads
STEPS = int(os.environ.get("METAXY_CONCURRENCY_STEPS", "8"))

pytestmark = pytest.mark.slow


def spawn(store: Path, journal: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), "pipeline", str(store), str(journal), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(child: subprocess.Popen, timeout: float = 180) -> tuple[int, str]:
    try:
        _out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        _out, err = child.communicate(timeout=30)
        raise AssertionError(f"the writer did not finish in {timeout} s: {err[-2000:]}") from None
    return child.returncode, err


def create_store(path: Path, graph: mx.FeatureGraph) -> None:
    """The store file with its layout and graph snapshot, so that `--db PATH` reads it."""
    with mx.SQLiteMetadataStore(path, graph=graph) as s:
        s.push_graph()


# ----- what a reader may see -------------------------------------------------------------------------


class Problems(list):
    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.append(what)


def new_batch_size(b: int) -> int:
    return BIG if b == 0 else wc.batch_size(b, big=False)


def check_items(df: pl.DataFrame, problems: Problems, what: str) -> None:
    """Whole batches only, the rewritten set at one version, no id twice."""
    problems.check(
        df.get_column("item_id").n_unique() == df.height,
        f"{what}: {df.height - df.get_column('item_id').n_unique()} ids twice",
    )
    for b, n in df.filter(pl.col("batch") >= 0).group_by("batch").len().iter_rows():
        problems.check(n == new_batch_size(b), f"{what}: batch {b} has {n} of {new_batch_size(b)} rows")
    rw = df.filter(pl.col("batch") == -1)
    problems.check(rw.height in (0, wc.REWRITE_ROWS), f"{what}: rewritten set has {rw.height} rows")
    col = "payload" if "payload" in df.columns else "value"
    problems.check(
        rw.get_column(col).n_unique() <= 1, f"{what}: rewritten set mixes {rw.get_column(col).unique().to_list()}"
    )


def check_derived(df: pl.DataFrame, problems: Problems, what: str) -> None:
    problems.check(df.get_column("item_id").n_unique() == df.height, f"{what}: ids twice")
    for b, n in df.filter(pl.col("src_batch") >= 0).group_by("src_batch").len().iter_rows():
        problems.check(n == new_batch_size(b), f"{what}: batch {b} has {n} of {new_batch_size(b)} rows")
    rw = df.filter(pl.col("src_batch") == -1)
    problems.check(
        rw.height in (0, wc.REWRITE_ROWS) and rw.get_column("value").n_unique() <= 1,
        f"{what}: rewritten set {rw.height} rows, values {rw.get_column('value').unique().to_list()}",
    )


def check_increment(inc, problems: Problems, what: str) -> None:
    """resolve_update of rel/derived: whole batches, nothing removed (rel/derived only follows rel/item)."""
    added, changed = inc.added.to_polars(), inc.changed.to_polars()
    problems.check(len(inc.removed) == 0, f"{what}: {len(inc.removed)} removed (a mixed view of two commits)")
    both = pl.concat([added.select("item_id", "batch"), changed.select("item_id", "batch")])
    problems.check(both.get_column("item_id").n_unique() == both.height, f"{what}: an id twice")
    for b, n in added.filter(pl.col("batch") >= 0).group_by("batch").len().iter_rows():
        problems.check(n == new_batch_size(b), f"{what}: added has {n} of batch {b}'s {new_batch_size(b)}")
    for frame, name in ((added, "added"), (changed, "changed")):
        rw = frame.filter(pl.col("batch") == -1).height
        problems.check(rw in (0, wc.REWRITE_ROWS), f"{what}: {name} has {rw} of the rewritten set")


# ----- the CLI, in a loop ---------------------------------------------------------------------------------


class CliLoop(threading.Thread):
    """Runs `metaxy-tui --db PATH status --format json` and `resolve rel/derived --format json` until stopped."""

    def __init__(self, path: Path, totals: set[int] | None):
        super().__init__(daemon=True)
        self.path, self.totals = path, totals
        self.stop = threading.Event()
        self.runs = 0
        self.problems = Problems()

    def run(self) -> None:
        try:
            self._loop()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.problems.append(f"CLI loop: {type(e).__name__}: {e}")

    def _loop(self) -> None:
        while not self.stop.is_set():
            for args in (["status", "--format", "json"], ["resolve", wc.DERIVED, "--format", "json"]):
                p = subprocess.run([CLI, "--db", str(self.path), *args], capture_output=True, text=True, timeout=120)
                self.runs += 1
                what = f"metaxy-tui {' '.join(args)} (run {self.runs})"
                text = p.stdout + p.stderr
                self.problems.check(
                    "locked" not in text.lower() and "busy" not in text.lower(), f"{what}: {text[-500:]}"
                )
                self.problems.check(p.returncode == 0, f"{what}: exit {p.returncode}: {p.stderr[-500:]}")
                if p.returncode != 0:
                    continue
                data = json.loads(p.stdout)
                if args[0] == "status":
                    by = {s["feature"]: s for s in data}
                    self.problems.check(all(s["status"] != "error" for s in data), f"{what}: {data}")
                    if not by:
                        continue  # no graph snapshot yet: nothing written so far
                    if self.totals is not None:
                        self.problems.check(
                            by[wc.ITEM]["rows"] in self.totals,
                            f"{what}: {by[wc.ITEM]['rows']} rows is no whole number of batches",
                        )
                    self.problems.check(by[wc.DERIVED]["removed"] == 0, f"{what}: {by[wc.DERIVED]}")
                else:
                    self.problems.check(data["counts"]["removed"] == 0, f"{what}: {data['counts']}")
                    ids = [s["item_id"] for s in data["samples"]]
                    self.problems.check(len(ids) == len(set(ids)), f"{what}: an id twice")
                    batches: dict[str, int] = {}
                    for i in ids:
                        tag = i.split("_")[0]
                        batches[tag] = batches.get(tag, 0) + 1
                    for tag, n in batches.items():
                        full = wc.REWRITE_ROWS if tag == "r" else new_batch_size(int(tag[1:]))
                        self.problems.check(n == full, f"{what}: {n} of {tag}'s {full} samples pending")


# ----- counting column-by-column reads ----------------------------------------------------------------------


@pytest.fixture
def columnar_calls(monkeypatch):
    """How often this process read column by column, and how often that fell back to fetchall."""
    calls = {"columnar": 0, "fallback": 0}
    original = getattr(reader_module.Reader, "_columnar_frame", None)
    if original is None:  # the reader was reorganised: nothing to count
        return None

    def counted(self, q, conn, *, locked):
        df = original(self, q, conn, locked=locked)
        calls["columnar"] += 1
        calls["fallback"] += df is None
        return df

    monkeypatch.setattr(reader_module.Reader, "_columnar_frame", counted)
    return calls


# ----- the tests ------------------------------------------------------------------------------------------


def test_one_writer_a_long_lived_reader_and_cli_readers(tmp_path, columnar_calls):
    graph = wc.build_graph()
    path, journal = tmp_path / "store.db", tmp_path / "journal"
    create_store(path, graph)
    totals = set(wc.pipeline_totals(STEPS, BIG))
    writer = spawn(path, journal, "--big", str(BIG), "--batches", str(STEPS), "--summary-every", "5")
    cli = CliLoop(path, totals)
    problems = Problems()
    tui = mx.SQLiteMetadataStore(path, graph=graph).open("r")  # held open for the whole test, as the TUI does
    project = wc.project_for(tui, graph)
    reads = 0
    try:
        cli.start()
        while writer.poll() is None:
            what = f"long-lived reader, pass {reads}"
            check_items(tui.read_metadata(wc.ITEM), problems, what + ", read_metadata(rel/item)")
            check_derived(tui.read_metadata(wc.DERIVED), problems, what + ", read_metadata(rel/derived)")
            counts = tui.pending_counts(wc.DERIVED)
            problems.check(counts["removed"] == 0, f"{what}: pending_counts {counts}")
            check_increment(tui.resolve_update(wc.DERIVED), problems, what + ", resolve_update")
            n = tui.count(wc.ITEM)
            problems.check(n in totals, f"{what}: count {n} is no whole number of batches")
            statuses = list(iter_statuses(project))  # the TUI's refresh
            problems.check(all(s.kind != "error" for s in statuses), f"{what}: {[s.label for s in statuses]}")
            reads += 1
            time.sleep(0.1)  # a refresh now and then, not a busy loop
        rc, err = finish(writer)
        cli.stop.set()
        cli.join(180)
        assert rc == 0 and "locked" not in err.lower(), f"writer exit {rc}: {err[-3000:]}"
        assert wc.read_journal(journal)[-1] == ["finished"]
        assert not problems, problems[:10]
        assert not cli.problems, cli.problems[:10]
        assert reads >= 2 and cli.runs >= 2, (reads, cli.runs)
        # the big tables were read through ADBC, and no ADBC read failed (e.g. busy during a checkpoint)
        if columnar_calls is not None:
            assert columnar_calls["columnar"] > 0 and columnar_calls["fallback"] == 0, columnar_calls
        # refresh: the long-lived store sees every batch and nothing pending on rel/derived
        items = tui.read_metadata(wc.ITEM)
        check_items(items, problems, "after the writer")
        assert not problems, problems
        assert items.height == max(totals) == tui.count(wc.ITEM)
        assert set(items.get_column("batch").unique()) == {0, -1} | set(range(2, STEPS + 1, 2))
        assert items.filter(pl.col("batch") == -1).get_column("payload").unique().to_list() == [
            f"v{max(n for n in range(1, STEPS + 1) if n % 2)}"
        ]
        assert tui.pending_counts(wc.DERIVED) == {"added": 0, "changed": 0, "removed": 0}
        status = {s.key: s for s in iter_statuses(project)}
        assert status[wc.DERIVED].kind == "up_to_date" and status[wc.ITEM].rows == items.height
    finally:
        cli.stop.set()
        if writer.poll() is None:
            writer.kill()
            writer.communicate(timeout=30)
        tui.close()
    integrity(path)
    print(f"\nlong-lived reader passes: {reads}, CLI runs: {cli.runs}, column-by-column reads: {columnar_calls}")


def test_two_writers_are_serialised_without_errors(tmp_path):
    """Two pipeline processes and a CLI reader: busy_timeout serialises the writers."""
    graph = wc.build_graph()
    path = tmp_path / "store.db"
    create_store(path, graph)  # creating the file together: test_processes_creating_the_same_file_at_once
    steps = 6
    writers = [
        spawn(path, tmp_path / "journal_a", "--batches", str(steps)),
        spawn(path, tmp_path / "journal_b", "--batches", str(steps), "--offset", "1000"),
    ]
    cli = CliLoop(path, None)
    try:
        deadline = time.monotonic() + 60
        while not path.exists() or not any(wc.read_journal(tmp_path / j) for j in ("journal_a", "journal_b")):
            assert time.monotonic() < deadline and all(w.poll() in (None, 0) for w in writers), "no writer started"
            time.sleep(0.05)
        cli.start()
        results = [finish(w) for w in writers]
    finally:
        cli.stop.set()
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.communicate(timeout=30)
    cli.join(180)
    for rc, err in results:
        assert rc == 0 and "locked" not in err.lower(), f"writer exit {rc}: {err[-3000:]}"
    assert not cli.problems, cli.problems[:10]
    integrity(path)
    with mx.SQLiteMetadataStore(path, graph=graph) as store:
        items = store.read_metadata(wc.ITEM)
        problems = Problems()
        check_items(items, problems, "after both writers")
        assert not problems, problems
        expected = {n for n in range(1, steps + 1) if n % 2 == 0} | set(range(1001, 1001 + steps))
        assert set(items.filter(pl.col("batch") >= 0).get_column("batch").unique()) == expected
        # two materializers racing may leave rows computed from an older upstream: one more run catches up
        wc.materialize(store)
        assert store.pending_counts(wc.DERIVED) == {"added": 0, "changed": 0, "removed": 0}
        assert store.count(wc.DERIVED) == items.height


def test_processes_creating_the_same_file_at_once(tmp_path):
    """Four processes open a store file that does not exist yet, at the same moment, and write."""
    path = tmp_path / "fresh.db"
    go = tmp_path / "go"
    code = (
        f"import sys, time, os; sys.path.insert(0, {str(HERE)!r})\n"
        f"import writer_child as wc; import metaxy_tui as mx\n"
        f"g = wc.build_graph()\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.001)\n"
        f"k = int(sys.argv[1])\n"
        f"with mx.SQLiteMetadataStore({str(path)!r}, graph=g) as s:\n"
        f"    s.write_metadata(wc.ITEM, wc.new_batch(k, 100))\n"
        f"    wc.materialize(s)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(k)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for k in range(4)
    ]
    try:
        time.sleep(2.0)  # let them all import and wait
        go.touch()
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate(timeout=30)
    for p, (_o, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    integrity(path)
    with mx.SQLiteMetadataStore(path, graph=wc.build_graph()).open("r") as store:
        items = store.read_metadata(wc.ITEM)
        assert sorted(items.get_column("batch").unique().to_list()) == [0, 1, 2, 3] and items.height == 400
        assert store.pending_counts(wc.DERIVED) == {"added": 0, "changed": 0, "removed": 0}


def test_a_store_created_during_the_format_check_is_recognised(tmp_path, monkeypatch):
    """Deterministic form of the race above: another connection creates the store between the check's reads."""
    from metaxy_tui.store.sqlite import schema

    graph = wc.build_graph()
    path = tmp_path / "fresh.db"
    original = schema.check_or_initialise
    fired = []

    class Interleaved:
        """The checking connection; another one creates the store just before the table list is read."""

        def __init__(self, conn):
            self.conn = conn

        def execute(self, sql, *args):
            if "sqlite_master" in sql and not fired:
                fired.append(1)
                mx.SQLiteMetadataStore(path, graph=graph).open("w").close()  # e.g. a pipeline process
            return self.conn.execute(sql, *args)

        def executemany(self, sql, *args):
            return self.conn.executemany(sql, *args)

    def check(conn, path_, *, create, info):
        if create or fired:
            return original(conn, path_, create=create, info=info)
        return original(Interleaved(conn), path_, create=create, info=info)

    monkeypatch.setattr(schema, "check_or_initialise", check)
    store = mx.SQLiteMetadataStore(path, graph=graph)
    with store:
        assert fired
        store.write_metadata(wc.ITEM, wc.new_batch(0, 10))
        assert store.count(wc.ITEM) == 10


def test_opening_a_store_while_another_process_creates_it_waits(tmp_path):
    path = tmp_path / "fresh.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process, half-way through creating the file
    release = threading.Timer(1.0, lambda: other.execute("ROLLBACK"))
    release.start()
    try:
        with mx.SQLiteMetadataStore(path, graph=wc.build_graph()) as store:  # busy_timeout: wait, then create
            store.write_metadata(wc.ITEM, wc.new_batch(0, 10))
            assert store.count(wc.ITEM) == 10
    finally:
        release.join()
        other.close()


# ----- one process, two stores (a pipeline and a reader in the same process) -------------------------------------

IN_PROCESS = """
import os, sys
sys.path.insert(0, {here!r})
import writer_child as wc
import metaxy_tui as mx
from metaxy_tui.store.sqlite import reader
reader.ADBC_MIN_ROWS = 1000  # a quicker repro; at the real threshold (120,000 rows) the same happens
path = {path!r}
g = wc.build_graph()
writer = mx.SQLiteMetadataStore(path, graph=g).open("w")
writer.write_metadata(wc.ITEM, wc.new_batch(0, 30_000))  # > 1000 WAL pages: its commit checkpoints
seen = []

def inside_the_write(done, total):
    if not seen:
        reader = mx.SQLiteMetadataStore(path, graph=g).open("r")  # e.g. a TUI in the pipeline's process
        seen.append(reader.read_metadata(wc.ITEM).height)        # a large read, on another connection
        reader.close()

import threading
threading.Timer(5.0, lambda: (print("the write hangs", flush=True), os._exit(3))).start()
writer.write_metadata(wc.ITEM, wc.new_batch(1, 100), progress=inside_the_write)
print(seen[0], writer.count(wc.ITEM), flush=True)
os._exit(0)
"""


def test_a_reader_and_a_writer_in_one_process(tmp_path):
    path = tmp_path / "store.db"
    # today the COMMIT waits ~12 s inside SQLite, then fails: the script gives up after 5 s
    p = subprocess.run(
        [sys.executable, "-c", IN_PROCESS.format(here=str(HERE), path=str(path))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, f"exit {p.returncode}: {p.stdout[-300:]} {p.stderr[-1500:]}"
    assert p.stdout.split() == ["30000", "30100"]
    integrity(path)


def test_resolve_sees_one_commit_while_another_process_writes(tmp_path, monkeypatch):
    """A write landing between resolve_update's reads (upstream, then the feature's own rows) must not
    show up as a mix of two commits (here: rows 'removed' that were only just written)."""
    graph = wc.build_graph()
    path = tmp_path / "store.db"
    with mx.SQLiteMetadataStore(path, graph=graph) as s:
        s.write_metadata(wc.ITEM, wc.new_batch(0, 500))
        wc.materialize(s)
    write_both = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import writer_child as wc; import metaxy_tui as mx\n"
        f"with mx.SQLiteMetadataStore({str(path)!r}, graph=wc.build_graph()) as s:\n"
        f"    s.write_metadata(wc.ITEM, wc.new_batch(int(sys.argv[1]), 300)); wc.materialize(s)\n"
    )
    fired, calls = [], []
    # every read of a resolve (SQL or the columnar copy) goes through Reader._run
    hook = "_run" if hasattr(reader_module.Reader, "_run") else "_fetch"
    original = getattr(reader_module.Reader, hook, None)
    if original is None:
        pytest.skip("store/sqlite/reader.py has no Reader._run to run a write between a resolve's reads")

    def run(self, q, *args, **kwargs):
        df = original(self, q, *args, **kwargs)
        if not fired:  # after the first read of the resolve, another process writes root and derived rows
            fired.append(1)
            subprocess.run([sys.executable, "-c", write_both, str(len(calls) + 1)], check=True, timeout=120)
            calls.append(1)
        return df

    monkeypatch.setattr(reader_module.Reader, hook, run)
    with mx.SQLiteMetadataStore(path, graph=graph).open("r") as store:
        counts = store.pending_counts(wc.DERIVED)
        assert fired
        assert counts in ({"added": 0, "changed": 0, "removed": 0},), counts
        fired.clear()
        inc = store.resolve_update(wc.DERIVED)
        assert fired
        assert (len(inc.added), len(inc.changed), len(inc.removed)) == (0, 0, 0)
