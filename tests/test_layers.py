"""The layers hold: the contracts README's "Architecture" section states, read from the source.

Each module's imports are read from its syntax tree (no module is imported), so a broken rule
fails here whether or not a test happens to run the offending line. The layers, bottom up:

- engine: everything that is not one of the below (definitions, graph, hashing, explain, store);
- store implementations: metaxy_tui/store/sqlite/ (and any store beside it), reached by the rest
  of the code only through metaxy_tui/store's interface and the names the package exports;
- service: metaxy_tui/service/, shared by the command line and the TUI;
- cli and tui: metaxy_tui/cli/ and metaxy_tui/tui/, which reach the engine only through the
  service (they may name the shared errors, metaxy_tui/errors.py: errors as data);
- tools: the benchmarks (metaxy_tui/bench/, metaxy_tui/bench_trace.py), programs that drive any
  layer; only `metaxy-tui bench` starts one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "metaxy_tui"
PACKAGE = "metaxy_tui"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Every import of a module as (imported module, line, at module level?); those in
    `if TYPE_CHECKING:` blocks (they never run) apart, in `typing_only`."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module, self.is_package = module, is_package
        self.found: list[tuple[str, int, bool]] = []
        self.typing_only: list[tuple[str, int, bool]] = []
        self.depth = 0
        self.in_type_checking = False

    def _base(self, level: int) -> list[str]:
        parts = self.module.split(".")
        if not self.is_package:
            parts = parts[:-1]
        return parts[: len(parts) - (level - 1)] if level > 1 else parts

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            self.in_type_checking = True
            for child in node.body:
                self.visit(child)
            self.in_type_checking = False
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _scoped(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scoped

    def _add(self, target: str, line: int) -> None:
        (self.typing_only if self.in_type_checking else self.found).append((target, line, self.depth == 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = (
            ".".join(self._base(node.level) + ([node.module] if node.module else []))
            if node.level
            else node.module or ""
        )
        for alias in node.names:
            # `from package import module` imports the module; `from module import name`, the module
            target = f"{base}.{alias.name}"
            self._add(target if target in MODULES else base, node.lineno)


def _imports(module: str) -> _Imports:
    path = MODULES[module]
    visitor = _Imports(module, path.name == "__init__.py")
    visitor.visit(ast.parse(path.read_text(), str(path)))
    return visitor


_VISITED = {m: _imports(m) for m in MODULES}
IMPORTS = {m: v.found for m, v in _VISITED.items()}
TYPING_ONLY = {m: v.typing_only for m, v in _VISITED.items()}


def _in(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


TOOLS = ("metaxy_tui.bench", "metaxy_tui.bench_trace", "metaxy_tui.bench_recompute", "metaxy_tui.tui.bench_samples")
UI = ("metaxy_tui.cli", "metaxy_tui.tui", "metaxy_tui.__main__")
SERVICE = ("metaxy_tui.service",)
STORE = ("metaxy_tui.store",)
# errors as data (the TUI shows them in place, the CLI line by line); the words every layer shares
# (StrEnums); the version shown; JSON text made in polars (an output format: no store, no state)
SHARED_WITH_UI = ("metaxy_tui.errors", "metaxy_tui.vocabulary", "metaxy_tui.version", "metaxy_tui.jsontext")


def _layer(module: str) -> str:
    if _in(module, *TOOLS):
        return "tools"
    if _in(module, *UI):
        return "ui"
    if _in(module, *SERVICE):
        return "service"
    return "engine"


def _broken(rule, *, scope=lambda m: True) -> list[str]:
    return sorted(
        {
            f"{MODULES[m].relative_to(ROOT.parent)}:{line} imports {target}"
            for m in MODULES
            if scope(m)
            for target, line, _ in IMPORTS[m]
            if rule(m, target)
        }
    )


def test_the_engine_and_the_service_import_no_ui_library():
    ui_libraries = ("textual", "click", "rich")
    assert _broken(lambda m, t: _in(t, *ui_libraries), scope=lambda m: _layer(m) in ("engine", "service")) == []


def test_the_engine_imports_nothing_above_it():
    assert _broken(lambda m, t: _in(t, PACKAGE) and _layer(t) != "engine", scope=lambda m: _layer(m) == "engine") == []


def test_the_service_imports_neither_the_cli_nor_the_tui():
    assert (
        _broken(lambda m, t: _in(t, PACKAGE) and _layer(t) in ("ui", "tools"), scope=lambda m: _layer(m) == "service")
        == []
    )


def test_the_cli_and_the_tui_reach_the_engine_only_through_the_service():
    def engine(m, t):
        return _in(t, PACKAGE) and t != PACKAGE and _layer(t) == "engine" and not _in(t, *SHARED_WITH_UI)

    assert _broken(engine, scope=lambda m: _layer(m) == "ui") == []


def test_the_tui_never_imports_the_cli():
    assert _broken(lambda m, t: _in(t, "metaxy_tui.cli"), scope=lambda m: _in(m, "metaxy_tui.tui")) == []


def test_only_the_store_package_reaches_a_store_implementation():
    """Outside metaxy_tui/store/ a store is the interface (store/interface.py) and the names
    metaxy_tui.store exports (the implementations to construct, store_at); its submodules, their
    system tables and sqlite3 stay inside."""
    implementation = [t for t in MODULES if _in(t, *STORE) and t.count(".") >= 3]  # metaxy_tui.store.sqlite.*
    assert implementation, "the SQLite store's modules moved: update this test"

    def inside(m, t):
        return t in implementation or _in(t, "metaxy_tui.store.sqlite")

    assert _broken(inside, scope=lambda m: not _in(m, *STORE)) == []
    assert _broken(lambda m, t: t == "sqlite3", scope=lambda m: not _in(m, *STORE, *TOOLS)) == []


def _store_privates() -> set[str]:
    """The private members of the store package's classes: methods and attributes set on self."""
    names = set()
    for m in MODULES:
        if not _in(m, *STORE):
            continue
        for cls in ast.walk(ast.parse(MODULES[m].read_text())):
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in ast.walk(cls):
                name = (
                    node.name
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                    else node.attr
                    if isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "self"
                    and isinstance(node.ctx, ast.Store)
                    else ""
                )
                if name.startswith("_") and not name.startswith("__"):
                    names.add(name)
    return names


