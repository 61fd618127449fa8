"""Typed messages the UI's widgets and workers exchange."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ..service.project import Project
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


@dataclass
class TraceRequested(Message):
    """Open the trace of a sample (t on a sample's detail): the app opens it, so that the detail and
    the trace, which each open the other, need not import each other."""

    project: Project
    feature: str
    ids: dict
