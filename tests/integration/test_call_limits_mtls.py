"""The cap per institution on calls at once, against a real `gateway serve` with mutual
TLS. Institutions are made by `notary institution add`.
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
    folder = tmp_path_factory.mktemp("call-limit-mtls-gateway")
    make_pki(folder / "data" / "pki")
    config = write_config(folder, top={"max_concurrent_rpcs": SLOTS})
    process = GatewayProcess(config, folder, mtls=True)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_one_agency_s_idle_streams_do_not_lock_other_institutions_out(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    """A collection agency opens ``max_concurrent_rpcs`` submission streams and sends
    nothing (or one message a minute, which keeps each open past ``[stream]
    idle_seconds``). With one pool for all institutions every other institution, a
    court reading the log included, would then get RESOURCE_EXHAUSTED. The agency
    holds at most ``max_calls_per_institution`` of them (by default a quarter of
    ``max_concurrent_rpcs``: 1 here); its other streams are refused, naming that
    limit, and the court is served."""
    gateway.add_institution("agency-z", "collector", tmp_path)
    gateway.add_institution("court-z", "court", tmp_path)
    agency, court = identity_in(tmp_path, "agency-z"), identity_in(tmp_path, "court-z")
    stop = threading.Event()

    def one_bad_message_then_idle() -> Iterator[ev.SubmitEvidenceStreamRequest]:
        yield ev.SubmitEvidenceStreamRequest()  # answered with an error: the stream is served
        stop.wait(30)

    with gateway.channel(identity=agency, own_connection=True) as held:
        stub = ev_grpc.EvidenceServiceStub(held)
        first = stub.SubmitEvidenceStream(one_bad_message_then_idle(), timeout=60)
        try:
            assert next(first).error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
            for _ in range(SLOTS - 1):  # the agency's share of the slots is taken
                more = stub.SubmitEvidenceStream(one_bad_message_then_idle(), timeout=60)
                with pytest.raises(grpc.RpcError) as info:
                    next(more)
                assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "max_calls_per_institution = 1" in (info.value.details() or "")
            with gateway.channel(identity=court, own_connection=True) as channel:
                log = log_service_pb2_grpc.LogServiceStub(channel)
                # The court has no call in progress: it is served.
                answer = log.GetCheckpoint(log_service_pb2.GetCheckpointRequest(), timeout=10)
                assert answer.checkpoint.size >= 1
        finally:
            stop.set()
            assert list(first) == []
