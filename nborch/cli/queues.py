"""`nborch work-queue ...`"""

from __future__ import annotations

import click

from nborch.cli.options import client, json_option
from nborch.display import console, fmt_limit, print_json, print_table

pool_option = click.option("--pool", "pool_name", required=True, help="The queue's work pool.")


@click.group("work-queue")
def work_queue() -> None:
    """Work queues inside a pool: priority (1 first) and a concurrency limit each."""


@work_queue.command("create")
@click.argument("name")
@pool_option
@click.option("--priority", type=int, default=1, show_default=True, help="1 is served first.")
@click.option("--concurrency-limit", type=int, help="Most runs of the queue at once.")
@click.option("--description", default="")
@json_option
def create(
    name: str,
    pool_name: str,
    priority: int,
    concurrency_limit: int | None,
    description: str,
    as_json: bool,
) -> None:
    """Create a work queue in a pool."""
    queue = client().create_queue(
        pool_name,
        name,
        priority=priority,
        concurrency_limit=concurrency_limit,
        description=description,
    )
    if as_json:
        print_json(queue)
    else:
        console.print(f"Created work queue '{name}' in pool '{pool_name}'.")


@work_queue.command("ls")
@pool_option
@json_option
def ls(pool_name: str, as_json: bool) -> None:
    """List a pool's queues."""
    queues = client().list_queues(pool_name)
    if as_json:
        print_json(queues)
        return
    print_table(
        f"Work queues of '{pool_name}'",
        ["Name", "Priority", "Concurrency limit", "Paused", "Description"],
        [
            (q.name, q.priority, fmt_limit(q.concurrency_limit), q.paused, q.description)
            for q in queues
        ],
    )


@work_queue.command("pause")
@click.argument("name")
@pool_option
def pause(name: str, pool_name: str) -> None:
    """Pause a queue: none of its runs start."""
    client().update_queue(pool_name, name, paused=True)
    console.print(f"Paused work queue '{name}' of pool '{pool_name}'.")


@work_queue.command("resume")
@click.argument("name")
@pool_option
def resume(name: str, pool_name: str) -> None:
    """Resume a paused queue."""
    client().update_queue(pool_name, name, paused=False)
    console.print(f"Resumed work queue '{name}' of pool '{pool_name}'.")


@work_queue.command("set-concurrency-limit")
@click.argument("name")
@click.argument("limit", type=int)
@pool_option
def set_concurrency_limit(name: str, limit: int, pool_name: str) -> None:
    """Run at most LIMIT runs of the queue at once."""
    client().update_queue(pool_name, name, concurrency_limit=limit)
    console.print(f"Work queue '{name}' now runs at most {limit} run(s) at once.")


@work_queue.command("clear-concurrency-limit")
@click.argument("name")
@pool_option
def clear_concurrency_limit(name: str, pool_name: str) -> None:
    """Remove the queue's concurrency limit."""
    client().update_queue(pool_name, name, concurrency_limit=None)
    console.print(f"Work queue '{name}' has no concurrency limit now.")


@work_queue.command("delete")
@click.argument("name")
@pool_option
def delete(name: str, pool_name: str) -> None:
    """Delete a queue (not the default one)."""
    client().delete_queue(pool_name, name)
    console.print(f"Deleted work queue '{name}' of pool '{pool_name}'.")
