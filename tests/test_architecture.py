"""The package's shape: no private name used across modules, no module grown too long.

The import direction itself is checked by ``lint-imports`` (the contracts in pyproject.toml),
which cannot see names; this test can.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"
MAX_LINES = 400


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(source: str) -> list[str]:
    """``from x import _name`` and ``module._name`` for modules of the package, by line."""
    tree = ast.parse(source)
    found = []
    package_modules: set[str] = set()  # local names bound to modules of the package
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or
                                                 (node.module or "").startswith("newsletter")):
            for alias in node.names:
                if is_private(alias.name):
                    found.append(f"line {node.lineno}: from {node.module or '.'} import "
                                 f"{alias.name}")
                package_modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("newsletter"):
                    package_modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and is_private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in package_modules):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_is_used_across_modules(path: Path):
    assert private_uses(path.read_text("utf-8")) == []


def test_the_check_sees_private_names():
    source = ("from .build import _neighbours\n"
              "from ..reading import cache as corpus_cache\n"
              "corpus_cache._note('x')\n"
              "from .models import Issue\n"
              "Issue.slug\n")
    assert private_uses(source) == ["line 1: from build import _neighbours",
                                    "line 3: corpus_cache._note"]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_stays_short(path: Path):
    relative = path.relative_to(PACKAGE).as_posix()
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{relative} has {lines} lines: split it by job"
