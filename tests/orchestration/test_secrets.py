"""Secrets: encrypted at rest, references checked where they are stored, values handed out
for one run only, and `{{ secret.X }}` left alone by job-configuration resolution."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from support.deployments import deploy_hello
from support.stored_bytes import leaks, stored_bytes, stored_forms

from nborch.client import LocalClient
from nborch.errors import (
    ConflictError,
    NborchError,
    NotFoundError,
    ParameterError,
    ValidationError,
)
from nborch.jobs import default_base_job_template, resolve_job_configuration
from nborch.jobs.resolve import validate_job_variables
from nborch.models import ParameterSpec, PoolType, ScheduleSpec, StateType
from nborch.parameters import parse_cli_value, validate_parameters
from nborch.secret_references import secret_names, substitute_secrets
from nborch.settings import reset_settings

TOKEN = "{{ secret.API_TOKEN }}"


def _claimed(client: LocalClient, pool: str):  # type: ignore[no-untyped-def]
    worker = client.register_worker("w", pool)
    [run] = client.claim_runs(pool, worker.id, 1)
    return run


# ---- at rest ---------------------------------------------------------------------------


def test_values_are_encrypted_at_rest_under_a_key_file_of_mode_0600(
    client: LocalClient, database_url: str, nborch_home: Path
) -> None:
    unique = uuid.uuid4().hex
    value = f"s3cr\u00e9t-\u2713-{unique}"  # é and ✓: two and three bytes in UTF-8
    first = client.set_secret("API_TOKEN", value)
    again = client.set_secret("API_TOKEN", value + "-2")  # replaced in place
    assert again.created == first.created and again.updated > first.updated
    [listed] = client.list_secrets()
    assert listed.model_dump().keys() == {"name", "created", "updated"}
    key_file = nborch_home / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    client.store.dispose()
    stored = stored_bytes(database_url)
    assert b"API_TOKEN" in stored  # the row is there...
    assert leaks(stored, stored_forms(value, unique)) == []  # ...its value is not


def test_the_store_scan_finds_a_clear_copy_in_a_text_or_json_column(
    client: LocalClient, database_url: str, pool: str
) -> None:
    """The scan above, shown to see what it must: a value planted in clear, in a text
    column (a log line, a state message) and in a JSON column (a run's parameters)."""
    unique = uuid.uuid4().hex
    value = f'pa"ss\u00e9\\{unique}'
    forms = stored_forms(value, unique)
    deploy_hello(client, pool)
    client.create_run("hello/demo", parameters={"name": value})
    client.store.dispose()
    in_json = leaks(stored_bytes(database_url), forms)
    assert json.dumps(value)[1:-1].encode() in in_json and unique.encode() in in_json
    assert value.encode() not in in_json  # JSON escapes the é: only a text column has it so
    other = client.create_run("hello/demo")
    client.set_state(other.id, StateType.CANCELLED, f"planted: {value}")
    client.append_logs(other.id, [f"planted: {value}"])
    client.store.dispose()
    in_text = leaks(stored_bytes(database_url), forms)
    assert value.encode() in in_text and unique.encode() in in_text


def test_a_wrong_key_names_the_secret_and_the_fix(
    client: LocalClient, pool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBORCH_SECRET_KEY", Fernet.generate_key().decode())
    reset_settings()
    client.set_secret("API_TOKEN", "v")
    deploy_hello(client, pool, parameters={"name": TOKEN})
    client.create_run("hello/demo")
    run = _claimed(client, pool)
    assert client.resolve_run_secrets(run.id) == {"API_TOKEN": "v"}
    monkeypatch.setenv("NBORCH_SECRET_KEY", Fernet.generate_key().decode())
    reset_settings()
    with pytest.raises(NborchError) as caught:
        client.resolve_run_secrets(run.id)
    message = str(caught.value)
    assert "Secret 'API_TOKEN' cannot be decrypted" in message
    assert "NBORCH_SECRET_KEY" in message and "nborch secret set API_TOKEN" in message
    monkeypatch.setenv("NBORCH_SECRET_KEY", "not-a-key")
    reset_settings()
    with pytest.raises(NborchError, match="not a Fernet key.*Generate one with"):
        client.set_secret("OTHER", "v")


def test_processes_racing_to_make_the_key_file_end_with_one_key(
    nborch_home: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"  # made once every racer is up: they go together
    code = (
        "import os, sys, time\n"
        "from nborch.orchestration.secret_box import secret_box\n"
        "print('ready', flush=True)\n"
        "while not os.path.exists(sys.argv[1]):\n"
        "    time.sleep(0.001)\n"
        "print(secret_box().encrypt(sys.argv[2]))\n"
    )
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(go), f"value-{i}"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "NBORCH_HOME": str(nborch_home)},
        )
        for i in range(6)
    ]
    for racer in racers:
        assert racer.stdout is not None and racer.stdout.readline() == "ready\n"
    go.touch()
    tokens = [racer.communicate(timeout=60)[0].strip() for racer in racers]
    assert all(racer.returncode == 0 for racer in racers)
    key = Fernet((nborch_home / "secret.key").read_bytes().strip())
    assert [key.decrypt(t.encode()).decode() for t in tokens] == [f"value-{i}" for i in range(6)]
    assert [p.name for p in nborch_home.iterdir()] == ["secret.key"]  # no drafts left


