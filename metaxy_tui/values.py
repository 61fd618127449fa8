"""How stored values read as text: the samples table, the sample detail, traces and exports
show them alike (None is the empty string; times are UTC)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .columns import ColumnType


def format_time(us: int | None) -> str:
    if us is None:
        return ""
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def iso_time(us: int | None) -> str:
    if us is None:
        return ""
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def format_value(value: Any, ctype: ColumnType | None = None) -> str:
    """A stored value as the UI shows it (None: the empty string)."""
    if value is None:
        return ""
    name = ctype.name if ctype is not None else None
    if name == "bool":
        return "true" if value else "false"
    if name == "datetime" and isinstance(value, str):
        return value.replace("T", " ").removesuffix(".000000")
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_ids(ids: dict[str, Any]) -> str:
    return " · ".join(f"{k}={format_value(v)}" for k, v in ids.items())
