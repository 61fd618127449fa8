"""Metaxy pipelines run under metaxy-tui compute what Metaxy 0.1.11 computes.

Each script in tests/compat/pipelines/ is run step by step under metaxy-tui (a subprocess
of this interpreter, SQLite store with the compatibility hash settings) and what it
reports is compared with what the same script reported under Metaxy 0.1.11 itself
(tests/compat/fixtures/, recorded by ``python tests/compat/harness.py --record
--metaxy-python PY``; Metaxy is not needed here).

Compared exactly (as JSON, so 1 and 1.0 or "1" differ): per resolve the counts and, per
frame, the rows' ids, extra columns, ``metaxy_provenance``, ``metaxy_provenance_by_field``
and data versions where the script reports them; per read every reported column and row.
Feature versions are compared by which features' versions moved from one run to the next.

Where metaxy-tui differs from Metaxy 0.1.11 on purpose, the difference is listed in
DIFFERENCES with the SPEC section that asks for it, and applied to Metaxy's records before
comparing; a listed difference that no longer shows in the fixtures is an error too.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

HERE = Path(__file__).resolve().parent


def _load_harness():
    spec = importlib.util.spec_from_file_location("compat_harness", HERE / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


harness = _load_harness()
NAMES = harness.pipelines()
CASES = [(name, step) for name in NAMES for step in range(1, harness.steps_of(name) + 1)]

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- differences
Record = dict[str, Any]


@dataclass(frozen=True)
class Difference:
    """A deliberate difference from Metaxy 0.1.11: how the SPEC'd record follows from Metaxy's."""

    pipeline: str
    step: int
    label: str
    spec: str
    why: str
    applies: Callable[[Record], bool]
    expect: Callable[[Record], Record]


def _empty_resolve(rec: Record) -> Record:
    return {
        "kind": "resolve",
        "feature": rec["feature"],
        "label": rec["label"],
        "step": rec["step"],
        "counts": {"new": 0, "stale": 0, "orphaned": 0},
        "frames": {"new": [], "stale": [], "orphaned": []},
    }


def _without_rows(drop: Callable[[dict], bool]) -> Callable[[Record], Record]:
    def expect(rec: Record) -> Record:
        rec = copy.deepcopy(rec)
        for name, rows in rec["frames"].items():
            rec["frames"][name] = [r for r in rows if not drop(r)]
            rec["counts"][name] = len(rec["frames"][name])
        return rec

    return expect


def _has_null_speaker(rec: Record) -> bool:
    return rec["kind"] == "resolve" and any(
        r.get("speaker_id") is None for rows in rec["frames"].values() for r in rows
    )


DIFFERENCES = [
    Difference(
        "p01_identity",
        1,
        "transcript before any recording",
        spec="SPEC 4",
        why="a derived feature whose upstream has never been written resolves to an empty increment; "
        "Metaxy 0.1.11 raises FeatureNotFoundError",
        applies=lambda rec: rec["kind"] == "error" and rec["error"] == "FeatureNotFoundError",
        expect=_empty_resolve,
    ),
    Difference(
        "p02_aggregation",
        7,
        "resolve speaker/embedding",
        spec="SPEC 3",
        why="aggregation members whose `on` value is null belong to no group and are left out; "
        "Metaxy 0.1.11 puts them in a group of their own with a null key",
        applies=_has_null_speaker,
        expect=_without_rows(lambda row: row.get("speaker_id") is None),
    ),
]


def expected_records(name: str, step: int, records: list[Record]) -> list[Record]:
    """Metaxy 0.1.11's records of one step with the listed differences applied."""
    out = []
    for rec in records:
        for diff in DIFFERENCES:
            if (diff.pipeline, diff.step, diff.label) == (name, step, rec["label"]):
                assert diff.applies(rec), (
                    f"{diff.spec} difference listed for {name} step {step} '{diff.label}' does not show in the "
                    f"fixture any more: re-check DIFFERENCES ({diff.why})"
                )
                rec = diff.expect(rec)
        out.append(rec)
    return out


