"""A real local Ray for the tests, started once per test session in a child process.

The child holds a Ray instance (2 CPUs, no dashboard) until its stdin closes, so the tests
connect to it the way a user connects to an existing cluster (`--ray-address`), and the
session ends by the child's own `ray.shutdown()`: nothing is stopped by name. Ray enables
token authentication for a new local instance, so connecting processes need
`RAY_AUTH_MODE=token` (the token is in ~/.ray/auth_token, which Ray wrote).

    python tests/ray_cluster.py        # prints the GCS address, then holds Ray until EOF
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 60
ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}


def hold() -> None:
    import ray

    ctx = ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200 * 2**20,
        logging_level=logging.ERROR,
    )
    print(ctx.address_info["gcs_address"], flush=True)
    sys.stdin.read()
    ray.shutdown()


@contextmanager
def local_cluster() -> Iterator[str]:
    """Start the holder; yield the cluster's address; close it (by its pid if it hangs)."""
    log = tempfile.NamedTemporaryFile("w+", prefix="ray-holder-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=os.environ | ENV,
    )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]  # bounded: joined with a timeout
    reader.start()
    reader.join(START_TIMEOUT_S)
    try:
        address = line[0].strip() if line else ""
        if not address:
            log.seek(0)
            raise RuntimeError(f"the test's Ray did not start within {START_TIMEOUT_S} s:\n{log.read()[-3000:]}")
        yield address
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()  # Ray's reaper then stops the instance's own processes
            proc.wait(STOP_TIMEOUT_S)
        log.close()
        os.unlink(log.name)


if __name__ == "__main__":
    hold()
