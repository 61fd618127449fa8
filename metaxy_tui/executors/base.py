"""The executor interface: where a recompute's batches run.

The recompute loop (service/recompute.py) cuts the samples into batches and hands them to
an executor; the executor runs the compute function on each and yields each result as it
finishes, in any order. Writing stays with the loop, in the approving process: one
transaction per batch, whatever ran the function. So an executor only has to answer two
questions: how to run `fn(rows)` somewhere, and how to stop taking batches when asked.
"""

from __future__ import annotations

import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl

from ..errors import MetaxyError

ComputeFunction = Callable[[pl.DataFrame], Any]


class ExecutorUnavailable(MetaxyError):
    """The executor cannot run here (its library is not installed); the message says how to fix it."""


@dataclass(frozen=True)
class Batch:
    index: int  # 0-based, in the order the loop made the batches
    keys: pl.DataFrame  # the batch's samples (the increment's key columns)
    rows: pl.DataFrame  # what the compute function receives: the increment's rows of those samples


@dataclass
class BatchResult:
    batch: Batch
    output: Any = None  # what the compute function returned
    error: str | None = None  # "RuntimeError: GPU on fire", or a lost worker
    traceback: str | None = None
    compute_s: float = 0.0  # time inside the compute function

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class ComputeTask:
    """What every batch of one recompute runs."""

    feature: str
    fn: ComputeFunction
    modules: tuple[str, ...] = ()  # the project's modules (features, compute functions): a remote worker imports them


def call(fn: ComputeFunction, rows: pl.DataFrame) -> tuple[Any, str | None, str | None, float]:
    """Run the compute function on one batch: (output, error, traceback, seconds). Any
    exception of the function becomes an error of that batch, never of the executor."""
    start = time.perf_counter()
    try:
        out = fn(rows)
    except Exception as e:
        return None, f"{type(e).__name__}: {e}", traceback.format_exc(), time.perf_counter() - start
    return out, None, None, time.perf_counter() - start


class Executor(ABC):
    """Runs a compute function over batches. `with executor:` starts what it needs (a Ray
    session) and stops it at the end; nested `with` blocks share one start."""

    name: str = ""

    _depth = 0
    _started = False
    used = False  # started at least once (a run with nothing to do starts nothing)

    def prepare(self, task: ComputeTask) -> None:
        """Called before the executor is started for `task` (Ray ships the task's code with the
        session it starts); nothing for the local one."""

    def start(self) -> None:
        """Make the executor ready (nothing for the local one)."""

    def stop(self) -> None:
        """Undo start()."""

    def describe(self) -> str:
        """Where the batches run, in a few words (progress and reports show it)."""
        return self.name

    @abstractmethod
    def map(
        self, task: ComputeTask, batches: Iterable[Batch], cancelled: Callable[[], bool]
    ) -> Generator[BatchResult, None, None]:
        """Run `task.fn` on each batch and yield each result as it finishes (any order).

        Takes no new batch once `cancelled()` is true. Closing the iterator early abandons the
        batches still running. A failing batch is a result with `error`, not an exception.
        """

    def __enter__(self) -> "Executor":
        if not self._started:
            self.start()
            self._started = self.used = True
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth <= 0 and self._started:
            self._depth = 0
            self._started = False
            self.stop()

    @contextmanager
    def held(self) -> Iterator["Executor"]:
        """Keep whatever is started inside this block running until its end, without starting
        anything itself: approving every pending feature starts Ray once, and only if needed."""
        self._depth += 1
        try:
            yield self
        finally:
            self.__exit__(None, None, None)
