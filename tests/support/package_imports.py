"""What nborch's modules import, read from their source (nothing imported): for tests of
where a dependency may be used."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import nborch

NBORCH = Path(nborch.__file__).parent


def imports(root: Path) -> Iterator[tuple[str, int, list[str]]]:
    """Every import in nborch's modules under `root`: the module's path from nborch's
    folder, the line, and the dotted parts of what it imports (module, then names)."""
    for path in sorted(root.rglob("*.py")):
        where = str(path.relative_to(NBORCH.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield where, node.lineno, [*node.module.split("."), *(a.name for a in node.names)]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield where, node.lineno, alias.name.split(".")
