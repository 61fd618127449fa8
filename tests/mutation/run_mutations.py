"""Mutation testing of the engine: do the tests notice a small deliberate bug?

    .venv/bin/python tests/mutation/run_mutations.py                 # every mutation, working tree
    .venv/bin/python tests/mutation/run_mutations.py -k reader -k resolve   # some of them
    .venv/bin/python tests/mutation/run_mutations.py --tests-from 311afc8    # the tests of a commit
    .venv/bin/python tests/mutation/run_mutations.py --list
    .venv/bin/python tests/mutation/run_mutations.py -k store-soft --record-examples   # seed the example database

Not run by CI (it takes 30-50 minutes on two cores). For each mutation in MUTATIONS below (an
operator swapped, an off-by-one, a dropped condition or retry, a sort order reversed, another
join kind ...) it copies the package, the tests and the sample data into a temporary folder,
applies that one change to the copy, runs a fast subset of the engine tests (TESTS) against
the copy with a timeout, and reports the mutation as caught (some test failed, or the run
timed out) or survived (every test passed). A survivor is a bug the suite would let through.

Each mutation is an exact piece of source text and its replacement; when the code has moved
on and the text is no longer there (or is there twice), the mutation is reported as "does
not apply" and left out of the kill rate: update it. The unmutated copy must pass first.
The working tree is never modified: the copy is (except that --record-examples copies the
failing examples found on a mutant into tests/hypothesis-examples, the property tests' example
database, for CI to replay). `--tests-from REV` takes tests/ from a git revision, to compare the
kill rate of older tests on the same code.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# the fast subset of engine tests (paths missing from a revision are skipped)
TESTS = [
    "tests/test_resolve_identity.py",
    "tests/test_resolve_aggregation.py",
    "tests/test_resolve_expansion.py",
    "tests/test_resolve_key_matching.py",
    "tests/test_resolve_multi_deps.py",
    "tests/test_store_write_read_delete.py",
    "tests/test_versions.py",
    "tests/test_definitions.py",
    "tests/test_bad_input.py",
    "tests/test_metaxy_compat.py",
    "tests/test_datetime_columns.py",
    "tests/test_seed_pipeline.py",
    "tests/test_properties.py",
    "tests/test_properties_graphs.py",
    "tests/service/test_review.py",
    "tests/service/test_detail.py",
    "tests/reliability/test_resolve_one_commit.py",
]


@dataclasses.dataclass
class Mutation:
    name: str
    path: str  # under metaxy_tui/
    old: str
    new: str
    what: str


M = Mutation
MUTATIONS = [
    # ----- resolve (store/sqlite/resolve.py, upstream.py, groups.py)
    M(
        "resolve-retry-dropped",
        "store/sqlite/resolve.py",
        "        if store._write_counter() == stamp:\n            return rows.select(",
        "        if True:\n            return rows.select(",
        "a commit between resolve's two phases is not noticed (no retry)",
    ),
    M(
        "resolve-changed-operator",
        "store/sqlite/matching.py",
        ".when(stored != expected.get_column(PROVENANCE))",
        ".when(stored == expected.get_column(PROVENANCE))",
        "changed = same provenance instead of a different one",
    ),
    M(
        "resolve-aggregation-order-reversed",
        "store/sqlite/groups.py",
        "members.sort(list(dict.fromkeys(on + order)), maintain_order=True)",
        "members.sort(list(dict.fromkeys(on + order)), descending=True, maintain_order=True)",
        "an aggregation orders its members by the upstream ids descending",
    ),
    M(
        "resolve-optional-dep-inner-join",
        "store/sqlite/resolve.py",
        '("left" if d.optional else "inner")',
        '("inner" if d.optional else "inner")',
        "an optional dep is inner joined",
    ),
    M(
        "resolve-group-separator",
        "store/sqlite/groups.py",
        'aggs = [pl.col(v).str.join("|")',
        'aggs = [pl.col(v).str.join(",")',
        "an aggregation group's member versions are joined by ',' instead of '|' (SPEC 3)",
    ),
    M(
        "resolve-deleted-rows-current",
        "store/sqlite/upstream.py",
        ' AND {a}{quote(DELETED_AT)} IS NULL"',
        '"',
        "soft-deleted rows count as current rows",
    ),
    M(
        "resolve-missing-optional-value",
        "store/sqlite/resolve.py",
        '.fill_null("")',
        '.fill_null("-")',
        "a value missing from an optional dep hashes as '-' instead of ''",
    ),
    M(
        "resolve-two-phase-removed-dropped",
        "store/sqlite/resolve.py",
        "removed = read_removed(gone.unique(maintain_order=True) if gone is not None and gone.height else None)",
        "removed = read_removed(None)",
        "the two-phase path never reports removed samples",
    ),
    M(
        "resolve-two-phase-changed-dropped",
        "store/sqlite/resolve.py",
        '.filter(pl.col("__state") != UNCHANGED)',
        '.filter(pl.col("__state") == ADDED)',
        "the two-phase path never reports changed samples",
    ),
    M(
        "resolve-by-chunk-changed-dropped",
        "store/sqlite/matching.py",
        ".filter(pl.col(STATE) != UNCHANGED)",
        ".filter(pl.col(STATE) == ADDED)",
        "identity and expansion resolves, compared a chunk at a time, never report changed samples",
    ),
    M(
        "resolve-by-chunk-removed-forgotten",
        "store/sqlite/matching.py",
        "        self.seen.append(ri)\n",
        "        self.seen = [ri]\n",
        "a current key matched by an earlier chunk only is reported removed",
    ),
    M(
        "resolve-expansion-mixed-children",
        "store/sqlite/upstream.py",
        ".otherwise(pl.lit(mixed))",
        ".otherwise(pl.col(PROVENANCE).first())",
        "an expansion's children that disagree count as up to date",
    ),
    M(
        "resolve-row-provenance-field-order",
        "store/sqlite/resolve.py",
        "    fields = sorted(field_hashes)\n",
        "    fields = list(field_hashes)\n",
        "a derived row's provenance joins its field hashes in declared, not sorted, order",
    ),
    # ----- store/sqlite/reader.py
    M(
        "reader-retry-dropped",
        "store/sqlite/reader.py",
        "                if self._write_counter() == before:\n                    return out",
        "                return out",
        "threaded reads that saw two commits are returned as they are",
    ),
    M(
        "reader-fallback-no-transaction",
        "store/sqlite/reader.py",
        '            if not own:\n                self._conn.execute("BEGIN")',
        '            if False:\n                self._conn.execute("BEGIN")',
        "the last-resort reads run without a read transaction",
    ),
    M(
        "reader-part-bound-off-by-one",
        "store/sqlite/reader.py",
        "AND rowid > ? AND rowid <= ?",
        "AND rowid > ? AND rowid < ?",
        "the last row of each rowid part is lost",
    ),
    # ----- store/sqlite/write.py
    M(
        "write-no-supersede",
        "store/sqlite/write.py",
        'latest_m = f"m.{quote(FV)} = ? AND m.{quote(SUPERSEDED)} IS NULL"',
        'latest_m = f"m.{quote(FV)} = ? AND m.{quote(SUPERSEDED)} IS NOT NULL"',
        "a rewritten id's earlier row is not superseded",
    ),
    M(
        "write-created-at-reset",
        "store/sqlite/write.py",
        "SET {quote(CREATED_AT)} = m.{quote(CREATED_AT)}",
        "SET {quote(CREATED_AT)} = s.{quote(CREATED_AT)}",
        "a rewritten id loses the time it was first stored",
    ),
    M(
        "write-data-version-inverted",
        "store/payload.py",
        "pl.when(dv != pv).then(dv).otherwise(None)",
        "pl.when(dv == pv).then(dv).otherwise(None)",
        "a data version that differs from the provenance is not stored",
    ),
    # ----- writing and deleting (store/sqlite/store.py, connection.py, deletes.py; store/validate.py)
    M(
        "store-error-commits",
        "store/sqlite/connection.py",
        '            except BaseException:\n                conn.execute("ROLLBACK")\n                raise\n'
        '            conn.execute("COMMIT")',
        '            except BaseException:\n                conn.execute("COMMIT")\n                raise\n'
        '            conn.execute("COMMIT")',
        "a write that fails half-way commits what it did",
    ),
    M(
        "store-hard-delete-count",
        "store/sqlite/deletes.py",
        'f"SELECT count(*) FROM {t} WHERE {live} AND {cond}"',
        'f"SELECT count(*) FROM {t} WHERE {cond}"',
        "a hard delete counts history rows as samples",
    ),
    M(
        "store-root-provenance-trusted",
        "store/validate.py",
        "    if has_pbf:  # as Metaxy: the row's provenance always follows the struct\n",
        "    if False:\n",
        "resolve_update keeps a root sample's given metaxy_provenance instead of recomputing it",
    ),
    M(
        "store-soft-delete-twice",
        "store/sqlite/deletes.py",
        '{quote(_schema.SUPERSEDED)} IS NULL AND {quote(DELETED_AT)} IS NULL"',
        '{quote(_schema.SUPERSEDED)} IS NULL"',
        "soft-deleting a deleted sample deletes it again",
    ),
    # ----- store/validate.py
    M(
        "validate-duplicates-ignored",
        "store/validate.py",
        "    if not dup.any():\n        return False",
        "    if True:\n        return False",
        "duplicate ids in one write are not reported",
    ),
    M(
        "validate-int-overflow-boundary",
        "store/validate.py",
        "big = ((fs >= float(2**63))",
        "big = ((fs > float(2**63))",
        "2**63 as a float passes as an integer",
    ),
    M(
        "validate-null-required-column",
        "store/validate.py",
        "if (is_id or not t.nullable) and nulls.any():",
        "if (is_id and not t.nullable) and nulls.any():",
        "a null in a non-Optional user column is accepted",
    ),
    # ----- graph_build.py
    M(
        "graph-parent-order",
        "graph_build.py",
        'unique = sorted(set(parents), key=lambda p: f"{p[0]}.{p[1]}")',
        'unique = sorted(set(parents), key=lambda p: f"{p[1]}.{p[0]}")',
        "a field's parents are sorted by field, then feature",
    ),
    M(
        "graph-feature-version-unsorted",
        "graph_build.py",
        '"".join(k + field_versions[k] for k in sorted(field_versions))',
        '"".join(k + field_versions[k] for k in field_versions)',
        "the feature version joins fields in declared order",
    ),
    M(
        "graph-cycle-undetected",
        "graph_build.py",
        "        if state.get(name) == 1:\n",
        "        if state.get(name) == 3:\n",
        "a dependency cycle is not detected",
    ),
    M(
        "graph-optional-deps-first",
        "graph_build.py",
        "deps.sort(key=lambda x: x.optional)",
        "deps.sort(key=lambda x: not x.optional)",
        "optional deps are joined first",
    ),
    M(
        "graph-aggregation-default-on",
        "graph_build.py",
        "on = lineage.on if lineage.on is not None else owner.id_columns",
        "on = lineage.on if lineage.on is not None else ids",
        "an aggregation without `on` groups by the upstream's ids",
    ),
    M(
        "graph-collision-unchecked",
        "graph_build.py",
        "if c in cols_seen and c not in shared_key:",
        "if c in cols_seen and c not in shared_key and False:",
        "colliding user columns of two deps are not refused",
    ),
    # ----- hashing.py
    M(
        "hashing-scalar-truncation-off-by-one",
        "hashing.py",
        "return out[: self.truncation] if self.truncation else out",
        "return out[: self.truncation - 1] if self.truncation else out",
        "the scalar hash cuts one character too many",
    ),
    M(
        "hashing-xxhash32-is-64",
        "hashing.py",
        "        out = plugin.nchash.xxhash32().cast(pl.String)",
        "        out = plugin.nchash.xxhash64().cast(pl.String)",
        "the vectorised xxhash32 computes xxhash64",
    ),
    M(
        "hashing-separator",
        "hashing.py",
        'pl.concat_str(parts, separator="|")',
        'pl.concat_str(parts, separator=",")',
        "provenance parts joined with ',' instead of '|'",
    ),
    # ----- explain/
    M(
        "explain-as-of-off-by-one",
        "explain/changes.py",
        "(pl.col(THEN_WRITE) <= pl.col(AS_OF))",
        "(pl.col(THEN_WRITE) < pl.col(AS_OF))",
        "the upstream as of a write leaves out that write's rows",
    ),
    M(
        "explain-aggregation-words",
        "explain/changes.py",
        '("members " if aggregation else "")',
        '("members " if not aggregation else "")',
        "an aggregation's change group does not say 'members'",
    ),
    M(
        "explain-moved-fields-inverted",
        "explain/changes.py",
        'moved = {f: pl.col(f"__v:{f}").ne_missing(',
        'moved = {f: pl.col(f"__v:{f}").eq_missing(',
        "an upstream sample's unchanged fields are named as the ones that moved",
    ),
    # ----- spec.py
    M(
        "spec-duplicate-id-columns",
        "spec.py",
        "if len(set(id_columns)) != len(id_columns):",
        "if len(set(id_columns)) != len(set(id_columns)):",
        "id_columns listing a column twice is accepted",
    ),
    M(
        "spec-field-clash-case",
        "spec.py",
        "other = seen.get(f.key.struct_name.lower())",
        "other = seen.get(f.key.struct_name)",
        "fields differing only in case are accepted",
    ),
    M(
        "spec-duplicate-deps",
        "spec.py",
        "if len(set(dep_keys)) != len(dep_keys):",
        "if len(set(dep_keys)) != len(set(dep_keys)):",
        "a feature listed twice in deps is accepted",
    ),
    # ----- frames.py
    M(
        "frames-counts-rows",
        "frames.py",
        "        return df.select(self.key).n_unique()",
        "        return df.height",
        "Increment.counts counts rows (members, children), not samples",
    ),
    M(
        "frames-is-empty-ignores-removed",
        "frames.py",
        "return not (len(self.added) or len(self.changed) or len(self.removed))",
        "return not (len(self.added) or len(self.changed))",
        "an increment with only removed samples is empty",
    ),
]


# ----- running -------------------------------------------------------------------------------------


def copy_tree(workdir: Path, tests_from: str | None) -> None:
    ignore = shutil.ignore_patterns(
        "__pycache__", "*.pyc", ".hypothesis", "__snapshots__", "*.db", "*.db-wal", "*.db-shm"
    )
    for name in ("metaxy_tui", "sample_data"):
        shutil.copytree(ROOT / name, workdir / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", workdir / "pyproject.toml")
    if tests_from is None:
        shutil.copytree(ROOT / "tests", workdir / "tests", ignore=ignore)
    else:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", tests_from, "tests"], check=True, capture_output=True, timeout=120
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive, check=True, timeout=120)
        shutil.rmtree(workdir / "tests" / "tui" / "__snapshots__", ignore_errors=True)


PROPERTY_TESTS = ["tests/test_properties.py", "tests/test_properties_graphs.py"]
EXAMPLES = "tests/hypothesis-examples"


def record_examples(workdir: Path, timeout: float) -> tuple[tuple[str, float, str], list[str]]:
    """Run the property tests on the mutated copy with CI's seeds, saving failing examples into the
    copy's example database; copy the new entries into this checkout's. Returns the run's outcome
    and the new entries' paths."""
    db = workdir / EXAMPLES
    before = {p for p in db.rglob("*") if p.is_file()}
    outcome = run_tests(workdir, PROPERTY_TESTS, timeout, profile="record", stop_at_first=False)
    new = sorted(p for p in db.rglob("*") if p.is_file() and p not in before)
    for p in new:
        target = ROOT / p.relative_to(workdir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, target)
    return outcome, [str(p.relative_to(workdir)) for p in new]


