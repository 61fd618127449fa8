"""The benchmark's cases, its engines, the targets it judges against, and the data every engine reads.

Imports only the standard library at the top (the package's docstring says why).
"""

import os

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
