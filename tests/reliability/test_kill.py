"""Crash safety: a writer killed with SIGKILL at a random moment leaves a good store.

A child process (writer_child.py) writes recognisable batches in a loop and journals each
call after it returns. The test kills it at a random moment, then checks the store: it
passes PRAGMA integrity_check, opens with SQLiteMetadataStore, shows every journaled write
and the interrupted one completely or not at all, and the next run carries on normally.

Trials per mode: METAXY_KILL_TRIALS random moments (default 2, for CI), then
METAXY_KILL_AIMED kills aimed inside a write transaction (default 1): the child stops inside
its k-th write transaction, at a statement of it picked by the seed, and is killed there. The
child journals where each write transaction begins and ends (writer_child.py: tx+ / tx-), so
every trial knows whether its kill landed inside one; each mode asserts that at least one did.
By hand, e.g.

    METAXY_KILL_TRIALS=40 pytest tests/reliability/test_kill.py -s

prints a summary of where the kills landed. METAXY_KILL_SEED changes the random moments.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import metaxy_tui as mx
from tests.reliability.helpers import integrity

HERE = Path(__file__).resolve().parent
CHILD = HERE / "writer_child.py"
sys.path.insert(0, str(HERE))
import writer_child as wc  # noqa: E402

TRIALS = int(os.environ.get("METAXY_KILL_TRIALS", "2"))
AIMED = int(os.environ.get("METAXY_KILL_AIMED", "1"))
INSIDE = "killed inside a write transaction"
SEED = os.environ.get("METAXY_KILL_SEED", "0")
KILL_MODES = ["root", "derived", "recompute", "create", "delete", "import"]
READY_TIMEOUT_S = 60

pytestmark = pytest.mark.slow

# where the kills landed, per mode: printed at the end (pytest -s)
STATS: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


@pytest.fixture(scope="module", autouse=True)
def kill_summary():
    yield
    if STATS:
        print("\nkill test summary (trials per mode: %d, seed %s)" % (TRIALS, SEED))
        for mode, c in sorted(STATS.items()):
            print(f"  {mode:10s} " + ", ".join(f"{k}={v}" for k, v in sorted(c.items())))


# ----- running and killing the child ----------------------------------------------------------


class Child:
    """writer_child.py running in `mode`; its stderr goes to a file next to the journal."""

    def __init__(self, mode: str, store: Path, journal: Path, *extra: str, aim: str | None = None):
        self.err_path = journal.with_name(journal.name + ".stderr")
        env = dict(os.environ)
        env.pop("METAXY_KILL_AIM", None)
        if aim is not None:
            env["METAXY_KILL_AIM"] = aim
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(CHILD), mode, str(store), str(journal), *extra],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")[-3000:]

    def kill_now(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        assert self.proc.returncode == -signal.SIGKILL, (self.proc.returncode, self.stderr())

    def end(self) -> None:
        """Make sure the child is gone (after a failure)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def spawn(mode: str, store: Path, journal: Path, *extra: str, aim: str | None = None) -> Child:
    return Child(mode, store, journal, *extra, aim=aim)


