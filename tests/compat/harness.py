"""Run the compat pipelines (tests/compat/pipelines/) under metaxy-tui or Metaxy 0.1.11.

Each pipeline is a plain script in Metaxy's documented style that imports ``metaxy_tui as
mx``; a multi-run scenario (a runbook with patches, in Metaxy's examples) is a STEP
argument: ``python p02_aggregation.py 1``, then ``2``, ... against the same store. The
number of runs is the script's ``STEPS = N`` constant. Scripts report what they see as
JSON lines through ``pipelines/report.py`` (lines starting with ``@@compat ``).

For one engine, the harness copies the script and ``report.py`` into a fresh folder,
writes a ``metaxy.toml`` there and runs every step in that folder:

* metaxy-tui: the script as written, a SQLite store with the compatibility hash settings
  (``hash_algorithm = "xxhash32"``, ``hash_truncation_length = 8``).
* Metaxy: the same script with ``metaxy_tui`` replaced by ``metaxy`` (the only edit a user
  makes) and Metaxy's Delta store (``metaxy.ext.polars.handlers.delta.DeltaMetadataStore``,
  offline), with the settings Metaxy 0.1.11 uses by default for it, written out:
  ``hash_algorithm = "xxhash32"`` (the Delta store's default) and the top-level
  ``hash_truncation_length = 8`` (MetaxyConfig's default).

Re-recording the fixtures (tests/compat/fixtures/<pipeline>.json) needs an interpreter
with Metaxy 0.1.11 installed (``pip install -c docs/metaxy-constraints.txt
"metaxy[delta]==0.1.11"``); the tests only read the fixtures::

    python tests/compat/harness.py --record --metaxy-python /work/mxref/bin/python
    python tests/compat/harness.py --record --metaxy-python PY --only p02_aggregation

Look at ``git diff tests/compat/fixtures`` before committing a re-recording. Other uses::

    python tests/compat/harness.py --show p03_expansion            # run under metaxy-tui, print records
    python tests/compat/harness.py --show p03_expansion --metaxy-python PY   # ... under Metaxy
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PIPELINES = HERE / "pipelines"
FIXTURES = HERE / "fixtures"
REPO = HERE.parent.parent
PREFIX = "@@compat "
HELPER = "report.py"
STEP_TIMEOUT = 120.0

TOML_METAXY_TUI = """\
project = "compat"
entrypoints = []

[stores.dev]
type = "sqlite"

[stores.dev.config]
path = "metadata.db"
hash_algorithm = "xxhash32"
hash_truncation_length = 8
"""

TOML_METAXY = """\
project = "compat"
entrypoints = []
hash_truncation_length = 8
auto_create_tables = true

[stores.dev]
type = "metaxy.ext.polars.handlers.delta.DeltaMetadataStore"

[stores.dev.config]
root_path = "delta"
hash_algorithm = "xxhash32"
"""


def pipelines() -> list[str]:
    """Names of the pipelines (scripts in pipelines/ but the report helper), sorted."""
    return sorted(p.stem for p in PIPELINES.glob("*.py") if p.name != HELPER and not p.name.startswith("_"))


def steps_of(name: str) -> int:
    """The script's ``STEPS = N`` (read from its source, not by importing it)."""
    tree = ast.parse((PIPELINES / f"{name}.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "STEPS"
        ):
            return int(ast.literal_eval(node.value))
    return 1


def as_metaxy(source: str) -> str:
    """The one edit a user makes to run a metaxy-tui pipeline under Metaxy: the package name."""
    return re.sub(r"\bmetaxy_tui\b", "metaxy", source)


def prepare(name: str, folder: Path, engine: str) -> Path:
    """Copy the script and the report helper into `folder` with the engine's metaxy.toml."""
    source = (PIPELINES / f"{name}.py").read_text()
    if engine == "metaxy":
        source = as_metaxy(source)
    script = folder / f"{name}.py"
    script.write_text(source)
    shutil.copyfile(PIPELINES / HELPER, folder / HELPER)
    (folder / "metaxy.toml").write_text(TOML_METAXY if engine == "metaxy" else TOML_METAXY_TUI)
    return script


def _env(engine: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAXY_") and k != "PYTHONPATH"}
    if engine == "metaxy-tui":
        env["PYTHONPATH"] = str(REPO)  # the checkout's package, installed or not
    env["PYTHONHASHSEED"] = "0"
    env.setdefault("POLARS_MAX_THREADS", "2")
    return env


def parse_records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line[len(PREFIX) :]) for line in stdout.splitlines() if line.startswith(PREFIX)]


