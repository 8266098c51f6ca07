"""Flow sources: entrypoints, and checkouts of real (local, file://) git repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.git import commit_all, git, new_repository
from support.notebooks import make_notebook

from nborch.errors import ValidationError
from nborch.sources import SourceError, check_out, is_git_url, split_entrypoint


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    repo = new_repository(tmp_path / "repo")
    make_notebook(repo / "flows" / "report.ipynb", "n: int = 1", "print(n)")
    commit_all(repo, "one")
    return repo


def test_entrypoints() -> None:
    assert split_entrypoint("flows/report.ipynb") == ("flows/report.ipynb", None)
    assert split_entrypoint("flows/report.ipynb:daily") == ("flows/report.ipynb", "daily")
    with pytest.raises(ValidationError, match="must name a notebook"):
        split_entrypoint("flows/report.py")


def test_git_urls() -> None:
    assert is_git_url("https://github.com/x/y.git") and is_git_url("file:///tmp/repo")
    assert not is_git_url("/home/me/flows")


def test_checkout_follows_the_branch_and_names_the_commit(
    repository: Path, tmp_path: Path, nborch_home: Path
) -> None:
    url = f"file://{repository}"
    first = check_out(url, tmp_path / "run1")
    assert (first.path / "flows" / "report.ipynb").exists()
    assert first.commit == git("rev-parse", "HEAD", cwd=repository)
    make_notebook(repository / "flows" / "report.ipynb", "n: int = 2", "print(n)")
    newest = commit_all(repository, "two")
    second = check_out(url, tmp_path / "run2")
    assert second.commit == newest != first.commit
    assert "n: int = 2" in (second.path / "flows" / "report.ipynb").read_text()


def test_unreadable_repository_and_branch(
    repository: Path, tmp_path: Path, nborch_home: Path
) -> None:
    with pytest.raises(SourceError, match="Cannot read the git repository"):
        check_out(f"file://{tmp_path}/nowhere", tmp_path / "x")
    with pytest.raises(SourceError, match="Cannot check out nope"):
        check_out(f"file://{repository}", tmp_path / "y", ref="nope")