def wait_for(journal: Path, word: str, child: Child, timeout: float = READY_TIMEOUT_S, poll: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(line and line[0] == word for line in wc.read_journal(journal)):
            return
        if child.poll() is not None:
            raise AssertionError(f"the writer exited ({child.poll()}) before '{word}': {child.stderr()}")
        time.sleep(poll)
    child.end()
    raise AssertionError(f"the writer did not reach '{word}' in {timeout} s")


def run_and_kill(mode: str, tmp: Path, rng: random.Random, aimed: bool = False) -> tuple[Path, list[list[str]], str]:
    """Run the child and SIGKILL it: at a random moment, or (aimed) paused inside a write transaction.
    Returns the store, the journal and where the kill was aimed."""
    store, journal = tmp / "store.db", tmp / "journal"
    aim = f"{rng.randint(1, 3)}:{rng.randint(1, 40)}" if aimed else None
    child = spawn(mode, store, journal, aim=aim)
    try:
        wait_for(journal, "ready", child)
        if aim is not None:
            wait_for(journal, "paused", child)
            where = f"aimed inside write transaction {aim.replace(':', ', statement ')}"
        else:
            delay = rng.uniform(0.05, 1.5)
            time.sleep(delay)
            where = f"{delay:.3f} s after ready"
        assert child.poll() is None, f"the writer died on its own: {child.stderr()}"
        child.kill_now()
    finally:
        child.end()
    return store, wc.read_journal(journal), where


def last(journal: list[list[str]], word: str) -> int | None:
    """The number of the last `word <n>` line (None when there is none)."""
    found = [int(line[1]) for line in journal if line[0] == word and len(line) >= 2]
    return found[-1] if found else None


def inside_a_write_transaction(journal: list[list[str]]) -> bool:
    """Whether the kill came after a write transaction began (`tx+`) and before its end began (`tx-`)."""
    marks = [line[0] for line in journal if line[0] in ("tx+", "tx-")]
    return bool(marks) and marks[-1] == "tx+"


def landed(mode: str, journal: list[list[str]]) -> bool:
    """Count whether the kill landed inside a step (after its `begin`) or between steps, and whether
    inside a write transaction. Returns the latter."""
    tail = [line for line in journal if line[0] in ("begin", "done")]
    STATS[mode]["trials"] += 1
    STATS[mode]["killed inside a step" if tail and tail[-1][0] == "begin" else "killed between steps"] += 1
    inside = inside_a_write_transaction(journal)
    STATS[mode][INSIDE if inside else "killed outside a write transaction"] += 1
    return inside


# ----- checking the store -----------------------------------------------------------------------


def initialised(path: Path) -> bool:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master WHERE name = '_metaxy_info'").fetchone()[0] == 1
    finally:
        conn.close()


def open_read(path: Path, graph: mx.FeatureGraph):
    """The store opened read-only, as `with open_read(...) as store:` (closed at the end)."""
    return mx.SQLiteMetadataStore(path, graph=graph).open("r")


def counts_by(df: pl.DataFrame, column: str) -> dict:
    if df.height == 0:
        return {}
    return dict(df.group_by(column).len().iter_rows())


def assert_whole(found: dict, expected: dict, done: set, maybe: set, what: str) -> None:
    """Batches in `done` are complete; those in `maybe` complete or absent; nothing else is there."""
    for t in done:
        assert found.get(t, 0) == expected[t], (
            f"{what}: batch {t} returned before the kill but has {found.get(t, 0)} of {expected[t]} rows"
        )
    for t in maybe:
        assert found.get(t, 0) in (0, expected[t]), (
            f"{what}: interrupted batch {t} is partly there ({found[t]} of {expected[t]} rows)"
        )
    extra = set(found) - done - maybe
    assert not extra, f"{what}: batches {sorted(extra)} were never written yet are there"


def unique_ids(df: pl.DataFrame, what: str) -> None:
    dup = df.height - df.get_column("item_id").n_unique()
    assert dup == 0, f"{what}: {dup} ids appear twice among the latest rows"


def in_flight(mode: str, journal: list[list[str]], found: dict, candidates: set) -> None:
    """Statistics: did the interrupted write land (committed before the kill) or not?"""
    for t in candidates:
        STATS[mode]["interrupted write visible" if found.get(t, 0) else "interrupted write absent"] += 1


# ----- per mode ----------------------------------------------------------------------------------


def check_root(path: Path, journal, graph) -> None:
    d = last(journal, "done")
    done = set(range((d if d is not None else -1) + 1))
    nxt = (d if d is not None else -1) + 1
    with open_read(path, graph) as store:
        df = store.read_metadata(wc.ITEM, include_deleted=True)
        unique_ids(df, wc.ITEM)
        new = df.filter(pl.col("batch") >= 0)
        found = counts_by(new, "batch")
        sizes = {n: wc.batch_size(n) for n in done | {nxt}}
        assert_whole(found, sizes, {n for n in done if n % 2 == 0}, {nxt} if nxt % 2 == 0 else set(), wc.ITEM)
        assert new.filter(pl.col("payload") != pl.lit("p") + pl.col("batch").cast(pl.String)).height == 0
        # the rewritten set: every latest row carries the same v<n>, n the last rewrite or the interrupted one
        rw = df.filter(pl.col("batch") == -1)
        odd_done = [n for n in sorted(done) if n % 2 == 1]
        allowed = ({f"v{odd_done[-1]}"} if odd_done else set()) | ({f"v{nxt}"} if nxt % 2 == 1 else set())
        if rw.height == 0:
            assert not odd_done, "a rewrite returned before the kill but the rewritten set is empty"
        else:
            assert rw.height == wc.REWRITE_ROWS
            assert set(rw.get_column("payload").unique()) <= allowed and rw.get_column("payload").n_unique() == 1, (
                f"rewritten set mixes versions {rw.get_column('payload').unique().to_list()}, allowed {allowed}"
            )
        # history: every rewrite that returned is stored whole
        hist = store.read_metadata(wc.ITEM, include_history=True).filter(pl.col("batch") == -1)
        per_version = counts_by(hist, "payload")
        for n in odd_done:
            assert per_version.get(f"v{n}") == wc.REWRITE_ROWS
        landed_rows = found.get(nxt, 0) if nxt % 2 == 0 else per_version.get(f"v{nxt}", 0)
        in_flight("root", journal, {nxt: landed_rows}, {nxt})


def check_derived(path: Path, journal, graph) -> None:
    r, d = last(journal, "root"), last(journal, "done")
    r = -1 if r is None else r
    d = -1 if d is None else d
    sizes = {n: wc.batch_size(n, big=n % 3 == 0) for n in range(r + 2)}
    with open_read(path, graph) as store:
        items = store.read_metadata(wc.ITEM)
        unique_ids(items, wc.ITEM)
        found_root = counts_by(items, "batch")
        assert_whole(found_root, sizes, set(range(r + 1)), {r + 1} if r == d else set(), wc.ITEM)
        derived = store.read_metadata(wc.DERIVED)
        unique_ids(derived, wc.DERIVED)
        found = counts_by(derived, "src_batch")
        assert_whole(found, sizes, set(range(d + 1)), {r} if r == d + 1 else set(), wc.DERIVED)
        assert derived.filter(pl.col("value") != pl.lit("d:p") + pl.col("src_batch").cast(pl.String)).height == 0
        in_flight("derived", journal, found_root if r == d else found, {r + 1} if r == d else {r})


def check_recompute(path: Path, journal, graph) -> None:
    n_rows, b = wc.RECOMPUTE_ROWS, wc.RECOMPUTE_BATCH
    rj = last(journal, "root") or 0
    dj = last(journal, "done") or 0
    with open_read(path, graph) as store:
        items = store.read_metadata(wc.ITEM)
        unique_ids(items, wc.ITEM)
        assert items.height == n_rows and items.get_column("payload").n_unique() == 1, (
            f"a rewrite is partly visible: {counts_by(items, 'payload')}"
        )
        ra = int(items.item(0, "payload")[1:])
        assert ra == rj or (ra == rj + 1 and dj == rj), f"root round {ra}, journal: root {rj}, done {dj}"
        derived = store.read_metadata(wc.DERIVED)
        unique_ids(derived, wc.DERIVED)
        assert derived.height == n_rows
        values = counts_by(derived, "value")
        assert set(values) <= {f"d:v{ra}", f"d:v{ra - 1}"}, f"round {ra}: derived values {values}"
        c = values.get(f"d:v{ra}", 0)
        progress = [int(line[2]) for line in journal if line[0] == "prog" and int(line[1]) == ra]
        p = progress[-1] if progress else 0
        if ra != rj:
            assert c == 0, "recompute of a round whose root write never returned"
        elif dj == ra:
            assert c == n_rows
        else:
            assert c in (p, min(p + b, n_rows)), (
                f"round {ra}: {c} samples recomputed, {p} journaled: a batch is partly there"
            )
            STATS["recompute"]["interrupted batch visible" if c > p else "interrupted batch absent"] += 1


def check_create(workdir: Path, journal, graph) -> None:
    d = last(journal, "done")
    d = -1 if d is None else d
    for i in range(d + 1):
        f = workdir / f"c{i}.db"
        integrity(f)
        with open_read(f, graph) as store:
            assert store.count(wc.ITEM) == wc.CREATE_ROWS
    nxt = workdir / f"c{d + 1}.db"
    assert not (workdir / f"c{d + 2}.db").exists()
    if not nxt.exists():
        STATS["create"]["interrupted file absent"] += 1
        return
    if Path(f"{nxt}-journal").exists():
        # killed while `PRAGMA journal_mode = WAL` rewrote the new file's header: a hot rollback journal
        # that read-only connections cannot roll back; see test_a_hot_journal_left_by_the_first_creation...
        STATS["create"]["interrupted file with a hot journal"] += 1
        return
    integrity(nxt)
    if not initialised(nxt):
        # killed inside the first creation: see test_kill_during_first_creation_leaves_a_readable_store
        STATS["create"]["interrupted file uninitialised"] += 1
        return
    with open_read(nxt, graph) as store:
        n = store.count(wc.ITEM)
        assert n in (0, wc.CREATE_ROWS)
    STATS["create"]["interrupted file has its rows" if n else "interrupted file initialised, empty"] += 1


def check_delete(path: Path, journal, graph) -> None:
    w, d = last(journal, "w"), last(journal, "done")
    w = -1 if w is None else w
    d = -1 if d is None else d
    sizes = {n: wc.batch_size(n, big=False) for n in range(w + 2)}
    with open_read(path, graph) as store:
        df = store.read_metadata(wc.ITEM, include_deleted=True)
        unique_ids(df, wc.ITEM)
        found = counts_by(df, "batch")
        assert_whole(found, sizes, set(range(w + 1)), {w + 1} if w == d else set(), wc.ITEM)
        top = max(found) if found else -1
        df = df.with_columns(
            i=pl.col("item_id").str.split("_").list.get(1).cast(pl.Int64),
            gone=pl.col("metaxy_deleted_at").is_not_null(),
        )
        for m in range(top + 1):
            rows = df.filter(pl.col("batch") == m)
            even_gone = rows.filter(pl.col("i") % 2 == 0).get_column("gone")
            odd_gone = rows.filter(pl.col("i") % 2 == 1).get_column("gone")
            # the even half goes in the same transaction as batch m+1's write
            want = m + 1 <= top
            assert even_gone.all() if want else not even_gone.any(), (
                f"batch {m}: even ids deleted {even_gone.sum()} of {even_gone.len()}, next batch written: {want}"
            )
            if m + 1 <= d:
                assert odd_gone.all(), f"batch {m}: soft delete returned but {(~odd_gone).sum()} odd ids remain"
            elif m + 1 == top:
                assert odd_gone.all() or not odd_gone.any(), f"batch {m}: odd ids partly deleted"
                if m + 1 == w:
                    STATS["delete"][
                        "interrupted delete visible" if odd_gone.all() else "interrupted delete absent"
                    ] += 1
            else:
                assert not odd_gone.any()
        visible = store.read_metadata(wc.ITEM)
        assert visible.height == df.filter(~pl.col("gone")).height
        if w == d:
            in_flight("delete", journal, found, {w + 1})


def check_import(path: Path, journal, graph) -> None:
    d = last(journal, "done")
    d = -1 if d is None else d
    with open_read(path, graph) as store:
        df = store.read_metadata(wc.ITEM)
        unique_ids(df, wc.ITEM)
        found = counts_by(df, "batch")
        assert_whole(found, {n: wc.batch_size(n) for n in range(d + 2)}, set(range(d + 1)), {d + 1}, wc.ITEM)
        assert (
            df.filter(
                pl.col("metaxy_provenance_by_field").struct.field("default")
                != pl.lit("p") + pl.col("batch").cast(pl.String)
            ).height
            == 0
        )
        in_flight("import", journal, found, {d + 1})


CHECKS = {
    "root": check_root,
    "derived": check_derived,
    "recompute": check_recompute,
    "create": check_create,
    "delete": check_delete,
    "import": check_import,
}


# ----- the next run -------------------------------------------------------------------------------


def next_run(mode: str, path: Path, journal, graph) -> None:
    """The next run opens the store for writing and carries on; resolving works."""
    from metaxy_tui.service import review

    if mode == "create":
        d = last(journal, "done")
        path = path.parent / f"c{(-1 if d is None else d) + 1}.db"
    store = mx.SQLiteMetadataStore(path, graph=graph)
    with store:
        before = store.count(wc.ITEM)
        if mode == "recompute":
            project = wc.project_for(store, graph)
            result = review.recompute(project, wc.DERIVED)
            assert result.outcome in ("ok", "nothing to do"), result.describe()
            store.write_metadata(wc.ITEM, wc.rewrite_batch(10_000, wc.RECOMPUTE_ROWS))
            assert store.pending_counts(wc.DERIVED) == {"added": 0, "changed": wc.RECOMPUTE_ROWS, "removed": 0}
            assert review.recompute(project, wc.DERIVED).outcome == "ok"
        elif mode == "delete":
            batch = wc.new_batch(10_000, 50)
            store.write_metadata(wc.ITEM, batch)
            assert store.delete_metadata(wc.ITEM, ids=batch.head(10).select("item_id")) == 10
            assert store.count(wc.ITEM) == before + 40
        elif mode == "import":
            from metaxy_tui.service.importer import apply_import, plan_import

            csv = path.parent / "next.csv"
            wc.new_batch(10_000, 50).select("item_id", "batch", "shard", "payload").write_csv(csv)
            plan = plan_import(wc.project_for(store, graph), wc.ITEM, csv)
            assert not plan.problems
            apply_import(wc.project_for(store, graph), plan)
            assert store.count(wc.ITEM) == before + 50
        else:
            store.write_metadata(wc.ITEM, wc.new_batch(10_000, 50))
            assert store.count(wc.ITEM) == before + 50
        wc.materialize(store)
        wc.materialize_summary(store)
        assert store.pending_counts(wc.DERIVED) == {"added": 0, "changed": 0, "removed": 0}
        assert store.pending_counts(wc.SUMMARY) == {"added": 0, "changed": 0, "removed": 0}
        inc = store.resolve_update(wc.DERIVED)
        assert (len(inc.added), len(inc.changed), len(inc.removed)) == (0, 0, 0)
        assert store.count(wc.DERIVED) == store.count(wc.ITEM)
    integrity(path)


# ----- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", KILL_MODES)
def test_sigkill_at_random_moments_leaves_a_good_store(mode, tmp_path):
    graph = wc.build_graph()
    for trial in range(TRIALS + AIMED):
        aimed = trial >= TRIALS
        rng = random.Random(f"{SEED}-{mode}-{trial}")
        tmp = tmp_path / f"t{trial}"
        tmp.mkdir()
        path, journal, where = run_and_kill(mode, tmp, rng, aimed=aimed)
        inside = landed(mode, journal)
        STATS[mode]["of which aimed"] += aimed
        assert inside or not aimed, (
            f"mode {mode}: the kill aimed inside a write transaction landed outside: journal tail {journal[-6:]}"
        )
        try:
            if mode == "create":
                CHECKS[mode](tmp, journal, graph)
            else:
                integrity(path)
                CHECKS[mode](path, journal, graph)
            next_run(mode, path, journal, graph)
        except AssertionError as e:
            raise AssertionError(
                f"mode {mode}, trial {trial} (killed {where}, seed {SEED}, "
                f"{'inside' if inside else 'outside'} a write transaction), "
                f"journal tail {journal[-4:]}, files kept in {tmp}: {e}"
            ) from None
        shutil.rmtree(tmp)  # a passed trial's files are not needed (many trials by hand)
    # the checks above saw the store after a kill inside a write, not only between writes
    assert STATS[mode][INSIDE] >= 1, f"mode {mode}: no kill landed inside a write transaction: {dict(STATS[mode])}"


KILL_IN_CREATION = """
import os, signal, sys
sys.path.insert(0, {here!r})
import writer_child as wc
import metaxy_tui as mx
from metaxy_tui.store.sqlite import schema

original = schema.check_or_initialise

def killed_inside(conn, path, *, create, info):
    out = original(conn, path, create=create, info=info)
    if create:  # the layout is created, not yet committed
        os.kill(os.getpid(), signal.SIGKILL)
    return out

schema.check_or_initialise = killed_inside
mx.SQLiteMetadataStore({path!r}, graph=wc.build_graph()).open("w")
"""


def kill_inside_first_creation(path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILL_IN_CREATION.format(here=str(HERE), path=str(path))], capture_output=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    # the store is built under a temporary name and linked into place: nothing is there yet
    assert not path.exists() or not initialised(path)


def test_kill_during_first_creation_leaves_no_half_made_store(tmp_path):
    path = tmp_path / "fresh.db"
    kill_inside_first_creation(path)
    assert not path.exists()  # creation is all or nothing
    with pytest.raises(mx.StoreError, match="no store at"):
        mx.SQLiteMetadataStore(path, graph=wc.build_graph()).open("r")
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "metaxy-tui"), "--db", str(path), "status", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1 and "no store at" in cli.stderr and "Traceback" not in cli.stderr, cli.stderr


