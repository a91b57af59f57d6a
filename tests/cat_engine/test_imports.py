"""cat_engine's modules import each other without a cycle, function-level imports included."""

import ast
from pathlib import Path

import cat_engine

PACKAGE = "cat_engine"


def _imported_modules(source: str, package: str, modules: set[str]) -> set[str]:
    """The modules of ``package`` (names in ``modules``) that ``source`` imports anywhere:
    top level, inside functions or ``if`` blocks; relative and absolute forms."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:
                continue  # above the package: not one of its modules
            if node.level == 1:
                base = node.module.split(".")[0] if node.module else None
            elif node.module and node.module.split(".")[0] == package:
                parts = node.module.split(".")
                base = parts[1] if len(parts) > 1 else None
            else:
                continue
            if base is not None:
                found.add(base)
            else:  # ``from . import x`` / ``from cat_engine import x``: x may be a module
                found.update(alias.name for alias in node.names if alias.name in modules)
    return found & modules


def import_graph(sources: dict[str, str], package: str = PACKAGE) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` from the modules' source texts."""
    modules = set(sources)
    return {name: _imported_modules(text, package, modules) - {name}
            for name, text in sources.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_cat_engine_has_no_import_cycle():
    root = Path(cat_engine.__file__).parent
    sources = {p.stem: p.read_text(encoding="utf-8") for p in root.glob("*.py")}
    graph = import_graph(sources)
    assert {"simulation", "exposure", "assembly", "irt"} <= set(graph)
    assert "estimation" in graph["assembly"]  # the graph sees the imports at all
    assert find_cycle(graph) is None, find_cycle(graph)


def test_the_cycle_check_sees_every_form_of_import():
    # The shape of the cycle the exposure calibrators once had (a lazy import inside a
    # function), and the other spellings of an import inside the package.
    lazy = {
        "exposure": "def calibrate():\n    from .simulation import simulate\n",
        "simulation": "from .exposure import exposure_rates\n",
    }
    assert find_cycle(import_graph(lazy)) == ["exposure", "simulation", "exposure"]
    for spelling in ("import cat_engine.b\n", "from cat_engine.b import f\n",
                     "from cat_engine import b\n", "from . import b\n",
                     "if True:\n    from .b import f\n", "from .b.sub import f\n"):
        graph = import_graph({"a": spelling, "b": "from .a import g\n"})
        assert find_cycle(graph) == ["a", "b", "a"], spelling
    unrelated = {"a": "import numpy\nfrom scipy import special\nfrom .. import x\n",
                 "b": "from .a import f\nfrom cat_engine import GRID\n"}
    assert find_cycle(import_graph(unrelated)) is None
