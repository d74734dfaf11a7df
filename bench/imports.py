"""Figures on how the product's modules import each other.

    python -m bench.imports [ROOT]

Reads the source (no Django, no database) of every product module under ROOT
(default: the repository; tests, migrations, bench and .venv left out) and prints

  cycles           groups of modules that import each other, counting every
                   import (module level and inside functions): a cycle broken
                   by a function-local import is still a cycle of design;
  upward imports   imports from a lower layer of ``LAYERS`` into a higher one,
                   at any depth;
  function-local   imports of product modules written inside a function;
  largest files    the longest modules, in lines;

and a final JSON line with every figure.
"""

import ast
import json
import sys
from collections import defaultdict
from pathlib import Path

SKIPPED = {".venv", "tests", "migrations", "bench", "node_modules", "static", "templates"}
# From the bottom. An app may import its own layer and the layers below; the
# top layer's apps (portal, api, demo) and the project's wiring (prm.urls,
# prm.celery) may import anything.
LAYERS = [
    ["prm", "core"],
    ["accounts", "partners"],
    ["programs"],
    ["criteria"],
    ["gates"],
    ["deals"],
    ["incentives"],
    ["portal", "api", "demo", "prm.urls", "prm.celery"],
]


def product_modules(root: Path) -> dict[str, Path]:
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if SKIPPED & set(parts) or parts[0].startswith(".") or len(parts) < 2:
            continue
        if not (root / parts[0] / "__init__.py").exists():
            continue
        name = ".".join(parts)[: -len(".py")]
        modules[name.removesuffix(".__init__")] = path
    return modules


def _target(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict[str, Path]):
    """(imported module, written inside a function?, line) for each product import."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    target = _target(alias.name, modules)
                    if target:
                        yield target, inside, child.lineno
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    target = _target(f"{base}.{alias.name}", modules) or _target(base, modules)
                    if target:
                        yield target, inside, child.lineno
            else:
                yield from visit(child, inside)

    yield from visit(tree, False)


def layer_of(module: str) -> int | None:
    if module == "prm":
        return len(LAYERS) - 1  # prm/__init__.py starts the Celery app: wiring, on top
    best = None
    for index, names in enumerate(LAYERS):
        for prefix in names:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    sys.setrecursionlimit(10000)

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def measure(root: Path) -> dict:
    modules = product_modules(root)
    graph: dict[str, set[str]] = defaultdict(set)
    local: list[str] = []
    upward: list[str] = []
    for name, path in modules.items():
        graph[name]
        for target, in_function, line in imports_of(name, path, modules):
            if target == name or name.startswith(target + "."):
                continue  # a package's own __init__, or the module itself
            graph[name].add(target)
            where = f"{path.relative_to(root)}:{line} -> {target}"
            if in_function and path.name != "apps.py":
                # AppConfig.ready is where Django wants an app to import its
                # receivers; those are not counted.
                local.append(where)
            source_layer, target_layer = layer_of(name), layer_of(target)
            if source_layer is not None and target_layer is not None and target_layer > source_layer:
                upward.append(where)
    sizes = sorted(
        ((len(path.read_text().splitlines()), str(path.relative_to(root))) for path in modules.values()),
        reverse=True,
    )
    return {
        "cycles": cycles(graph),
        "upward_imports": sorted(set(upward)),
        "function_local_imports": sorted(set(local)),
        "largest_files": sizes[:8],
    }


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    figures = measure(root)
    print(f"cycles: {len(figures['cycles'])}")
    for group in figures["cycles"]:
        print("   ", " <-> ".join(group))
    print(f"upward imports: {len(figures['upward_imports'])}")
    for where in figures["upward_imports"]:
        print("   ", where)
    print(f"function-local imports: {len(figures['function_local_imports'])}")
    for where in figures["function_local_imports"]:
        print("   ", where)
    print("largest files:")
    for lines, path in figures["largest_files"]:
        print(f"    {lines:5} {path}")
    print(
        json.dumps(
            {
                "cycles": len(figures["cycles"]),
                "upward_imports": len(figures["upward_imports"]),
                "function_local_imports": len(figures["function_local_imports"]),
                "largest_file_lines": figures["largest_files"][0][0],
            }
        )
    )


if __name__ == "__main__":
    main()
