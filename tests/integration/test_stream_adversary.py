"""One institution's SubmitEvidenceStream against the others', on a real `gateway serve`
over mutual TLS: a stream that sends messages of 1,000 submissions and never reads
its answers must not stop another institution's stream from being answered, and
it ends once its answers have waited ``[stream] stalled_write_seconds``. A WatchCases
stream that is never read ends the same way, and gives back its call slot and its
subscription."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from evidence_gateway.v1 import case_service_pb2 as cs
from evidence_gateway.v1 import case_service_pb2_grpc as cs_grpc
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc as ev_grpc
from evidence_gateway.v1 import log_service_pb2 as lg
from evidence_gateway.v1 import log_service_pb2_grpc as lg_grpc
from tests.integration.test_operations import _METRICS_URL, _scrape, _scrape_until, _value
from tests.support.authz_matrix import Stubs
from tests.support.gateway_proc import (
    GatewayProcess,
    identity_in,
    institution_callers,
    make_pki,
    running,
    write_config,
)
from tests.support.grpc_client import submission, timestamp

HOG, VICTIM = "bank-hog", "bank-victim"
#: The streams' read-ahead budget of the gateway under test: small, so that a few
#: messages of 1,000 submissions fill it (the default, 64 MiB, takes about 90).
BUDGET = 4 * 1024 * 1024
#: The stall limit of the gateway that ends streams whose answers are not read.
STALL = 2.0
STALLED = "gateway_evidence_stream_stalled_disconnects_total"
WATCHER, BODY = "bank-watcher", "court-w"
WATCH_SLOW = "gateway_case_watch_slow_disconnects_total"
WATCH_STREAMS = "gateway_case_watch_streams"
WATCH_RPC = "CaseService/WatchCases"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    make_pki(tmp_path / "data" / "pki")
    config = write_config(
        tmp_path, top={"max_concurrent_rpcs": 100}, sections={"stream": {"buffer_bytes": BUDGET}}
    )
    with running(config, tmp_path, mtls=True) as process:
        yield process


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


@contextlib.contextmanager
def _stalling(tmp_path: Path, **top: object) -> Iterator[GatewayProcess]:
    """A gateway that ends a stream once what it sends has waited ``STALL`` seconds,
    with its metrics on loopback; ``top``: more top-level settings."""
    make_pki(tmp_path / "data" / "pki")
    config = write_config(
        tmp_path,
        top={"max_concurrent_rpcs": 100, **top},
        sections={
            "stream": {"buffer_bytes": BUDGET, "stalled_write_seconds": STALL},
            "metrics": {"listen": "127.0.0.1:0"},
        },
    )
    with running(config, tmp_path, mtls=True) as process:
        yield process


@pytest.fixture
def stalling(tmp_path: Path) -> Iterator[GatewayProcess]:
    with _stalling(tmp_path) as process:
        yield process


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
        # The call has ended, and is counted, while its answers are still unread: the
        # gateway did not wait for its status to go out behind them.
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
    finally:
        stop.set()
        channel.close()
        other.close()


@pytest.fixture
def watch_stalling(tmp_path: Path) -> Iterator[GatewayProcess]:
    # One call at a time per institution: a stream that is not read holds its
    # institution's only call slot until the gateway ends it.
    with _stalling(tmp_path, max_calls_per_institution=1) as process:
        yield process


def _case_in_enforcement(lender: Stubs, court: Stubs) -> str:
    """A case of WATCHER's with BODY, in enforcement (four events): its id."""
    relied = lender.evidence.SubmitEvidence(
        ev.SubmitEvidenceRequest(submission=submission("L-W", data=b"loan contract W")),
        timeout=30,
    ).receipt.entry_id
    case = lender.cases.FileCase(
        cs.FileCaseRequest(
            request_id="file-w",
            loan_ref="L-W",
            body=BODY,
            claim=cs.MoneyAmount(currency_code="CNY", minor_units=5_000_000),
            relied_on_entry_ids=[relied],
            share_expires_at=timestamp(datetime.now(UTC) + timedelta(days=180)),
        ),
        timeout=30,
    ).case
    court.cases.AcceptCase(
        cs.AcceptCaseRequest(
            request_id="acc-w",
            case_id=case.case_id,
            case_number="(2026)京0105执1号",
            occurred_at=timestamp(datetime.now(UTC)),
        ),
        timeout=30,
    )
    for event in (cs.CASE_EVENT_TYPE_JUDGMENT, cs.CASE_EVENT_TYPE_ENFORCEMENT_STARTED):
        court.cases.UpdateCaseStatus(
            cs.UpdateCaseStatusRequest(
                request_id=f"w-{event}",
                case_id=case.case_id,
                event=event,
                occurred_at=timestamp(datetime.now(UTC)),
            ),
            timeout=30,
        )
    return str(case.case_id)


def _recovered(court: Stubs, case_id: str, n: int) -> int:
    """Record the ``n``-th amount recovered (one event of the case): its event number."""
    answer = court.cases.UpdateCaseStatus(
        cs.UpdateCaseStatusRequest(
            request_id=f"rec-w-{n}",
            case_id=case_id,
            event=cs.CASE_EVENT_TYPE_AMOUNT_RECOVERED,
            amount=cs.MoneyAmount(currency_code="CNY", minor_units=1),
            occurred_at=timestamp(datetime.now(UTC)),
        ),
        timeout=30,
    )
    return int(answer.event.event_number)


