"""The samples table's service: a project's sample pages, and what the table, the detail and the
exports share (columns, views, value texts, ids typed by the user).

The pages come from the store (`store.sample_pages`, store/pages.py): they run the queries, on a
connection of their own, from worker threads only.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ..graph import FeaturePlan
from ..store.interface import SamplePages
from ..store.pages import (
    PAGE_SIZE,
    Interrupted,
    PageReadError,
    SampleColumn,
    SampleView,
    StaleView,
    ViewSpec,
    feature_columns,
    filter_terms,
    uses_index_order,
)
from ..values import format_ids, format_time, format_value, iso_time

if TYPE_CHECKING:
    from .project import Project


def open_pages(project: "Project", *, page_size: int = PAGE_SIZE) -> SamplePages:
    """Pages of the project's samples, read with its graph (close them when done)."""
    return project.store.sample_pages(project.graph, page_size=page_size)


def parse_ids(plan: FeaturePlan, text: str) -> dict[str, Any]:
    """Id values typed by the user: `v1, v2` in id-column order, or `col=v, col2=v2`.

    Values are converted to the id columns' types; raises ValueError with a message to show.
    """
    cols = list(plan.definition.id_columns)
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    if not parts:
        raise ValueError(f"type {'the ' + cols[0] if len(cols) == 1 else ', '.join(cols)} to jump to")
    named: dict[str, str] = {}
    if all("=" in p for p in parts):
        for p in parts:
            k, v = (s.strip() for s in p.split("=", 1))
            if k not in cols:
                raise ValueError(f"{k!r} is not an id column of {plan.name} ({', '.join(cols)})")
            named[k] = v
    elif len(parts) == len(cols):
        named = dict(zip(cols, parts))
    else:
        raise ValueError(
            f"{plan.name} has {len(cols)} id column{'s' if len(cols) > 1 else ''} "
            f"({', '.join(cols)}): give {len(cols)} value{'s' if len(cols) > 1 else ''}, "
            "separated by commas, or name them (col=value)"
        )
    missing = [c for c in cols if c not in named]
    if missing:
        raise ValueError(f"missing a value for {', '.join(missing)}")
    out: dict[str, Any] = {}
    for c in cols:
        t = plan.definition.columns[c]
        v = named[c]
        try:
            if t.name == "int":
                out[c] = int(v)
            elif t.name == "float":
                out[c] = float(v)
            elif t.name == "bool":
                out[c] = 1 if v.lower() in ("1", "true", "yes") else 0
            elif t.name == "datetime":
                out[c] = dt.datetime.fromisoformat(v).strftime("%Y-%m-%dT%H:%M:%S.%f")
            else:
                out[c] = v
        except ValueError:
            raise ValueError(f"{c} is {t.name}: {v!r} is not one") from None
    return out


__all__ = [
    "PAGE_SIZE",
    "Interrupted",
    "PageReadError",
    "SampleColumn",
    "SamplePages",
    "SampleView",
    "StaleView",
    "ViewSpec",
    "feature_columns",
    "filter_terms",
    "format_ids",
    "format_time",
    "format_value",
    "iso_time",
    "open_pages",
    "parse_ids",
    "uses_index_order",
]
