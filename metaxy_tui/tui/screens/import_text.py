"""What the import screen says: the help before a file is chosen, the preview's titles, the counts
and the summary above the Import button, the question asked before writing and the notes after a
stop. Text only: no widget, no state."""

from __future__ import annotations

from pathlib import Path

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


def preview_title() -> Text:
    """The preview's title with no plan to show."""
    return Text("Preview", style="bold")


def reading_title(path: str) -> Text:
    """The preview's title while the file is read and checked."""
    return Text.assemble(("Reading ", "bold"), (Path(path).name, "bold"), ("…", "bold"))


def tree_title() -> Text:
    """The title over the folder tree."""
    return Text.assemble(
        ("Choose a file", "bold"),
        (" · enter opens it · type another folder above to browse it · escape closes the tree", "dim"),
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


def problems_title(plan: ImportPlan) -> str:
    """Over the plan's problems."""
    n = len(plan.problems)
    return f"{n} problem{'s' if n != 1 else ''} in {plan.source_name}: nothing will be written"


def summary_text(plan: ImportPlan | None, *, chosen: bool, writable: bool, note: Text | None) -> tuple[Text, bool]:
    """Above the Import button, once the file is read: what the plan writes (or what stands in the way,
    or that no file is `chosen` yet), then the last note; and whether Import can be pressed."""
    text = Text()
    can = False
    if plan is None:
        text.append("The file could not be read." if chosen else "Choose a file to import.", style="dim")
    elif plan.problems:
        text.append(
            "Fix the problems (in the file, or map or ignore columns with m), then re-read: ctrl+r.", style="yellow"
        )
    else:
        text.append_text(counts_text(plan, writable))
        can = plan.will_write and writable
    if note is not None:
        text.append("\n")
        text.append_text(note)
    return text, can


def stopped_note(message: str, *, cancelled: bool) -> Text:
    """Why the write stopped (nothing was written), under the counts."""
    return Text(message[0].upper() + message[1:], style="bold yellow" if cancelled else "bold red")


def stopped_reading_note() -> Text:
    return Text("Stopped reading the file: press enter in the path (or ctrl+r) to read it again.", style="yellow")


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
