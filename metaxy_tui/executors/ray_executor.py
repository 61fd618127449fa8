"""Recompute batches as Ray tasks, on a local Ray started on demand or on an existing cluster.

How the compute function travels: it is pickled with Ray's cloudpickle, which sends a
function of an importable module by reference (module and name: the worker imports it) and
anything else (a closure, a lambda, a function of `__main__`) by value. So the worker must
be able to import the project's code: the top-level packages of the project's modules (where
its features and compute functions are defined) go with the session as its `runtime_env`
`py_modules` (Ray uploads local folders only for a whole job, so they are given to the
`ray.init` this executor makes), unless they are installed in a site-packages folder (then
the cluster must have them installed too). metaxy-tui itself, polars and whatever else the
function imports must be installed on the cluster's nodes; Ray and Python versions must
match the approving machine's. A Ray session this process had already started is used as
it is: its own runtime_env must provide the project's code.

Only the function's input rows and its output travel; the store never leaves the approving
process, which writes each finished batch in its own transaction as results arrive.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import site
import socket
import sys
import sysconfig
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

from .base import Batch, BatchResult, ComputeTask, Executor, ExecutorUnavailable, call

INSTALL_HINT = 'Ray is not installed here: install it with pip install "metaxy-tui[ray]"'
NEVER_SHIPPED = {"__main__", "metaxy_tui"}  # metaxy-tui must be installed on the nodes
EXCLUDES = ["__pycache__", "*.pyc", "*.db", "*.db-wal", "*.db-shm", ".git"]
POLL_S = 0.2  # how often a wait looks at the cancel flag
CONNECT_TIMEOUT_S = 5


def unavailable() -> str | None:
    """Why Ray cannot be used in this process (None when it can), without importing it."""
    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        found = False
    return None if found else INSTALL_HINT


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorUnavailable(INSTALL_HINT) from None
    return ray


def create(*, address: str | None = None, **options: Any) -> "RayExecutor":
    return RayExecutor(address, **options)


class RayExecutor(Executor):
    """`address` None: a local Ray is started for the run and shut down after (unless this
    process already has a Ray session, which is used and left running). Otherwise the
    cluster at `address` (`host:6379`, `ray://host:10001`, `auto`) is used; only our
    connection to it is closed after."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        max_retries: int = 3,
        num_cpus: float = 1,
        max_in_flight: int | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        self.address = address or None
        self.max_retries = max_retries  # Ray's own default: a lost worker's task runs again
        self.num_cpus = num_cpus  # per task
        self.max_in_flight = max_in_flight  # default: twice the cluster's CPUs
        self.init_options = init_options or {}
        self.startup_s = 0.0
        self.shipped: list[str] = []  # the folders and files of the project's code sent with the session
        self._modules: set[str] = set()
        self._connected = False  # we called ray.init, so we call ray.shutdown
        self._where = ""

    def prepare(self, task: ComputeTask) -> None:
        self._modules |= set(task.modules)

    def start(self) -> None:
        ray = import_ray()
        t0 = time.perf_counter()
        if ray.is_initialized():
            self._where = "the Ray session of this process"
        else:
            options: dict[str, Any] = {"logging_level": logging.ERROR} | self.init_options
            self.shipped = code_to_ship(self._modules)
            if self.shipped:
                env = dict(options.get("runtime_env") or {})
                env["py_modules"] = list(env.get("py_modules") or []) + self.shipped
                env.setdefault("excludes", EXCLUDES)
                options["runtime_env"] = env
            try:
                with _stderr_with_a_descriptor():
                    if self.address:
                        _check_reachable(self.address)
                        ray.init(address=self.address, **options)
                        self._where = f"the Ray cluster at {self.address}"
                    else:  # "local": a new instance, even if another Ray runs on this machine
                        ray.init(address="local", include_dashboard=False, **options)
                        self._where = "a local Ray started for this run"
            except Exception as e:
                raise _explained(e, self.address) from e
            self._connected = True
        self.startup_s = time.perf_counter() - t0
        cpus = ray.cluster_resources().get("CPU", 0)
        self._where += f", {cpus:g} CPUs"

    def stop(self) -> None:
        if self._connected:
            self._connected = False
            import_ray().shutdown()

    def describe(self) -> str:
        return f"ray ({self._where})" if self._where else "ray"

    def map(
        self, task: ComputeTask, batches: Iterable[Batch], cancelled: Callable[[], bool]
    ) -> Generator[BatchResult, None, None]:
        with self:
            ray = import_ray()
            payload = ray.put(ray.cloudpickle.dumps(task.fn))
            remote = _remote_function(ray).options(
                num_cpus=self.num_cpus,
                max_retries=self.max_retries,
                retry_exceptions=False,
                name=f"recompute {task.feature}",
            )
            window = self.max_in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
            todo = iter(batches)
            running: dict[Any, Batch] = {}
            exhausted = False
            try:
                while True:
                    while not exhausted and len(running) < window and not cancelled():
                        batch = next(todo, None)
                        if batch is None:
                            exhausted = True
                        else:
                            running[remote.remote(payload, batch.rows)] = batch
                    if not running or cancelled():
                        return
                    ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
                    for ref in ready:
                        yield _result(ray, ref, running.pop(ref))
            finally:
                for ref in running:  # cancelled, or the loop stopped taking results
                    try:
                        ray.cancel(ref)
                    except Exception:  # already finished, or the cluster is gone
                        pass


