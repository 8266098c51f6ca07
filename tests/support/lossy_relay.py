"""A TCP relay in front of a server that loses chosen answers: the request reaches the server
and is carried out, but the connection is cut before its answer comes back, as when a server
dies just after committing. A test double for a flaky network, which cannot be had for real."""

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
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lose_answer_to(self, request_line_part: bytes) -> None:
        with self._lock:
            self._lose.append(request_line_part)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
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
            server.sendall(data)
        server.close()

    def _down(self, server: socket.socket, client: socket.socket, doomed: threading.Event) -> None:
        while data := _recv(server):
            if doomed.is_set():  # carried out; its answer never arrives
                client.shutdown(socket.SHUT_RDWR)
                client.close()
                server.close()
                return
            client.sendall(data)
        client.close()

    def close(self) -> None:
        self.listener.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""
