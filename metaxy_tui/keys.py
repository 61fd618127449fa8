"""Feature keys, field keys and SQL identifiers.

Keys and column names come from users, so they are validated against a small alphabet
before they ever reach SQL, and quoted wherever they are used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .errors import DefinitionError

_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
RESERVED_COLUMN_PREFIXES = ("metaxy_", "_mx")
# SQLite's own names for a table's row id: a user column with one of them would hide it
RESERVED_COLUMN_NAMES = ("rowid", "oid", "_rowid_")


def _parts_of(value: str | Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        parts = tuple(value.split("/"))
    elif isinstance(value, (list, tuple)) and all(isinstance(p, str) for p in value):
        parts = tuple(value)
    else:
        raise DefinitionError(None, f"{what} must be a string or a list of strings, got {value!r}")
    text = "/".join(parts)
    if not parts or any(not p for p in parts):
        raise DefinitionError(None, f"invalid {what} {text!r}: empty part")
    if what == "feature key" and parts[0].lower().startswith("sqlite_"):
        raise DefinitionError(None, f"invalid {what} {text!r}: names starting with 'sqlite_' are reserved by SQLite")
    for part in parts:
        if not _PART.match(part) or "__" in part:
            raise DefinitionError(
                None,
                f"invalid {what} {text!r}: each part may hold letters, digits, '-' and single '_' "
                "(not at either end), parts are separated by '/'",
            )
    return parts


class _Key:
    __slots__ = ("parts",)
    _what = "key"
    parts: tuple[str, ...]

    def __init__(self, value: str | Sequence[str] | "_Key"):
        if isinstance(value, _Key):
            self.parts = value.parts
        else:
            self.parts = _parts_of(value, self._what)

    def to_string(self) -> str:
        return "/".join(self.parts)

    def __str__(self) -> str:
        return self.to_string()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_string()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.to_string() == other
        return isinstance(other, type(self)) and other.parts == self.parts

    def __hash__(self) -> int:
        return hash(self.to_string())

    def __lt__(self, other: "_Key") -> bool:
        return self.to_string() < other.to_string()


class FeatureKey(_Key):
    """`FeatureKey("video/chunk")` or `FeatureKey(["video", "chunk"])`."""

    _what = "feature key"

    @property
    def table_name(self) -> str:
        # parts never contain "__", so the mapping is one to one
        return "__".join(self.parts)

    @property
    def namespace(self) -> str:
        return "/".join(self.parts[:-1])


class FieldKey(_Key):
    _what = "field key"

    @property
    def struct_name(self) -> str:
        """The name inside provenance structs (and stored columns): parts joined by '_', as Metaxy."""
        return "_".join(self.parts)


def validate_column_name(name: object, feature: str | None = None) -> str:
    if not isinstance(name, str) or not _COLUMN.match(name):
        raise DefinitionError(
            feature,
            f"invalid column name {name!r}: use letters, digits and '_' (not starting with a digit), "
            "at most 63 characters",
        )
    if name.lower() in RESERVED_COLUMN_NAMES:
        raise DefinitionError(feature, f"column name {name!r} is reserved by SQLite (rowid, oid, _rowid_)")
    if name.lower().startswith(RESERVED_COLUMN_PREFIXES):
        raise DefinitionError(feature, f"column name {name!r} is reserved (prefixes metaxy_ and _mx)")
    return name


def quote(identifier: str) -> str:
    """Quote an SQLite identifier. Callers validate first; quoting is the second fence."""
    return '"' + identifier.replace('"', '""') + '"'


def quote_all(identifiers: Iterable[str]) -> str:
    return ", ".join(quote(i) for i in identifiers)
