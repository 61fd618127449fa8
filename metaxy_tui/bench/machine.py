"""What the driver records about the run: the machine, the versions on both sides, and the engine's
sources (a digest, so a run that mixes engine versions says so).
"""

import importlib.metadata
import json
import os
import platform
import sqlite3
import subprocess


def _metaxy_versions(python: str) -> dict | None:
    """Metaxy's and its stores' versions in `python`, or None when `import metaxy` fails there."""
    code = (
        "import json, importlib.metadata as m, metaxy; v = {}\n"
        "for d in ('metaxy', 'deltalake', 'duckdb', 'polars'):\n"
        "    try: v[d] = m.version(d)\n"
        "    except Exception: v[d] = None\n"
        "print(json.dumps(v))"
    )
    try:
        p = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return None
    if p.returncode != 0 or not p.stdout.strip():
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _memory_gib() -> str:
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        return f"{kib / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        return "?"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def engine_fingerprint() -> str:
    """A digest of the engine's sources (the package without bench, cli, service and tui).

    The package is often installed editable while it is being changed: a digest that differs
    at the end of a run means the results mix engine versions.
    """
    import hashlib

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # metaxy_tui/
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        dirs[:] = sorted(d for d in dirs if not (rel == "." and d in ("bench", "cli", "service", "tui", "__pycache__")))
        for name in sorted(files):
            if name.endswith(".py"):
                digest.update(os.path.join(rel, name).encode())
                with open(os.path.join(folder, name), "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()[:12]


def _git_revision() -> str:
    """The checkout's commit (with "+changes" when the engine differs from it), when there is one."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        rev = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if rev.returncode != 0:
            return "no git"
        outside = [f":!metaxy_tui/{p}" for p in ("bench", "cli", "service", "tui")]
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", "metaxy_tui", *outside],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return rev.stdout.strip() + (" +changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "no git"


def machine_info(metaxy: dict | None) -> dict:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cpu": _cpu_model(),
        "cores": cores,
        "memory": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "polars": _version("polars"),
        "metaxy-tui": _version("metaxy-tui"),
        "metaxy-tui git": _git_revision(),
        "engine sources": engine_fingerprint(),
    }
    if metaxy:
        info.update({f"metaxy side: {k}": v for k, v in metaxy.items()})
    else:
        info["metaxy"] = "not run"
    return info


def _load() -> float:
    """The 1-minute load average: above the core count, other processes shared the machine."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")
