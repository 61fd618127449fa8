"""A commit landing in the middle of a resolve never shows up as a mix of two commits.

A writer process (commit_child.py) commits exactly when the test tells it to, and the test
tells it to from inside a resolve, at the points where store/sqlite/resolve.py and store/sqlite/reader.py
must notice it:

- between resolve_update's two phases (the lean phase, keys and provenance of the pending
  samples, then the wide upstream rows of those samples), with work pending for a feature of
  every lineage kind. Without store/sqlite/resolve.py's retry a row came back with its note from the
  new commit and its provenance from the old one.
- between the reads of one batch that the reader runs on threads with connections of their
  own (store/sqlite/reader.py's `frames`), each part of a table on its own: without the reader's
  retry one part shows a commit's old rows and the next its new ones.

Every answer must equal, whole, the answer of a quiet store at one of the commits it ran
across (those answers are taken by a second store between the commits).
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

import metaxy_tui as mx
from metaxy_tui.store.sqlite import reader as reader_module

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import commit_child as cc  # noqa: E402

ANSWER_TIMEOUT_S = 60

pytestmark = pytest.mark.slow


# ----- the writer process ----------------------------------------------------------------------------


class Writer:
    """commit_child.py, driven line by line; every wait has a timeout."""

    def __init__(self, workdir: Path):
        self.err_path = workdir / "commit_child.err"
        self._err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "commit_child.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self._expect("ready")

    def _pump(self) -> None:
        for line in self.proc.stdout:  # bounded: on a daemon thread; _expect waits with a timeout
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _expect(self, want: str) -> None:
        try:
            line = self._lines.get(timeout=ANSWER_TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(
                f"the writer did not say {want!r} in {ANSWER_TIMEOUT_S} s: {self.err_path.read_text()[-3000:]}"
            ) from None
        assert line == want, f"the writer said {line!r}, not {want!r}: {self.err_path.read_text()[-3000:]}"

    def ask(self, command: str) -> None:
        """Send a command and wait until it is done (a write: committed)."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        self._expect(f"ok {command}")

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._err.close()


@pytest.fixture(scope="module")
def writer(tmp_path_factory):
    w = Writer(tmp_path_factory.mktemp("writer"))
    yield w
    w.close()


# ----- stores and answers ---------------------------------------------------------------------------


def build_store(path: Path, graph: mx.FeatureGraph, *, pending: bool = True, derived: tuple[str, ...] = cc.DERIVED):
    """Items 0..59 at v0 with every derived feature written; then (pending) work for each: items 0..4
    rewritten at v1 (changed), items 60..62 new (added), group g11's five members deleted (removed)."""
    with mx.SQLiteMetadataStore(path, graph=graph) as s:
        s.write_metadata(cc.ITEM, cc.items(range(cc.ITEMS), 0))
        for name in derived:
            cc.materialize(s, name)
        if pending:
            s.write_metadata(cc.ITEM, pl.concat([cc.items(range(cc.CHANGING), 1), cc.items(range(60, 63), 1)]))
            s.delete_metadata(
                cc.ITEM, ids=[{"item_id": f"item_{i}"} for i in range(cc.ITEMS) if i % cc.GROUPS == cc.GROUPS - 1]
            )


def rows(df: pl.DataFrame) -> list[str]:
    cols = sorted(df.columns)
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in df.select(cols).to_dicts())


def answer(inc) -> dict[str, list[str]]:
    """An increment as comparable data: every column of every row of its three frames."""
    return {part: rows(getattr(inc, part).to_polars()) for part in ("added", "changed", "removed")}


def mixed_keys(got: dict, refs: list[dict], key: list[str]) -> list[str]:
    """For the failure message: the keys whose rows match those of no single commit."""
    out = []
    for part, got_rows in got.items():
        by_key: dict[tuple, set] = {}
        for r in got_rows:
            d = json.loads(r)
            by_key.setdefault(tuple(d[c] for c in key), set()).add(r)
        for k, rs in by_key.items():
            if not any(rs == {r for r in ref[part] if tuple(json.loads(r)[c] for c in key) == k} for ref in refs):
                out.append(f"{part} {k}: " + "; ".join(sorted(rs))[:600])
    return out


def assert_one_commit(got: dict, refs: list[dict], key: list[str]) -> None:
    assert any(got == ref for ref in refs), (
        f"the answer matches no single commit among {len(refs)}; rows that mix commits:\n"
        + "\n".join(mixed_keys(got, refs, key)[:10])
    )


# ----- between resolve_update's phases (store/sqlite/resolve.py) -------------------------------------------


@pytest.mark.parametrize("feature", cc.DERIVED)
@pytest.mark.parametrize("commits", [1, 20], ids=["one commit between the phases", "a commit after every read"])
def test_a_commit_between_resolve_phases_never_mixes_two_commits(feature, commits, writer, tmp_path, monkeypatch):
    graph = cc.build_graph()
    path = tmp_path / "store.db"
    build_store(path, graph)
    writer.ask(f"open {path}")
    quiet = mx.SQLiteMetadataStore(path, graph=graph).open("r")  # answers of the store at rest, per commit
    store = mx.SQLiteMetadataStore(path, graph=graph)  # the one resolving, open as the TUI holds it
    store.open("r")
    try:
        before = quiet.resolve_update(feature)
        assert len(before.changed) > 0 and len(before.removed) > 0, "no work pending: a mix could not show"
        refs = [answer(before)]
        original = store._read_many
        fired: list[int] = []

        def read_many(queries):
            out = original(queries)
            if len(fired) < commits:  # this batch of reads is done: another process commits now
                k = 2 + len(fired)
                writer.ask(f"rewrite {k}")
                fired.append(k)
                refs.append(answer(quiet.resolve_update(feature)))
            return out

        monkeypatch.setattr(store, "_read_many", read_many)
        inc = store.resolve_update(feature)
        monkeypatch.undo()
        assert fired, "no commit landed inside the resolve"
        assert refs[0] != refs[1], "the commit does not change the answer: a mix could not show"
        got = answer(inc)
        assert_one_commit(got, refs, list(inc.key))
        if commits == 1:
            # the resolve noticed the commit and read again: it answers for the store as it is now
            assert got == refs[-1]
        else:
            # every try saw a commit: the last read was resolve's fallback, one batch that sees one
            # state of the store; the commit that followed it is not in the answer
            assert len(fired) < commits and got == refs[-2], f"{len(fired)} commits"
    finally:
        store.close()
        quiet.close()


