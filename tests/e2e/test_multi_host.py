"""Many machines for real: `nborch server start` on PostgreSQL in a subprocess, and a worker in
another process that knows only the server's URL and a worker key (no store, a home of its
own). The server is killed and restarted mid-run: no run and no log line is lost, and the
worker says when it lost the server and when it was back. The scheduler lives in the server.

A run is executed once: a second server's scheduler leaves alone the runs of a worker whose
server is down, and a worker cut off from a live server stops its run before the store gives
it to another worker (counted by what the notebook itself writes, not by nborch's records).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from support.deployments import deploy_notebook
from support.lossy_relay import LossyRelay
from support.notebooks import make_notebook
from support.postgres import PostgresServer, create_database, drop_database
from support.processes import wait_for
from support.servers import NborchServer, OutputProcess, create_api_key, environment, nborch_argv
from support.workers import FAST, final_run

from nborch.client.http import HttpClient
from nborch.client.routes import API_PREFIX
from nborch.models import FlowRun, StateType
from nborch.orchestration.scheduler import LEASE
from nborch.store.engine import close_stores, open_store
from nborch.store.tables import LeaseRow

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

POOL = "remote"
# Long enough that the server's restart (seconds on a loaded machine) is not taken for the
# worker's silence: a worker stops its runs after 60% of it without contact.
TIMEOUT = 12.0
SETTINGS = {**FAST, "NBORCH_WORKER_TIMEOUT": str(TIMEOUT)}
# What the counting notebook prints: numbered lines, with characters a careless pipe mangles.
NUMBERED = re.compile(r"line \d\d of \d\d — naïve ✓ \| tab\tend")


def numbered_line(i: int, count: int) -> str:
    return f"line {i:02d} of {count:02d} — naïve ✓ | tab\tend"


def counting_notebook(path: Path) -> Path:
    """Prints `count` numbered lines, `pause` seconds apart, over three cells."""
    say = "say = lambda i: (print(f'line {i:02d} of {count:02d} — naïve ✓ | tab\\tend', flush=True), time.sleep(pause))"  # noqa: E501
    return make_notebook(
        path,
        "count: int = 12\npause: float = 0.5",
        f"import time\n{say}",
        "for i in range(1, count // 3 + 1):\n    say(i)",
        "for i in range(count // 3 + 1, 2 * count // 3 + 1):\n    say(i)",
        "for i in range(2 * count // 3 + 1, count + 1):\n    say(i)",
    )


@dataclass
class MultiHost:
    """A server on PostgreSQL, an admin client of it, and what a worker elsewhere gets: the
    URL and a worker key for pool `remote`."""

    server: NborchServer
    admin: HttpClient
    admin_key: str
    worker_key: str
    database_url: str
    folder: Path  # notebooks, readable by the server and the worker alike
    worker_home: Path
    started: list[OutputProcess] = field(default_factory=list)

    def start_worker(self, *options: str, url: str | None = None) -> OutputProcess:
        """`nborch worker start --pool remote OPTIONS` knowing only NBORCH_API_URL (the
        server's, or `url`) and NBORCH_API_KEY (no NBORCH_DATABASE_URL), with an
        NBORCH_HOME of its own."""
        env = environment(
            NBORCH_API_URL=url or self.server.url,
            NBORCH_API_KEY=self.worker_key,
            NBORCH_HOME=str(self.worker_home),
            **SETTINGS,
        )
        worker = OutputProcess(
            nborch_argv("worker", "start", "--pool", POOL, "--poll-interval", "0.2", *options),
            env,
        )
        self.started.append(worker)
        worker.wait_for_line("started!")
        return worker


@pytest.fixture
def multi_host(
    postgres_server: PostgresServer, tmp_path: Path, nborch_home: Path
) -> Iterator[MultiHost]:
    name = f"nborch_e2e_{uuid.uuid4().hex[:12]}"
    database_url = create_database(postgres_server, name)
    server_env = environment(
        NBORCH_DATABASE_URL=database_url, NBORCH_HOME=str(tmp_path / "server-home"), **SETTINGS
    )
    server = NborchServer(server_env)
    started: list[OutputProcess] = []
    admin: HttpClient | None = None
    try:
        admin_key = create_api_key(server_env, "e2e-admin", "admin")
        server.start()
        admin = HttpClient(server.url, admin_key, retry_for=30)
        admin.create_pool(POOL, "process")
        worker_key = create_api_key(server_env, "e2e-worker", "worker", POOL)
        host = MultiHost(
            server,
            admin,
            admin_key,
            worker_key,
            database_url,
            tmp_path / "shared",
            tmp_path / "worker-home",
            started,
        )
        yield host
    finally:
        for process in started:
            process.stop()
        server.stop()
        if admin is not None:
            admin.close()
        close_stores()
        drop_database(postgres_server, name)


def _logged_lines(admin: HttpClient, run: FlowRun) -> list[str]:
    return [line.message for line in admin.read_logs(run.id)]


def _explain(host: MultiHost, worker: OutputProcess) -> str:
    return f"\n[worker]\n{worker.output}\n[server]\n{host.server.output}"


def test_server_restarted_mid_run_loses_no_run_and_no_log_line(multi_host: MultiHost) -> None:
    host, admin = multi_host, multi_host.admin
    count = 12
    notebook = counting_notebook(host.folder / "counting.ipynb")
    deploy_notebook(admin, notebook, POOL, "restart")
    worker = host.start_worker()
    run = admin.create_run("counting/restart", parameters={"count": count})

    wait_for(
        lambda: (
            admin.get_run(run.id).state is StateType.RUNNING
            and len([m for m in _logged_lines(admin, run) if NUMBERED.fullmatch(m)]) >= 2
        ),
        90,
        lambda: f"run is {admin.get_run(run.id).state}" + _explain(host, worker),
    )
    host.server.kill()
    time.sleep(2)  # the notebook goes on printing while there is no server
    assert worker.alive, _explain(host, worker)
    host.server.start()

    done = final_run(admin, run, timeout=120)
    explain = _explain(host, worker)
    assert done.state is StateType.COMPLETED, f"{done.state}: {done.state_message}{explain}"
    assert StateType.CRASHED not in [entry.type for entry in done.history], explain
    numbered = [m for m in _logged_lines(admin, run) if NUMBERED.fullmatch(m)]
    assert numbered == [numbered_line(i, count) for i in range(1, count + 1)], explain

    # The worker wrote the notebook in its own home and handed it to the server.
    assert (host.worker_home / "runs" / str(run.id) / "output.ipynb").is_file()
    output = admin.read_output_notebook(run.id)
    assert output is not None
    printed = "".join(
        "".join(out.get("text", ""))
        for cell in output["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
    )
    assert printed.splitlines() == [numbered_line(i, count) for i in range(1, count + 1)]
    html = httpx.get(
        f"{host.server.url}{API_PREFIX}/flow-runs/{run.id}/output.html",
        headers={"Authorization": f"Bearer {host.admin_key}"},
        timeout=30,
    )
    assert html.status_code == 200, html.text + explain
    assert html.headers["content-type"].startswith("text/html")
    assert f"line {count:02d} of {count:02d}" in html.text

    assert "Lost the nborch server" in worker.output, explain
    assert "is back" in worker.output, explain


def test_the_servers_scheduler_makes_the_runs_a_remote_worker_runs(multi_host: MultiHost) -> None:
    host, admin = multi_host, multi_host.admin
    notebook = counting_notebook(host.folder / "counting.ipynb")
    worker = host.start_worker("--limit", "1")  # one kernel at a time, however many are due
    deploy_notebook(
        admin, notebook, POOL, "every-second", interval=1, parameters={"count": 3, "pause": 0.0}
    )

    completed = wait_for(
        lambda: (
            (
                runs := admin.list_runs(
                    deployment="counting/every-second", states=[StateType.COMPLETED]
                )
            )
            and len(runs) >= 2
            and runs
        ),
        120,
        lambda: _explain(host, worker),
    )
    assert all(run.schedule_id is not None for run in completed)
    assert all(run.worker_id is not None for run in completed)
    (remote_worker,) = admin.list_workers(POOL)
    assert {run.worker_id for run in completed} == {remote_worker.id}
    # The runs were made by the server's scheduler: it holds the scheduler's lease (a worker
    # of a server has no scheduler, and its key may not tick one).
    with open_store(host.database_url).read() as session:
        lease = session.get(LeaseRow, LEASE)
    assert lease is not None
    assert lease.holder.startswith("server "), lease.holder


# ---- a run is executed once -----------------------------------------------------------------


def gated_notebook(path: Path) -> Path:
    """Says it waits, waits for the file `go`, then appends a line to `marks`: each line
    is one execution to completion."""
    return make_notebook(
        path,
        "go: str = ''\nmarks: str = ''",
        "import pathlib, time\nprint('waiting for go', flush=True)",
        "while not pathlib.Path(go).exists():\n    time.sleep(0.1)",
        "with open(marks, 'a') as f:\n    f.write('done\\n')",
    )


def _start_gated_run(host: MultiHost, tmp: Path, **worker: str) -> tuple[FlowRun, Path, Path]:
    go, marks = tmp / "go", tmp / "marks"
    deploy_notebook(
        host.admin, gated_notebook(host.folder / "gated.ipynb"), POOL, "once", retries=1
    )
    run = host.admin.create_run("gated/once", parameters={"go": str(go), "marks": str(marks)})
    wait_for(
        lambda: any("waiting for go" in m for m in _logged_lines(host.admin, run)),
        90,
        lambda: f"run is {host.admin.get_run(run.id).state}{_explain(host, host.started[-1])}",
    )
    return run, go, marks


def test_a_second_scheduler_leaves_the_runs_of_a_downed_server_alone(
    multi_host: MultiHost, tmp_path: Path
) -> None:
    host = multi_host
    second = NborchServer(host.server.env).start()  # its scheduler shares the store
    try:
        worker = host.start_worker()
        run, go, marks = _start_gated_run(host, tmp_path)
        host.server.kill()
        go.touch()  # the run ends while its worker cannot tell anyone
        watcher = HttpClient(second.url, host.admin_key, retry_for=30)
        time.sleep(TIMEOUT + 6)  # the second scheduler holds the lease and ticks meanwhile
        seen = watcher.get_run(run.id)
        explain = _explain(host, worker) + f"\n[second server]\n{second.output}"
        assert seen.state is StateType.RUNNING, f"{seen.state}: {seen.state_message}{explain}"
        with open_store(host.database_url).read() as session:
            lease = session.get(LeaseRow, LEASE)
        assert lease is not None and f":{second.port} " in lease.holder, explain
        host.server.start()
        done = final_run(host.admin, run, timeout=120)
        explain = _explain(host, worker)
        assert done.state is StateType.COMPLETED, f"{done.state}: {done.state_message}{explain}"
        assert (done.run_count, done.attempt) == (1, 1), explain
        assert StateType.CRASHED not in [entry.type for entry in done.history], explain
        assert marks.read_text() == "done\n", explain
        watcher.close()
    finally:
        second.stop()


def test_a_worker_cut_off_from_its_server_stops_its_run_before_another_gets_it(
    multi_host: MultiHost, tmp_path: Path
) -> None:
    host = multi_host
    relay = LossyRelay(host.server.port)
    try:
        cut_off = host.start_worker(url=relay.url)
        run, go, marks = _start_gated_run(host, tmp_path)
        relay.cut()  # the server lives; this worker cannot reach it
        other = host.start_worker()
        retried = wait_for(
            lambda: (
                (r := host.admin.get_run(run.id)).attempt == 2
                and r.state is StateType.RUNNING
                and r
            ),
            90,
            lambda: f"run is {host.admin.get_run(run.id)}{_explain(host, cut_off)}",
        )
        assert retried.worker_id != run.worker_id
        # Stopped when it lost touch, before the store gave the run to the other worker.
        assert "reached neither its server nor its store" in cut_off.output, cut_off.output
        crashed = next(h for h in retried.history if h.type is StateType.CRASHED)
        assert "stopped heartbeating" in crashed.message
        go.touch()
        done = final_run(host.admin, run, timeout=120)
        explain = _explain(host, other) + f"\n[cut-off worker]\n{cut_off.output}"
        assert done.state is StateType.COMPLETED, f"{done.state}: {done.state_message}{explain}"
        assert done.run_count == 2, explain
        relay.mend()  # back in touch: its word about the first attempt is refused
        cut_off.wait_for_line("no longer", timeout=60)
        time.sleep(1)
        assert marks.read_text() == "done\n", explain  # executed to completion once
        assert host.admin.get_run(run.id).state is StateType.COMPLETED
        assert cut_off.alive, cut_off.output
    finally:
        relay.close()
