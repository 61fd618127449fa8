"""The SQL of a samples view, dialect-free: the `ViewQuery` both SQL pagers build (its select
list, WHERE with parameters, and ORDER BY), the order a view's sort asks for, and the filter's
LIKE terms. The dialects (store/sqlite/view_query.py, store/postgres/view_query.py) supply the
column expressions, placeholders and quoting.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .pages import SampleColumn, ViewSpec, _is_id_prefix_sort, filter_terms


@dataclass
class ViewQuery(ABC):
    """The SQL of a view: its select list, WHERE with parameters, and ORDER BY. Shared with export."""

    table: str
    select: list[str]  # the row handle first, then one expression per column
    where: str
    params: list[Any]
    order: str
    reverse_order: str
    descending_ids: bool  # the id columns run descending in `order` (index-order views)

    @abstractmethod
    def quoted_table(self) -> str:
        """The feature table's name, quoted in the dialect."""

    def sql(self, *, select: str | None = None, reverse: bool = False, extra_where: str = "") -> str:
        """SELECT ... FROM the feature table (aliased t) WHERE ... ORDER BY ..., no LIMIT."""
        where = self.where + (f" AND {extra_where}" if extra_where else "")
        return (
            f"SELECT {select or ', '.join(self.select)} FROM {self.quoted_table()} AS t WHERE {where} "
            f"ORDER BY {self.reverse_order if reverse else self.order}"
        )

    def count_sql(self) -> str:
        return f"SELECT count(*) FROM {self.quoted_table()} AS t WHERE {self.where}"


def like_pattern(text: str) -> str:
    """A LIKE pattern (ESCAPE '\\') matching `text` anywhere."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def filter_sql(
    spec: ViewSpec,
    columns: Sequence[SampleColumn],
    like: Callable[[SampleColumn], str | None],
    pattern: Callable[[str], str],
    matches_nothing: str,
) -> tuple[str, list[Any]]:
    """The WHERE terms (" AND (...)", to append) and parameters of the view's filter: `like` gives a
    column's LIKE term (one placeholder; None when its table lacks the column), `pattern` the bound
    pattern of the filter's text, `matches_nothing` the term when no searched column is stored."""
    text = spec.filter.strip()
    if not text:
        return "", []
    searched, needle = filter_terms(columns, text)
    likes = [term for term in (like(c) for c in searched) if term is not None]
    if likes:
        return " AND (" + " OR ".join(likes) + ")", [pattern(needle)] * len(likes)
    return matches_nothing, []


def view_order(
    spec: ViewSpec, id_columns: Sequence[str], ids: Sequence[str], sort_terms: Callable[[str], tuple[str, str]]
) -> tuple[str, str, bool]:
    """(ORDER BY, its reverse, whether the ids run descending): the sort column then the ids
    (`ids`, their expressions), or the ids alone. `sort_terms(column)` gives the sort column's
    ascending and descending terms."""
    asc = ", ".join(ids)
    desc = ", ".join(f"{i} DESC" for i in ids)
    descending = False
    if spec.sort is None or spec.sort == "feature version":  # one version per view: the id order
        order, reverse = asc, desc
    elif _is_id_prefix_sort(spec, id_columns):
        descending = spec.descending
        order, reverse = (desc, asc) if descending else (asc, desc)
    else:
        up, down = sort_terms(spec.sort)
        order = f"{down if spec.descending else up}, {asc}"
        reverse = f"{up if spec.descending else down}, {desc}"
    return order, reverse, descending
