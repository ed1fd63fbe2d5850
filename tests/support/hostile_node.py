"""A hostile JSON-RPC node for tests: a raw TCP server answering every HTTP request with
whatever chunks a test gives, as slowly as it likes, counting what the client took."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable

__all__ = ["HEADERS", "Body", "HostileNode"]

Body = Callable[[], Iterable[bytes]]

#: The status line and headers the node sends before the body.
HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"


def _request_length(data: bytes) -> int:
    """Header and body length of the HTTP request whose start is ``data`` (all read
    before answering: unread bytes would make the close a reset)."""
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(head) + 4


class HostileNode:
    """A raw TCP server answering every HTTP request with ``headers`` then the chunks of
    ``body()``; ``sent`` counts the body bytes the client accepted (the kernel took
    them); ``requests`` holds the requests received."""

    def __init__(self, body: Body) -> None:
        self.body = body
        self.sent = 0
        self.closed = threading.Event()
        self.headers = HEADERS
        self.requests: list[bytes] = []  # each request as received (head and body)
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)  # accept() wakes up to see close()
        self._threads: list[threading.Thread] = []
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._answer, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            data = b""
            try:
                while b"\r\n\r\n" not in data or len(data) < _request_length(data):
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                self.requests.append(data)
                conn.sendall(self.headers)
                for chunk in self.body():
                    if self.closed.is_set():
                        return
                    conn.sendall(chunk)
                    self.sent += len(chunk)
            except OSError:  # the client hung up: what it refused is not counted
                return

    def close(self) -> None:
        self.closed.set()
        self._server.close()
        for thread in self._threads:
            thread.join(timeout=30)
