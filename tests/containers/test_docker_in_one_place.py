"""nborch's Docker code is one package: only nborch/containers imports the Docker SDK."""

from __future__ import annotations

from support.package_imports import NBORCH, imports


def test_only_the_containers_package_imports_docker() -> None:
    elsewhere = [
        f"{where}:{line}"
        for where, line, names in imports(NBORCH)
        if names[0] == "docker" and not where.startswith("nborch/containers/")
    ]
    assert elsewhere == []
