"""A throw-away PostgreSQL server for the tests: a fresh cluster in a temporary folder on a
free loopback port, stopped at the end. Set NBORCH_TEST_POSTGRES_URL to use a server of
your own instead (an admin URL: the tests create and drop databases on it)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PostgresServer:
    admin_url: str  # postgresql+psycopg://user@127.0.0.1:port/postgres
    data_dir: Path | None = None
    bin_dir: Path | None = None
    options: str = ""  # the server's command-line options (port, socket folder, ...)

    def url_for(self, database: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + f"/{database}"

    def stop(self) -> None:
        if self.data_dir and self.bin_dir:
            self.halt()
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def halt(self) -> None:
        """Stop the server at once (`-m immediate`, as when it crashes), keeping its data."""
        assert self.data_dir and self.bin_dir, "a server given by URL cannot be stopped here"
        _run_as_postgres(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"]
        )

    def resume(self) -> None:
        """Start the server `halt` stopped, on the same port and data; returns once it
        accepts connections."""
        assert self.data_dir and self.bin_dir, "a server given by URL cannot be started here"
        failure = _pg_ctl_start(self.bin_dir, self.data_dir, self.options)
        if failure:
            raise RuntimeError(failure)
        _wait_until_ready(self)


def find_bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as_postgres(argv: list[str]) -> subprocess.CompletedProcess[str]:
    # initdb refuses to run as root: run the server as the `postgres` user then.
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def start_postgres() -> PostgresServer | str:
    """A running server, or the reason there is none."""
    url = os.environ.get("NBORCH_TEST_POSTGRES_URL")
    if url:
        return PostgresServer(admin_url=url)
    return start_local_postgres()


def start_local_postgres() -> PostgresServer | str:
    """A fresh server of this machine's PostgreSQL, whatever NBORCH_TEST_POSTGRES_URL says
    (one that can be stopped and started again), or the reason there is none."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        return "PostgreSQL is not installed (initdb not found); `make test` installs it"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, but there is no 'postgres' user to run the server as"
    base = Path(tempfile.mkdtemp(prefix="nborch-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        os.chmod(base, 0o755)
    done = _run_as_postgres(
        [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "nborch", "-E", "UTF8"]
    )
    if done.returncode:
        return f"initdb failed: {done.stderr.strip()[-500:]}"
    port = _free_port()
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    )
    failure = _pg_ctl_start(bin_dir, data, options)
    if failure:
        return failure
    server = PostgresServer(
        admin_url=f"postgresql+psycopg://nborch@127.0.0.1:{port}/postgres",
        data_dir=data,
        bin_dir=bin_dir,
        options=options,
    )
    _wait_until_ready(server)
    return server


def _pg_ctl_start(bin_dir: Path, data: Path, options: str) -> str | None:
    """Start the server of `data` (its log beside it); None, or why it did not start."""
    log = data.parent / "log"
    done = _run_as_postgres(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]
    )
    if done.returncode:
        text = log.read_text() if log.exists() else ""
        return f"PostgreSQL did not start: {done.stderr.strip()[-300:]} {text[-500:]}"
    return None


def _wait_until_ready(server: PostgresServer, timeout: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    plain = server.admin_url.replace("postgresql+psycopg", "postgresql")
    while True:
        try:
            psycopg.connect(plain).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def create_database(server: PostgresServer, name: str) -> str:
    import psycopg

    plain = server.admin_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.url_for(name)


def drop_database(server: PostgresServer, name: str) -> None:
    import psycopg

    plain = server.admin_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
