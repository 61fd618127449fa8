"""The default executor: each batch runs in this process, one after the other."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import Any

from .base import Batch, BatchResult, ComputeTask, Executor, call


class LocalExecutor(Executor):
    name = "local"

    def describe(self) -> str:
        return "local (this process)"

    def map(
        self, task: ComputeTask, batches: Iterable[Batch], cancelled: Callable[[], bool]
    ) -> Generator[BatchResult, None, None]:
        todo = iter(batches)
        while not cancelled():
            batch = next(todo, None)
            if batch is None:
                return
            output, error, tb, seconds = call(task.fn, batch.rows)
            yield BatchResult(batch, output, error, tb, seconds)


def create(**options: Any) -> LocalExecutor:
    if options:
        raise TypeError(f"the local executor takes no options (got {', '.join(sorted(options))})")
    return LocalExecutor()


def unavailable() -> str | None:
    return None
