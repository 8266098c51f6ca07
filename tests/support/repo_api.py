"""A loopback HTTP server answering like GitHub's /repos/OWNER/NAME, for the seed's
repository-statistics flow."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPOS = {"PrefectHQ/prefect": (17_000, 1_600), "jupyter/notebook": (11_000, 4_900)}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        name = self.path.removeprefix("/repos/")
        if name not in REPOS:
            self.send_error(404, f"no repository {name}")
            return
        stars, forks = REPOS[name]
        body = json.dumps(
            {"full_name": name, "stargazers_count": stars, "forks_count": forks}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def repo_api() -> Iterator[str]:
    """The base URL (http://127.0.0.1:PORT/repos) while the server runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/repos"
    finally:
        server.shutdown()
        thread.join()