def test_names_and_values_are_checked(sqlite_client: LocalClient) -> None:
    with pytest.raises(ValidationError, match="Secret name 'a/b' is not allowed"):
        sqlite_client.set_secret("a/b", "v")
    with pytest.raises(ValidationError, match="Secret 'X' needs a value"):
        sqlite_client.set_secret("X", "")
    with pytest.raises(NotFoundError, match="Secret 'X' not found. List them with"):
        sqlite_client.delete_secret("X")
    assert sqlite_client.list_secrets() == []


# ---- references where they are stored ------------------------------------------------


def test_references_to_missing_secrets_are_refused_and_nothing_is_stored(
    client: LocalClient, pool: str
) -> None:
    missing = "Secret 'API_TOKEN' not found. Set it with: nborch secret set API_TOKEN"
    with pytest.raises(NotFoundError) as caught:
        deploy_hello(client, pool, parameters={"name": TOKEN})
    assert str(caught.value) == missing
    with pytest.raises(NotFoundError, match=missing):
        deploy_hello(client, pool, job_variables={"env": {"TOKEN": f"Bearer {TOKEN}"}})
    deploy_hello(client, pool, cron="0 1 * * *")
    with pytest.raises(NotFoundError, match=missing):  # a redeploy with a schedule using it
        deploy_hello(
            client, pool, schedules=[ScheduleSpec(cron="0 3 * * *", parameters={"name": TOKEN})]
        )
    deployment = client.get_deployment("hello/demo")
    assert [s.cron for s in deployment.schedules] == ["0 1 * * *"]
    with pytest.raises(NotFoundError, match=missing):
        client.create_schedule(
            "hello/demo", ScheduleSpec(cron="0 4 * * *", parameters={"name": TOKEN})
        )
    with pytest.raises(NotFoundError, match=missing):
        client.create_run("hello/demo", parameters={"name": TOKEN})
    with pytest.raises(NotFoundError, match=missing):
        client.create_run("hello/demo", job_variables={"env": {"T": TOKEN}})
    with pytest.raises(ValidationError, match="not a valid secret reference"):
        client.create_run("hello/demo", parameters={"name": "{{ secrets.API_TOKEN }}"})
    assert [d.full_name for d in client.list_deployments()] == ["hello/demo"]
    assert client.get_deployment("hello/demo").parameters == {}
    assert len(client.list_schedules("hello/demo")) == 1
    assert client.list_runs() == []

    client.set_secret("API_TOKEN", "v")
    run = client.create_run("hello/demo", parameters={"name": TOKEN})
    assert run.parameters == {"name": TOKEN}  # the reference is stored, never the value


def test_a_deleted_secret_refuses_new_runs_of_deployments_that_use_it(
    client: LocalClient, pool: str
) -> None:
    client.set_secret("API_TOKEN", "v")
    deploy_hello(client, pool, job_variables={"env": {"TOKEN": TOKEN}})
    client.delete_secret("API_TOKEN")
    with pytest.raises(NotFoundError, match="nborch secret set API_TOKEN"):
        client.create_run("hello/demo")


def test_resolution_hands_out_only_the_referenced_secrets_of_a_run_in_hand(
    client: LocalClient, pool: str
) -> None:
    for name in ("API_TOKEN", "DB_PASSWORD", "UNUSED", "ALSO.UNUSED"):
        client.set_secret(name, f"value of {name}")
    deploy_hello(client, pool, parameters={"name": f"user {TOKEN}!"})
    run = client.create_run(
        "hello/demo",
        job_variables={"env": {"DSN": "postgresql://u:{{secret.DB_PASSWORD}}@db/x"}},
    )
    with pytest.raises(ConflictError, match="SCHEDULED: its secrets are handed only"):
        client.resolve_run_secrets(run.id)
    assert _claimed(client, pool).id == run.id
    assert client.resolve_run_secrets(run.id) == {
        "API_TOKEN": "value of API_TOKEN",
        "DB_PASSWORD": "value of DB_PASSWORD",
    }
    stored = client.get_run(run.id)
    assert stored.parameters == {"name": f"user {TOKEN}!"}
    assert stored.job_variables["env"]["DSN"] == "postgresql://u:{{secret.DB_PASSWORD}}@db/x"


