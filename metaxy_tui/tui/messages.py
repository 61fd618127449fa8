"""Typed messages the UI's widgets and workers exchange."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ..service.status import FeatureStatus


@dataclass
class FeatureSelected(Message):
    """The user moved to another feature."""

    key: str


@dataclass
class StatusComputed(Message):
    """A background worker finished one feature's status."""

    status: FeatureStatus


@dataclass
class StatusesDone(Message):
    """Every status of a refresh is in."""

    seconds: float


@dataclass
class StoreChanged(Message):
    """Something wrote to the store: statuses, tables and badges must refresh."""

    features: tuple[str, ...] = ()
