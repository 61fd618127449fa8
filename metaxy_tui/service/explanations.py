"""The latest explanations of a project's features, kept while they are true.

Explaining a feature at 1,000,000 samples takes a second or two. The browser explains the
highlighted feature in the background once its statuses show pending work (`prefetch`), so the
review screen, opened on it a moment later, starts from the answer instead of waiting for it.

An explanation is kept under (feature, the store's last write, the graph): any write, from this
program or another, makes the next lookup miss and explain afresh. A lookup that finds the same
explanation being worked out by another thread waits for it rather than doing the work twice.
Only the last few are kept: an explanation of a million pending samples is tens of megabytes.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from ..explain import Explanation
from ..graph import FeatureGraph
from ..store import MetadataStore


class Project(Protocol):
    """What the cache reads of a project (service/project.py's Project, which holds the cache)."""

    store: MetadataStore
    graph: FeatureGraph


log = logging.getLogger(__name__)

KEEP = 2  # explanations kept per project

Key = tuple[str, int, int]


class _Entry:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Explanation | None = None
        self.error: BaseException | None = None


class ExplanationCache:
    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()

    @staticmethod
    def key(project: Project, feature: str) -> Key:
        return (feature, project.store.last_write_id(), id(project.graph))

    def get(self, project: Project, feature: str, compute: Callable[[], Explanation]) -> Explanation:
        """The explanation of `feature` as the store is now: kept, being worked out (waited for),
        or computed here."""
        key = self.key(project, feature)
        with self._lock:
            entry = self._entries.get(key)
            owner = entry is None
            if entry is None:
                entry = self._entries[key] = _Entry()
                while len(self._entries) > self._keep:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
        if owner:
            try:
                entry.value = compute()
            except BaseException as e:
                entry.error = e
                with self._lock:
                    if self._entries.get(key) is entry:
                        del self._entries[key]
            finally:
                entry.done.set()
        else:
            log.debug("explanation of %s: %s", feature, "kept" if entry.done.is_set() else "waiting for it")
            entry.done.wait()
        if entry.error is not None:
            raise entry.error
        assert entry.value is not None
        return entry.value

    def has(self, project: Project, feature: str) -> bool:
        """Whether the explanation of `feature` as the store is now is kept (worked out already)."""
        with self._lock:
            entry = self._entries.get(self.key(project, feature))
        return entry is not None and entry.done.is_set() and entry.error is None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
