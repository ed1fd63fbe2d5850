"""A real grpc.aio server on a loopback port, wired to the in-memory FakeLedger.

The server runs on its own event loop in a thread; tests use the ordinary
synchronous gRPC client, as a lender's system would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from evidence_gateway.v1 import (
    evidence_service_pb2_grpc,
    log_service_pb2_grpc,
    verification_service_pb2_grpc,
)
from gateway.config import GatewayConfig
from gateway.server import GatewayServer, load_tsa_trust
from notary.pki import load_log_verifier_key
from tests.support.fake_ledger import FakeLedger


@dataclass
class Harness:
    ledger: Any  # the FakeLedger, except where a test serves a real ledger
    server: GatewayServer
    loop: asyncio.AbstractEventLoop
    channel: grpc.Channel
    address: str
    evidence: evidence_service_pb2_grpc.EvidenceServiceStub
    log: log_service_pb2_grpc.LogServiceStub
    verification: verification_service_pb2_grpc.VerificationServiceStub

    def run(self, coro: object) -> object:
        """Run a coroutine on the server's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]


@pytest.fixture
def harness(pki_p256: Path, tmp_path: Path) -> Iterator[Harness]:
    with serving(FakeLedger.from_pki(pki_p256, tmp_path / "tsa"), pki_p256, tmp_path) as h:
        yield h


@contextlib.contextmanager
def serving(ledger: Any, pki: Path, data_dir: Path) -> Iterator[Harness]:
    """A gateway server on ``ledger`` (the FakeLedger, or a real ledger) and its stubs."""
    config = GatewayConfig(
        listen="127.0.0.1:0",
        data_dir=data_dir,
        insecure_dev=True,
        tsa_pki_dir=pki,
        health_poll_seconds=0.05,
    )
    roots, untrusted = load_tsa_trust(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def make() -> GatewayServer:
        server = GatewayServer(
            config,
            ledger,
            tsa_roots=roots,
            tsa_untrusted=untrusted,
            log_verifier_key=load_log_verifier_key(pki).line,
        )
        await server.start()
        return server

    server = asyncio.run_coroutine_threadsafe(make(), loop).result(10)
    address = f"127.0.0.1:{server.port}"
    channel = grpc.insecure_channel(
        address,
        options=[
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
            ("grpc.max_send_message_length", 16 * 1024 * 1024),
        ],
    )
    try:
        yield Harness(
            ledger=ledger,
            server=server,
            loop=loop,
            channel=channel,
            address=address,
            evidence=evidence_service_pb2_grpc.EvidenceServiceStub(channel),
            log=log_service_pb2_grpc.LogServiceStub(channel),
            verification=verification_service_pb2_grpc.VerificationServiceStub(channel),
        )
    finally:
        channel.close()
        asyncio.run_coroutine_threadsafe(server.stop(0.5), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
