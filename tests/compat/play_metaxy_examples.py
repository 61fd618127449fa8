"""Play the runbooks of Metaxy's own example projects against metaxy-tui.

Metaxy's repository keeps each example as a project (`examples/example-*/`) with a runbook
(`.example.yaml`): commands to run, patches to apply, text the output must contain. This
script copies an example into a scratch folder, changes only what a user moving to
metaxy-tui changes (the import `metaxy` -> `metaxy_tui`, a SQLite store in `metaxy.toml`,
the CLI name `metaxy` -> `metaxy-tui`), plays the runbook and reports each step.

Nothing of Metaxy's is copied into this project: the examples are read from a checkout
given on the command line. Not run by CI (it needs that checkout and PyYAML):

    python tests/compat/play_metaxy_examples.py --metaxy-repo PATH [--python .venv/bin/python]
        [--example quickstart] [--reference] [--compat-hash] [-v]

`--reference` plays the runbook unchanged under `--python` (an interpreter with Metaxy
installed), to check the runbook itself.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLES = ["quickstart", "basic", "aggregation", "expansion", "overview"]


def convert_sources(root: Path, compat_hash: bool = False) -> None:
    """The only edits a user makes: the import line, and a SQLite store in metaxy.toml."""
    for py in root.rglob("*.py"):
        text = py.read_text()
        new = re.sub(r"^(\s*)import metaxy as mx$", r"\1import metaxy_tui as mx", text, flags=re.M)
        new = re.sub(r"^(\s*)from metaxy\.", r"\1from metaxy_tui.", new, flags=re.M)
        new = re.sub(r"^(\s*)import metaxy$", r"\1import metaxy_tui as metaxy", new, flags=re.M)
        if new != text:
            py.write_text(new)
    for patch in (root / "patches").glob("*.patch") if (root / "patches").exists() else []:
        text = patch.read_text()
        patch.write_text(re.sub(r"^([ +-])import metaxy as mx$", r"\1import metaxy_tui as mx", text, flags=re.M))
    toml = root / "metaxy.toml"
    if toml.exists():
        lines, out, in_store = toml.read_text().splitlines(), [], False
        for line in lines:
            header = line.strip().startswith("[")
            if header:
                in_store = line.strip().startswith("[stores.")
                out.append(line)
                if in_store and line.strip().endswith(".config]"):
                    out.append('path = "metadata.db"')
                    if compat_hash:  # Metaxy 0.1.11's default hash strings
                        out += ['hash_algorithm = "xxhash32"', "hash_truncation_length = 8"]
                continue
            if in_store:
                if line.strip().startswith("type"):
                    out.append('type = "sqlite"')
                continue  # drop the other store's options (root_path, ...)
            out.append(line)
        toml.write_text("\n".join(out) + "\n")


def command_for(command: str, python: str, reference: bool) -> str:
    bindir = str(Path(python).parent)
    if command.startswith("python "):
        return f"{python} {command[len('python ') :]}"
    if command.startswith("metaxy ") and not reference:
        return f"{bindir}/metaxy-tui {command[len('metaxy ') :]}"
    if command.startswith("metaxy "):
        return f"{bindir}/metaxy {command[len('metaxy ') :]}"
    return command


def play(example_dir: Path, python: str, reference: bool, verbose: bool, compat_hash: bool = False) -> tuple[int, int]:
    import yaml

    runbook = yaml.safe_load((example_dir / ".example.yaml").read_text())
    work = Path(tempfile.mkdtemp(prefix=f"mx-{example_dir.name}-"))
    root = work / example_dir.name
    shutil.copytree(example_dir, root, ignore=shutil.ignore_patterns("uv.lock", ".venv"))
    if not reference:
        convert_sources(root, compat_hash)
    else:
        toml = root / "metaxy.toml"
        toml.write_text(toml.read_text().replace("/tmp/", f"{work}/"))
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(root / "src"), str(root)]),
        RANDOM_SEED="42",
        METAXY_CONFIG=str(root / "metaxy.toml"),
    )
    env.pop("METAXY_STORE", None)
    passed = failed = 0
    last = None
    for scenario in runbook["scenarios"]:
        for step in scenario["steps"]:
            kind = step["type"]
            if kind == "run_command":
                cmd = command_for(step["command"], python, reference)
                last = subprocess.run(
                    cmd,
                    shell=True,
                    cwd=root,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=step.get("timeout", 60) * 4,
                )
                ok = last.returncode == 0 or any(s.get("type") == "assert_output" for s in scenario["steps"])
                if verbose or last.returncode:
                    print(
                        f"  $ {cmd}\n"
                        + "".join(f"    | {ln}\n" for ln in (last.stdout + last.stderr).splitlines()[-40:])
                    )
                if not ok:
                    failed += 1
            elif kind == "apply_patch":
                p = subprocess.run(
                    ["patch", "-p1", "-i", str(root / step["patch_path"])],
                    cwd=root,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                print(f"  patch {step['patch_path']}: {'ok' if p.returncode == 0 else p.stdout + p.stderr}")
            elif kind == "assert_output":
                assert last is not None
                problems = []
                if "returncode" in step and last.returncode != step["returncode"]:
                    problems.append(f"exit {last.returncode}, expected {step['returncode']}")
                for text in step.get("contains", []):
                    if text not in last.stdout:
                        problems.append(f"missing {text!r}")
                status = "PASS" if not problems else "FAIL " + "; ".join(problems)
                print(f"  [{scenario['name']}] {step.get('description', '')}: {status}")
                if problems:
                    failed += 1
                    if not verbose:
                        print("".join(f"    | {ln}\n" for ln in (last.stdout + last.stderr).splitlines()[-30:]))
                else:
                    passed += 1
    shutil.rmtree(work, ignore_errors=True)
    return passed, failed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--metaxy-repo", required=True, type=Path, help="a checkout of anam-org/metaxy")
    ap.add_argument("--python", default=sys.executable, help="the interpreter to run the examples with")
    ap.add_argument("--example", action="append", choices=EXAMPLES, help="play only these (repeatable)")
    ap.add_argument("--reference", action="store_true", help="play unchanged, under Metaxy itself")
    ap.add_argument(
        "--compat-hash",
        action="store_true",
        help="store with Metaxy 0.1.11's hash settings (xxhash32, 8 characters), to compare printed provenance",
    )
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    total_failed = 0
    summary = []
    for name in args.example or EXAMPLES:
        d = args.metaxy_repo / "examples" / f"example-{name}"
        print(f"== {name}")
        passed, failed = play(d, str(Path(args.python).absolute()), args.reference, args.verbose, args.compat_hash)
        summary.append(f"{name}: {'PASS' if not failed else 'FAIL'} ({passed} checks passed, {failed} failed)")
        total_failed += bool(failed)
    print("\n".join(summary))
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
