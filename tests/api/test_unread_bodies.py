"""The standalone server answers a request it refuses from its headers before the body is
sent: no valid key (401), a Content-Length beyond the route's limit (413). So a caller
without a key cannot make the server read (and buffer) up to 65 MiB first."""

from __future__ import annotations

import socket
import uuid
from urllib.parse import urlsplit

import httpx
from support.api import Server

from nborch.client.routes import MAX_BODY_BYTES, MAX_NOTEBOOK_BYTES


def _head_answer(server: Server, head: str, body: bytes = b"") -> str:
    """Send a request's head (and `body`, if any) on a raw socket and return the answer's
    status line and headers; fails if none comes within 5 s."""
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)  # socket.timeout here: the server waits for the body
            if not chunk:
                break
            answer += chunk
    return answer.decode("latin-1")


def _post(path: str, length: int, key: str | None = None, extra: str = "") -> str:
    authorization = f"Authorization: Bearer {key}\n" if key else ""
    return (
        f"POST /api/v1{path} HTTP/1.1\nHost: x\nContent-Type: application/json\n"
        f"Content-Length: {length}\n{authorization}{extra}"
    )


def test_no_key_is_refused_before_the_body_is_sent(sqlite_server: Server) -> None:
    for head in [
        _post("/work-pools", 60_000_000),
        _post("/work-pools", 60_000_000, key="not-a-key"),
        _post("/work-pools", 60_000_000, extra="Expect: 100-continue\n"),
        _post(f"/flow-runs/{uuid.uuid4()}/output-notebook", MAX_NOTEBOOK_BYTES).replace(
            "POST", "PUT"
        ),
    ]:
        answer = _head_answer(sqlite_server, head)
        assert answer.startswith("HTTP/1.1 401"), (head, answer)
        assert "100 (Continue)" not in answer
    # nor does a path the server does not serve, nor a method a path does not take
    assert _head_answer(sqlite_server, _post("/nowhere", 60_000_000)).startswith("HTTP/1.1 404")
    assert _head_answer(
        sqlite_server, "POST /x HTTP/1.1\nHost: x\nContent-Length: 60000000\n"
    ).startswith("HTTP/1.1 404")
    put = _post("/work-pools", 60_000_000).replace("POST", "PUT")
    assert _head_answer(sqlite_server, put).startswith("HTTP/1.1 405")


def test_a_key_gets_413_from_the_content_length_alone(sqlite_server: Server) -> None:
    answer = _head_answer(sqlite_server, _post("/work-pools", 60_000_000, sqlite_server.admin_key))
    assert answer.startswith("HTTP/1.1 413"), answer
    too_big = _post("/work-pools", MAX_BODY_BYTES + 1, sqlite_server.admin_key)
    assert _head_answer(sqlite_server, too_big).startswith("HTTP/1.1 413")


def test_a_streamed_body_beyond_the_limit_is_413_and_a_fitting_one_is_served(
    sqlite_server: Server,
) -> None:
    """Without a Content-Length (chunked), the limit is counted as the body arrives."""
    headers = {"Authorization": f"Bearer {sqlite_server.admin_key}"}
    url = sqlite_server.url + "/api/v1/work-pools"

    def chunks(size: int) -> object:
        body = b'{"name": "streamed", "type": "process", "description": "' + b"x" * size + b'"}'
        yield from (body[i : i + 65536] for i in range(0, len(body), 65536))

    answer = httpx.post(url, content=chunks(MAX_BODY_BYTES), headers=headers)
    assert answer.status_code == 413, answer.text
    assert "at most" in answer.json()["error"]["message"]
    answer = httpx.post(url, content=chunks(5000), headers=headers)
    assert answer.status_code == 201, answer.text
    assert sqlite_server.local.get_pool("streamed").description == "x" * 5000