def test_an_empty_sqlite_file_reads_as_an_empty_store(tmp_path):
    """A file with no tables at all (created by someone else, or by an older version killed mid-way)."""
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    graph = wc.build_graph()
    with open_read(path, graph) as store:
        assert store.count(wc.ITEM) == 0
        assert store.read_metadata(wc.ITEM).height == 0
        assert store.pending_counts(wc.DERIVED) == {"added": 0, "changed": 0, "removed": 0}
        assert store.audit_log().height == 0
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "metaxy-tui"), "--db", str(path), "status", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "internal error" not in cli.stderr and cli.returncode in (0, 1), cli.stderr


# Captured from a kill test trial (mode create, seed 1): the process died inside the engine's
# `PRAGMA journal_mode = WAL` on a brand-new file, after page 1 was written and before its rollback
# journal was deleted. zlib + base64 of the 4096-byte file and its 512-byte journal.
HOT_DB = "eNoLDvTJLElVSMsvyk0sUTBmEGBgYmJwUFBgYGBghGJKACODXjIjL4glwDAKRsEoGAWjYBSMglEwCkbBKBgFo2AUjIIBAgDipAZ1"
HOT_JOURNAL = "eNq7eZX1p8LC5OsMQLBdzZiDAQyYgFiAYRQMfwAAhXMF0g=="


