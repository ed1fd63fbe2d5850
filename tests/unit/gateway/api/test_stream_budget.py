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


SLOT = READ_SLOT_BYTES


def test_waiters_are_served_in_order_and_cancelled_ones_give_way() -> None:
    async def scenario() -> list[str]:
        budget = ByteBudget(SLOT * 2, share=SLOT * 2)
        order: list[str] = []
        await budget.acquire("a", SLOT * 2)

        async def take(name: str, amount: int) -> None:
            await budget.acquire("a", amount)
            order.append(name)

        big = asyncio.create_task(take("big", SLOT * 2))
        small = asyncio.create_task(take("small", 1))
        gone = asyncio.create_task(take("gone", SLOT))
        await asyncio.sleep(0)
        assert order == []  # the small one does not overtake the big one
        budget.release("a", SLOT)
        await asyncio.sleep(0)
        assert order == []
        gone.cancel()
        budget.release("a", SLOT)
        await big
        assert budget.used == SLOT * 2
        budget.release("a", SLOT * 2)
        await small
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert budget.used == 1 and budget.peak == SLOT * 2
        return order

    assert asyncio.run(scenario()) == ["big", "small"]


def test_an_institution_gets_a_quarter_by_default_and_a_share_is_checked() -> None:
    assert ByteBudget(SLOT * 8).share == SLOT * 2
    assert ByteBudget(SLOT).share == SLOT  # at least one read slot
    for share in (SLOT - 1, SLOT * 9):
        with pytest.raises(ValueError, match="share of the stream budget"):
            ByteBudget(SLOT * 8, share=share)

    async def too_much() -> None:
        await ByteBudget(SLOT * 8).acquire("a", SLOT * 2 + 1)

    with pytest.raises(ValueError, match=f"{SLOT * 2} per institution"):
        asyncio.run(too_much())


def test_over_its_share_an_institution_waits_and_the_others_go_on() -> None:
    async def scenario() -> None:
        budget = ByteBudget(SLOT * 8)  # a share of 2 slots
        await budget.acquire("hog", SLOT * 2)
        third = asyncio.create_task(budget.acquire("hog", SLOT))
        await asyncio.sleep(0)
        assert not third.done()  # over the hog's share, with the budget three quarters free
        for _ in range(2):  # another institution's streams are not held up by it
            await asyncio.wait_for(budget.acquire("victim", SLOT), 1)
        await asyncio.wait_for(budget.acquire("other", SLOT * 2), 1)
        assert budget.held == {"hog": SLOT * 2, "victim": SLOT * 2, "other": SLOT * 2}
        budget.release("victim", SLOT)
        await asyncio.sleep(0)
        assert not third.done()  # the victim's bytes are not the hog's
        budget.release("hog", SLOT)  # one of its messages answered: it reads on
        await asyncio.wait_for(third, 1)
        assert budget.held["hog"] == SLOT * 2 and budget.used == SLOT * 5
        for owner, amount in (("hog", SLOT * 2), ("victim", SLOT), ("other", SLOT * 2)):
            budget.release(owner, amount)
        assert budget.used == 0 and budget.held == {}

    asyncio.run(scenario())


def test_within_the_budget_the_oldest_waiter_goes_first_whatever_its_institution() -> None:
    async def scenario() -> list[str]:
        budget = ByteBudget(SLOT * 4, share=SLOT * 2)
        order: list[str] = []

        async def take(owner: str, amount: int) -> None:
            await budget.acquire(owner, amount)
            order.append(owner)

        await budget.acquire("a", SLOT * 2)
        await budget.acquire("b", SLOT * 2)  # the budget is spent
        c = asyncio.create_task(take("c", SLOT * 2))
        await asyncio.sleep(0)
        d = asyncio.create_task(take("d", SLOT))
        await asyncio.sleep(0)
        budget.release("a", SLOT)
        await asyncio.sleep(0)
        # One slot is free: d would fit, but c came first and is not starved by it.
        assert order == []
        budget.release("a", SLOT)
        await asyncio.wait_for(c, 1)
        await asyncio.sleep(0)
        assert order == ["c"]  # the budget is spent again
        budget.release("b", SLOT)
        await asyncio.wait_for(d, 1)
        return order

    assert asyncio.run(scenario()) == ["c", "d"]


def test_an_institutions_waiters_keep_their_order_behind_its_share() -> None:
    async def scenario() -> list[str]:
        budget = ByteBudget(SLOT * 8, share=SLOT * 2)
        order: list[str] = []

        async def take(name: str, amount: int) -> None:
            await budget.acquire("a", amount)
            order.append(name)

        await budget.acquire("a", SLOT)
        big = asyncio.create_task(take("big", SLOT * 2))
        await asyncio.sleep(0)
        small = asyncio.create_task(take("small", 1))
        await asyncio.sleep(0)
        assert order == []  # the small one would fit the share, but waits behind the big one
        budget.release("a", SLOT)
        await asyncio.wait_for(big, 1)
        budget.release("a", SLOT * 2)
        await asyncio.wait_for(small, 1)
        return order

    assert asyncio.run(scenario()) == ["big", "small"]


def test_a_waiter_cancelled_over_its_share_leaves_nothing_held_or_queued() -> None:
    async def scenario() -> None:
        budget = ByteBudget(SLOT * 8, share=SLOT * 2)
        await budget.acquire("a", SLOT * 2)
        waiting = asyncio.create_task(budget.acquire("a", SLOT))
        behind = asyncio.create_task(budget.acquire("a", SLOT))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.sleep(0)
        with pytest.raises(asyncio.CancelledError):
            await waiting
        budget.release("a", SLOT)  # the one behind it gets the place
        await asyncio.wait_for(behind, 1)
        assert budget.held == {"a": SLOT * 2} and budget.used == SLOT * 2
        # Cancelled, and passed over by a release before its task ran again.
        late = asyncio.create_task(budget.acquire("a", SLOT))
        await asyncio.sleep(0)
        late.cancel()
        budget.release("a", SLOT * 2)
        with pytest.raises(asyncio.CancelledError):
            await late
        assert budget.used == 0 and budget.held == {}
        await asyncio.wait_for(budget.acquire("a", SLOT * 2), 1)  # nothing left queued

    asyncio.run(scenario())


def test_many_streams_never_hold_more_than_the_budget(harness: Harness) -> None:
    """60 streams flood a slow ledger: what they read ahead stays within the budget."""
    budget = ByteBudget(READ_SLOT_BYTES * 8, share=READ_SLOT_BYTES * 8)  # one institution
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