# ----- between the parallel reads of one batch (store/sqlite/reader.py) --------------------------------------


def pending_counts(store):
    return store.pending_counts(cc.COPY)


def resolve_copy(store):
    return answer(store.resolve_update(cc.COPY))


# Each batch reads two large things at once, on two reader threads: the feature's stored rows and
# its upstream's (a root's samples given to resolve read one table only, in one read transaction,
# and so cannot mix two commits whatever happens).
READS = {
    "pending_counts": (pending_counts, (cc.COPY,)),  # copy up to date: nothing pending before the commit
    "resolve a written feature": (resolve_copy, (cc.COPY,)),
}
AT_REST = {
    "pending_counts": {"added": 0, "changed": 0, "removed": 0},  # (counts of the answer, before the commit)
    "resolve a written feature": {"added": 0, "changed": 0, "removed": 0},
}
CASES = [(what, 1) for what in READS] + [("resolve a written feature", 40)]


@pytest.mark.parametrize(
    ("what", "commits"),
    CASES,
    ids=[f"{w}, {'one commit' if c == 1 else 'a commit after every part'}" for w, c in CASES],
)
def test_a_commit_between_the_parts_of_one_read_batch_is_never_mixed_in(what, commits, writer, tmp_path, monkeypatch):
    """The batch's large reads (the stored rows, the upstream's) run at once on reader threads,
    each in its own read transaction; a commit lands after the first read (or after every read,
    until the reader gives up on threads and reads in one transaction): it soft-deletes the first
    items and adds as many new ones."""
    read, derived = READS[what]
    graph = cc.build_graph()
    path = tmp_path / "store.db"
    build_store(path, graph, pending=False, derived=derived)
    writer.ask(f"open {path}")
    # every query counts as large: parts of 20 rows, read column by column on the reader's thread
    monkeypatch.setattr(reader_module, "COLUMNAR_MIN_ROWS", 1)
    monkeypatch.setattr(reader_module, "PART_ROWS", 20)
    monkeypatch.setattr(reader_module, "THREADS", 1)  # one thread: the parts are read in order
    quiet = mx.SQLiteMetadataStore(path, graph=graph).open("r")
    store = mx.SQLiteMetadataStore(path, graph=graph)
    store.open("r")
    try:
        refs = [read(quiet)]
        # read in parts at rest, every row is there once
        assert (refs[0] if what == "pending_counts" else {k: len(v) for k, v in refs[0].items()}) == AT_REST[what]
        original = reader_module.Reader._run
        fired, parts = [], []
        depth = threading.local()

        def run(self, q, conn=None, locked=False):
            outer = getattr(depth, "n", 0) == 0
            depth.n = getattr(depth, "n", 0) + 1
            try:
                out = original(self, q, conn, locked)
            finally:
                depth.n -= 1
            # one large read of the batch (a rowid part, or a columnar copy's read with its own
            # statements): counted once, not again for the statements inside it
            large = isinstance(q, reader_module.CopyRead) or hasattr(q, "run") or reader_module.Reader._columnar(q)
            if self is store._reader and outer and large:
                parts.append(threading.current_thread().name)
                if len(fired) < commits:
                    fired.append(1)
                    writer.ask(f"move {len(fired)}")
                    refs.append(read(quiet))
            return out

        monkeypatch.setattr(reader_module.Reader, "_run", run)
        got = read(store)
        monkeypatch.setattr(reader_module.Reader, "_run", original)
        assert fired, "no commit landed inside the reads"
        if (what, commits) != ("resolve a written feature", 1):
            assert sum(name.startswith("metaxy-read") for name in parts) >= 2, (
                f"the batch's reads did not run on reader threads: {parts}"
            )
        # (a written identity feature reads its stored rows, then its upstream's a chunk at a time,
        # compared as read: two batches in a row on the store's connection, not on threads; the
        # write counter around both makes it read again; a commit after every part drives it to
        # the fallback, one batch of parallel reads)
        assert refs[0] != refs[1], "the commit does not change the answer: a mix could not show"
        assert got in refs, (
            f"{what} mixes two commits: got {summary(got)}, before the commit "
            f"{summary(refs[0])}, after it {summary(refs[1])}"
        )
        if commits == 1:
            assert got == refs[1]  # the reader noticed the commit and read again
        else:
            # every try on threads saw a commit: the reader read once more, in one read transaction
            # on the store's connection (resolve's phases may then read again: the answer is whole,
            # one commit's, as asserted above)
            assert "MainThread" in parts, f"the reader never fell back to one transaction: {parts}"
    finally:
        store.close()
        quiet.close()


def summary(answer_or_counts) -> str:
    if isinstance(answer_or_counts, dict) and isinstance(next(iter(answer_or_counts.values())), list):
        return str({k: len(v) for k, v in answer_or_counts.items()})
    return str(answer_or_counts)
