"""Flow.from_source end to end: a deployment from a (local, file://) git repository runs the
branch's newest commit and records it; a folder source is referenced where it is."""

from __future__ import annotations

from pathlib import Path

import nbformat
from support.git import commit_all, new_repository
from support.notebooks import make_notebook

from nborch.client import LocalClient
from nborch.flows import Flow
from nborch.models import FlowRun, StateType
from nborch.workers.process import ProcessWorker


def commit_notebook(repo: Path, greeting: str) -> str:
    make_notebook(
        repo / "flows" / "greet.ipynb", 'name: str = "world"', f'print("{greeting}, " + name)'
    )
    return commit_all(repo, greeting)


def execute_next(client: LocalClient, deployment: str, **parameters: object) -> FlowRun:
    client.create_run(deployment, parameters=parameters)
    worker = ProcessWorker(client, "local", echo=lambda _text: None, run_scheduler=False)
    with worker.online():
        [claimed] = client.claim_runs("local", worker.id, 1)
        return worker.execute(claimed)


def printed(run: FlowRun) -> str:
    notebook = nbformat.read(run.output_path, as_version=4)
    return "".join(
        o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs
    )


def test_git_source_runs_the_newest_commit_and_records_it(
    sqlite_client: LocalClient, tmp_path: Path
) -> None:
    repo = new_repository(tmp_path / "repo")
    first = commit_notebook(repo, "Hello")
    client = sqlite_client
    client.create_pool("local", "process")
    flow = Flow.from_source(f"file://{repo}", "flows/greet.ipynb:greeter")
    assert (flow.name, flow.source, flow.entrypoint) == (
        "greeter",
        f"file://{repo}",
        "flows/greet.ipynb",
    )
    assert [p.name for p in flow.parameters] == ["name"]
    flow.deploy("git", "local", client=client, quiet=True)

    one = execute_next(client, "greeter/git", name="Ada")
    assert one.state is StateType.COMPLETED, one.state_message
    assert one.source_commit == first and "Hello, Ada" in printed(one)

    second = commit_notebook(repo, "Bonjour")
    two = execute_next(client, "greeter/git", name="Ada")
    assert two.source_commit == second != first
    assert "Bonjour, Ada" in printed(two)


def test_folder_source_is_referenced_not_copied(sqlite_client: LocalClient, tmp_path: Path) -> None:
    folder = tmp_path / "project"
    make_notebook(folder / "nb" / "greet.ipynb", 'name: str = "world"', 'print("Hi, " + name)')
    client = sqlite_client
    client.create_pool("local", "process")
    Flow.from_source(folder, "nb/greet.ipynb").deploy("dir", "local", client=client, quiet=True)
    make_notebook(folder / "nb" / "greet.ipynb", 'name: str = "world"', 'print("Hey, " + name)')
    run = execute_next(client, "greet/dir")
    assert run.input_path == str(folder / "nb" / "greet.ipynb") and run.source_commit is None
    assert "Hey, world" in printed(run)  # the file as it is now: referenced
