"""SubmitEvidenceStream messages of several submissions, beside messages of one."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
import pytest
from google.rpc import code_pb2

from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_inclusion
from court.verify.rfc6962 import leaf_hash
from evidence_gateway.v1 import evidence_service_pb2 as ev
from gateway.api.errors import violations_of
from gateway.api.evidence import STREAM_DRAINED
from gateway.api.stream_budget import READ_SLOT_BYTES, ByteBudget
from gateway.api.stream_messages import MAX_MESSAGE_ITEMS, StreamMessage, take
from gateway.errors import InvalidArgument
from tests.support.grpc_client import submission
from tests.unit.gateway.api.conftest import Harness


def test_messages_of_one_and_of_several_are_answered_in_stream_order(harness: Harness) -> None:
    first = submission("loan-m")
    group = [submission("loan-m") for _ in range(30)]
    group[7] = submission("loan-m", digest=b"x")
    last = submission("loan-m")
    requests = [
        ev.SubmitEvidenceStreamRequest(submission=first),
        ev.SubmitEvidenceStreamRequest(submissions=group),
        ev.SubmitEvidenceStreamRequest(submission=last),
    ]
    got = list(harness.evidence.SubmitEvidenceStream(iter(requests), timeout=30))
    assert len(got) == 3
    assert got[0].request_id == first.request_id and got[0].receipt.loan_sequence == 1
    assert not got[0].results
    many = got[1]
    assert many.request_id == "" and many.WhichOneof("result") is None
    assert [r.request_id for r in many.results] == [s.request_id for s in group]
    assert many.results[7].error.code == code_pb2.INVALID_ARGUMENT
    assert [f for f, _ in violations_of(many.results[7].error)] == ["digest"]
    sequences = [r.receipt.loan_sequence for r in many.results if r.HasField("receipt")]
    assert sequences == list(range(2, 31))  # in the order of the items, after `first`
    assert got[2].receipt.loan_sequence == 31
    receipt = many.results[0].receipt
    cp = verify_checkpoint(receipt.checkpoint.signed_note, harness.vkey)
    verify_inclusion(
        receipt.leaf_index,
        cp.size,
        leaf_hash(receipt.leaf),
        list(receipt.inclusion_proof.hashes),
        cp.root_hash,
    )
    assert harness.server.evidence.stream_budget.used == 0


def test_a_bad_message_is_one_error_and_the_stream_goes_on(harness: Harness) -> None:
    both = submission("loan-x")
    requests = [
        ev.SubmitEvidenceStreamRequest(submission=both, submissions=[submission("loan-x")]),
        ev.SubmitEvidenceStreamRequest(
            submissions=[submission("loan-x") for _ in range(MAX_MESSAGE_ITEMS + 1)]
        ),
        ev.SubmitEvidenceStreamRequest(submissions=[submission("loan-x")]),
    ]
    got = list(harness.evidence.SubmitEvidenceStream(iter(requests), timeout=60))
    assert got[0].request_id == both.request_id
    assert got[0].error.code == code_pb2.INVALID_ARGUMENT
    assert [f for f, _ in violations_of(got[0].error)] == ["submissions"]
    assert "not both" in str(got[0].error)
    assert got[1].error.code == code_pb2.INVALID_ARGUMENT
    assert f"1 to {MAX_MESSAGE_ITEMS:,} items" in str(got[1].error)
    assert [r.receipt.loan_sequence for r in got[2].results] == [1]
    assert harness.ledger.size == 1
    assert harness.server.evidence.stream_budget.used == 0


def test_a_message_beyond_an_institutions_share_is_refused(harness: Harness) -> None:
    harness.server.evidence.stream_budget = ByteBudget(READ_SLOT_BYTES * 8, READ_SLOT_BYTES * 2)
    big = [submission("loan-y", metadata={"note": "x" * 200}) for _ in range(200)]
    fits = [submission("loan-y", metadata={"note": "x" * 200}) for _ in range(20)]
    requests = [
        ev.SubmitEvidenceStreamRequest(submissions=big),
        ev.SubmitEvidenceStreamRequest(submissions=fits),  # more than a read slot
    ]
    got = list(harness.evidence.SubmitEvidenceStream(iter(requests), timeout=30))
    assert got[0].error.code == code_pb2.INVALID_ARGUMENT
    assert "send fewer submissions per message" in str(got[0].error)
    assert all(r.HasField("receipt") for r in got[1].results) and len(got[1].results) == 20
    assert harness.server.evidence.stream_budget.used == 0


def test_streams_of_large_messages_stay_within_the_budget(harness: Harness) -> None:
    budget = ByteBudget(READ_SLOT_BYTES * 8, share=READ_SLOT_BYTES * 8)  # one institution
    harness.server.evidence.stream_budget = budget
    answers: list[int] = []
    lock = threading.Lock()

    def one_stream(n: int) -> None:
        groups = [[submission(f"loan-z{n}") for _ in range(100)] for _ in range(5)]
        got = list(
            harness.evidence.SubmitEvidenceStream(
                (ev.SubmitEvidenceStreamRequest(submissions=g) for g in groups), timeout=60
            )
        )
        assert [len(r.results) for r in got] == [100] * 5
        with lock:
            answers.append(sum(r.HasField("receipt") for m in got for r in m.results))

    threads = [threading.Thread(target=one_stream, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert answers == [500] * 6
    assert budget.peak <= budget.limit
    assert budget.used == 0


def test_chunks_take_whole_messages() -> None:
    def message(n: int) -> StreamMessage:
        return StreamMessage([""] * n, [InvalidArgument([("", "x")])] * n, 0, n > 1)

    buffer = [message(300), message(150), message(100), message(1), message(900)]
    assert [len(m.request_ids) for m in take(buffer, 500)] == [300, 150]
    assert [len(m.request_ids) for m in take(buffer, 500)] == [100, 1]
    assert [len(m.request_ids) for m in take(buffer, 500)] == [900]  # alone, whole
    assert buffer == []


def test_a_drain_answers_every_message_of_several_it_read(harness: Harness) -> None:
    groups = [[submission("drain-m") for _ in range(50)] for _ in range(4)]
    hold = threading.Event()  # the client never ends its side of the stream

    def requests() -> Iterator[ev.SubmitEvidenceStreamRequest]:
        for g in groups:
            yield ev.SubmitEvidenceStreamRequest(submissions=g)
        hold.wait(30)

    call = harness.evidence.SubmitEvidenceStream(requests(), timeout=30)
    answers = [next(call)]  # the stream is under way
    try:
        assert harness.run(harness.server.drain(10.0)) is True
        for answer in call:
            answers.append(answer)
        pytest.fail("the stream ended with OK while the client still had it open")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.UNAVAILABLE
        assert exc.details() == STREAM_DRAINED
    finally:
        hold.set()
    # Every message read was answered whole, in order, each item with a receipt (those
    # the client sent after the drain began may not have been read: no answer).
    assert [[r.request_id for r in a.results] for a in answers] == [
        [s.request_id for s in g] for g in groups[: len(answers)]
    ]
    assert all(r.HasField("receipt") for a in answers for r in a.results)
    assert harness.server.evidence.stream_budget.used == 0
