"""One institution's SubmitEvidenceStream against the others', on a real `gateway serve`
over mutual TLS: a stream that sends messages of 1,000 submissions and never reads
its answers must not stop another institution's stream from being answered, and
it ends once its answers have waited ``[stream] stalled_write_seconds``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc as ev_grpc
from evidence_gateway.v1 import log_service_pb2 as lg
from evidence_gateway.v1 import log_service_pb2_grpc as lg_grpc
from tests.integration.test_operations import _METRICS_URL, _scrape_until, _value
from tests.support.gateway_proc import GatewayProcess, identity_in, make_pki, write_config
from tests.support.grpc_client import submission

HOG, VICTIM = "bank-hog", "bank-victim"
#: The streams' read-ahead budget of the gateway under test: small, so that a few
#: messages of 1,000 submissions fill it (the default, 64 MiB, takes about 90).
BUDGET = 4 * 1024 * 1024
#: The stall limit of the gateway that ends streams whose answers are not read.
STALL = 2.0
STALLED = "gateway_evidence_stream_stalled_disconnects_total"


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


@pytest.fixture
def stalling(tmp_path: Path) -> Iterator[GatewayProcess]:
    make_pki(tmp_path / "data" / "pki")
    config = write_config(
        tmp_path,
        top={"max_concurrent_rpcs": 100},
        sections={
            "stream": {"buffer_bytes": BUDGET, "stalled_write_seconds": STALL},
            "metrics": {"listen": "127.0.0.1:0"},
        },
    )
    process = GatewayProcess(config, tmp_path, mtls=True)
    process.start()
    try:
        yield process
    finally:
        process.kill()


def _tree_size(channel: grpc.Channel) -> int:
    stub = lg_grpc.LogServiceStub(channel)
    return stub.GetCheckpoint(lg.GetCheckpointRequest(), timeout=10).checkpoint.size


def test_a_stream_whose_answers_are_not_read_ends_and_its_submissions_can_be_sent_again(
    stalling: GatewayProcess, tmp_path: Path
) -> None:
    """The stream ends with RESOURCE_EXHAUSTED naming the limit once an answer has waited
    ``stalled_write_seconds``, gives its share of the budget back (its institution's next
    stream is answered), is counted, and what it registered unanswered is got back by
    sending it again with the same request ids (no second entry)."""
    found = _METRICS_URL.search(stalling.log_text())
    assert found, stalling.log_text()
    url = found.group(1)
    out = tmp_path / "institutions"
    stalling.add_institution(HOG, "lender", out)
    groups = [[submission(f"stall-{n}") for _ in range(500)] for n in range(4)]
    stop = threading.Event()

    def flood() -> Iterator[ev.SubmitEvidenceStreamRequest]:
        for group in groups:
            yield ev.SubmitEvidenceStreamRequest(submissions=group)
        stop.wait(60)

    channel = stalling.channel(
        identity=identity_in(out, HOG), own_connection=True, options=[("grpc.http2.bdp_probe", 0)]
    )
    other = stalling.channel(identity=identity_in(out, HOG), own_connection=True)
    try:
        size_before = _tree_size(other)
        hog = ev_grpc.EvidenceServiceStub(channel).SubmitEvidenceStream(flood(), timeout=60)
        started = time.monotonic()
        samples = _scrape_until(url, lambda s: _value(s, STALLED) >= 1, seconds=30)
        assert _value(samples, STALLED) == 1, "the stream whose answers were not read never ended"
        assert time.monotonic() - started >= STALL
        # Its share of the budget is back: the same institution's next stream is answered
        # (a quarter of the budget, 1 MiB, is less than the stream had read ahead).
        mine = ev.SubmitEvidenceStreamRequest(submission=submission("after-stall"))
        stub = ev_grpc.EvidenceServiceStub(other)
        again = list(stub.SubmitEvidenceStream(iter([mine]), timeout=15))
        assert [a.request_id for a in again] == [mine.submission.request_id]
        assert again[0].HasField("receipt")
        # The client reads at last: the answers the gateway had queued, then the status.
        answered: dict[str, str] = {}
        with pytest.raises(grpc.RpcError) as ended:
            for answer in hog:
                answered.update((r.request_id, r.receipt.entry_id) for r in answer.results)
        assert ended.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        details = ended.value.details() or ""
        assert f"not read for {STALL:g} s (stream.stalled_write_seconds)" in details, details
        assert "same request_id" in details
        wanted = [s.request_id for g in groups for s in g]
        assert len(answered) < len(wanted)  # the premise: answers were lost with the stream
        # Everything sent again with the same request ids: each has its receipt, the ones
        # answered before the same one, and nothing is registered twice.
        resent = list(
            stub.SubmitEvidenceStream(
                iter([ev.SubmitEvidenceStreamRequest(submissions=g) for g in groups]), timeout=60
            )
        )
        receipts = {r.request_id: r.receipt.entry_id for a in resent for r in a.results}
        assert sorted(receipts) == sorted(wanted) and all(receipts.values())
        assert all(receipts[k] == v for k, v in answered.items())
        assert _tree_size(other) == size_before + len(wanted) + 1  # and "after-stall"
        samples = _scrape_until(
            url,
            lambda s: (
                _value(
                    s,
                    "gateway_rpc_denied_total",
                    rpc="EvidenceService/SubmitEvidenceStream",
                    reason="stalled_write",
                )
                == 1
            ),
        )
        assert (
            _value(
                samples,
                "gateway_rpc_calls_total",
                rpc="EvidenceService/SubmitEvidenceStream",
                code="RESOURCE_EXHAUSTED",
                role="lender",
            )
            == 1
        )
    finally:
        stop.set()
        channel.close()
        other.close()
