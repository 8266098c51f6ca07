"""The `nborch` group loads a command's module only when that command is used: its summaries
stand in for the commands in `nborch --help`, and they must say what the commands say."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from nborch.cli.main import COMMANDS, cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_summary_is_the_commands_own(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name == name
    stand_in = click.Command(name, help=COMMANDS[name][1])
    for limit in (45, 84, 1000):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit)


def test_every_command_is_listed() -> None:
    assert cli.list_commands(click.Context(cli)) == sorted(COMMANDS)
    assert cli.get_command(click.Context(cli), "nope") is None


def test_help_imports_no_command() -> None:
    code = (
        "import json, sys\n"
        "from nborch.cli.main import cli\n"
        "try:\n"
        "    cli.main(['--help'], prog_name='nborch')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    *help_lines, modules_line = done.stdout.strip().splitlines()
    assert "worker      Workers: processes that poll a pool and run its flow runs." in "\n".join(
        help_lines
    )
    modules = json.loads(modules_line)
    loaded = sorted({m for m in modules if m.startswith("nborch.cli.")} - {"nborch.cli.main"})
    assert loaded == []
    assert "rich" not in modules and "sqlalchemy" not in modules
