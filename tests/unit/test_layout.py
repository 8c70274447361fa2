"""The tree shows the flow: each folder is a stage or a host, and imports only run down the flow.

Layers, lowest first. A module may import its own layer and those below, never one above; the
two hosts (engine/, the plain-Python reference, and flink/, the only place PyFlink is imported)
do not import each other.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "chainwatch"

LAYERS = {
    "core": 0,                  # event model, identity keys, providers, errors, units, YAML loading
    "sources": 1, "parsers": 2, "enrich": 3, "steps": 4, "patterns": 5, "findings": 6, "sinks": 7,
    "config": 8,                # loads the settings every stage declares
    "engine": 9, "flink": 9,    # the two hosts of the same stages
    "ops": 10, "sample": 10,    # operations (cluster, broker, preflight) and the sample generator
    "cli": 11, "case_runner": 11,
}
HOSTS = {"engine", "flink"}
PURE = [name for name in LAYERS if name not in ("flink", "cli", "case_runner")]


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _top(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "core"       # chainwatch/__init__ (the version) is shared


def _imports(path: Path, module: str):
    """Every chainwatch module `module` imports, at module level or inside functions."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if not node.level else ".".join(module.split(".")[:-node.level] + [node.module])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _graph():
    """module -> the chainwatch modules it imports (`from package import module` names the module,
    not the package)."""
    modules = dict(_modules())
    graph = {}
    for module, path in modules.items():
        names = set(_imports(path, module))
        graph[module] = {name for name in names if name in modules and name != module
                         and not any(other.startswith(name + ".") and other in modules for other in names)}
    return graph


def test_every_module_is_in_a_layer():
    assert sorted({_top(m) for m, _ in _modules()} - set(LAYERS)) == []


def test_pyflink_is_imported_in_one_folder():
    importing = sorted({str(path.relative_to(PACKAGE)) for module, path in _modules()
                        if any(name.split(".")[0] == "pyflink" for name in _imports(path, module))})
    assert [p for p in importing if not p.startswith("flink/")] == []


def test_no_import_runs_back_up():
    wrong = []
    for module, imported in _graph().items():
        for name in imported:
            mine, theirs = _top(module), _top(name)
            if LAYERS[theirs] > LAYERS[mine] or (mine in HOSTS and theirs in HOSTS and mine != theirs):
                wrong.append(f"{module} -> {name}")
    assert sorted(wrong) == []


def test_no_import_cycle():
    graph, state, cycles = _graph(), {}, []

    def visit(module, stack):
        state[module] = "open"
        for name in sorted(graph[module]):
            if state.get(name) == "open":
                cycles.append(" -> ".join(stack[stack.index(name):] + [name]))
            elif name not in state:
                visit(name, stack + [name])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_module_names_are_unique():
    names = Counter(path.name for _, path in _modules() if path.name not in ("__init__.py", "__main__.py"))
    assert sorted(name for name, n in names.items() if n > 1) == []


def test_stage_folders_run_without_pyflink():
    """Import every module of the pure folders in a fresh interpreter: PyFlink stays out."""
    modules = [m for m, path in _modules() if _top(m) in PURE and path.name != "__main__.py"]
    code = ("import sys, importlib\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyflink'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