STORE_PRIVATES = _store_privates()


def _system_tables_and_store_privates(module: str) -> list[str]:
    """System-table names in string constants, and a store's private members (`x._name`, x not self)."""
    path = MODULES[module]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and "_metaxy_" in node.value
            and "__metaxy_" not in node.value
        ):
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} names a system table: {node.value[:40]!r}")
        if (
            isinstance(node, ast.Attribute)
            and node.attr in STORE_PRIVATES
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(
                f"{path.relative_to(ROOT.parent)}:{node.lineno} reaches a store's private member: {ast.unparse(node)}"
            )
    return found


@pytest.mark.parametrize("layer", ["engine", "service", "ui"])
def test_no_module_outside_the_store_names_a_system_table_or_a_private_member_of_a_store(layer):
    assert {"_graph", "_reader"} <= STORE_PRIVATES  # (the rule knows what to look for)
    modules = [m for m in MODULES if _layer(m) == layer and not _in(m, *STORE)]
    assert [problem for m in modules for problem in _system_tables_and_store_privates(m)] == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _edges(*, module_level_only: bool, typing_too: bool = False) -> dict[str, set[str]]:
    """Imports between the package's modules; a package's own __init__ re-exporting its modules
    is left out (importing a module runs its package's __init__ first, which is no cycle)."""
    edges: dict[str, set[str]] = {}
    for m in MODULES:
        for target, _, top in IMPORTS[m] + (TYPING_ONLY[m] if typing_too else []):
            if (
                target in MODULES
                and target != m
                and (top or not module_level_only)
                and not (MODULES[m].name == "__init__.py" and _in(target, m))
            ):
                edges.setdefault(m, set()).add(target)
    return edges


def test_no_import_cycles_between_modules():
    """Not at import time, and not through an import inside a function either (a deferred import
    hides a cycle; it does not remove it)."""
    assert _cycles(_edges(module_level_only=False)) == []


def test_no_cycles_through_type_hints_either():
    """Two modules that name each other's types are one concept split in two, or need a protocol
    between them (store/sqlite/handle.py)."""
    assert _cycles(_edges(module_level_only=False, typing_too=True)) == []


def test_the_rules_see_the_modules_they_govern():
    """A test that read nothing would pass: the walk finds each layer and their imports."""
    layers = {_layer(m) for m in MODULES}
    assert layers == {"engine", "service", "ui", "tools"}
    assert any(t == "metaxy_tui.service.project" for t, _, _ in IMPORTS["metaxy_tui.tui.app"])
    assert any(_in(t, "textual") for m in MODULES if _in(m, "metaxy_tui.tui") for t, _, _ in IMPORTS[m])
