"""Where a recompute's batches run: this process (`local`, the default) or Ray tasks (`ray`).

Each executor is one module with a class implementing `base.Executor`, a `create(**options)`
and an `unavailable()` (why it cannot run here, or None); a third one (a process pool, Dask)
is one more module and one more line in `MODULES`. Modules are imported on use, so Ray is
only imported when it is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, cast

from .base import Batch, BatchResult, ComputeTask, Executor, ExecutorUnavailable

MODULES = {"local": "metaxy_tui.executors.local", "ray": "metaxy_tui.executors.ray_executor"}
NAMES = tuple(MODULES)
DEFAULT = "local"


class ExecutorModule(Protocol):
    """What each executor module defines (see above)."""

    def unavailable(self) -> str | None: ...

    def create(self, **options: Any) -> Executor: ...


def _module(name: str) -> ExecutorModule:
    if name not in MODULES:
        raise ExecutorUnavailable(f"unknown executor {name!r} (choose one of {', '.join(NAMES)})")
    return cast(ExecutorModule, importlib.import_module(MODULES[name]))


def unavailable(name: str) -> str | None:
    """Why executor `name` cannot run in this process (how to fix it), or None when it can."""
    return _module(name).unavailable()


def make_executor(name: str = DEFAULT, **options: Any) -> Executor:
    """The executor `name` (options: `address=` for ray); raises ExecutorUnavailable, saying
    how to install what is missing, before anything is done."""
    module = _module(name)
    problem = module.unavailable()
    if problem:
        raise ExecutorUnavailable(problem)
    return module.create(**options)


def project_modules(graph: Any, fn: Any = None) -> tuple[str, ...]:
    """The modules that define the graph's features and compute functions (and `fn`): the
    project's code, which an executor running elsewhere must be able to import."""
    names = {getattr(fn, "__module__", None)}
    names |= {getattr(f, "__module__", None) for f in getattr(graph, "computes", {}).values()}
    for key in graph.keys:
        cls = graph.definition(key).cls
        names.add(getattr(cls, "__module__", None) if cls is not None else None)
    return tuple(sorted(n for n in names if n))


__all__ = [
    "Batch",
    "BatchResult",
    "ComputeTask",
    "DEFAULT",
    "Executor",
    "ExecutorUnavailable",
    "NAMES",
    "make_executor",
    "project_modules",
    "unavailable",
]
