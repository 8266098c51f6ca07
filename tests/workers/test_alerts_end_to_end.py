"""Alerts end to end: a real `nborch worker start` process (which holds the scheduler's
lease, so it also sends the alerts) runs a notebook that fails with a secret in its
exception; a real webhook receiver and a real SMTP server (STARTTLS, auth, a self-signed
certificate) on loopback get messages that say what to do, with the secret masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.deployments import deploy_notebook
from support.notebooks import make_notebook
from support.processes import WorkerProcess
from support.receivers import smtp_server, webhook_receiver
from support.workers import final_run, start_worker

from nborch.alert_models import AlertChannel, AlertRuleSpec
from nborch.client import LocalClient
from nborch.models import StateType
from nborch.settings import reset_settings

pytestmark = pytest.mark.slow

REFERENCE = "{{ secret.API_TOKEN }}"
VALUE = "tok-9f8e7d6c5b4a"


def test_a_failed_run_reaches_a_webhook_and_an_inbox_with_what_to_do(
    sqlite_client: LocalClient,
    workers: list[WorkerProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = sqlite_client
    with webhook_receiver() as receiver, smtp_server(tmp_path) as smtp:
        for name, value in {
            "NBORCH_SMTP_URL": smtp.url,
            "NBORCH_SMTP_PASSWORD": smtp.password,
            "NBORCH_SMTP_CA_FILE": str(smtp.cert_file),
            "NBORCH_SMTP_SENDER": "nborch@example.com",
            "NBORCH_PUBLIC_URL": "http://nborch.test",
        }.items():
            monkeypatch.setenv(name, value)  # the worker's environment too
        reset_settings()
        client.set_secret("API_TOKEN", VALUE)
        client.create_pool("local", "process")
        notebook = make_notebook(
            tmp_path / "fetch.ipynb",
            'token: str = ""\nlimit: int = 3',
            "print('fetching', flush=True)",
            "rows = []\nif len(rows) < limit:\n    raise RuntimeError(f'only {len(rows)} rows with {token}')",
        )
        deploy_notebook(client, notebook, "local", name="daily", parameters={"token": REFERENCE})
        client.create_alert_rule(
            AlertRuleSpec(
                name="hook",
                channel=AlertChannel.WEBHOOK,
                target=receiver.url,
                deployment="fetch/daily",
            )
        )
        client.create_alert_rule(
            AlertRuleSpec(
                name="mail",
                channel=AlertChannel.EMAIL,
                target="ops@example.com, oncall@example.com",
            )
        )
        run = client.create_run("fetch/daily")
        start_worker(workers, "--pool", "local")
        assert final_run(client, run).state is StateType.FAILED

        body = receiver.wait(1, timeout=60)[0].json
        [mail] = smtp.wait(1, timeout=60)

    assert body["state"] == "FAILED" and body["deployment"] == "fetch/daily"
    failure = client.get_run(run.id).failure
    assert failure is not None and body["failure"]["cell"] == failure.cell_index
    assert "raise RuntimeError(f'only {len(rows)} rows with {token}')" in body["failure"]["line"]
    assert body["failure"]["exception"] == "RuntimeError: only 0 rows with *****"
    assert body["parameters"]["token"] == REFERENCE  # a reference stays a reference
    assert body["retry"] == "nborch deployment run fetch/daily -p 'token={{ secret.API_TOKEN }}'"
    assert body["output_html"] == f"http://nborch.test/api/v1/flow-runs/{run.id}/output.html"
    assert body["duration"].endswith(" s")

    assert mail["To"] == "ops@example.com, oncall@example.com"
    assert "fetch/daily" in mail["Subject"] and "FAILED" in mail["Subject"]
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in mail.walk()
        if not part.is_multipart()
    }
    assert "RuntimeError: only 0 rows with *****" in parts["text/plain"]
    html = parts["text/html"]
    assert "The failing cell" in html and "output_error" in html and "hl-ipython3" in html
    assert VALUE not in html and VALUE not in parts["text/plain"]
    history = client.alert_history()
    assert sorted((d.rule, d.ok) for d in history) == [("hook", True), ("mail", True)]
