"""The files made from the operation table (the OpenAPI document, the lab extension's
TypeScript types) are committed as the table makes them now: change an operation without
running `python -m nborch.api.codegen` and this fails, naming the stale files."""

from __future__ import annotations

from pathlib import Path

from nborch.api.codegen import GENERATED, main, stale_files

REPO = Path(__file__).resolve().parents[2]


def test_the_generated_files_are_not_stale() -> None:
    assert stale_files(REPO) == [], "make them again with: python -m nborch.api.codegen"


def test_the_check_fails_on_a_stale_file_and_writing_mends_it(tmp_path: Path) -> None:
    for name in GENERATED:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((REPO / name).read_text())
    (tmp_path / "openapi.json").write_text("{}\n")
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert stale_files(tmp_path) == ["openapi.json"]
    assert main(["--root", str(tmp_path)]) == 0
    assert stale_files(tmp_path) == []
