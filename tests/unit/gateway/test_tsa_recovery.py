"""Token sources recover from their TSA's failures instead of stalling or staying down.

* The worker-process engine restarts its pool after a worker is killed.
* The HTTP source's per-URL circuit breaker: a hung TSA costs a batch about one
  time-out (not one per item), the healthy TSA keeps being used, and items
  whose TSAs are all in their cool-down fail at once.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509

from court.verify.token import verify_timestamp
from gateway.errors import Unavailable
from gateway.tsa import HttpTokenSource, ProcessEngineTokenSource
from notary.http import make_app
from notary.pki import load_tsa_signing_material
from notary.serve import build_authority
from tests.support.tsa import make_engine


@pytest.fixture(scope="module")
def roots(pki_p256: Path) -> list[x509.Certificate]:
    return load_tsa_signing_material(pki_p256)[2]


def _digests(n: int, salt: bytes = b"") -> list[tuple[str, bytes]]:
    return [("sha256", hashlib.sha256(salt + i.to_bytes(4, "big")).digest()) for i in range(n)]


# ---------------------------------------------------------------- worker processes


def _wait_dead(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise AssertionError(f"worker {pid} did not die")


def test_process_pool_restarts_after_a_worker_is_killed(
    pki_p256: Path, roots: list[x509.Certificate], tmp_path: Path
) -> None:
    factory = functools.partial(build_authority, pki_p256, tmp_path / "serials")
    source = ProcessEngineTokenSource(factory, roots, processes=1, health_ttl=0.0)
    try:
        assert source.healthy()
        [pid] = list(source._pool._processes)  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGKILL)
        _wait_dead(pid)
        # Before the fix: UNAVAILABLE here, and for every batch until a restart.
        items = _digests(40)
        out = source.stamp_batch(items)
        for (alg, digest), token in zip(items, out, strict=True):
            assert isinstance(token, bytes), token
            result = verify_timestamp(token, roots=roots, digest=digest, hash_algorithm=alg)
            assert result.ok, result.first_failure
        assert source.healthy()
        assert pid not in source._pool._processes  # type: ignore[attr-defined]
        # and again: every death is recovered from, not just the first
        [pid] = list(source._pool._processes)  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGKILL)
        _wait_dead(pid)
        assert source.healthy()
        assert isinstance(source.stamp("sha256", hashlib.sha256(b"after").digest()), bytes)
    finally:
        source.close()


def test_process_pool_that_cannot_restart_is_unavailable(
    pki_p256: Path, roots: list[x509.Certificate], tmp_path: Path
) -> None:
    factory = functools.partial(build_authority, pki_p256, tmp_path / "serials")
    source = ProcessEngineTokenSource(factory, roots, processes=1, health_ttl=0.0)
    try:
        [pid] = list(source._pool._processes)  # type: ignore[attr-defined]
        # New workers cannot start: their TSA key is gone.
        source._factory = functools.partial(build_authority, tmp_path / "no-pki", tmp_path / "s")
        os.kill(pid, signal.SIGKILL)
        _wait_dead(pid)
        [result] = source.stamp_batch(_digests(1))
        assert isinstance(result, Unavailable)
        assert not source.healthy()
    finally:
        source.close()


# ---------------------------------------------------------------- HTTP circuit breaker


class HungServer:
    """A TSA that accepts connections and never answers; counts the connections."""

    def __init__(self, url: str, accepted: list[socket.socket]) -> None:
        self.url = url
        self._accepted = accepted

    @property
    def connections(self) -> int:
        return len(self._accepted)


@pytest.fixture
def hung() -> Iterator[HungServer]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            accepted.append(conn)  # held open, never read or answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield HungServer(f"http://127.0.0.1:{sock.getsockname()[1]}/", accepted)
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        sock.close()


@pytest.fixture(scope="module")
def good_url(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Our notary's HTTP endpoint (`notary.http.make_app`) on a loopback port."""
    engine = make_engine(pki_p256, tmp_path_factory.mktemp("http-serials"))
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(engine))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    async def start() -> None:
        await runner.setup()
        await web.SockSite(runner, sock).start()

    loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


TIMEOUT = 1.0


def test_hung_tsa_costs_a_batch_one_timeout_and_the_healthy_one_is_used(
    hung: HungServer, good_url: str, roots: list[x509.Certificate]
) -> None:
    source = HttpTokenSource([hung.url, good_url], roots, timeout=TIMEOUT, workers=8, cooldown=30.0)
    try:
        items = _digests(32)
        started = time.monotonic()
        out = source.stamp_batch(items)
        took = time.monotonic() - started
        for (alg, digest), token in zip(items, out, strict=True):
            assert isinstance(token, bytes), token
            result = verify_timestamp(token, roots=roots, digest=digest, hash_algorithm=alg)
            assert result.ok, result.first_failure
        # Only the items already in flight (one per thread) waited for the hung TSA;
        # before the fix every item did: 32 connections, 32 / 8 threads x 1 s = 4 s.
        assert hung.connections <= 8
        assert took < 3 * TIMEOUT, took
        # The next batch and the health probe do not touch the hung TSA at all.
        assert all(isinstance(t, bytes) for t in source.stamp_batch(_digests(32, b"2")))
        assert source.healthy()
        assert hung.connections <= 8
    finally:
        source.close()


def test_all_tsas_hung_fails_fast_and_reports_unhealthy_fast(
    hung: HungServer,
    roots: list[x509.Certificate],
    unused_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = HttpTokenSource(
        [hung.url, unused_url], roots, timeout=TIMEOUT, workers=8, cooldown=30.0
    )
    try:
        started = time.monotonic()
        out = source.stamp_batch(_digests(32))
        took = time.monotonic() - started
        assert all(isinstance(e, Unavailable) for e in out)
        # Before the fix: 32 connections, 32 / 8 threads x 1 s = 4 s.
        assert hung.connections <= 8
        assert took < 3 * TIMEOUT, took
        assert "not tried" in caplog.text  # the caller's message is generic; the log says why
        caplog.clear()
        started = time.monotonic()
        assert not source.healthy()
        with pytest.raises(Unavailable):
            source.stamp("sha256", hashlib.sha256(b"x").digest())
        assert time.monotonic() - started < 0.5
        assert "not tried" in caplog.text
        assert hung.connections <= 8
    finally:
        source.close()


@pytest.fixture
def unused_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def test_a_tsa_is_tried_again_after_its_cooldown(
    good_url: str, roots: list[x509.Certificate], caplog: pytest.LogCaptureFixture
) -> None:
    # The breaker opens on the refused connection, then a single try closes it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = HttpTokenSource([f"http://127.0.0.1:{port}/"], roots, timeout=TIMEOUT, cooldown=0.3)
    try:
        with pytest.raises(Unavailable):
            source.stamp("sha256", hashlib.sha256(b"a").digest())
        caplog.clear()
        with pytest.raises(Unavailable):
            source.stamp("sha256", hashlib.sha256(b"b").digest())
        assert "not tried" in caplog.text
        # The TSA at that URL comes back (simulated by pointing the URL at a live
        # one): after the cool-down it is tried again and used.
        source._urls[0] = good_url
        time.sleep(0.35)
        assert isinstance(source.stamp("sha256", hashlib.sha256(b"c").digest()), bytes)
        assert all(isinstance(t, bytes) for t in source.stamp_batch(_digests(16)))
    finally:
        source.close()
