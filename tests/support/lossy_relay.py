"""A TCP relay in front of a server that loses chosen answers: the request reaches the server
and is carried out, but the connection is cut before its answer comes back, as when a server
dies just after committing; or that cuts its client off the server altogether for a while (a
network partition: the server lives, the client cannot reach it). A test double for a flaky
network, which cannot be had for real."""

from __future__ import annotations

import socket
import threading


class LossyRelay:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._lose: list[bytes] = []  # the first request containing each is answered by a cut
        self._lock = threading.Lock()
        self._cut = False
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lose_answer_to(self, request_line_part: bytes) -> None:
        with self._lock:
            self._lose.append(request_line_part)

    def cut(self) -> None:
        """Cut the client off: open connections are closed, new ones closed at once."""
        with self._lock:
            self._cut = True
            doomed, self._open = self._open, []
        for sock in doomed:
            _close(sock)

    def mend(self) -> None:
        with self._lock:
            self._cut = False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                cut = self._cut
            if cut:
                _close(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:  # the server is down: so is the connection
                _close(client)
                continue
            with self._lock:
                self._open += [client, server]
            doomed = threading.Event()
            threading.Thread(target=self._up, args=(client, server, doomed), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, doomed), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, doomed: threading.Event) -> None:
        while data := _recv(client):
            with self._lock:
                hit = next((part for part in self._lose if part in data), None)
                if hit is not None:
                    self._lose.remove(hit)
                    doomed.set()
            if not _send(server, data):
                break
        _close(server)

    def _down(self, server: socket.socket, client: socket.socket, doomed: threading.Event) -> None:
        while data := _recv(server):
            if doomed.is_set():  # carried out; its answer never arrives
                _close(client)
                _close(server)
                return
            if not _send(client, data):
                break
        _close(client)

    def close(self) -> None:
        self.listener.close()


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
    except OSError:  # cut
        return False
    return True


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""
