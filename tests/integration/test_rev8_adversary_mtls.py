"""Adversarial review of issue 8 against a real `gateway serve` with mutual TLS:
findings that are still open. Institutions are made by `notary institution add`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc as ev_grpc
from evidence_gateway.v1 import log_service_pb2, log_service_pb2_grpc
from tests.support.gateway_proc import GatewayProcess, identity_in, make_pki, write_config

SLOTS = 4


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("rev8-mtls-gateway")
    make_pki(folder / "data" / "pki")
    config = write_config(folder, top={"max_concurrent_rpcs": SLOTS})
    process = GatewayProcess(config, folder, mtls=True)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_one_agency_s_idle_streams_lock_every_other_institution_out(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    """A collection agency opens ``max_concurrent_rpcs`` submission streams and sends
    nothing (or one message a minute, which keeps each open past ``[stream]
    idle_seconds``). Every other institution, a court reading the log included, then
    gets RESOURCE_EXHAUSTED: the cap is one pool for all institutions."""
    gateway.add_institution("agency-z", "collector", tmp_path)
    gateway.add_institution("court-z", "court", tmp_path)
    agency, court = identity_in(tmp_path, "agency-z"), identity_in(tmp_path, "court-z")
    stop = threading.Event()

    def one_bad_message_then_idle() -> Iterator[ev.SubmitEvidenceStreamRequest]:
        yield ev.SubmitEvidenceStreamRequest()  # answered with an error: the stream is served
        stop.wait(30)

    with gateway.channel(identity=agency, own_connection=True) as held:
        stub = ev_grpc.EvidenceServiceStub(held)
        streams = [
            stub.SubmitEvidenceStream(one_bad_message_then_idle(), timeout=60) for _ in range(SLOTS)
        ]
        try:
            for stream in streams:  # each holds a call slot now
                assert next(stream).error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
            with gateway.channel(identity=court, own_connection=True) as channel:
                log = log_service_pb2_grpc.LogServiceStub(channel)
                # The court has no call in progress: it must be served.
                log.GetCheckpoint(log_service_pb2.GetCheckpointRequest(), timeout=10)
        finally:
            stop.set()
            for stream in streams:
                assert list(stream) == []
