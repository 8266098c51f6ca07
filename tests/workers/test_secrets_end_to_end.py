"""Secrets end to end: a real `nborch worker start` process runs a notebook that gets a
secret as a parameter and as an environment variable; the value reaches the notebook and
nothing nborch keeps or shows: not the logs, the output notebook, the parameters file,
the run's failure, nor the store (SQLite's files, PostgreSQL's dump: every form of the
value in UTF-8, and a unique part of it alone); nor either piece of it when a cell writes
it in two."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.deployments import deploy_notebook
from support.notebooks import make_notebook
from support.processes import WorkerProcess
from support.stored_bytes import leaks as stored_leaks
from support.stored_bytes import stored_bytes, stored_forms
from support.workers import final_run, start_worker

from nborch.client import LocalClient
from nborch.execution.masking import masked_forms
from nborch.models import StateType

pytestmark = pytest.mark.slow

REFERENCE = "{{ secret.API_TOKEN }}"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_secret_reaches_the_notebook_and_nothing_else(
    client: LocalClient,
    database_url: str,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    # A quote, a backslash and an accent: papermill escapes them in the cell it injects.
    unique = uuid.uuid4().hex
    value = f'pa"ssé\\{unique}'
    client.set_secret("API_TOKEN", value)
    client.create_pool("local", "process")
    notebook = make_notebook(
        tmp_path / "uses_secret.ipynb",
        'token: str = ""\nout_file: str = ""\nfail: bool = False',
        "import hashlib, json, os\n"
        "from_env = os.environ['API_TOKEN']\n"
        "digest = lambda text: hashlib.sha256(text.encode()).hexdigest()\n"
        "json.dump({'token': digest(token), 'env': digest(from_env)}, open(out_file, 'w'))\n"
        "print('token:', token)\nprint('env:', from_env, flush=True)\ntoken",
        # The value in two pieces, each shipped on its own (half, flush, wait, other half).
        "import time\nhalf = len(token) // 2\nprint('split:', token[:half], end='', flush=True)\n"
        "time.sleep(1.5)\nprint(token[half:], 'after', flush=True)",
        "if fail:\n    raise ValueError(f'refused {token}')",
    )
    deploy_notebook(
        client,
        notebook,
        "local",
        parameters={"token": REFERENCE},
        job_variables={"env": {"API_TOKEN": f"{REFERENCE}"}},
    )
    ok_file, failed_file = tmp_path / "ok.json", tmp_path / "failed.json"
    ok_run = client.create_run("uses-secret/demo", parameters={"out_file": str(ok_file)})
    failed_run = client.create_run(
        "uses-secret/demo", parameters={"out_file": str(failed_file), "fail": True}
    )
    start_worker(workers, "--pool", "local")
    done = final_run(client, ok_run)
    failed = final_run(client, failed_run)

    # The notebook had the value, as a parameter and in its environment.
    assert done.state is StateType.COMPLETED, done.state_message
    assert json.loads(ok_file.read_text()) == {"token": sha256(value), "env": sha256(value)}
    assert failed.state is StateType.FAILED
    assert json.loads(failed_file.read_text())["token"] == sha256(value)

    # Nothing nborch keeps or shows has it, in any escaped form.
    forms = masked_forms([value])
    assert len(forms) > 1  # the value as it is, and as papermill and JSON escape it

    def leaks(text: str) -> list[str]:
        return [form for form in forms if form in text]

    halves = (value[: len(value) // 2], value[len(value) // 2 :])

    def stream_text(notebook: dict[str, Any]) -> str:
        return "".join(
            "".join(output.get("text", ""))
            for cell in notebook["cells"]
            for output in cell.get("outputs", [])
        )

    for run in (done, failed):
        logs = [line.message for line in client.read_logs(run.id)]
        assert "token: *****" in logs and "env: *****" in logs
        assert leaks("\n".join(logs)) == []
        assert run.output_path
        output = Path(run.output_path)
        assert leaks(output.read_text()) == []
        assert leaks((output.parent / "parameters.yaml").read_text()) == []
        assert leaks(json.dumps(client.read_output_notebook(run.id))) == []
        seen = ["\n".join(logs), stream_text(json.loads(output.read_text()))]
        assert [half for half in halves for text in seen if half in text] == []
        assert all("split: *****" in text and "***** after" in text for text in seen), seen
        assert run.parameters["token"] == REFERENCE  # the store keeps the reference
        assert run.job_variables == {"env": {"API_TOKEN": REFERENCE}}
    cells = json.loads(Path(done.output_path or "").read_text())["cells"]
    [injected] = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert 'token = "*****"' in "".join(injected["source"])
    assert failed.failure and failed.failure.evalue == "refused *****"
    assert leaks(failed.state_message) == [] and "refused *****" in failed.state_message
    for worker in workers:
        worker.stop()
    client.store.dispose()
    assert stored_leaks(stored_bytes(database_url), stored_forms(value, unique)) == []