# --------------------------------------------------------------------------- running
@pytest.fixture(scope="module")
def runs(request):
    """Every selected pipeline run under metaxy-tui, two at a time (futures, by name)."""
    wanted = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and item.module is request.module and "name" in callspec.params:
            if callspec.params["name"] not in wanted:
                wanted.append(callspec.params["name"])
    pool = ThreadPoolExecutor(max_workers=2)
    futures: dict[str, Future] = {
        n: pool.submit(harness.run_pipeline, n, "metaxy-tui", sys.executable, 90.0) for n in wanted
    }
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _compare(name: str, step: int, want: list[Record], got: list[Record]) -> list[str]:
    """Every way `got` differs from `want`, as readable lines."""
    problems = []
    labels_want = [(r["kind"], r["label"]) for r in want]
    labels_got = [(r["kind"], r["label"]) for r in got]
    if labels_want != labels_got:
        problems.append(f"records differ: Metaxy {labels_want}\n    metaxy-tui {labels_got}")
    got_by = {}
    for r in got:
        got_by.setdefault((r["kind"], r["label"]), []).append(r)
    seen: dict[tuple, int] = {}
    for w in want:
        key = (w["kind"], w["label"])
        i = seen.get(key, 0)
        seen[key] = i + 1
        if key[0] == "versions":
            continue  # compared across steps in test_versions_move_together
        g = got_by.get(key, [])
        if i >= len(g):
            continue  # already reported as a missing record
        problems += [f"{w['label']}: {p}" for p in _compare_record(w, g[i])]
    return problems


def _compare_record(want: Record, got: Record) -> list[str]:
    problems = []
    if want["kind"] == "resolve":
        if _canon(want["counts"]) != _canon(got["counts"]):
            problems.append(f"counts: Metaxy {want['counts']}, metaxy-tui {got['counts']}")
        for frame in ("new", "stale", "orphaned"):
            problems += _compare_rows(frame, want["frames"][frame], got["frames"][frame])
    elif want["kind"] == "read":
        if want["columns"] != got["columns"]:
            problems.append(f"columns: Metaxy {want['columns']}, metaxy-tui {got['columns']}")
        problems += _compare_rows("rows", want["rows"], got["rows"])
    elif _canon(want) != _canon(got):
        problems.append(f"Metaxy {want}, metaxy-tui {got}")
    return problems


def _compare_rows(what: str, want: list[dict], got: list[dict]) -> list[str]:
    if _canon(want) == _canon(got):
        return []
    lines = [f"{what}: {len(want)} rows from Metaxy, {len(got)} from metaxy-tui"]
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else None
        g = got[i] if i < len(got) else None
        if _canon(w) != _canon(g):
            if w is not None and g is not None:
                cols = sorted(set(w) | set(g))
                diff = {
                    c: (w.get(c, "<none>"), g.get(c, "<none>"))
                    for c in cols
                    if _canon(w.get(c)) != _canon(g.get(c)) or (c in w) != (c in g)
                }
                lines.append(f"    row {i}: (Metaxy, metaxy-tui) {diff}")
            else:
                lines.append(f"    row {i}: Metaxy {w}\n              metaxy-tui {g}")
            if len(lines) > 8:
                lines.append("    ...")
                break
    return lines


def _result(runs, name: str) -> dict:
    return runs[name].result()


# --------------------------------------------------------------------------- tests
def test_every_pipeline_has_a_fixture():
    assert len(NAMES) >= 6
    for name in NAMES:
        fixture = harness.load_fixture(name)
        assert fixture["metaxy_version"] == "0.1.11", name
        assert [s["step"] for s in fixture["steps"]] == list(range(1, harness.steps_of(name) + 1)), (
            f"{name}: the fixture's runs do not match STEPS; re-record it"
        )


