"""The package's imports point one way: foundation -> data -> models / compress / attacks ->
the suite's parsing -> engine -> reporting -> cli / api, with no import cycle, deferred imports
inside functions included (a deferred import only hides a cycle). Read from the source with
`ast`; imports under `if TYPE_CHECKING:` are annotations only and are left out."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "innr_bench"
# the layer of each top-level module or subpackage; a module may import its own layer and below
LAYERS = {
    "": 0, "errors": 0, "params": 0, "registry": 0, "progress": 0, "numerics": 0, "paths": 0,
    "data": 1,
    "models": 2, "compress": 2, "attacks": 2,
    "components": 3, "plugins": 3, "config": 3,
    "engine": 4,
    "reporting": 5,
    "cli": 6, "api": 6, "conformance": 6,
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules `name` imports anywhere in its body, outside TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text())
    annotations_only = {id(inner) for node in ast.walk(tree)
                        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                        for stmt in node.body for inner in ast.walk(stmt)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in annotations_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # `from a import b`: module a.b where it is one, else a
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m in known and m != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_top_level_module_has_a_layer(graph: dict[str, set[str]]) -> None:
    assert {layer(m) for m in graph} <= LAYERS.keys()


def test_imports_point_down_the_layers(graph: dict[str, set[str]]) -> None:
    upward = sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                    if LAYERS[layer(d)] > LAYERS[layer(m)])
    assert upward == []


def test_the_engine_imports_nothing_from_reporting(graph: dict[str, set[str]]) -> None:
    assert not [(m, d) for m, deps in graph.items() if layer(m) == "engine" for d in deps
                if layer(d) == "reporting"]


def test_there_is_no_import_cycle(graph: dict[str, set[str]]) -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep):], dep] if dep in path else [module, dep])
            elif dep not in state:
                walk(dep, [*path, dep])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    assert cycles == []


def test_the_walk_sees_deferred_imports(tmp_path: Path) -> None:
    """An import inside a function counts: it is how cycles used to hide."""
    source = tmp_path / "innr_bench" / "a.py"
    source.parent.mkdir()
    source.write_text("def f():\n    from innr_bench import b\n")
    known = {"innr_bench.a": source, "innr_bench.b": tmp_path / "b.py"}
    assert imported("innr_bench.a", source, known) == {"innr_bench.b"}
