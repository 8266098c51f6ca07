"""Alerts: how soon a state change reaches a webhook, and what a storm of failures sends.

One long-lived `nborch worker start` (of an idle pool) holds the scheduler's lease, so its
alert sender delivers the outbox; a webhook receiver on loopback notes when each message
arrives. This process makes the state changes through the store, as workers do
(PENDING → RUNNING → FAILED, with a failing cell), in a pool no worker serves.

(a) Latency: N runs (default 200), one at a time, each failed and timed from the moment
    its FAILED state is committed to the moment the receiver has the message: p50, p99,
    max; goal p99 under 1 s.
(b) Storm: F runs (default 1,000) failed as fast as this process can, within a minute,
    under a rule limited to L messages a minute (default 10): the messages the receiver
    got, how many events they count (a digest counts many), and the outbox afterwards —
    every event sent or carried by a digest, none left pending or lost.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from common import (
    deploy_trivial,
    load_average,
    median,
    percentile,
    print_table,
    temp_home,
    wait_for_worker,
    worker_process,
)
from sqlalchemy import func, select

from nborch.alert_models import AlertChannel, AlertRuleSpec
from nborch.client import LocalClient
from nborch.models import CellFailure, FlowRun, StateType
from nborch.store.tables import AlertMessageRow

FAILURE = CellFailure(cell_index=1, source="print(n * 2)", ename="ValueError", evalue="bench")


class Receiver:
    """Keeps (arrival time, JSON body) of every POST."""

    def __init__(self) -> None:
        self.got: list[tuple[float, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.got.append((time.time(), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.002)
        return len(self.got) >= count


class StateMaker:
    """Changes runs' states as a worker does: a registered worker (heartbeating, so that the
    scheduler does not take its runs for orphans) claims them and fails them."""

    def __init__(self, client: LocalClient, pool: str) -> None:
        self.client, self.pool = client, pool
        self.worker = client.register_worker("bench-states", pool).id
        self.beat = time.monotonic()

    def claim(self, count: int) -> list[FlowRun]:
        self.client.heartbeat(self.worker)
        claimed: list[FlowRun] = []
        while len(claimed) < count:
            got = self.client.claim_runs(self.pool, self.worker, min(count - len(claimed), 100))
            if not got:
                raise RuntimeError(f"claimed {len(claimed)} of {count} runs")
            claimed += got
        return claimed

    def fail(self, run: FlowRun) -> float:
        """Returns when the FAILED state was committed."""
        if time.monotonic() - self.beat > 2:
            self.client.heartbeat(self.worker)
            self.beat = time.monotonic()
        self.client.set_state(run.id, StateType.RUNNING, attempt=run.attempt)
        self.client.set_state(
            run.id, StateType.FAILED, "bench failure", failure=FAILURE, attempt=run.attempt
        )
        return time.time()


def latency(
    client: LocalClient, states: StateMaker, receiver: Receiver, deployment: str, runs: int
) -> list[float]:
    client.create_alert_rule(
        AlertRuleSpec(
            name="latency",
            channel=AlertChannel.WEBHOOK,
            target=receiver.url,
            deployment=deployment,
            max_per_minute=10000,
        )
    )
    times = []
    for _ in range(runs + 1):  # one warm-up
        client.create_run(deployment)
        [run] = states.claim(1)
        before = len(receiver.got)
        committed = states.fail(run)
        if not receiver.wait(before + 1, timeout=30):
            raise TimeoutError("no message within 30 s: is the worker holding the lease?")
        times.append(receiver.got[before][0] - committed)
    client.delete_alert_rule("latency")
    return times[1:]


def storm(
    client: LocalClient,
    states: StateMaker,
    receiver: Receiver,
    deployment: str,
    failures: int,
    limit: int,
) -> dict[str, Any]:
    client.create_alert_rule(
        AlertRuleSpec(
            name="storm",
            channel=AlertChannel.WEBHOOK,
            target=receiver.url,
            deployment=deployment,
            max_per_minute=limit,
        )
    )
    for _ in range(failures):
        client.create_run(deployment)
    runs = states.claim(failures)
    start = len(receiver.got)
    began = time.monotonic()
    for run in runs:
        states.fail(run)
    failing = time.monotonic() - began
    in_the_minute = 0
    while time.monotonic() - began < 60:
        time.sleep(0.5)
        in_the_minute = len(receiver.got) - start
    # Whatever the limit held back goes once the minute frees a message.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with client.store.read() as session:
            pending = session.scalar(
                select(func.count()).where(AlertMessageRow.status == "pending")
            )
        if not pending:
            break
        time.sleep(0.5)
    messages = [body for _t, body in receiver.got[start:]]
    counted = sum(body.get("count", 1) for body in messages)
    with client.store.read() as session:
        statuses = dict(
            session.execute(
                select(AlertMessageRow.status, func.count()).group_by(AlertMessageRow.status)
            ).all()
        )
    return {
        "failing_seconds": failing,
        "in_the_minute": in_the_minute,
        "messages": len(messages),
        "counted": counted,
        "statuses": statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--failures", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=10, help="the storm rule's messages a minute")
    args = parser.parse_args()
    print(f"load average before: {load_average()}")
    receiver = Receiver()
    with temp_home() as home:
        client = LocalClient()
        deployment = deploy_trivial(client, home, "bench")
        client.create_pool("idle", "process")
        with worker_process(home, "idle") as worker:
            wait_for_worker(client, "idle", worker)
            states = StateMaker(client, "bench")
            times = latency(client, states, receiver, deployment, args.runs)
            result = storm(client, states, receiver, deployment, args.failures, args.limit)
    p99 = percentile(times, 99)
    print()
    print_table(
        ["state change → webhook", "runs", "p50 s", "p99 s", "max s", "goal p99 < 1 s"],
        [
            (
                "worker's sender, SQLite",
                len(times),
                median(times),
                p99,
                max(times),
                "met" if p99 < 1 else "not met",
            )
        ],
    )
    print()
    lost = args.failures - result["counted"]
    bound = 2 * args.limit  # the minute of the storm, and the minute after
    print_table(
        [
            "storm",
            "failures",
            "failed in s",
            "messages in its minute",
            "messages in all",
            "events they count",
            "lost",
            f"bound (2 × {args.limit})",
            "outbox",
        ],
        [
            (
                "1 rule",
                args.failures,
                result["failing_seconds"],
                result["in_the_minute"],
                result["messages"],
                result["counted"],
                lost,
                "met" if result["messages"] <= bound and lost == 0 else "not met",
                ", ".join(f"{k} {v}" for k, v in sorted(result["statuses"].items())),
            )
        ],
    )
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
