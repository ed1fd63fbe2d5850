"""A real grpc.aio server on a loopback port, wired to the real ledger.

The ledger is :class:`gateway.ledger.Ledger` on a SQLite file in the test's
temporary folder, with the in-process TSA engine, as ``gateway serve`` wires
it; only thin fault wrappers sit around its parts (``harness.store``,
``harness.tsa``, and ``harness.ledger.refuse`` for whole calls), idle until
a test arms them. The server runs on its own event loop in a thread; tests
use the ordinary synchronous gRPC client, as a lender's system would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from evidence_gateway.v1 import (
    access_service_pb2_grpc,
    case_service_pb2_grpc,
    evidence_service_pb2_grpc,
    log_service_pb2_grpc,
    verification_service_pb2_grpc,
)
from gateway.config import GatewayConfig
from gateway.server import GatewayServer, load_tsa_trust
from gateway.store.sql import SqlStore
from gateway.tsa import EngineTokenSource, TokenSource
from notary.pki import load_log_signing_key, load_log_verifier_key
from notary.serve import build_authority
from tests.support.grpc_client import CHANNEL_OPTIONS
from tests.support.ledger_faults import FailingTsa, FaultyStore, ProbedLedger


@dataclass
class Harness:
    ledger: ProbedLedger
    store: FaultyStore
    tsa: FailingTsa
    vkey: str  # the log's verifier key
    server: GatewayServer
    loop: asyncio.AbstractEventLoop
    channel: grpc.Channel
    address: str
    evidence: evidence_service_pb2_grpc.EvidenceServiceStub
    log: log_service_pb2_grpc.LogServiceStub
    verification: verification_service_pb2_grpc.VerificationServiceStub
    access: access_service_pb2_grpc.AccessServiceStub
    cases: case_service_pb2_grpc.CaseServiceStub

    def run(self, coro: object) -> object:
        """Run a coroutine on the server's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]


def _config(pki: Path, folder: Path) -> GatewayConfig:
    return GatewayConfig(
        listen="127.0.0.1:0",
        data_dir=folder,
        insecure_dev=True,
        tsa_pki_dir=pki,
        health_poll_seconds=0.05,
    )


@pytest.fixture(scope="module")
def engine_tsa(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenSource]:
    """The in-process TSA as ``gateway serve`` makes it; one per module (its start-up
    check is most of a harness's cost), shared as one TSA serves every caller."""
    roots, _ = load_tsa_trust(_config(pki_p256, Path()))
    state = tmp_path_factory.mktemp("notary")
    tsa = EngineTokenSource(build_authority(pki_p256, state, accept_sm3=True), roots)
    yield tsa
    tsa.close()


def _start(
    pki: Path,
    folder: Path,
    engine: TokenSource,
    stack: list[Callable[[], None]],
    resolver: Any = None,
    registry: Any = None,
    **ledger: Any,
) -> Harness:
    config = _config(pki, folder)
    roots, untrusted = load_tsa_trust(config)
    vkey = load_log_verifier_key(pki)
    store = FaultyStore(SqlStore.open("sqlite://"))  # in memory: no sync per commit
    tsa = FailingTsa(engine, owns_inner=False)
    probed = ProbedLedger.open(
        store=store, tsa=tsa, log_key=load_log_signing_key(pki), log_origin=vkey.origin, **ledger
    )
    assert isinstance(probed, ProbedLedger)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def stop_loop() -> None:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()

    stack.append(stop_loop)

    async def make() -> GatewayServer:  # a grpc.aio server is made on its loop
        return GatewayServer(
            config,
            probed,
            tsa_roots=roots,
            tsa_untrusted=untrusted,
            log_verifier_key=vkey.line,
            resolver=resolver,
            registry=registry,
        )

    server = asyncio.run_coroutine_threadsafe(make(), loop).result(10)
    # stop() closes the ledger, also when start() failed
    stack.append(lambda: asyncio.run_coroutine_threadsafe(server.stop(0.5), loop).result(10))
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    address = f"127.0.0.1:{server.port}"
    channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    stack.append(channel.close)
    return Harness(
        ledger=probed,
        store=store,
        tsa=tsa,
        vkey=vkey.line,
        server=server,
        loop=loop,
        channel=channel,
        address=address,
        evidence=evidence_service_pb2_grpc.EvidenceServiceStub(channel),
        log=log_service_pb2_grpc.LogServiceStub(channel),
        verification=verification_service_pb2_grpc.VerificationServiceStub(channel),
        access=access_service_pb2_grpc.AccessServiceStub(channel),
        cases=case_service_pb2_grpc.CaseServiceStub(channel),
    )


@pytest.fixture
def start_harness(
    pki_p256: Path, tmp_path: Path, engine_tsa: TokenSource
) -> Iterator[Callable[..., Harness]]:
    """Start a harness; keyword arguments go to ``Ledger.open`` (e.g. ``max_queue``),
    except ``resolver`` (the server's caller resolver; the dev headers' by default) and
    ``registry`` (an institutions registry: development mode then takes its roles)."""
    stack: list[Callable[[], None]] = []
    count = 0

    def start(resolver: Any = None, registry: Any = None, **ledger: Any) -> Harness:
        nonlocal count
        count += 1
        folder = tmp_path / f"gateway-{count}"
        return _start(pki_p256, folder, engine_tsa, stack, resolver, registry, **ledger)

    try:
        yield start
    finally:
        for undo in reversed(stack):
            undo()


@pytest.fixture
def harness(start_harness: Callable[..., Harness]) -> Harness:
    return start_harness()