def test_scripts_change_only_their_import_to_run_under_metaxy():
    """The harness's conversion touches only lines naming metaxy_tui, and those only there."""
    for name in NAMES:
        source = (harness.PIPELINES / f"{name}.py").read_text()
        converted = harness.as_metaxy(source)
        for before, after in zip(source.splitlines(), converted.splitlines()):
            if before != after:
                assert "metaxy_tui" in before and before.replace("metaxy_tui", "metaxy") == after
        assert re.search(r"^import metaxy_tui as mx$", source, re.M), name
        assert not re.search(r"^\s*(import|from)\s+metaxy\b(?!_tui)", source, re.M), name
    helper = (harness.PIPELINES / harness.HELPER).read_text()
    assert not re.search(r"^\s*(import|from)\s+metaxy", helper, re.M)


@pytest.mark.parametrize(("name", "step"), CASES, ids=[f"{n}-step{s}" for n, s in CASES])
def test_step_matches_metaxy(runs, name, step):
    result = _result(runs, name)
    steps = {s["step"]: s for s in result["steps"]}
    fixture = {s["step"]: s["records"] for s in harness.load_fixture(name)["steps"]}
    if step not in steps:
        failed = result["steps"][-1]
        pytest.fail(f"{name}: step {failed['step']} failed before this one:\n{failed['stderr']}")
    ran = steps[step]
    want = expected_records(name, step, fixture[step])
    problems = _compare(name, step, want, ran["records"])
    if ran["returncode"] != 0:
        problems.insert(0, f"exit status {ran['returncode']}:\n{ran['stderr']}")
    assert not problems, f"{name} step {step}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(
    "name",
    [n for n in NAMES if any(r["kind"] == "versions" for s in harness.load_fixture(n)["steps"] for r in s["records"])],
)
def test_versions_move_together(runs, name):
    """The same features' versions change from run to run as under Metaxy.

    SPEC 2: versions are carried untruncated (64 hex characters) and each is hashed from
    full parent versions; Metaxy 0.1.11 hashes truncated ones, so not even the first 8
    characters agree (the seed's `audio` is c9762705 here, 3dac67c8 in 0.1.11). What must
    agree is which definition changes move which versions.
    """

    def moves(steps: list[dict]) -> list[dict]:
        out, before = [], None
        for s in steps:
            now = next((r["versions"] for r in s["records"] if r["kind"] == "versions"), None)
            if now is not None and before is not None:
                out.append({"step": s["step"], "moved": sorted(k for k in now if now[k] != before.get(k))})
            before = now if now is not None else before
        return out

    result = _result(runs, name)
    fixture_steps = harness.load_fixture(name)["steps"]
    got_steps = result["steps"]
    for s in got_steps:
        for r in s["records"]:
            if r["kind"] == "versions":
                assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in r["versions"].values()), r
    n = len(got_steps)
    assert moves(got_steps) == moves(fixture_steps[:n])
    assert n == len(fixture_steps), f"{name} stopped at step {got_steps[-1]['step']}: {got_steps[-1]['stderr']}"


def test_comparison_is_strict():
    """The comparison tells 1 from 1.0 and "1", a missing column from a null, and row counts apart."""
    base = {
        "kind": "resolve",
        "label": "r",
        "feature": "f",
        "step": 1,
        "counts": {"new": 1, "stale": 0, "orphaned": 0},
        "frames": {"new": [{"id": 1, "metaxy_provenance": "123"}], "stale": [], "orphaned": []},
    }
    assert _compare("x", 1, [base], [copy.deepcopy(base)]) == []
    for changed in (
        {"id": 1.0, "metaxy_provenance": "123"},
        {"id": "1", "metaxy_provenance": "123"},
        {"id": 1, "metaxy_provenance": None},
        {"id": 1},
        {"id": 1, "metaxy_provenance": "123", "x": None},
    ):
        other = copy.deepcopy(base)
        other["frames"]["new"] = [changed]
        assert _compare("x", 1, [base], [other]), changed
    other = copy.deepcopy(base)
    other["counts"]["new"] = 2
    assert _compare("x", 1, [base], [other])
    assert _compare("x", 1, [base], [])
