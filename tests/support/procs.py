"""Start real server processes on free loopback ports for integration tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def notary_server(pki: Path, state_dir: Path, *extra: str) -> Iterator[str]:
    """`notary serve` on a free port; yields its base URL; stops it afterwards."""
    port = free_port()
    log = state_dir.parent / f"notary-{port}.log"
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "notary"),
                "serve",
                "--pki",
                str(pki),
                "--listen",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(state_dir),
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"notary serve exited {proc.returncode}: {log.read_text()}")
            try:
                with urllib.request.urlopen(url + "healthz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"notary serve not healthy: {log.read_text()}") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
