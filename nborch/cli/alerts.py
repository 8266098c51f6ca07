"""`nborch alert ...`: rules that send a message when runs fail, crash, are cancelled,
complete or run late; and every delivery attempt."""

from __future__ import annotations

import click

from nborch.alert_models import ALERT_STATES, AlertChannel, AlertRule, AlertRuleSpec
from nborch.cli.options import client, json_option
from nborch.display import console, fmt_time, print_json, print_table
from nborch.models import StateType

_STATES = sorted(s.value for s in ALERT_STATES)


@click.group("alert")
def alert() -> None:
    """Alerts: a message by webhook (Slack, Teams) or email when runs fail, crash, are
    cancelled, complete or run late."""


@alert.command("create")
@click.argument("name")
@click.option(
    "--channel",
    type=click.Choice([c.value for c in AlertChannel]),
    required=True,
    help="webhook (nborch's JSON), slack, teams (their incoming webhooks' bodies) or email.",
)
@click.option(
    "--to",
    "target",
    required=True,
    help="The webhook URL (may hold {{ secret.NAME }}), or email addresses, comma-separated.",
)
@click.option(
    "--on",
    "states",
    multiple=True,
    type=click.Choice(_STATES, case_sensitive=False),
    help="A state that sends a message (repeat it); default FAILED and CRASHED.",
)
@click.option(
    "--longer-than",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Also a message when a run has been RUNNING this long (once per attempt).",
)
@click.option("--deployment", help="Only runs of this deployment (FLOW/NAME).")
@click.option("--pool", help="Only runs of this work pool.")
@click.option("--tag", help="Only runs with this tag.")
@click.option("--hmac-secret", help="Sign webhook bodies with this nborch secret (HMAC-SHA256).")
@click.option(
    "--max-per-minute",
    type=click.IntRange(1, 10000),
    default=10,
    show_default=True,
    help="At most this many messages a minute; a storm beyond it becomes one digest.",
)
@click.option(
    "--test", is_flag=True, help="Send a test message first; store the rule only if it arrives."
)
@json_option
def create(
    name: str,
    channel: str,
    target: str,
    states: tuple[str, ...],
    longer_than: float | None,
    deployment: str | None,
    pool: str | None,
    tag: str | None,
    hmac_secret: str | None,
    max_per_minute: int,
    test: bool,
    as_json: bool,
) -> None:
    """Create alert rule NAME: runs of a deployment, a pool, a tag, or every run, entering
    the states given, send a message to --to.

    \b
      nborch alert create ops --channel slack --to 'https://hooks.slack.com/services/{{ secret.SLACK }}'
      nborch alert create night --channel email --to ops@example.com --deployment etl/nightly --on FAILED --on LATE
    """
    spec = AlertRuleSpec(
        name=name,
        channel=AlertChannel(channel),
        target=target,
        states=[StateType(s.upper()) for s in states]
        or ([] if longer_than else [StateType.FAILED, StateType.CRASHED]),
        longer_than=longer_than,
        deployment=deployment,
        pool=pool,
        tag=tag,
        hmac_secret=hmac_secret,
        max_per_minute=max_per_minute,
    )
    rule = client().create_alert_rule(spec, test=test)
    if as_json:
        print_json(rule)
        return
    console.print(
        f"Created alert rule '{rule.name}': {_watches(rule)} → "
        f"{rule.channel.value}. Try it with: nborch alert test {rule.name}",
        markup=False,
    )


def _watches(rule: AlertRule) -> str:
    watched = [s.value for s in rule.states]
    if rule.longer_than:
        watched.append(f"RUNNING > {rule.longer_than:g} s")
    return ", ".join(watched)


def _scope(deployment: str | None, pool: str | None, tag: str | None) -> str:
    parts = [f"deployment {deployment}" if deployment else "", f"pool {pool}" if pool else ""]
    parts.append(f"tag {tag}" if tag else "")
    return ", ".join(p for p in parts if p) or "every run"


@alert.command("ls")
@json_option
def ls(as_json: bool) -> None:
    """List alert rules (a URL's secrets show as their references)."""
    rules = client().list_alert_rules()
    if as_json:
        print_json(rules)
        return
    print_table(
        "Alert rules",
        ["Name", "Runs", "On", "Channel", "To", "Max/min"],
        [
            (
                r.name,
                _scope(r.deployment, r.pool, r.tag),
                _watches(r),
                r.channel.value,
                r.target,
                str(r.max_per_minute),
            )  # fmt: skip
            for r in rules
        ],
    )


@alert.command("test")
@click.argument("name")
def test(name: str) -> None:
    """Send a test message to rule NAME's target now (an error says why it did not arrive)."""
    delivery = client().test_alert_rule(name)
    console.print(
        f"Delivered a test message of alert rule '{name}': {delivery.detail}", markup=False
    )


@alert.command("delete")
@click.argument("name")
def delete(name: str) -> None:
    """Delete alert rule NAME, its queued messages and its history."""
    client().delete_alert_rule(name)
    console.print(f"Deleted alert rule '{name}'.", markup=False)


@alert.command("history")
@click.option("--rule", help="Only this rule's deliveries.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
def history(rule: str | None, limit: int, as_json: bool) -> None:
    """Every delivery attempt, newest first: what was sent, and what the receiver said."""
    deliveries = client().alert_history(rule=rule, limit=limit)
    if as_json:
        print_json(deliveries)
        return
    print_table(
        "Alert deliveries",
        ["When", "Rule", "Run", "State", "Events", "Attempt", "OK", "Status", "Detail"],
        [
            (
                fmt_time(d.attempted),
                d.rule,
                d.run_name or "(test)",
                d.state.value if d.state else "",
                str(d.digest_count),
                str(d.attempt),
                "yes" if d.ok else "no",
                d.status,
                d.detail,
            )  # fmt: skip
            for d in deliveries
        ],
    )
