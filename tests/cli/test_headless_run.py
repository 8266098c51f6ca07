"""`nborch run NOTEBOOK [OUTPUT]` in a process of its own: real kernels, tracked runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from support.notebooks import failing_notebook, sleeping_notebook

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "notebooks" / "hello.ipynb"


def nborch(
    *args: str | Path, timeout: float = 120, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`nborch ARGS...` in a new process; NBORCH_HOME is `home`, else the one the
    `nborch_home` fixture exported."""
    env = {**os.environ}
    if home is not None:
        env["NBORCH_HOME"] = str(home)
        env.pop("NBORCH_DATABASE_URL", None)
        env.pop("NBORCH_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "nborch.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


def runs(home: Path | None = None) -> list[dict[str, Any]]:
    done = nborch("flow-run", "ls", "--json", home=home)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def injected_parameters(output: Path) -> str:
    notebook = nbformat.read(output, as_version=4)
    cells = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, [c.metadata for c in notebook.cells]
    return cells[0].source


def all_output_text(output: Path) -> str:
    notebook = nbformat.read(output, as_version=4)
    texts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            texts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(texts)


def test_run_with_typed_parameters(nborch_home: Path, tmp_path: Path) -> None:
    output = tmp_path / "out" / "hello-out.ipynb"
    output.parent.mkdir()
    done = nborch("run", HELLO, output, "-p", "times=3", "-p", "name=Ada")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "COMPLETED" in done.stdout
    assert f"Output notebook: {output}" in done.stdout
    assert "3: Hello, Ada." in done.stderr  # the notebook's output, streamed as it runs

    source = injected_parameters(output)
    assert "times = 3\n" in source + "\n"
    assert 'name = "Ada"' in source
    assert "3: Hello, Ada." in all_output_text(output)
    assert "4: Hello" not in all_output_text(output)

    [run] = runs()
    assert run["state"] == "COMPLETED"
    assert run["parameters"] == {"times": 3, "name": "Ada"}
    assert run["output_path"] == str(output)
    assert run["input_path"] == str(HELLO)
    assert run["flow_name"] == "hello"
    assert run["deployment_id"] is None
    assert run["failure"] is None


def test_run_with_yaml_file_yaml_text_and_raw_parameters(nborch_home: Path, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("name: File\ntimes: 5\nexcited: true\n")
    output = tmp_path / "out.ipynb"
    done = nborch(
        "run",
        HELLO,
        output,
        "-f",
        params,  # lowest precedence
        "-y",
        "times: 2",  # over the file
        "-r",
        "name=007",  # kept as text, over both
        "-p",
        "colour=red",  # not declared: passed on with a warning, as papermill does
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning:" in done.stderr and "declares no parameter(s) colour" in done.stderr

    source = injected_parameters(output)
    assert 'name = "007"' in source
    assert "times = 2\n" in source + "\n"
    assert "excited = True" in source
    assert 'colour = "red"' in source
    assert "2: Hello, 007!" in all_output_text(output)

    [run] = runs()
    assert run["state"] == "COMPLETED"
    assert run["parameters"] == {"name": "007", "times": 2, "excited": True, "colour": "red"}


def test_failing_notebook(nborch_home: Path, tmp_path: Path) -> None:
    notebook = failing_notebook(tmp_path / "failing.ipynb")
    done = nborch("run", notebook, "-p", "divisor=0")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout
    assert "ZeroDivisionError" in done.stdout
    assert "Traceback" not in done.stdout

    [run] = runs()
    assert run["state"] == "FAILED"
    assert run["parameters"] == {"divisor": 0}
    assert run["failure"]["ename"] == "ZeroDivisionError"
    assert "10 / divisor" in run["failure"]["source"]
    # Without OUTPUT, the executed notebook goes to the run's folder under NBORCH_HOME.
    output = Path(run["output_path"])
    assert output.is_relative_to(nborch_home / "runs")
    assert output.exists()
    text = all_output_text(output)
    assert "before the failure" in text
    assert "never printed" not in text

    inspected = nborch("flow-run", "inspect", run["id"])
    assert inspected.returncode == 0, inspected.stderr
    assert "ZeroDivisionError" in inspected.stdout
    assert "result = 10 / divisor" in inspected.stdout
    assert "FAILED" in inspected.stdout

    # The output notebook, saved where the user says, as JSON and as a page.
    saved = tmp_path / "saved.ipynb"
    assert nborch("flow-run", "output", run["id"], "-o", str(saved)).returncode == 0
    assert "before the failure" in all_output_text(saved)
    page = tmp_path / "saved.html"
    assert nborch("flow-run", "output", run["id"], "--html", "-o", str(page)).returncode == 0
    assert "before the failure" in page.read_text() and "<html" in page.read_text()


@dataclass
class TimedOut:
    done: subprocess.CompletedProcess[str]
    elapsed: float
    run: dict[str, Any]


@pytest.fixture(scope="module")
def timed_out(tmp_path_factory: pytest.TempPathFactory) -> TimedOut:
    """One run of a notebook that sleeps 30 s, with --execution-timeout 1."""
    folder = tmp_path_factory.mktemp("timeout")
    home = folder / "nborch-home"
    notebook = sleeping_notebook(folder / "sleepy.ipynb")
    started = time.monotonic()
    done = nborch(
        "run", notebook, "-p", "seconds=30", "--execution-timeout", "1", timeout=60, home=home
    )
    elapsed = time.monotonic() - started
    [run] = runs(home)
    return TimedOut(done, elapsed, run)


def test_execution_timeout_fails_a_cell_that_runs_too_long(timed_out: TimedOut) -> None:
    done, run = timed_out.done, timed_out.run
    assert done.returncode == 1, done.stdout + done.stderr
    assert timed_out.elapsed < 25, timed_out.elapsed
    assert "FAILED" in done.stdout
    assert run["state"] == "FAILED"
    assert run["job_variables"]["execution_timeout"] == 1
    text = all_output_text(Path(run["output_path"]))
    assert "started" in text
    assert "finished" not in text


def test_execution_timeout_is_named_in_the_state_message(timed_out: TimedOut) -> None:
    assert timed_out.run["state"] == "FAILED"
    assert "timed out" in timed_out.run["state_message"].lower()


def test_wrong_typed_parameter_is_refused_before_any_run(nborch_home: Path, tmp_path: Path) -> None:
    output = tmp_path / "never.ipynb"
    done = nborch("run", HELLO, output, "-p", "times=abc", timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: Parameter 'times' of notebook")
    assert "must be int, got 'abc'" in lines[0]
    assert "-p times=3" in lines[0]
    assert not output.exists()
    assert runs() == []


def test_wrong_typed_yaml_file_parameter_is_refused_before_any_run(
    nborch_home: Path, tmp_path: Path
) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("times: many\n")
    done = nborch("run", HELLO, tmp_path / "never.ipynb", "-f", params, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "Error: Parameter 'times'" in done.stderr
    assert "got 'many'" in done.stderr
    assert runs() == []
