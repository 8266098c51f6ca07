"""The files made from the operation table: the API's OpenAPI document (`openapi.json` at the
root of the source tree) and the JupyterLab extension's types (`labextension/src/
api-types.ts`). Both are committed, so a reader (and the extension's build) needs no Python.

    python -m nborch.api.codegen            # write them
    python -m nborch.api.codegen --check    # exit 1 naming those that are stale

A test runs the check: a change to the table without the files made again fails it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from nborch.api.openapi import build_openapi
from nborch.api.typescript import typescript_types

SOURCE_TREE = Path(__file__).resolve().parents[2]


def openapi_document() -> str:
    return json.dumps(build_openapi(), indent=2) + "\n"


GENERATED: dict[str, Callable[[], str]] = {
    "openapi.json": openapi_document,
    "labextension/src/api-types.ts": typescript_types,
}


def stale_files(root: Path = SOURCE_TREE) -> list[str]:
    """The generated files (relative to `root`) whose contents are not what the table makes."""
    stale = []
    for name, make in GENERATED.items():
        path = root / name
        if not path.exists() or path.read_text() != make():
            stale.append(name)
    return stale


def write_files(root: Path = SOURCE_TREE) -> list[str]:
    """Write the generated files that changed; the names of those written."""
    written = []
    for name in stale_files(root):
        (root / name).write_text(GENERATED[name]())
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only say which files are stale")
    parser.add_argument("--root", type=Path, default=SOURCE_TREE, help="the source tree")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.root)
        for name in stale:
            print(f"{name} is stale: make it again with: python -m nborch.api.codegen")
        return 1 if stale else 0
    for name in write_files(args.root):
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
