"""Every subprocess in the tests has a timeout: a child that hangs fails its test instead of the run.

Read from the tests' source (ast), every call that waits for a child process must bound the wait:
subprocess.run / check_output / check_call / call need timeout=, `.communicate(...)` a timeout,
`.wait()` an argument; a child's pipe is not read with `.read()`, `.readline()` or a for loop
(use communicate(timeout=), select with a deadline, or a reader thread whose answers are awaited
with a timeout, and say so in a `# bounded: ...` comment on that line); os.system and os.popen
are not used.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
RUNNERS = {"run", "check_output", "check_call", "call"}
PIPES = {"stdout", "stderr"}


def problems_in(path: Path, root: Path = TESTS.parent) -> list[str]:
    source = path.read_text()
    lines = source.splitlines()
    out = []

    def flag(node: ast.AST, what: str) -> None:
        line = lines[node.lineno - 1]
        if "# bounded:" not in line:
            out.append(f"{path.relative_to(root)}:{node.lineno}: {what}: {line.strip()[:100]}")

    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, owner = node.func.attr, node.func.value
            keywords = {k.arg for k in node.keywords}
            if isinstance(owner, ast.Name) and owner.id == "subprocess" and name in RUNNERS:
                if "timeout" not in keywords:
                    flag(node, f"subprocess.{name} without timeout=")
            elif name == "communicate" and "timeout" not in keywords and len(node.args) < 2:
                flag(node, "communicate() without a timeout")
            elif name == "wait" and not node.args and not node.keywords:
                flag(node, ".wait() without a timeout")
            elif name in ("read", "readline", "readlines") and isinstance(owner, ast.Attribute) and owner.attr in PIPES:
                flag(node, f"a child's {owner.attr} read with .{name}() (no timeout)")
            elif isinstance(owner, ast.Name) and owner.id == "os" and name in ("system", "popen"):
                flag(node, f"os.{name}")
        elif (
            isinstance(node, (ast.For, ast.comprehension))
            and isinstance(node.iter, ast.Attribute)
            and node.iter.attr in PIPES
        ):
            flag(node.iter, f"a child's {node.iter.attr} read in a loop (no timeout)")
    return out


def test_every_wait_for_a_subprocess_in_the_tests_has_a_timeout():
    files = sorted(p for p in TESTS.rglob("*.py") if "__snapshots__" not in p.parts)
    assert len(files) > 20 and TESTS / "cli" / "test_cli_errors.py" in files
    problems = [p for f in files for p in problems_in(f)]
    assert not problems, "waits without a timeout:\n" + "\n".join(problems)


def test_the_check_finds_what_it_looks_for(tmp_path):
    bad = tmp_path / "t.py"
    bad.write_text(
        "import subprocess, os\n"
        "subprocess.run(['x'])\n"
        "p = subprocess.Popen(['x'], stdout=subprocess.PIPE)\n"
        "p.communicate()\n"
        "p.wait()\n"
        "p.stdout.readline()\n"
        "for line in p.stdout: pass\n"
        "os.system('x')\n"
        "for line in p.stderr: pass  # bounded: read on a thread, awaited with a timeout\n"
        "subprocess.run(['x'], timeout=5); p.communicate(timeout=5); p.wait(5)\n"
    )
    found = problems_in(bad, tmp_path)
    assert sorted(int(f.split(":")[1]) for f in found) == [2, 4, 5, 6, 7, 8], found
