"""Exceptions raised by metaxy-tui.

Every error names what is wrong and where: the feature, the column, the row, the file.
`InputError` carries the individual problems as data so that the TUI can show each one
in place and the CLI can print them one per line.
"""

from __future__ import annotations

from dataclasses import dataclass


class MetaxyError(Exception):
    """Base class of every error metaxy-tui raises on purpose."""


class DefinitionError(MetaxyError):
    """A feature definition is invalid (raised when the graph is built or loaded)."""

    def __init__(self, feature: str | None, message: str):
        self.feature = feature
        self.problem = message
        super().__init__(f"feature {feature!r}: {message}" if feature else message)


class UnknownFeatureError(MetaxyError, KeyError):
    def __init__(self, key: str, known: list[str] | None = None):
        self.key = key
        hint = ""
        if known:
            hint = " (known features: " + ", ".join(sorted(known)[:20]) + ")"
        super().__init__(f"unknown feature {key!r}{hint}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class UnknownSampleError(MetaxyError, LookupError):
    """No row of the feature was ever stored under the given id values."""

    def __init__(self, feature: str, ids: str, examples: list[str] | None = None):
        self.feature = feature
        hint = f" (its first ids: {'; '.join(examples)})" if examples else " (it has no samples)"
        super().__init__(f"{feature} has no sample {ids}{hint}")


class ConfigError(MetaxyError):
    """metaxy.toml is missing, malformed or names something that does not exist."""


class StoreError(MetaxyError):
    """The store cannot do what was asked (closed, read-only, locked...)."""


class StoreFormatError(StoreError):
    """The file is not a metaxy-tui store, or one written by a newer version."""


@dataclass(frozen=True)
class InputProblem:
    """One problem in user input; `row` is 0-based in the input given to us."""

    message: str
    column: str | None = None
    row: int | None = None

    def describe(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row + 1}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return (", ".join(where) + ": " if where else "") + self.message


class InputError(MetaxyError, ValueError):
    """Rows given to the store (or an imported file) are invalid; nothing was written."""

    MAX_LISTED = 10

    def __init__(self, feature: str | None, problems: list[InputProblem], source: str | None = None):
        self.feature = feature
        self.problems = list(problems)
        self.source = source
        head = []
        if source:
            head.append(str(source))
        if feature:
            head.append(f"feature {feature!r}")
        prefix = (" / ".join(head) + ": ") if head else ""
        listed = [p.describe() for p in self.problems[: self.MAX_LISTED]]
        more = len(self.problems) - len(listed)
        if more > 0:
            listed.append(f"... and {more} more problem(s)")
        if len(listed) == 1:
            text = prefix + listed[0]
        else:
            text = prefix + f"{len(self.problems)} problems:\n  " + "\n  ".join(listed)
        super().__init__(text)