def run_pipeline(
    name: str,
    engine: str = "metaxy-tui",
    python: str | None = None,
    timeout: float = STEP_TIMEOUT,
    keep: Path | None = None,
) -> dict[str, Any]:
    """Run every step of a pipeline in a fresh folder; what each step reported.

    Returns ``{"pipeline", "engine", "steps": [{"step", "returncode", "records", "stderr"}]}``;
    a step that fails stops the run (later steps would start from a broken store).
    """
    python = python or sys.executable
    folder = Path(tempfile.mkdtemp(prefix=f"compat-{name}-")) if keep is None else keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        script = prepare(name, folder, engine)
        steps = []
        for step in range(1, steps_of(name) + 1):
            try:
                proc = subprocess.run(
                    [python, script.name, str(step)],
                    cwd=folder,
                    env=_env(engine),
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                )
                rc, out, err = proc.returncode, proc.stdout, proc.stderr
            except subprocess.TimeoutExpired as exc:
                rc, err = -1, f"timed out after {timeout} s"
                out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            steps.append(
                {
                    "step": step,
                    "returncode": rc,
                    "records": parse_records(out),
                    "stderr": "" if rc == 0 else err[-4000:],
                }
            )
            if rc != 0:
                break
        return {"pipeline": name, "engine": engine, "steps": steps}
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def fixture_path(name: str) -> Path:
    return FIXTURES / f"{name}.json"


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads(fixture_path(name).read_text())


def metaxy_version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import metaxy; print(metaxy.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        env=_env("metaxy"),
        timeout=120,
    ).stdout.strip()


def record(names: list[str], python: str) -> int:
    """Run each pipeline under Metaxy and write its fixture; 1 if any step failed."""
    version = metaxy_version(python)
    FIXTURES.mkdir(exist_ok=True)
    failed = 0
    for name in names:
        t0 = time.monotonic()
        result = run_pipeline(name, "metaxy", python)
        bad = [s for s in result["steps"] if s["returncode"] != 0]
        if bad or len(result["steps"]) != steps_of(name):
            failed = 1
            print(
                f"{name}: step {bad[0]['step'] if bad else '?'} failed under Metaxy, fixture not written\n"
                f"{bad[0]['stderr'] if bad else ''}",
                file=sys.stderr,
            )
            continue
        fixture = {
            "pipeline": name,
            "metaxy_version": version,
            "store": "metaxy.ext.polars.handlers.delta.DeltaMetadataStore",
            "metaxy_toml": TOML_METAXY,
            "recorded_by": "python tests/compat/harness.py --record --metaxy-python PY",
            "steps": [{"step": s["step"], "records": s["records"]} for s in result["steps"]],
        }
        fixture_path(name).write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n")
        n = sum(len(s["records"]) for s in result["steps"])
        print(f"{name}: {len(result['steps'])} steps, {n} records ({time.monotonic() - t0:.1f} s)")
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--record", action="store_true", help="run under Metaxy and write the fixtures")
    ap.add_argument("--metaxy-python", help="an interpreter with metaxy==0.1.11 installed")
    ap.add_argument("--only", action="append", help="this pipeline only (repeatable)")
    ap.add_argument("--show", metavar="PIPELINE", help="run one pipeline and print its records")
    ap.add_argument("--keep", metavar="DIR", help="with --show: run in DIR and keep it")
    args = ap.parse_args(argv)
    if args.show:
        engine = "metaxy" if args.metaxy_python else "metaxy-tui"
        result = run_pipeline(
            args.show, engine, args.metaxy_python, keep=Path(args.keep).resolve() if args.keep else None
        )
        for s in result["steps"]:
            print(f"--- step {s['step']} (exit {s['returncode']})")
            for r in s["records"]:
                print(json.dumps(r, sort_keys=True))
            if s["stderr"]:
                print(s["stderr"])
        return 0
    if args.record:
        if not args.metaxy_python:
            ap.error("--record needs --metaxy-python")
        return record(args.only or pipelines(), args.metaxy_python)
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
