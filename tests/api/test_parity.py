"""With NBORCH_API_URL set, the CLI asks a server and says exactly what it says on the local
store: the same tables, the same JSON, the same errors and exit codes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import invoker

from nborch.api.server import BackgroundServer
from nborch.client import LocalClient
from nborch.settings import reset_settings
from nborch.store.engine import close_stores

REPO = Path(__file__).resolve().parents[2]
HELLO = str(REPO / "notebooks" / "hello.ipynb")

# Each command, with stdin where it needs one; the same script runs on both sides.
SCRIPT: list[tuple[list[str], str | None]] = [
    (["work-pool", "create", "etl", "--type", "process", "--concurrency-limit", "2"], None),
    (["work-pool", "create", "etl"], None),  # taken
    (["work-pool", "create", "bad/name"], None),
    (["work-pool", "create", "x", "--type", "nope"], None),
    (["work-pool", "ls"], None),
    (["work-pool", "inspect", "etl"], None),
    (["work-pool", "inspect", "nope"], None),
    (["work-pool", "pause", "etl"], None),
    (["work-pool", "resume", "etl"], None),
    (["work-pool", "set-concurrency-limit", "etl", "3"], None),
    (["work-queue", "create", "urgent", "--pool", "etl", "--priority", "1"], None),
    (["work-queue", "ls", "--pool", "etl"], None),
    (["deploy", HELLO, "--name", "daily", "--pool", "etl", "--cron", "0 1 * * *"], None),
    (["deploy", HELLO, "--name", "bad", "--pool", "etl", "--cron", "61 * * * *"], None),
    (["deploy", HELLO, "--name", "lost", "--pool", "missing"], None),
    (["deployment", "ls"], None),
    (["deployment", "inspect", "hello/daily"], None),
    (["deployment", "inspect", "hello/daily", "--json"], None),
    (["deployment", "schedule", "ls", "hello/daily"], None),
    (["deployment", "schedule", "create", "hello/daily", "--interval", "3600"], None),
    (["deployment", "run", "hello/daily", "-p", "name=Ada", "-p", "times=2"], None),
    (["deployment", "run", "hello/daily", "-p", "times=many"], None),
    (["deployment", "run", "hello/daily", "-p", "nope=1"], None),
    (["deployment", "run", "hello/other"], None),
    (["deployment", "pause", "hello/daily"], None),
    (["deployment", "resume", "hello/daily"], None),
    (["flow-run", "ls"], None),
    (["flow-run", "ls", "--json"], None),
    (["flow-run", "inspect", "00000000-0000-0000-0000-000000000000"], None),
    (["worker", "ls"], None),
    (["secret", "set", "db-password"], "s3cret\n"),
    (["secret", "ls"], None),
    (["secret", "delete", "nope"], None),
    (["work-queue", "delete", "urgent", "--pool", "etl"], None),
    (["deployment", "delete", "hello/daily"], None),
    (["work-pool", "delete", "etl"], None),
    (["work-pool", "ls", "--json"], None),
]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
_RUN_NAME = re.compile(r"\b(?<=-)[0-9a-f]{8}\b")  # runs are named DEPLOYMENT-<8 hex>
_AGO = re.compile(r"\b\d+(\.\d+)? ?(s|m|h|d) ago\b")
# Who made a run differs by design: the OS user on the store, the key through a server.
_CREATOR = re.compile(r'"created_by": "(local|key):[^"]*"')


def _normal(text: str, home: Path) -> str:
    text = text.replace(str(home), "<home>")
    for pattern, mark in [
        (_UUID, "<id>"),
        (_TIME, "<time>"),
        (_RUN_NAME, "<run>"),
        (_AGO, "<ago>"),
        (_CREATOR, '"created_by": "<creator>"'),
    ]:
        text = pattern.sub(mark, text)
    return text


def _play(home: Path) -> list[tuple[int, str]]:
    invoke = invoker()
    results = []
    for args, stdin in SCRIPT:
        result = invoke(*args) if stdin is None else _with_input(args, stdin)
        results.append((result.exit_code, _normal(result.output, home)))
    return results


def _with_input(args: list[str], stdin: str) -> object:
    from click.testing import CliRunner

    from nborch.cli.main import cli

    return CliRunner().invoke(cli, args, input=stdin, prog_name="nborch")


@pytest.fixture
def two_homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    # Same length, so that tables come out just as wide on both sides.
    local, served = tmp_path / "home-l", tmp_path / "home-s"
    for name in ["NBORCH_DATABASE_URL", "NBORCH_API_URL", "NBORCH_API_KEY"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NBORCH_SECRET_KEY", "Ojc1bLYwO8WxHUeL3mNtvNqTVeUCDr3F7D6mEUQvPj0=")
    yield local, served
    close_stores()
    reset_settings()


def test_cli_says_the_same_through_the_server(
    two_homes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    local_home, served_home = two_homes
    monkeypatch.setenv("NBORCH_HOME", str(local_home))
    reset_settings()
    on_local_store = _play(local_home)

    monkeypatch.setenv("NBORCH_HOME", str(served_home))
    reset_settings()
    key = LocalClient().create_api_key("parity", "admin").key
    with BackgroundServer(run_scheduler=False, echo=lambda _line: None) as server:
        monkeypatch.setenv("NBORCH_API_URL", server.url)
        monkeypatch.setenv("NBORCH_API_KEY", key)
        reset_settings()
        through_server = _play(served_home)

    assert len(on_local_store) == len(SCRIPT)
    assert {code for code, _ in on_local_store} == {0, 1}  # the script has both outcomes
    for (args, _stdin), local, served in zip(SCRIPT, on_local_store, through_server, strict=True):
        assert served == local, f"nborch {' '.join(args)}"
