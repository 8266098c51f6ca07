"""Where a flow's notebook comes from: a folder (referenced where it is, not copied) or a
git repository (checked out for each run at the branch's newest commit, which the run
records).

Git checkouts come from a mirror kept under $NBORCH_HOME/sources/, fetched once per run,
so a run costs a local clone rather than a download of the whole repository.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from nborch.errors import NborchError, ValidationError
from nborch.home_files import private_folder
from nborch.settings import get_settings

_GIT_PREFIXES = ("http://", "https://", "git@", "ssh://", "git://", "file://")


class SourceError(NborchError):
    """A flow's source (a git repository) cannot be read."""


def is_git_url(source: str) -> bool:
    return source.startswith(_GIT_PREFIXES) or source.endswith(".git")


def notebook_location(source: str, entrypoint: str) -> tuple[str, str | None]:
    """(input path, working directory) of a deployment's runs. A git source is checked out
    by the worker for each run: until then the path is the entrypoint inside it."""
    if is_git_url(source):
        return entrypoint, None
    # Plain string joins: the scheduler calls this for every run it makes.
    notebook = os.path.normpath(os.path.join(source, entrypoint))
    return notebook, os.path.dirname(notebook)


def split_entrypoint(entrypoint: str) -> tuple[str, str | None]:
    """`path/nb.ipynb` or `path/nb.ipynb:flow_name` → (path, flow name or None)."""
    path, sep, name = entrypoint.rpartition(":")
    if sep and path.endswith(".ipynb") and name and "/" not in name:
        return path, name
    if not entrypoint.endswith(".ipynb"):
        raise ValidationError(
            f"Entrypoint {entrypoint!r} must name a notebook: 'path/to/nb.ipynb' or "
            "'path/to/nb.ipynb:flow_name'."
        )
    return entrypoint, None


@dataclass(frozen=True)
class Checkout:
    path: Path
    commit: str


def _git(*args: str, cwd: Path | None = None) -> str:
    if shutil.which("git") is None:
        raise SourceError("git is not installed here: install it to use flows from git.")
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        reason = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise SourceError(f"git {args[0]} failed: {reason}")
    return done.stdout.strip()


def _mirror(url: str) -> Path:
    """The local mirror of `url`, made or brought up to date."""
    folder = get_settings().home / "sources" / hashlib.sha1(url.encode()).hexdigest()[:16]
    if (folder / "HEAD").exists():
        _git("fetch", "--quiet", "--prune", "origin", "+refs/heads/*:refs/heads/*", cwd=folder)
    else:
        private_folder(folder.parent)
        try:
            _git("clone", "--quiet", "--mirror", url, str(folder))
        except SourceError as err:
            raise SourceError(
                f"Cannot read the git repository {url!r}: {err.message}. Check the URL and "
                "your access to it."
            ) from None
    return folder


def check_out(url: str, destination: Path, ref: str | None = None) -> Checkout:
    """A working copy of `url` at `ref` (default: its default branch) in `destination`."""
    mirror = _mirror(url)
    if destination.exists():
        shutil.rmtree(destination)
    branch = ["--branch", ref] if ref else []
    try:
        _git("clone", "--quiet", "--shared", *branch, str(mirror), str(destination))
    except SourceError as err:
        raise SourceError(
            f"Cannot check out {ref or 'the default branch'} of {url!r}: {err.message}"
        ) from None
    return Checkout(destination, _git("rev-parse", "HEAD", cwd=destination))
