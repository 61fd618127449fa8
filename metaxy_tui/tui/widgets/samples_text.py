"""What the Samples tab says: its status line (the feature, the rows, the sort and the filter, the
cursor's row, the work running), the go-to bar's hint and a go-to that found nothing. Text only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from ...service.samples import SampleView, ViewSpec, format_ids

NO_FEATURE = "Select a feature on the left."


def status_text(spec: ViewSpec | None, view: SampleView | None, cursor_row: int, building: ViewSpec | None) -> Text:
    """ "N rows · sorted by X · filter 'y'", plus the cursor's place and any work running."""
    if spec is None:
        return Text(NO_FEATURE, style="dim")
    text = Text(spec.feature, style="bold")
    if view is not None and view.spec.feature == spec.feature:
        count = "counting…" if view.count is None else f"{view.count:,} row{'s' if view.count != 1 else ''}"
        text.append(f" · {count}")
        if view.spec.sort is not None:
            text.append(f" · sorted by {view.spec.sort} {'▼' if view.spec.descending else '▲'}")
        if view.spec.filter.strip():
            text.append(" · filter ")
            text.append(repr(view.spec.filter.strip()), style="italic")
        if view.count:
            text.append(f" · row {cursor_row + 1:,}", style="dim")
    if building is not None:
        doing = "sorting" if building.sort else "filtering" if building.filter.strip() else "loading"
        text.append(f"   {doing}…", style="bold yellow")
    return text


def jump_hint(ids: Sequence[str]) -> str:
    """The go-to bar's placeholder: the id columns, in order (or named, with several)."""
    return ", ".join(ids) + ("   (or " + ", ".join(f"{c}=…" for c in ids) + ")" if len(ids) > 1 else "")


def not_found_text(ids: dict[str, Any], view: SampleView) -> str:
    where = "in this filtered view" if view.spec.filter.strip() else "among the current samples"
    return f"No sample {format_ids(ids)} {where}"
