"""Columns that come from the data rather than the class: recorded by the store.

Metaxy stores whatever columns a frame carries (SPEC 1). Here the first write that carries a
column the class does not annotate adds it to the feature's table, typed from the frame's
dtype, and records that type in `_metaxy_columns` so that every later read and write of any
feature version agrees on it. An id column the class does not annotate is typed the same way.
Definitions handed out by the store are the code's, overlaid with these recorded columns
(`overlay`), so reads, resolves and increments carry them like annotated columns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

import polars as pl

from ...columns import SYSTEM_COLUMNS, ColumnType, column_type_of_dtype
from ...definition import FeatureDefinition
from ...errors import DefinitionError, InputError, InputProblem
from ...graph import FeatureGraph, FeaturePlan
from ...keys import validate_column_name

TABLE = "_metaxy_columns"
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    feature_key TEXT NOT NULL,
    column_name TEXT NOT NULL,
    type TEXT NOT NULL,
    nullable INTEGER NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (feature_key, column_name))"""

Recorded = dict[str, dict[str, ColumnType]]  # feature key -> column -> type


def exists(conn: sqlite3.Connection) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone() is not None
    )


def stamp(conn: sqlite3.Connection) -> int:
    """Changes whenever a column is recorded (rows are never removed)."""
    n: int = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    return n


def read_all(conn: sqlite3.Connection) -> Recorded:
    out: Recorded = {}
    for key, col, t, nullable in conn.execute(
        f"SELECT feature_key, column_name, type, nullable FROM {TABLE} ORDER BY rowid"
    ):
        out.setdefault(key, {})[col] = ColumnType(t, bool(nullable), declared=False)
    return out


def record(conn: sqlite3.Connection, feature: str, columns: Mapping[str, ColumnType], now: int) -> None:
    """Record new columns inside the write's transaction; a column another writer typed otherwise
    since this write was planned is refused."""
    placeholders = ", ".join("?" * len(columns))
    for col, t in conn.execute(
        f"SELECT column_name, type FROM {TABLE} WHERE feature_key = ? AND column_name IN ({placeholders})",
        (feature, *columns),
    ).fetchall():
        if t != columns[col].name:
            raise InputError(
                feature,
                [
                    InputProblem(
                        f"is stored as {t} (typed by an earlier write), this frame holds {columns[col].name}", col
                    )
                ],
            )
    conn.executemany(
        f"INSERT OR IGNORE INTO {TABLE} (feature_key, column_name, type, nullable, added_at) VALUES (?, ?, ?, ?, ?)",
        [(feature, c, t.name, int(t.nullable), now) for c, t in columns.items()],
    )


def overlay(graph: FeatureGraph, recorded: Recorded) -> FeatureGraph:
    """The graph with each feature's recorded columns added (annotations always win)."""
    if not any(k in graph for k in recorded):
        return graph
    defs = []
    for key in graph.keys:
        d = graph.definition(key)
        extra = recorded.get(key)
        defs.append(d.with_columns(extra) if extra else d)
    out = FeatureGraph.from_definitions(defs)
    out.computes = graph.computes
    return out


def member_columns(plan: FeaturePlan) -> set[str]:
    """Columns an aggregation's increment carries per member (the upstream's, not the group's)."""
    out: set[str] = set()
    for d in plan.deps:
        if d.kind == "aggregation":
            out |= {c for c in d.columns if c not in d.on}
    return out


def columns_for_frame(
    plan: FeaturePlan, frame: pl.DataFrame, recorded: Iterable[str]
) -> tuple[FeatureDefinition, dict[str, ColumnType], list[str]]:
    """(the definition this frame is validated with, columns to record, frame columns to drop).

    New columns take the frame's dtype; an id column the class does not annotate and the
    store has not typed yet does too. A derived aggregation's member columns are dropped
    unless annotated: they describe the members, not the group. An all-null column of no
    type is dropped until a write gives it one (its rows read back null either way).
    """
    definition = plan.definition
    feature = plan.name
    problems: list[InputProblem] = []
    new: dict[str, ColumnType] = {}
    drop: list[str] = []
    members = member_columns(plan)
    typed = set(recorded) | (set() if plan.is_root else set(plan.key))
    lowered = {c.lower(): c for c in definition.columns}
    for col in frame.columns:
        if col in SYSTEM_COLUMNS:
            continue
        known = definition.columns.get(col)
        dtype = frame.schema[col]
        if known is not None:
            if not known.declared and col in definition.id_columns and col not in typed and dtype != pl.Null:
                name = column_type_of_dtype(dtype)
                if name is None:
                    problems.append(
                        InputProblem(
                            f"id column of type {dtype} cannot be stored (supported: str, "
                            "int, float, bool, datetime, date, bytes)",
                            col,
                        )
                    )
                else:  # recorded even when it is text: later writes must agree with this one
                    new[col] = ColumnType(name, False, declared=False)
            continue
        if col in members:
            drop.append(col)
            continue
        try:
            validate_column_name(col, feature)
        except DefinitionError as e:
            reserved = col.lower().startswith(("metaxy_", "_mx"))
            problems.append(
                InputProblem(
                    "collides with a system column name (metaxy_* and _mx* are reserved)" if reserved else e.problem,
                    col,
                )
            )
            continue
        if col.lower() in lowered:
            problems.append(
                InputProblem(
                    f"differs only in case from column {lowered[col.lower()]!r} (SQLite column names ignore case)", col
                )
            )
            continue
        if dtype == pl.Null:
            drop.append(col)
            continue
        name = column_type_of_dtype(dtype)
        if name is None:
            problems.append(
                InputProblem(
                    f"column of type {dtype} cannot be stored (supported: str, int, float, "
                    "bool, datetime, date, bytes; annotate or convert it)",
                    col,
                )
            )
            continue
        new[col] = ColumnType(name, True, declared=False)
        lowered[col.lower()] = col
    if problems:
        raise InputError(feature, problems)
    return (definition.with_columns(new) if new else definition), new, drop


def undeclared(definition: FeatureDefinition, columns: Iterable[str]) -> list[str]:
    return [c for c in columns if c not in definition.columns and c not in SYSTEM_COLUMNS]
