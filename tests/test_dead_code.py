"""Reads that nothing calls are deleted, not kept: an unused selector drifts from the rules
(one read history without the program filter and would have leaked hidden programs the day
someone called it).

Every public function and class of the selector modules, and of the incentives modules
that load and reconcile the ledger, must be named somewhere in the product besides its own
definition. Tests do not count: they would keep alive what only they call.
"""

import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {".venv", "tests", "migrations", "bench", "node_modules"}
MODULES = sorted(
    {path.relative_to(ROOT) for path in ROOT.glob("*/selectors.py")}
    | {Path("incentives/reconcile.py"), Path("incentives/facts.py"), Path("incentives/periods.py")}
)


@functools.cache
def _product_sources() -> tuple[str, ...]:
    folders = [path for path in ROOT.iterdir() if path.is_dir() and path.name not in SKIPPED]
    return tuple(
        path.read_text()
        for folder in folders
        if not folder.name.startswith(".")
        for path in folder.rglob("*")
        if path.suffix in {".py", ".html"} and not SKIPPED & set(path.relative_to(ROOT).parts)
    )


@pytest.mark.parametrize("module", MODULES, ids=str)
def test_every_public_read_has_a_caller_in_the_product(module):
    sources = _product_sources()
    tree = ast.parse((ROOT / module).read_text())
    unused = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
            word = re.compile(rf"\b{node.name}\b")
            # One occurrence is the definition itself.
            if sum(len(word.findall(source)) for source in sources) <= 1:
                unused.append(node.name)
    assert unused == [], f"{module}: nothing in the product calls {', '.join(unused)}"
