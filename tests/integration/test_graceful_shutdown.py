"""Graceful shutdown under load: SIGTERM while clients submit; every caller gets its answer.

Each round: several clients drive a real `gateway serve` process (batches of
BatchSubmitEvidence, SubmitEvidenceStream streams, one of messages of one
submission and one of messages of several, a WatchCases stream and a health
watch, each on its own connection); at a random moment the gateway
gets SIGTERM. It must exit 0 within its grace period, and:

* every call ended with a status, none by its deadline (no hang): OK, or
  UNAVAILABLE. gRPC itself guarantees only that a call with a deadline ends
  with *some* status (a dead connection becomes a client-side UNAVAILABLE);
  what the gateway adds, and this test checks, is which: a batch call either
  was answered OK or refused with the gateway's "shutting down" message; a
  call that never reached the gateway (its connection was already gone) may
  fail at the transport level, and then none of its items is in the log;
  a SubmitEvidenceStream ends with the gateway's UNAVAILABLE after it has
  answered every submission it read, so a submission without an answer is
  not in the log either; WatchCases ends with UNAVAILABLE naming the cursor;
  health went NOT_SERVING;
* calls in progress at SIGTERM were finished: answers arrived after it;
* after a restart on the same data every acknowledged entry is there
  (GetEvidence by entry id: same leaf index and leaf), inside the log's size;
  each receipt verifies offline (signed checkpoint, inclusion proof); no
  request id and no entry id was acknowledged twice, and resending an
  acknowledged submission returns its receipt.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_inclusion
from court.verify.rfc6962 import leaf_hash
from evidence_gateway.v1 import (
    case_service_pb2,
    case_service_pb2_grpc,
    common_pb2,
    evidence_service_pb2_grpc,
    log_service_pb2_grpc,
)
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from gateway.api.evidence import STREAM_DRAINED
from gateway.api.shutdown import REFUSED
from gateway.cases.watch import WATCH_CLOSED
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.grpc_client import submission

ROUNDS = 2
GRACE_SECONDS = 15
BATCH_CLIENTS, BATCH_ITEMS = 3, 40
#: Submissions per message of each stream client (1: the field `submission`).
STREAM_MESSAGE_ITEMS = (1, 50)
#: A stream client keeps at most this many submissions unanswered (more than the
#: gateway's read-ahead window, so the gateway always has some in hand).
STREAM_AHEAD = 2500
Submission = common_pb2.EvidenceSubmission


@dataclass
class Call:
    """One BatchSubmitEvidence call: what was sent and how it ended."""

    items: list[Submission]
    ended: float = 0.0
    response: ev.BatchSubmitEvidenceResponse | None = None
    code: grpc.StatusCode = grpc.StatusCode.OK
    details: str = ""


@dataclass
class Stream:
    """One SubmitEvidenceStream: what was sent, each answer (when it came), its end."""

    sent: dict[str, Submission] = field(default_factory=dict)
    answers: list[tuple[float, ev.SubmitEvidenceStreamResponse]] = field(default_factory=list)
    answered: int = 0  # submissions answered (a message of several: each of its results)
    code: grpc.StatusCode | None = None
    details: str = ""


@dataclass
class Round:
    calls: list[list[Call]] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    watch: Stream = field(default_factory=Stream)
    health: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def acknowledged(self) -> int:
        done = sum(1 for calls in self.calls for c in calls if c.response is not None)
        return done + sum(s.answered for s in self.streams)


def _batches(channel: grpc.Channel, calls: list[Call], loan: str) -> None:
    stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
    n = 0
    while True:
        call = Call([submission(f"{loan}-{(n + i) % 7}") for i in range(BATCH_ITEMS)])
        n += BATCH_ITEMS
        calls.append(call)
        try:
            call.response = stub.BatchSubmitEvidence(
                ev.BatchSubmitEvidenceRequest(submissions=call.items), timeout=30
            )
        except grpc.RpcError as exc:
            call.code, call.details = exc.code(), exc.details() or ""
            call.ended = time.monotonic()
            return
        call.ended = time.monotonic()


def _stream(
    channel: grpc.Channel, stream: Stream, loan: str, stop: threading.Event, per_message: int
) -> None:
    stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)

    def requests() -> Iterator[ev.SubmitEvidenceStreamRequest]:
        while not stop.is_set():
            if len(stream.sent) - stream.answered >= STREAM_AHEAD:
                time.sleep(0.002)
                continue
            items = [submission(loan) for _ in range(per_message)]
            stream.sent.update((s.request_id, s) for s in items)
            if per_message == 1:
                yield ev.SubmitEvidenceStreamRequest(submission=items[0])
            else:
                yield ev.SubmitEvidenceStreamRequest(submissions=items)

    try:
        for response in stub.SubmitEvidenceStream(requests(), timeout=60):
            stream.answers.append((time.monotonic(), response))
            stream.answered += len(response.results) or 1
    except grpc.RpcError as exc:
        stream.code, stream.details = exc.code(), exc.details() or ""
    else:
        stream.code = grpc.StatusCode.OK


def _watch(channel: grpc.Channel, watch: Stream) -> None:
    stub = case_service_pb2_grpc.CaseServiceStub(channel)
    try:
        for message in stub.WatchCases(case_service_pb2.WatchCasesRequest(), timeout=60):
            watch.sent[message.cursor] = Submission()  # cursors received
    except grpc.RpcError as exc:
        watch.code, watch.details = exc.code(), exc.details() or ""
    else:
        watch.code = grpc.StatusCode.OK


def _health(channel: grpc.Channel, seen: list[int]) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        for response in stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60):
            seen.append(response.status)
    except grpc.RpcError:
        pass  # the watch ends with the server; only what it said counts


@dataclass
class Rig:
    proc: GatewayProcess
    vkey: str
    rng: random.Random


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    folder = tmp_path_factory.mktemp("graceful")
    pki = folder / "data" / "pki"
    make_pki(pki)
    config = write_config(
        folder,
        sections={"shutdown": {"grace_seconds": GRACE_SECONDS}},
        max_batch=200,
        max_wait_ms=2,
    )
    proc = GatewayProcess(config, folder)
    seed = random.randrange(2**32)
    print(f"graceful shutdown test seed {seed}")
    try:
        yield Rig(proc, (pki / "log.vkey").read_text().strip(), random.Random(seed))
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.kill()


def _drive_and_terminate(rig: Rig, name: str) -> tuple[Round, float, int]:
    """Start the clients, SIGTERM the gateway under load; the round and SIGTERM's time."""
    proc = rig.proc
    state = Round()
    channels = []
    threads = []

    def client(target: Callable[..., None], *args: object) -> None:
        channel = proc.channel(own_connection=True)
        channels.append(channel)
        threads.append(threading.Thread(target=target, args=(channel, *args), daemon=True))

    for n in range(BATCH_CLIENTS):
        state.calls.append([])
        client(_batches, state.calls[-1], f"{name}-b{n}")
    for n, per_message in enumerate(STREAM_MESSAGE_ITEMS):
        state.streams.append(Stream())
        client(_stream, state.streams[-1], f"{name}-s{n}", state.stop, per_message)
    client(_watch, state.watch)
    client(_health, state.health)
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 20
        while state.acknowledged() < 400 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert state.acknowledged() >= 400, proc.log_text()
        time.sleep(rig.rng.uniform(0.0, 0.3))
        assert proc.proc is not None
        sent_at = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        code = proc.proc.wait(timeout=GRACE_SECONDS + 15)
        stopped_in = time.monotonic() - sent_at
        for thread in threads:
            thread.join(30)
            assert not thread.is_alive(), "a client call did not end"
    finally:
        state.stop.set()
        for channel in channels:
            channel.close()
    print(f"{name}: exit {code} {stopped_in:.2f} s after SIGTERM")
    return state, sent_at, code