def hot_journal_store(path: Path) -> None:
    import base64
    import zlib

    path.write_bytes(zlib.decompress(base64.b64decode(HOT_DB)))
    Path(f"{path}-journal").write_bytes(zlib.decompress(base64.b64decode(HOT_JOURNAL)))


def test_a_hot_journal_left_by_the_first_creation_still_opens_read_only(tmp_path):
    path = tmp_path / "fresh.db"
    hot_journal_store(path)
    graph = wc.build_graph()
    with open_read(path, graph) as store:
        assert store.count(wc.ITEM) == 0
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "metaxy-tui"), "--db", str(path), "status", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr


def test_a_hot_journal_left_by_the_first_creation_is_rolled_back_by_the_next_run(tmp_path):
    path = tmp_path / "fresh.db"
    hot_journal_store(path)
    graph = wc.build_graph()
    with mx.SQLiteMetadataStore(path, graph=graph) as store:
        store.write_metadata(wc.ITEM, wc.new_batch(0, wc.CREATE_ROWS))
    assert not Path(f"{path}-journal").exists()
    integrity(path)
    with open_read(path, graph) as store:
        assert store.count(wc.ITEM) == wc.CREATE_ROWS


def test_kill_during_first_creation_then_the_next_run_creates_the_store(tmp_path):
    path = tmp_path / "fresh.db"
    kill_inside_first_creation(path)
    graph = wc.build_graph()
    with mx.SQLiteMetadataStore(path, graph=graph) as store:
        store.write_metadata(wc.ITEM, wc.new_batch(0, wc.CREATE_ROWS))
        wc.materialize(store)
        assert store.pending_counts(wc.DERIVED) == {"added": 0, "changed": 0, "removed": 0}
    integrity(path)
    with open_read(path, graph) as store:
        assert store.count(wc.ITEM) == wc.CREATE_ROWS and store.count(wc.DERIVED) == wc.CREATE_ROWS


