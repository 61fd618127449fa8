"""The driver's printing: a case's runs summarised, the results table, the summaries against the
targets, and the counts that disagree with the data.
"""

import statistics

from .cases import (
    EXPLAIN_CASES,
    EXPLAIN_TARGET,
    ENGINE_TITLE,
    GROUP_SIZE,
    LINEAR_TARGET,
    MEMORY_TARGET,
    PG_MEMORY_TARGET,
    PG_TIME_TARGET,
    REVIEW_CASES,
    REVIEW_TARGET,
    TARGET_ROWS,
    TIME_TARGET,
)


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
