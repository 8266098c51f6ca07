"""Settings, read from the environment (prefix ``NBORCH_``) with documented defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from nborch.errors import ValidationError

# Lengths of time in seconds: some must be above zero (a loop that waits 0 s spins).
Seconds = Annotated[float, Field(gt=0)]
SecondsOrZero = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=1)]


class Settings(BaseSettings):
    """Every knob nborch reads from the environment.

    ``NBORCH_HOME`` holds the SQLite store and the run outputs; ``NBORCH_DATABASE_URL``
    points at another store (PostgreSQL) instead.
    """

    model_config = SettingsConfigDict(env_prefix="NBORCH_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".nborch")
    database_url: str | None = None
    # A worker heartbeats this often (seconds) ...
    heartbeat_interval: Seconds = 10.0
    # ... and counts as gone once its last heartbeat is older than this: its pool turns
    # NOT_READY and the runs it held are marked CRASHED. A worker that has reached neither
    # its store nor its server for 60% of this time stops its runs itself, so that none is
    # retried while it may still run (keep it no longer on workers than where crashes are
    # detected). Silence caused by the serving side does not count (`crash_detection`).
    worker_timeout: Seconds = 30.0
    # A server (`nborch server start`, Jupyter) down this long is taken for gone for good:
    # the runs of the workers that talked through it are marked CRASHED then, not before.
    server_outage_grace: Seconds = 600.0
    # How often a worker looks for new runs when nothing wakes it earlier.
    poll_interval: Seconds = 2.0
    # How often a worker with runs in hand checks whether any of them was cancelled.
    cancel_check_interval: Seconds = 0.5
    # SIGTERM first, SIGKILL after this many seconds.
    kill_grace_period: SecondsOrZero = 5.0
    # A worker told to stop (SIGTERM) lets its runs finish for at most this many seconds,
    # then stops them (a second signal stops them at once).
    stop_grace_period: SecondsOrZero = 60.0
    # A run whose kernel or container shows no sign of life (process gone, kernel loop
    # stuck, container ended unseen) for this many seconds is ended CRASHED (and retried
    # as its deployment allows): heartbeats prove the worker lives, not its runs.
    silent_run_timeout: Seconds = 60.0
    # The scheduler ticks this often (in whichever process holds its lease) ...
    scheduler_interval: Seconds = 5.0
    # ... making runs for every schedule's times up to this far ahead (at least the next one),
    scheduler_horizon: SecondsOrZero = 600.0
    # at most this many per schedule and tick, and at most this many missed times per
    # schedule when its catch-up policy is `all`.
    scheduler_max_runs: Count = 100
    # A tick makes runs for at most about this many (whole schedules, soonest first) and
    # the scheduler ticks again at once for the rest: its write transaction stays short,
    # which matters on SQLite, where every worker's claim waits for it.
    scheduler_batch: Count = 2000
    # A run still waiting this long after its time is LATE.
    late_after: SecondsOrZero = 30.0
    # Workers take runs this many seconds before their time and start their kernels, so the
    # first cell runs on time (0: take runs when they are due).
    prestart: SecondsOrZero = 0.0
    # A process worker's standby kernels (started ahead, each serving one run) are shut
    # down and started afresh once they have waited this many seconds.
    standby_recycle_after: Seconds = 600.0
    # A server to use instead of the local store (`nborch server start`, or a Jupyter server
    # with the extension: its URL + "/nborch"), and the API key (or Jupyter token) for it.
    api_url: str | None = None
    api_key: SecretStr | None = None
    # How long a call keeps trying while the server cannot be reached: a command gives up
    # soon, a worker waits for the server to come back with its runs' states and logs.
    api_retry_for: SecondsOrZero = 10.0
    worker_api_retry_for: SecondsOrZero = 600.0
    # The Fernet key that encrypts secrets in the store. Unset: the key file
    # `$NBORCH_HOME/secret.key`, made on first use. Every process that sets or resolves
    # secrets of one store needs the same key.
    secret_key: SecretStr | None = None
    # Where people reach the server (e.g. https://nborch.example.com, or a Jupyter server's
    # URL + "/nborch"): alerts link to a run's HTML output under it. Unset: no link.
    public_url: str | None = None
    # An alert's webhook or SMTP server must answer within this many seconds; a slow or
    # unreachable one is tried again later with backoff (the scheduler's tick never waits).
    alert_timeout: Seconds = 10.0
    # The SMTP server of email alerts, smtp://[USER@]HOST[:PORT] (STARTTLS is required), its
    # password, the sender's address, and a CA file to trust its certificate (unset: the
    # system's).
    smtp_url: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "nborch@localhost"
    smtp_ca_file: str | None = None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'nborch.db'}"

    @cached_property
    def runs_dir(self) -> str:
        """Where runs keep their files (a string: the scheduler joins it for every run)."""
        return os.path.join(self.home, "runs")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except PydanticValidationError as err:
        raise ValidationError(_explain(err)) from None


def settings_environment(values: Mapping[str, object], origin: str) -> dict[str, str]:
    """The NBORCH_* variables that carry `values` (setting name -> value, set in `origin`,
    e.g. a Jupyter server's `c.NborchApp`), once they are valid: a process that exports
    them, and every process it starts, has these settings. A bad value raises an error
    naming `origin.name`."""
    try:
        Settings.model_validate(values)
    except PydanticValidationError as err:
        raise ValidationError(_explain(err, values, origin)) from None
    return {variable_for(name): str(value) for name, value in values.items()}


def variable_for(name: str) -> str:
    """The environment variable of a setting: `home` -> NBORCH_HOME."""
    return Settings.model_config.get("env_prefix", "") + name.upper()


def _explain(
    err: PydanticValidationError, given: Mapping[str, object] | None = None, origin: str = ""
) -> str:
    """Which settings are wrong, and why (pydantic names the fields): a value from `given`
    by its name in `origin`, any other by its environment variable."""
    given = given or {}
    wrong = []
    for problem in err.errors():
        name = ".".join(map(str, problem["loc"]))
        if name in given:
            wrong.append(f"{origin}.{name}={given[name]!r}: {problem['msg']}")
        else:
            variable = variable_for(name)
            value = os.environ.get(variable, problem.get("input"))
            wrong.append(f"{variable}={value!r}: {problem['msg']}")
    it = "it" if len(wrong) == 1 else "each"
    return (
        "; ".join(wrong) + f". Set {it} to a valid value, or unset {it} for the default "
        "(the README's Settings table lists them)."
    )


def reset_settings() -> None:
    """Forget cached settings, e.g. after the environment changed (tests)."""
    get_settings.cache_clear()
