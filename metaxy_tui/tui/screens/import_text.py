"""What the import screen says about a plan: the help before a file is chosen, the preview's
title, the counts under it and the question asked before writing. Text only: no widget, no state."""

from __future__ import annotations

from rich.text import Text

from ...service.importer import PREVIEW_ROWS, ImportPlan

EMPTY_HELP = "\n\n".join(
    [
        "Choose a file to import: type its path above and press enter (the right arrow accepts a suggestion), "
        "or press ctrl+o to browse. CSV, TSV, Parquet, JSON (an array of objects) and NDJSON files are read.",
        "Columns map to the feature's columns of the same name (case does not matter); `provenance_<field>` and "
        "`metaxy_provenance_by_field[.<field>]` columns give each sample's provenance. Without one, provenance is "
        "a hash of the row's values, or of the file a path column names. Put the cursor on a column of the "
        "preview and press m to map it.",
        "Nothing is written until you press Import and confirm.",
    ]
)


def plan_title(plan: ImportPlan) -> Text:
    """The preview's title: the file, its rows and columns, the feature, where provenance comes from."""
    text = Text()
    text.append(plan.source_name, style="bold")
    n_cols = len(plan.columns)
    text.append(f" · {plan.rows:,} row{'s' if plan.rows != 1 else ''} · {n_cols} column{'s' if n_cols != 1 else ''} → ")
    text.append(plan.feature, style="bold")
    if plan.columns:
        text.append(f" · provenance: {plan.provenance}", style="dim")
    if plan.rows > len(plan.preview_rows):
        text.append(
            f" · the first {PREVIEW_ROWS} rows" + (" and the rows with problems" if plan.problems else ""),
            style="dim",
        )
    return text


def counts_text(plan: ImportPlan, writable: bool) -> Text:
    """A plan without problems: what applying it writes, what it keeps, and why nothing may be written."""
    text = Text()
    for i, (label, n) in enumerate(
        [("added", plan.added), ("changed", plan.changed), ("unchanged", plan.unchanged)]
        + ([("removed", plan.removed)] if plan.full_set else [])
    ):
        if i:
            text.append(" · ")
        text.append(
            f"{n:,} {label}",
            style={"added": "green", "changed": "yellow", "removed": "red"}.get(label, "") if n else "dim",
        )
    note = plan.absent_note()
    if note:
        text.append(f"   {note}", style="dim")
    if not plan.will_write:
        text.append("   nothing to write: every row is stored as it is", style="dim")
    if not writable:
        text.append("   the store is open read-only", style="bold red")
    return text


def confirm_question(plan: ImportPlan) -> Text:
    """The question asked before writing: how many samples, into which feature, what is soft-deleted."""
    q = Text("Write ")
    q.append(f"{plan.added:,} added", style="bold green")
    q.append(" and ")
    q.append(f"{plan.changed:,} changed", style="bold yellow")
    q.append(" samples into ")
    q.append(plan.feature, style="bold")
    if plan.removed:
        q.append(", and soft-delete ")
        q.append(f"{plan.removed:,}", style="bold red")
        q.append(" stored samples the file lacks")
    q.append("? All or nothing.")
    return q