def test_a_watch_that_is_never_read_ends_at_the_limit_and_gives_back_its_slot(
    watch_stalling: GatewayProcess, tmp_path: Path
) -> None:
    """A lender opens WatchCases and never reads while the court records its case's
    events: once a message has waited ``stalled_write_seconds`` (gRPC flow control) the
    stream ends with RESOURCE_EXHAUSTED telling the client to read and reconnect with its
    cursor, its subscription and its institution's only call slot are given back, it is
    counted (a slow disconnect, denial reason ``stalled_write``), and a stream resumed
    from the last cursor received gets every later event once."""
    gateway = watch_stalling
    found = _METRICS_URL.search(gateway.log_text())
    assert found, gateway.log_text()
    url = found.group(1)
    out = tmp_path / "institutions"
    who = ((WATCHER, "lender"), (BODY, "court"))
    with institution_callers(gateway, who, out) as callers:
        lender, court = callers[WATCHER], callers[BODY]
        case_id = _case_in_enforcement(lender, court)
        # The client announces no larger window than gRPC's first one and never reads:
        # the gateway's writes soon wait on flow control.
        channel = gateway.channel(
            identity=identity_in(out, WATCHER),
            own_connection=True,
            options=[("grpc.http2.bdp_probe", 0)],
        )
        try:
            hog = cs_grpc.CaseServiceStub(channel).WatchCases(cs.WatchCasesRequest(), timeout=120)
            samples = _scrape_until(url, lambda s: _value(s, WATCH_STREAMS) == 1)
            assert _value(samples, WATCH_STREAMS) == 1, "the stream never subscribed"
            # The premise: the stream holds the lender's only call slot.
            with pytest.raises(grpc.RpcError) as refused:
                lender.cases.ListCases(cs.ListCasesRequest(), timeout=10)
            assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "max_calls_per_institution" in (refused.value.details() or "")

            recorded: dict[int, float] = {}  # event number -> when its call returned
            ended_at = None
            for n in range(1000):
                recorded[_recovered(court, case_id, n)] = time.monotonic()
                if _value(_scrape(url), WATCH_SLOW) >= 1:
                    ended_at = time.monotonic()
                    break
            assert ended_at is not None, (
                f"a WatchCases stream that was never read was not ended while {n + 1} "
                "events were recorded for it"
            )
            samples = _scrape_until(
                url,
                lambda s: (
                    _value(s, "gateway_rpc_denied_total", rpc=WATCH_RPC, reason="stalled_write")
                    == 1
                ),
            )
            # Its subscription is gone and its call slot is free: the lender calls again.
            assert _value(samples, WATCH_STREAMS) == 0
            assert _value(samples, WATCH_SLOW) == 1
            assert (
                _value(samples, "gateway_rpc_denied_total", rpc=WATCH_RPC, reason="slow_reader")
                == 0
            )
            assert (
                _value(
                    samples,
                    "gateway_rpc_calls_total",
                    rpc=WATCH_RPC,
                    code="RESOURCE_EXHAUSTED",
                    role="lender",
                )
                == 1
            )
            listed = lender.cases.ListCases(cs.ListCasesRequest(), timeout=10)
            assert [c.case_id for c in listed.cases] == [case_id]
            # But gRPC still holds the call, its status queued behind the unread messages,
            # until the client ends it: the lender may not pile up more such streams (one
            # slot: one of them) and its next stream is refused until it reads this one.
            with pytest.raises(grpc.RpcError) as piled:
                next(lender.cases.WatchCases(cs.WatchCasesRequest(), timeout=10))
            assert piled.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "did not read them" in (piled.value.details() or ""), piled.value.details()

            # The client reads at last: what the gateway had written, then the status.
            received: list[cs.WatchCasesResponse] = []
            with pytest.raises(grpc.RpcError) as ended:
                for message in hog:
                    received.append(message)
            assert ended.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            details = ended.value.details() or ""
            assert f"not read for {STALL:g} s (stream.stalled_write_seconds)" in details, details
            assert "reconnect with the last cursor received" in details, details
            numbers = [m.event.event_number for m in received if m.HasField("event")]
            assert numbers == list(range(1, len(numbers) + 1))
            # The message after the last one received is the write that waited: the stream
            # ended ``STALL`` seconds after it was recorded (and delivered), not later.
            stalled = numbers[-1] + 1
            assert stalled in recorded, (numbers, sorted(recorded))
            waited = ended_at - recorded[stalled]
            assert STALL - 0.25 <= waited <= STALL + 1.0, waited
        finally:
            channel.close()

        # Reconnecting with the last cursor received: every later event, once each.
        last = max(recorded)
        resumed = lender.cases.WatchCases(
            cs.WatchCasesRequest(cursor=received[-1].cursor), timeout=60
        )
        later: list[int] = []
        for message in resumed:
            if message.HasField("event"):
                later.append(message.event.event_number)
            if later and later[-1] >= last:
                break
        resumed.cancel()
        assert later == list(range(stalled, last + 1))