def _log_size(rig: Rig) -> int:
    with rig.proc.channel(own_connection=True) as channel:
        log = log_service_pb2_grpc.LogServiceStub(channel)
        note = log.GetCheckpoint(lg.GetCheckpointRequest(), timeout=10).checkpoint.signed_note
    return verify_checkpoint(note, rig.vkey).size


@pytest.mark.parametrize("round_no", range(ROUNDS))
def test_sigterm_under_load_answers_every_caller_and_loses_nothing(rig: Rig, round_no: int) -> None:
    rig.proc.start()
    size_before = _log_size(rig)
    state, sigterm, code = _drive_and_terminate(rig, f"stop-{round_no}")
    log_text = rig.proc.log_text()
    assert code == 0, log_text
    assert "gateway: stopped" in log_text, log_text

    acked: dict[str, tuple[Submission, common_pb2.Receipt]] = {}  # request id -> receipt
    unanswered: list[Submission] = []  # sent, never acknowledged: must not be in the log
    after_sigterm = 0

    def acknowledge(s: Submission, r: common_pb2.Receipt) -> None:
        assert s.request_id not in acked, f"request id acknowledged twice: {s.request_id}"
        acked[s.request_id] = (s, r)

    # Batches: OK with a receipt for every item, or a status that says what happened.
    for calls in state.calls:
        assert calls and calls[-1].response is None, "a batch client ended without a status"
        for call in calls[:-1]:
            assert call.response is not None and call.code == grpc.StatusCode.OK
            after_sigterm += call.ended > sigterm
            for s, result in zip(call.items, call.response.results, strict=True):
                assert result.HasField("receipt"), result.error
                acknowledge(s, result.receipt)
        last = calls[-1]
        assert last.code == grpc.StatusCode.UNAVAILABLE, (last.code, last.details)
        if REFUSED not in last.details:
            # Never reached the gateway (its connection was closing): not registered.
            print(f"transport-level end of a batch call: {last.details}")
        unanswered += last.items

    # Streams: each answered what it read (a message of several submissions whole, its
    # results in order), then ended with the gateway's UNAVAILABLE.
    for stream, per_message in zip(state.streams, STREAM_MESSAGE_ITEMS, strict=True):
        assert stream.code == grpc.StatusCode.UNAVAILABLE, (stream.code, stream.details)
        assert STREAM_DRAINED in stream.details, stream.details
        assert stream.answers, "a stream got no answer before SIGTERM"
        answered = set()
        sent_order = list(stream.sent)
        for received, response in stream.answers:
            results = list(response.results) if per_message > 1 else [response]
            assert len(results) == per_message, response
            first = sent_order.index(results[0].request_id)
            assert [r.request_id for r in results] == sent_order[first : first + per_message]
            for result in results:
                assert result.HasField("receipt"), result.error
                acknowledge(stream.sent[result.request_id], result.receipt)
                answered.add(result.request_id)
            after_sigterm += received > sigterm
        unanswered += [s for rid, s in list(stream.sent.items()) if rid not in answered]

    assert state.watch.code == grpc.StatusCode.UNAVAILABLE, (state.watch.code, state.watch.details)
    assert WATCH_CLOSED in state.watch.details and state.watch.sent  # it had its cursor
    assert state.health[:1] == [health_pb2.HealthCheckResponse.SERVING], state.health
    assert health_pb2.HealthCheckResponse.NOT_SERVING in state.health, state.health
    # Work in progress at SIGTERM was finished and answered.
    assert after_sigterm > 0, "no answer came after SIGTERM: nothing was in progress?"

    entry_ids = [r.entry_id for _, r in acked.values()]
    assert len(set(entry_ids)) == len(entry_ids), "an entry was acknowledged twice"
    indexes = [r.leaf_index for _, r in acked.values()]
    assert len(set(indexes)) == len(indexes), "a leaf index was acknowledged twice"

    rig.proc.start()
    try:
        with rig.proc.channel(own_connection=True) as channel:
            evidence = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
            log = log_service_pb2_grpc.LogServiceStub(channel)
            latest = verify_checkpoint(
                log.GetCheckpoint(lg.GetCheckpointRequest(), timeout=10).checkpoint.signed_note,
                rig.vkey,
            )
            assert latest.size > max(indexes)
            # Nothing registered but what was acknowledged (every submission is new).
            assert latest.size - size_before == len(acked)
            for s, r in acked.values():
                record = evidence.GetEvidence(
                    ev.GetEvidenceRequest(entry_id=r.entry_id), timeout=10
                ).record
                assert (record.receipt.leaf_index, record.receipt.leaf) == (r.leaf_index, r.leaf)
                assert record.submission.digest == s.digest
                assert record.submission.request_id == s.request_id
                seen = verify_checkpoint(r.checkpoint.signed_note, rig.vkey)
                assert r.inclusion_proof.tree_size == seen.size > r.leaf_index
                verify_inclusion(
                    r.leaf_index,
                    seen.size,
                    leaf_hash(r.leaf),
                    list(r.inclusion_proof.hashes),
                    seen.root_hash,
                )
            for s in rig.rng.sample(unanswered, min(200, len(unanswered))):
                found = evidence.FindEvidence(
                    ev.FindEvidenceRequest(hash_algorithm=s.hash_algorithm, digest=s.digest),
                    timeout=10,
                ).records
                assert not found, f"registered without an answer to its caller: {s.request_id}"
            # Resending acknowledged submissions returns their receipts (no second entry).
            for s, r in rig.rng.sample(list(acked.values()), 5):
                again = evidence.SubmitEvidence(
                    ev.SubmitEvidenceRequest(submission=s), timeout=10
                ).receipt
                assert (again.entry_id, again.leaf_index) == (r.entry_id, r.leaf_index)
    finally:
        assert rig.proc.stop() == 0, rig.proc.log_text()
    print(
        f"round {round_no}: {len(acked)} acknowledged ({after_sigterm} answers after "
        f"SIGTERM), {len(unanswered)} sent without an answer and not registered; "
        f"log size {latest.size}"
    )