def test_a_reader_open_during_the_kill_keeps_working(tmp_path):
    """A long-lived read-only store (the TUI) open while the writer is killed reads on, then sees new data."""
    graph = wc.build_graph()
    path, journal = tmp_path / "store.db", tmp_path / "journal"
    with mx.SQLiteMetadataStore(path, graph=graph) as s:
        s.write_metadata(wc.ITEM, wc.new_batch(1000, 100))
    reader = open_read(path, graph)
    try:
        child = spawn("derived", path, journal)
        try:
            wait_for(journal, "done", child)
            time.sleep(random.Random(SEED).uniform(0.05, 0.5))
            child.kill_now()
        finally:
            child.end()
        journal_lines = wc.read_journal(path.parent / "journal")
        d = last(journal_lines, "done")
        items = reader.read_metadata(wc.ITEM)
        unique_ids(items, wc.ITEM)
        assert set(range(d + 1)) | {1000} <= set(items.get_column("batch").unique())
        reader.pending_counts(wc.DERIVED)
        with mx.SQLiteMetadataStore(path, graph=graph) as w:
            w.write_metadata(wc.ITEM, wc.new_batch(2000, 10))
        assert reader.count(wc.ITEM) == items.height + 10
        assert reader.read_metadata(wc.ITEM).filter(pl.col("batch") == 2000).height == 10
    finally:
        reader.close()
    integrity(path)


