"""`metaxy-tui bench`: a tiny run without Metaxy, and the exit status when counts disagree."""

from __future__ import annotations

import pytest

from metaxy_tui import bench
from tests.cli.helpers import mx


def test_a_tiny_bench_runs_and_the_counts_agree(tmp_path):
    p = mx(
        tmp_path,
        "bench",
        "--rows",
        "200",
        "--runs",
        "1",
        "--no-metaxy",
        "--cases",
        "identity-new",
        "aggregation-stale",
        "--workdir",
        str(tmp_path / "work"),
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "counts: every engine agrees with the data in every case" in p.stdout
    assert "identity-new" in p.stdout and "aggregation-stale" in p.stdout
    assert "| identity-new | 200 |" in p.stdout  # the summary table


def test_counts_that_disagree_are_named_and_fail_the_run(tmp_path, monkeypatch):
    real = bench.expected_counts

    def off_by_one(n, family, stage):
        want = real(n, family, stage)
        return want | {"added": want["added"] + 1}

    monkeypatch.setattr(bench, "expected_counts", off_by_one)
    code = bench.main(
        ["--rows", "100", "--runs", "1", "--no-metaxy", "--cases", "identity-new", "--workdir", str(tmp_path / "work")]
    )
    assert code == 1


def test_mismatches_name_the_engine_and_case():
    results = {("delta", "identity-new", 100): {"median": 1.0, "counts": {"added": 99, "changed": 0}}}
    expected = {("identity-new", 100): {"added": 100, "changed": 0}}
    assert bench.count_mismatches(results, expected) == [
        "Metaxy Delta identity-new at 100 rows: added 99 (expected 100)"
    ]


@pytest.mark.parametrize("argv", [["--runs", "0"], ["--rows", "5"]])
def test_bad_options_are_usage_errors(argv):
    with pytest.raises(SystemExit) as e:
        bench.parse_args(argv)
    assert e.value.code == 2
