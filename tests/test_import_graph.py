"""The layering the README promises, checked on the source: arrows point down
(pipelines -> unipic/curation -> reward_models), reward_models imports none of our packages
above it (nor the synthetic world), and no module imports itself through a cycle (function-level
imports included, since a lazy import still ties the modules together)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("reward_models", "curation", "unipic", "synthetic", "recipes")


def _modules() -> dict[str, Path]:
    mods = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in its body)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [module] + [f"{module}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    graph[name].add(t)
    return graph


def _cycles(graph: dict[str, set[str]], nodes) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def _upward(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from reward_models into any other package of ours."""
    return sorted((a, b) for a, deps in graph.items() for b in deps
                  if a.split(".")[0] == "reward_models" and b.split(".")[0] != "reward_models")


def test_reward_models_imports_nothing_of_ours_above_it():
    assert _upward(_imports(_modules())) == []


def test_no_import_cycles():
    mods = _modules()
    assert _cycles(_imports(mods), mods) == []


def test_the_check_sees_a_cycle_and_an_upward_import():
    # The checker itself must be able to fail: a two-module cycle and a reward_models -> curation edge.
    graph = {"a.x": {"a.y"}, "a.y": {"a.x"}, "reward_models.z": {"curation.w"}}
    assert _cycles(graph, graph) == [["a.x", "a.y"]]
    assert _upward(graph) == [("reward_models.z", "curation.w")]
