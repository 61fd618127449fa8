"""A throwaway PostgreSQL server for the tests: `initdb` into a temporary folder, `pg_ctl start`
on a unix socket there (no TCP port), one fresh database per test, `pg_ctl stop` at the end.

PostgreSQL refuses to run as root: as root the binaries run as the `postgres` user (runuser).
When `initdb` is not on PATH the PostgreSQL tests are skipped, saying so; nothing is mocked.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SKIP_REASON = "PostgreSQL is not installed here (no initdb/pg_ctl on PATH): the PostgreSQL tests need a real server"


def available() -> bool:
    return shutil.which("initdb") is not None and shutil.which("pg_ctl") is not None


class Server:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mx-pg-"))
        self._as_root = os.geteuid() == 0
        self._counter = itertools.count(1)
        if self._as_root:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C")
        self._run(
            "pg_ctl",
            "-D",
            str(self.dir / "data"),
            "-w",
            "-l",
            str(self.dir / "log"),
            "-o",
            f"-k {self.dir} -c listen_addresses='' -c fsync=off -c max_connections=200",
            "start",
        )
        self.admin_url = self.url("postgres")

    def _run(self, *cmd: str) -> None:
        full = ["runuser", "-u", "postgres", "--", *cmd] if self._as_root else list(cmd)
        done = subprocess.run(full, capture_output=True, text=True, timeout=180)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip() or done.stdout.strip()}")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.dir}"

    def new_database(self, prefix: str = "t") -> str:
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if not self.dir.exists():
            return
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


_shared: Server | None = None


def shared() -> Server:
    """One server per test process, started on first use and stopped when the process exits."""
    global _shared
    if _shared is None:
        import atexit

        _shared = Server()
        atexit.register(_shared.stop)
    return _shared


def store_url() -> str:
    """A fresh database on the process's server (hypothesis examples, which cannot use fixtures)."""
    import pytest

    if not available():
        pytest.skip(SKIP_REASON)
    return shared().new_database("p")


def stop_shared() -> None:
    """Stop the process's server now (pytest's session end; atexit is the fallback)."""
    global _shared
    if _shared is not None:
        server, _shared = _shared, None
        server.stop()
