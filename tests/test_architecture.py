"""Layering: which part of relsynth may import which, no import cycles, pure layers pure.

The target layering (``docs/architecture.md``; design §2)::

    base (errors, _typing, _random, _validation, _version)
      <- metadata (pure model of the schema, the plan and the SQL type vocabulary)
        <- keys, models, check, constraints, rules, io (the database layer: reflect,
           read, write, SQL checks; io may read check's report types)
          <- synthesis/ (synthesizer, repair, rule hooks, privacy, model files)
            <- evaluate, testing/ (contract kit, seeding) <- cli
              <- the flat API (relsynth/__init__.py)

Every import between relsynth's modules is read from the AST of every module,
imports inside functions included (those are real dependencies, taken later);
only imports under ``if TYPE_CHECKING:`` (annotations, never run) are left out.
An import from one unit to another must be in ``ALLOWED``; today's exceptions are
listed, each with its reason, in ``KNOWN_VIOLATIONS``, which may only shrink: an
entry whose import is gone fails too, so the list stays true.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1] / "relsynth"

#: Module (or package) -> unit; the longest matching prefix wins.
UNITS = {
    "relsynth._version": "base",
    "relsynth._typing": "base",
    "relsynth.errors": "base",
    "relsynth._random": "base",
    "relsynth._validation": "base",
    "relsynth.metadata": "metadata",
    "relsynth._columns": "metadata",
    "relsynth.keys": "keys",
    "relsynth.models": "models",
    "relsynth.check": "check",
    "relsynth.constraints": "constraints",
    "relsynth._sqleval": "constraints",
    "relsynth.rules": "rules",
    "relsynth.io": "io",
    "relsynth.synthesis": "synthesis",
    "relsynth.evaluate": "evaluate",
    "relsynth.testing": "testing",
    "relsynth.cli": "cli",
    "relsynth._cli_parser": "cli",
    "relsynth._cli_safety": "cli",
    "relsynth._cli_render": "cli",
    "relsynth._cli_dp": "cli",
    "relsynth.__main__": "cli",
    "relsynth": "api",
}

_BELOW_SYNTHESIS = {"base", "metadata", "keys", "models", "check", "constraints", "rules", "io"}

#: Unit -> the other units it may import (a unit may always import itself).
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "metadata": {"base"},
    "keys": {"base", "metadata"},
    "models": {"base", "metadata"},
    "check": {"base", "metadata"},
    "constraints": {"base", "metadata"},
    # cross-table rules: pure, on frames (design 3.8)
    "rules": {"base", "metadata"},
    # check_database returns check's IntegrityReport; the writer renders and computes
    # CHECK/generated expressions (constraints); io never imports models or keys
    "io": {"base", "metadata", "check", "constraints"},
    # synthesis works on frames: no SQL (io); model files are written as zips, not SQL
    "synthesis": _BELOW_SYNTHESIS - {"io"},
    "evaluate": _BELOW_SYNTHESIS | {"synthesis"},
    "testing": _BELOW_SYNTHESIS | {"synthesis"},
    "cli": _BELOW_SYNTHESIS | {"synthesis", "evaluate", "testing"},
    "api": _BELOW_SYNTHESIS | {"synthesis", "evaluate", "testing"},
}

#: Imports that break the layering or close a cycle today: (importer, imported, why).
#: Remove an entry with its import.
KNOWN_VIOLATIONS: list[tuple[str, str, str]] = []  # none left since issue 16's third round


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def unit_of(module: str) -> str:
    """The unit of a relsynth module (longest prefix of ``UNITS``)."""
    name = module
    while name not in UNITS:
        name = name.rpartition(".")[0]
    return UNITS[name]


class _Imports(ast.NodeVisitor):
    """Every relsynth module a module imports (function bodies included, not
    ``if TYPE_CHECKING:`` blocks)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            self._add(sub if sub in MODULES else base)

    def _add(self, name: str) -> None:
        if name.split(".")[0] != "relsynth":
            return
        while name not in MODULES:
            name = name.rpartition(".")[0]
        self.found.add(name)


def import_graph() -> nx.DiGraph:
    """Module -> imported module, over every module of relsynth."""
    graph = nx.DiGraph()
    for module, path in MODULES.items():
        graph.add_node(module)
        visitor = _Imports(module, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        graph.add_edges_from((module, t) for t in visitor.found if t != module)
    return graph


def layer_violations(graph: nx.DiGraph) -> set[tuple[str, str]]:
    """Imports from one unit to another that ``ALLOWED`` does not list."""
    out = set()
    for a, b in graph.edges:
        ua, ub = unit_of(a), unit_of(b)
        if ua != ub and ub not in ALLOWED[ua]:
            out.add((a, b))
    return out


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    """Groups of modules that import each other (strongly connected, 2+ modules)."""
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)


KNOWN = {(a, b) for a, b, _ in KNOWN_VIOLATIONS}


def test_every_module_has_a_unit_and_every_unit_a_rule():
    assert {unit_of(m) for m in MODULES} <= set(ALLOWED)
    assert all(units <= set(ALLOWED) for units in ALLOWED.values())


def test_imports_follow_the_layers():
    bad = layer_violations(import_graph()) - KNOWN
    assert not bad, "imports against the layering (docs/architecture.md): " + ", ".join(
        f"{a} ({unit_of(a)}) -> {b} ({unit_of(b)})" for a, b in sorted(bad)
    )


def test_no_import_cycles():
    graph = import_graph()
    graph.remove_edges_from(KNOWN)
    found = cycles(graph)
    assert not found, f"import cycles: {found}"


def test_known_violations_only_shrink():
    """Each listed import still exists and is still a violation or closes a cycle."""
    graph = import_graph()
    gone = sorted(KNOWN - set(graph.edges))
    assert not gone, f"no longer imported; remove from KNOWN_VIOLATIONS: {gone}"
    layered = layer_violations(graph)
    in_cycle = {(a, b) for group in cycles(graph) for a, b in graph.subgraph(group).edges}
    needless = sorted(KNOWN - layered - in_cycle)
    assert not needless, f"allowed and acyclic; remove from KNOWN_VIOLATIONS: {needless}"
    assert len(KNOWN_VIOLATIONS) <= 0  # today's count: lower it as entries go


def test_the_rules_catch_a_back_edge():
    """A deliberately added back edge (keys -> synthesizer) and a cycle are reported."""
    graph = import_graph()
    edge = ("relsynth.keys.generator", "relsynth.synthesis.synthesizer")
    graph.add_edge(*edge)
    assert edge in layer_violations(graph)
    graph.remove_edges_from(KNOWN)
    assert any("relsynth.keys.generator" in group for group in cycles(graph))


def test_imports_inside_functions_are_seen():
    source = "def f():\n    from relsynth.io.sql import read_tables\n"
    visitor = _Imports("relsynth.keys.generator", False)
    visitor.visit(ast.parse(source))
    assert visitor.found == {"relsynth.io.sql"}


PURE = [
    "relsynth",
    "relsynth.metadata",
    "relsynth.metadata.schema",
    "relsynth.metadata.graph",
    "relsynth.metadata.serialize",
    "relsynth.metadata.types",
    "relsynth.check",
    "relsynth.keys",
    "relsynth.rules",
    "relsynth.evaluate",
    "relsynth.synthesis",
]


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_do_not_import_heavy_deps(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = sorted({'torch', 'sqlalchemy'} & set(sys.modules)); "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_library_never_prints() -> None:
    """No print() calls in library code (the CLI formats output)."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        if path.name == "cli.py":
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("print(") or "sys.stdout.write" in stripped:
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}")
    assert not offenders, offenders
