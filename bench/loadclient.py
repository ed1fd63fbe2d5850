"""A small concurrent HTTP/1.1 keep-alive load client for the TSA (loopback only).

Each connection sends one request at a time and reads the reply by its
Content-Length; several connections run concurrently in one event loop.
Bounded by a count and a time limit; stops by itself.
"""

from __future__ import annotations

import asyncio
import time


async def _connection(
    host: str, port: int, body: bytes, deadline: float, counts: list[int], statuses: set[bytes]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/timestamp-query\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    message = head + body
    try:
        while time.perf_counter() < deadline:
            writer.write(message)
            status_line = await reader.readline()
            statuses.add(status_line.split(b" ", 2)[1])
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            counts[0] += 1
    finally:
        writer.close()


async def _run(
    host: str, port: int, body: bytes, seconds: float, connections: int
) -> tuple[int, set[bytes]]:
    counts = [0]
    statuses: set[bytes] = set()
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(_connection(host, port, body, deadline, counts, statuses) for _ in range(connections))
    )
    return counts[0], statuses


def run_load(
    host: str, port: int, body: bytes, seconds: float, connections: int
) -> tuple[float, set[bytes]]:
    """Requests per second achieved, and the HTTP status codes seen."""
    start = time.perf_counter()
    count, statuses = asyncio.run(_run(host, port, body, seconds, connections))
    return count / (time.perf_counter() - start), statuses


def _worker(args: tuple[str, int, bytes, float, int]) -> tuple[float, set[bytes]]:
    return run_load(*args)
