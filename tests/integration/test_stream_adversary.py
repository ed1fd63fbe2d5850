"""One institution's SubmitEvidenceStream against the others', on a real `gateway serve`
over mutual TLS: a stream that sends messages of 1,000 submissions and never reads
its answers must not stop another institution's stream from being answered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc as ev_grpc
from tests.support.gateway_proc import GatewayProcess, identity_in, make_pki, write_config
from tests.support.grpc_client import submission

HOG, VICTIM = "bank-hog", "bank-victim"
#: The streams' read-ahead budget of the gateway under test: small, so that a few
#: messages of 1,000 submissions fill it (the default, 64 MiB, takes about 90).
BUDGET = 4 * 1024 * 1024


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    make_pki(tmp_path / "data" / "pki")
    config = write_config(
        tmp_path, top={"max_concurrent_rpcs": 100}, sections={"stream": {"buffer_bytes": BUDGET}}
    )
    process = GatewayProcess(config, tmp_path, mtls=True)
    process.start()
    try:
        yield process
    finally:
        process.kill()


def test_a_stream_that_never_reads_leaves_other_institutions_streams_answered(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    out = tmp_path / "institutions"
    for name in (HOG, VICTIM):
        gateway.add_institution(name, "lender", out)
    stop = threading.Event()

    def flood() -> Iterator[ev.SubmitEvidenceStreamRequest]:
        for number in range(40):  # ~100 KB each: ~40 times what the budget holds
            if stop.is_set():
                return
            yield ev.SubmitEvidenceStreamRequest(
                submissions=[submission(f"hog-{number}") for _ in range(1000)]
            )
        stop.wait(120)

    # The hog's connection announces no larger window than gRPC's first one: its
    # unread answers soon stop the gateway's writes (flow control).
    hog_channel = gateway.channel(
        identity=identity_in(out, HOG), own_connection=True, options=[("grpc.http2.bdp_probe", 0)]
    )
    victim_channel = gateway.channel(identity=identity_in(out, VICTIM), own_connection=True)
    try:
        hog = ev_grpc.EvidenceServiceStub(hog_channel).SubmitEvidenceStream(flood(), timeout=120)
        time.sleep(8.0)  # the gateway reads the hog's messages, registers, blocks answering
        victim = ev_grpc.EvidenceServiceStub(victim_channel)
        # A unary call is not held by the streams' budget ...
        victim.SubmitEvidence(ev.SubmitEvidenceRequest(submission=submission("unary")), timeout=10)
        # ... and another institution's stream must be answered as well.
        mine = ev.SubmitEvidenceStreamRequest(submission=submission("victim-stream"))
        started = time.monotonic()
        try:
            answers = list(victim.SubmitEvidenceStream(iter([mine]), timeout=15))
        except grpc.RpcError as error:
            pytest.fail(
                f"{VICTIM}'s stream of one submission got {error.code().name} after "
                f"{time.monotonic() - started:.1f} s while {HOG}'s stream held its answers "
                "unread: one stream took the read-ahead budget of every stream"
            )
        assert [a.request_id for a in answers] == [mine.submission.request_id]
        assert answers[0].HasField("receipt")
        hog.cancel()
    finally:
        stop.set()
        hog_channel.close()
        victim_channel.close()
