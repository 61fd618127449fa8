"""The audit log as a table (newest first), and one entry in full."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

OUTCOME_STYLE = {
    "ok": "green",
    "failed": "bold red",
    "cancelled": "yellow",
    "nothing to do": "dim",
    "skipped": "magenta",
}
COLUMNS = ["time", "user", "action", "feature", "version", "samples", "duration", "outcome"]
IDS_SHOWN = 500


def format_time(at: Any) -> str:
    """Local time, to the second."""
    if isinstance(at, datetime):
        return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return str(at)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d} min"


def entry_cells(e: dict) -> list[Text]:
    version = (e.get("feature_version") or "")[:8]
    outcome = e.get("outcome") or ""
    action = (e.get("action") or "") + (f" ({e['executor']})" if e.get("executor") not in (None, "local") else "")
    return [
        Text(format_time(e.get("at"))),
        Text(e.get("user") or ""),
        Text(action),
        Text(e.get("feature") or "", style="bold"),
        Text(version, style="dim"),
        Text(f"{e.get('n_samples') or 0:,}", justify="right"),
        Text(format_duration(e.get("duration_s")), justify="right"),
        Text(outcome, style=OUTCOME_STYLE.get(outcome, "")),
    ]


def entry_text(e: dict) -> Text:
    """One audit entry in full: every field, the sample ids and the detail (error, traceback)."""
    text = Text()

    def line(label: str, value: str, style: str = "") -> None:
        text.append(f"{label:<16}", style="bold")
        text.append(value + "\n", style=style)

    line("entry", f"#{e.get('id')}")
    line("time", format_time(e.get("at")))
    line("user", e.get("user") or "")
    line("action", e.get("action") or "")
    if e.get("executor"):  # where a recompute's batches ran
        line("executor", e["executor"])
    line("feature", e.get("feature") or "")
    line("feature version", e.get("feature_version") or "–")
    outcome = e.get("outcome") or ""
    line("outcome", outcome, OUTCOME_STYLE.get(outcome, ""))
    line("duration", format_duration(e.get("duration_s")))
    line("samples", f"{e.get('n_samples') or 0:,}")
    try:
        ids = json.loads(e.get("ids") or "[]")
    except ValueError:
        ids = []
    if ids:
        text.append("\nsample ids\n", style="bold underline")
        for k in ids[:IDS_SHOWN]:
            text.append("  " + (", ".join(f"{c}={v}" for c, v in k.items()) if isinstance(k, dict) else str(k)) + "\n")
        if len(ids) > IDS_SHOWN:
            text.append(f"  … and {len(ids) - IDS_SHOWN:,} more\n", style="dim")
    if e.get("detail"):
        text.append("\ndetail\n", style="bold underline")
        text.append(str(e["detail"]).rstrip() + "\n")
    return text


class AuditTable(DataTable):
    """Posts EntryChosen on enter."""

    BINDINGS = [  # rows, not columns: home and end go to the first and last row
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
        # the table's own enter (select the row) shadows the screen's: name it, so the footer shows it
        Binding("enter", "select_cursor", "Entry", tooltip="The highlighted entry in full (ids, detail, traceback)"),
    ]
    DEFAULT_CSS = """
    AuditTable { height: 1fr; }
    """

    @dataclass
    class EntryChosen(Message):
        entry: dict

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._entries: list[dict] = []

    def on_mount(self) -> None:
        for c in COLUMNS:
            self.add_column(Text(c, justify="right" if c in ("samples", "duration") else "left"), key=c)

    def show(self, entries: list[dict]) -> None:
        self._entries = entries
        self.clear()
        for i, e in enumerate(entries):
            self.add_row(*entry_cells(e), key=str(i))
        if entries:
            self.move_cursor(row=0)

    @property
    def highlighted_entry(self) -> dict | None:
        row = self.cursor_row
        return self._entries[row] if self._entries and 0 <= row < len(self._entries) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        entry = self.highlighted_entry
        if entry is not None:
            self.post_message(self.EntryChosen(entry))