@contextlib.contextmanager
def _stderr_with_a_descriptor() -> Iterator[None]:
    """ray.init enables faulthandler on sys.stderr, which needs a real file descriptor; a
    Textual app replaces sys.stderr with an object whose fileno() is -1 (measured: ray.init
    then fails with "file.fileno() is not a valid file descriptor"). Lend it /dev/null
    meanwhile; faulthandler keeps that file."""
    try:
        usable = sys.stderr is not None and sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        usable = False
    if usable:
        yield
        return
    saved = sys.stderr
    sys.stderr = _devnull()
    try:
        yield
    finally:
        sys.stderr = saved


@functools.cache
def _devnull() -> Any:
    return open(os.devnull, "w")  # noqa: SIM115 - kept open for faulthandler, for the process's life


def _check_reachable(address: str) -> None:
    """Fail in seconds when nothing listens at host:port: ray.init retries an unreachable
    address for many minutes (measured here: 14 min for a closed port)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise ConnectionError(f"no Ray cluster answers at {address} ({e.strerror or e})") from None


def _explained(error: Exception, address: str | None) -> Exception:
    """ray.init's error, with what to do when the cluster asks for a token."""
    chain: list[BaseException] = []
    e: BaseException | None = error
    while e is not None and len(chain) < 5:
        chain.append(e)
        e = e.__cause__ or e.__context__
    if any(type(c).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(c) for c in chain):
        return RuntimeError(
            f"the Ray cluster at {address} wants its authentication token: set RAY_AUTH_MODE=token "
            "and give the cluster's token as RAY_AUTH_TOKEN (or in ~/.ray/auth_token)"
        )
    return error


def _result(ray: Any, ref: Any, batch: Batch) -> BatchResult:
    try:
        output, error, tb, seconds = ray.get(ref)
    except Exception as e:  # the task never finished: a lost worker or node, cancelled, no runtime env
        text = str(e).strip()
        first = text.splitlines()[0] if text else ""
        return BatchResult(batch, error=f"{type(e).__name__}: {first}".rstrip(": "), traceback=text or None)
    return BatchResult(batch, output, error, tb, seconds)


@functools.cache
def _remote_function(ray: Any) -> Any:
    return ray.remote(run_on_worker)


def run_on_worker(payload: bytes, rows: Any) -> tuple[Any, str | None, str | None, float]:
    """The Ray task: load the compute function, run it on the rows (errors come back as data)."""
    try:
        fn = _load(payload)
    except Exception as e:
        import traceback

        hint = (
            " (on the Ray worker: the compute function's module must be importable there; install the "
            "project's package on the nodes or keep it outside site-packages so that it is shipped)"
            if isinstance(e, ImportError)
            else ""
        )
        return None, f"{type(e).__name__}: {e}{hint}", traceback.format_exc(), 0.0
    return call(fn, rows)


@functools.lru_cache(maxsize=8)
def _load(payload: bytes) -> Any:
    import ray

    return ray.cloudpickle.loads(payload)


# ----- what travels --------------------------------------------------------------------------


def code_to_ship(modules: Iterable[str]) -> list[str]:
    """Paths of the top-level packages (or single-file modules) of `modules` that a worker could
    not import from an installation: the project's own code, shipped with each task."""
    out: dict[str, str] = {}
    for name in modules:
        top = name.split(".")[0]
        if top in out or top in NEVER_SHIPPED or top in sys.stdlib_module_names:
            continue
        module = sys.modules.get(top)
        path = _source_path(module) if module is not None else None
        if path is not None and not _installed(path):
            out[top] = str(path)
    return list(out.values())


def _source_path(module: Any) -> Path | None:
    paths = list(getattr(module, "__path__", []) or [])
    if len(paths) == 1:
        return Path(paths[0])
    file = getattr(module, "__file__", None)
    if not paths and file and file.endswith(".py"):
        return Path(file)
    return None  # a namespace package spread over folders, or an extension module


@functools.cache
def _site_dirs() -> frozenset[Path]:
    dirs = set(site.getsitepackages()) | {site.getusersitepackages()}
    dirs |= {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    return frozenset(Path(d).resolve() for d in dirs if d)


def _installed(path: Path) -> bool:
    return path.resolve().parent in _site_dirs()