def _gateway(folder: Path, grace: float) -> GatewayProcess:
    make_pki(folder / "data" / "pki")
    config = write_config(folder, sections={"shutdown": {"grace_seconds": grace}})
    proc = GatewayProcess(config, folder)
    proc.start()
    return proc


def test_a_second_sigterm_stops_waiting_for_calls_and_exits_3(tmp_path: Path) -> None:
    proc = _gateway(tmp_path, grace=60)
    # A client that sends and never reads its answers: the gateway's stream blocks on
    # sending them (flow control), so it cannot end on its own within the grace period.
    channel = proc.channel(own_connection=True, options=[("grpc.http2.bdp_probe", 0)])
    try:
        stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
        items = [ev.SubmitEvidenceStreamRequest(submission=submission("slow")) for _ in range(3000)]
        call = stub.SubmitEvidenceStream(iter(items), timeout=60)
        time.sleep(1.0)  # the gateway reads, registers, and blocks answering
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while "waiting up to" not in proc.log_text():
            assert time.monotonic() < deadline, proc.log_text()
            time.sleep(0.02)
        time.sleep(0.5)
        assert proc.proc.poll() is None, "the gateway did not wait for the blocked stream"
        again = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        code = proc.proc.wait(timeout=20)
        took = time.monotonic() - again
        log_text = proc.log_text()
        assert code == 3, log_text
        assert took < 10, (took, log_text)  # not the 60 s of grace
        assert "at a second signal" in log_text and "gateway: stopped, ending calls" in log_text
        # The client's call ends (answers it had, then a status), no hang.
        with pytest.raises(grpc.RpcError) as ended:
            for _ in call:
                pass
        assert ended.value.code() != grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        channel.close()
        if proc.proc is not None and proc.proc.poll() is None:
            proc.kill()


def test_when_the_grace_period_runs_out_calls_are_ended_and_the_exit_code_is_3(
    tmp_path: Path,
) -> None:
    proc = _gateway(tmp_path, grace=0)
    with proc.channel(own_connection=True) as channel:
        stub = case_service_pb2_grpc.CaseServiceStub(channel)
        call = stub.WatchCases(case_service_pb2.WatchCasesRequest(), timeout=30)
        assert next(call).cursor  # the stream is open (its first cursor)
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)
        code = proc.proc.wait(timeout=20)
        assert code == 3, proc.log_text()
        assert "still running after 0 s" in proc.log_text()
        with pytest.raises(grpc.RpcError) as ended:
            next(call)
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE, ended.value.details()