def test_a_run_without_references_resolves_to_nothing(client: LocalClient, pool: str) -> None:
    client.set_secret("API_TOKEN", "v")
    deploy_hello(client, pool)
    client.create_run("hello/demo", parameters={"name": "{{ not.a.secret }}"})
    assert client.resolve_run_secrets(_claimed(client, pool).id) == {}


def test_the_output_notebook_read_back_never_shows_the_values(
    client: LocalClient, pool: str
) -> None:
    value = 'pa"ss\\word'  # papermill writes it escaped into the parameters cell
    client.set_secret("API_TOKEN", value)
    deploy_hello(client, pool)
    run = client.create_run("hello/demo", parameters={"name": TOKEN})
    assert run.output_path
    escaped = 'pa\\"ss\\\\word'
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["injected-parameters"]},
                "source": f'name = "{escaped}"\n',
                "outputs": [],
            },
            {
                "cell_type": "code",
                "metadata": {},
                "source": "print(name)",
                "outputs": [{"output_type": "stream", "name": "stdout", "text": [value + "\n"]}],
            },
        ],
        "metadata": {"papermill": {"parameters": {"name": value}}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    Path(run.output_path).parent.mkdir(parents=True, exist_ok=True)
    Path(run.output_path).write_text(json.dumps(notebook))  # as papermill leaves it mid-run
    shown = client.read_output_notebook(run.id)
    assert shown is not None
    assert value not in json.dumps(shown) and escaped not in json.dumps(shown)
    assert escaped not in shown["cells"][0]["source"] and "*****" in shown["cells"][0]["source"]
    assert shown["metadata"]["papermill"]["parameters"] == {"name": "*****"}
    assert shown["cells"][1]["outputs"][0]["text"] == ["*****\n"]
    client.delete_secret("API_TOKEN")  # no value to mask with: the parameters are hidden
    hidden = client.read_output_notebook(run.id)
    assert hidden is not None and hidden["cells"][0]["source"] == "*****"


# ---- parameter types -------------------------------------------------------------------


def test_secret_references_fit_str_and_any_parameters_only() -> None:
    specs = [
        ParameterSpec(name="token", type="str"),
        ParameterSpec(name="anything", type="any"),
        ParameterSpec(name="headers", type="dict"),
        ParameterSpec(name="n", type="int"),
        ParameterSpec(name="ratio", type="float"),
        ParameterSpec(name="flag", type="bool"),
    ]
    owner = "deployment 'hello/demo'"
    ok = {"token": TOKEN, "anything": f"x{TOKEN}", "headers": {"Auth": f"Bearer {TOKEN}"}}
    assert validate_parameters(specs, ok, owner) == ok
    assert parse_cli_value(specs[0], TOKEN, owner) == TOKEN
    for name in ("n", "ratio", "flag"):
        with pytest.raises(ParameterError) as caught:
            validate_parameters(specs, {name: TOKEN}, owner)
        assert caught.value.parameter == name
        assert f"Parameter '{name}' of {owner} is" in str(caught.value)
        assert "reference secrets from str or any parameters only" in str(caught.value)
        spec = next(s for s in specs if s.name == name)
        with pytest.raises(ParameterError, match="secret reference"):
            parse_cli_value(spec, TOKEN, owner)


# ---- job configurations ----------------------------------------------------------------


def test_secret_references_survive_job_configuration_resolution() -> None:
    template = default_base_job_template(PoolType.PROCESS)
    template["job_configuration"]["literal"] = "token={{ secret.IN_TEMPLATE }}"
    template["job_configuration"]["whole"] = "{{secret.IN_TEMPLATE}}"
    variables = {
        "env": {"TOKEN": TOKEN, "DSN": "u:{{ secret.DB }}@h", "PLAIN": "x"},
        "working_dir": "/tmp/{{ secret.DIR }}",
    }
    validate_job_variables(template, variables, owner="work pool 'p'")
    job = resolve_job_configuration(template, variables)
    assert job["env"] == variables["env"]
    assert job["working_dir"] == "/tmp/{{ secret.DIR }}"
    assert job["literal"] == "token={{ secret.IN_TEMPLATE }}"
    assert job["whole"] == "{{secret.IN_TEMPLATE}}"
    assert secret_names(job) == {"API_TOKEN", "DB", "DIR", "IN_TEMPLATE"}
    values = {"API_TOKEN": "t", "DB": "p", "DIR": "d", "IN_TEMPLATE": "i"}
    filled = substitute_secrets(job, values, where="a job")
    assert filled["env"] == {"TOKEN": "t", "DSN": "u:p@h", "PLAIN": "x"}
    assert (filled["working_dir"], filled["literal"], filled["whole"]) == ("/tmp/d", "token=i", "i")
    assert filled["execution_timeout"] == job["execution_timeout"]  # other types kept
    with pytest.raises(NborchError, match="Secret 'DB' is referenced by a job but was not"):
        substitute_secrets(job, {"API_TOKEN": "t"}, where="a job")