KILL_AFTER_FIRST_BATCH = """
import os, signal, sys
sys.path.insert(0, {here!r})
import writer_child as wc
import metaxy_tui as mx
from metaxy_tui.service import review

store = mx.SQLiteMetadataStore({path!r}, graph=wc.build_graph())
store.open("w")
project = wc.project_for(store, store.graph())
store.write_metadata(wc.ITEM, wc.rewrite_batch(1, 1000))
# the first batch of 250 samples has committed when progress is called: the process dies there
review.recompute(project, wc.DERIVED, batch_size=250, progress=lambda done, total: os.kill(os.getpid(), signal.SIGKILL))
"""


def test_a_recompute_killed_after_a_batch_leaves_an_audit_record(tmp_path):
    path = tmp_path / "store.db"
    graph = wc.build_graph()
    with mx.SQLiteMetadataStore(path, graph=graph) as store:
        store.write_metadata(wc.ITEM, wc.rewrite_batch(0, 1000))
        wc.materialize(store)
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_FIRST_BATCH.format(here=str(HERE), path=str(path))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    integrity(path)
    with open_read(path, graph) as store:
        recomputed = store.read_metadata(wc.DERIVED).filter(pl.col("value") == "d:v1")
        assert recomputed.height == 250  # the committed batch is there, whole
        log = store.audit_log(feature=wc.DERIVED, action="recompute")
        covered = {i["item_id"] for ids in log.get_column("ids").to_list() for i in json.loads(ids)}
        missing = set(recomputed.get_column("item_id")) - covered
        assert not missing, f"{len(missing)} recomputed samples have no audit entry"
