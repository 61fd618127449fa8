"""What both stores share about being open: `with store:` (opened for writing, nested blocks
counted) and `store.open(mode)`'s answer, `OpenStore`, whose `with` block closes the store again.
Each store's own opening (sqlite/connection.py, postgres/opening.py) connects and closes."""

from __future__ import annotations

import threading
from typing import Any, Generic, Protocol, TypeVar


class _Openable(Protocol):
    _conn: Any
    _depth: int
    _mode: str | None
    _lock: threading.RLock

    def open(self, mode: str = "w") -> Any: ...
    def close(self) -> None: ...


Opened = TypeVar("Opened", bound=_Openable)


class OpenCount:
    """Mixed into each store's connection mixin, over its `_conn`, `_depth`, `_mode` and `_lock`."""

    def __enter__(self: Opened) -> Opened:
        with self._lock:
            if self._conn is not None:
                self._depth += 1
                return self
        self.open("w")
        return self

    def __exit__(self: _Openable, *exc: object) -> None:
        self.close()

    @property
    def is_open(self: _Openable) -> bool:
        return self._conn is not None

    @property
    def writable(self: _Openable) -> bool:
        return self._mode == "w"


class _Closable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=_Closable)


class OpenStore(Generic[S]):
    """What `store.open(mode)` returns: the store, plus a `with` block that closes it again."""

    def __init__(self, store: S):
        self.store = store

    def __enter__(self) -> S:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)