def run_tests(
    workdir: Path, tests: list[str], timeout: float, profile: str = "ci", stop_at_first: bool = True
) -> tuple[str, float, str]:
    """('passed' | 'failed' | 'timeout' | 'error', seconds, the tail of the output)."""
    env = dict(os.environ, PYTHONPATH=str(workdir), PYTHONDONTWRITEBYTECODE="1", HYPOTHESIS_PROFILE=profile)
    env.pop("HYPOTHESIS_MAX", None)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *(["-x"] if stop_at_first else []),
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-header",
        *tests,
    ]
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return "timeout", time.monotonic() - start, out[-1500:]
    took = time.monotonic() - start
    tail = (p.stdout + p.stderr)[-1500:]
    if p.returncode == 0:
        return "passed", took, tail
    if p.returncode == 1:
        return "failed", took, tail
    return "error", took, tail


def first_failure(tail: str) -> str:
    for line in tail.splitlines():
        if line.startswith(("FAILED", "ERROR")):
            return line.split(" - ")[0][:110]
    return tail.strip().splitlines()[-1][:110] if tail.strip() else ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-k", action="append", default=[], help="only mutations whose name contains this (repeatable)")
    p.add_argument("--tests-from", default=None, help="take tests/ from this git revision (default: working tree)")
    p.add_argument("--timeout", type=float, default=600, help="seconds per test run (default 600)")
    p.add_argument("--list", action="store_true", help="list the mutations and exit")
    p.add_argument(
        "--record-examples",
        action="store_true",
        help="run only the property tests on each mutant, with CI's seeds, and keep the failing "
        f"examples they find in {EXAMPLES} (commit them: CI replays them first)",
    )
    args = p.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.k or any(k in m.name for k in args.k)]
    if args.list:
        for m in chosen:
            print(f"{m.name:40s} metaxy_tui/{m.path:22s} {m.what}")
        return 0
    with tempfile.TemporaryDirectory(prefix="metaxy-mutants-") as tmp:
        workdir = Path(tmp)
        copy_tree(workdir, args.tests_from)
        tests = [t for t in TESTS if (workdir / t).exists()]
        print(
            f"tests ({'working tree' if args.tests_from is None else args.tests_from}): {len(tests)} files; "
            f"skipped (absent): {[t for t in TESTS if t not in tests]}",
            flush=True,
        )
        status, took, tail = run_tests(workdir, tests, args.timeout)
        if status != "passed":
            print(f"the unmutated copy does not pass ({status}, {took:.0f} s):\n{tail}")
            return 2
        print(f"unmutated: passed in {took:.0f} s", flush=True)
        results = []
        for m in chosen:
            target = workdir / "metaxy_tui" / m.path
            source = target.read_text()
            if source.count(m.old) != 1:
                results.append((m, "does not apply", 0.0, f"text found {source.count(m.old)} times"))
                print(f"{'does not apply':15s} {m.name}: text found {source.count(m.old)} times", flush=True)
                continue
            target.write_text(source.replace(m.old, m.new))
            kept = None
            try:
                if args.record_examples:
                    (status, took, tail), kept = record_examples(workdir, args.timeout)
                else:
                    status, took, tail = run_tests(workdir, tests, args.timeout)
            finally:
                target.write_text(source)
            verdict = {"failed": "caught", "timeout": "caught (timeout)", "passed": "SURVIVED"}.get(status, "error")
            detail = first_failure(tail) if status != "passed" else m.what
            results.append((m, verdict, took, detail))
            print(
                f"{verdict:15s} {m.name} ({took:.0f} s): {detail}"
                + (f"; examples kept: {len(kept)}" if kept is not None else ""),
                flush=True,
            )
    applied = [r for r in results if r[1] not in ("does not apply", "error")]
    caught = [r for r in applied if r[1].startswith("caught")]
    print(
        f"\nkill rate: {len(caught)} of {len(applied)} mutations caught"
        + (f" ({100 * len(caught) / len(applied):.0f}%)" if applied else "")
    )
    survived = [r for r in applied if r[1] == "SURVIVED"]
    if survived:
        print("survived:")
        for m, _v, _t, _d in survived:
            print(f"  {m.name:40s} {m.what}")
    skipped = [r for r in results if r[1] in ("does not apply", "error")]
    if skipped:
        print("not counted: " + ", ".join(f"{m.name} ({v})" for m, v, _t, _d in skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
