"""The global read-ahead budget of submission streams, alone and under many streams."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from google.rpc import code_pb2

from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from gateway.api import convert
from gateway.api.stream_budget import (
    MAX_STREAM_MESSAGE_BYTES,
    READ_SLOT_BYTES,
    ByteBudget,
    message_cost,
)
from tests.support.grpc_client import submission
from tests.unit.gateway.api.conftest import Harness


def test_the_largest_valid_submission_fits_a_read_slot() -> None:
    metadata = {f"k{i:02d}" + "x" * 61: "é" * 128 for i in range(16)}  # 16 x 64 + 256 bytes
    largest = submission(
        "L" * 128,
        request_id="r" * 128,
        hash_algorithm=common_pb2.HASH_ALGORITHM_SHA512,
        digest=b"\x01" * 64,
        metadata=metadata,
    )
    _, problems = convert.submission_from_proto(largest, "i" * 128, datetime.now(UTC))
    assert problems == []
    size = ev.SubmitEvidenceStreamRequest(submission=largest).ByteSize()
    assert size <= MAX_STREAM_MESSAGE_BYTES
    assert message_cost(size) <= READ_SLOT_BYTES


def test_waiters_are_served_in_order_and_cancelled_ones_give_way() -> None:
    async def scenario() -> list[str]:
        budget = ByteBudget(READ_SLOT_BYTES * 2)
        order: list[str] = []
        await budget.acquire(READ_SLOT_BYTES * 2)

        async def take(name: str, amount: int) -> None:
            await budget.acquire(amount)
            order.append(name)

        big = asyncio.create_task(take("big", READ_SLOT_BYTES * 2))
        small = asyncio.create_task(take("small", 1))
        gone = asyncio.create_task(take("gone", READ_SLOT_BYTES))
        await asyncio.sleep(0)
        assert order == []  # the small one does not overtake the big one
        budget.release(READ_SLOT_BYTES)
        await asyncio.sleep(0)
        assert order == []
        gone.cancel()
        budget.release(READ_SLOT_BYTES)
        await big
        assert budget.used == READ_SLOT_BYTES * 2
        budget.release(READ_SLOT_BYTES * 2)
        await small
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert budget.used == 1 and budget.peak == READ_SLOT_BYTES * 2
        return order

    assert asyncio.run(scenario()) == ["big", "small"]


def test_many_streams_never_hold_more_than_the_budget(harness: Harness) -> None:
    """60 streams flood a slow ledger: what they read ahead stays within the budget."""
    budget = ByteBudget(READ_SLOT_BYTES * 8)
    harness.server.evidence.stream_budget = budget
    original = harness.ledger.submit

    async def slow(items):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.01)
        return await original(items)

    harness.ledger.submit = slow  # type: ignore[method-assign]
    metadata = {"note": "x" * 200}
    answers: list[int] = []
    lock = threading.Lock()

    def one_stream(n: int) -> None:
        items = [submission(f"loan-b{n}", metadata=metadata) for _ in range(60)]
        got = list(
            harness.evidence.SubmitEvidenceStream(
                (ev.SubmitEvidenceStreamRequest(submission=s) for s in items), timeout=60
            )
        )
        assert [r.request_id for r in got] == [s.request_id for s in items]
        assert all(r.HasField("receipt") for r in got)
        with lock:
            answers.append(len(got))

    threads = [threading.Thread(target=one_stream, args=(n,)) for n in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert answers == [60] * 60
    assert budget.peak <= budget.limit
    assert budget.peak > budget.limit - READ_SLOT_BYTES  # the budget, not the window, held them
    assert budget.used == 0  # every stream gave back what it held


def test_a_stream_message_too_large_for_a_submission_is_answered_not_kept(
    harness: Harness,
) -> None:
    big = submission("loan-big", request_id="r" * 10_000)  # far beyond any valid submission
    fine = submission("loan-big")
    got = list(
        harness.evidence.SubmitEvidenceStream(
            iter([ev.SubmitEvidenceStreamRequest(submission=s) for s in (big, fine)]), timeout=30
        )
    )
    assert got[0].request_id == "r" * 128  # echoed, cut
    assert got[0].error.code == code_pb2.INVALID_ARGUMENT
    assert f"no valid submission is larger than {MAX_STREAM_MESSAGE_BYTES:,}" in str(got[0].error)
    assert got[1].receipt.loan_sequence == 1
    assert harness.server.evidence.stream_budget.used == 0
