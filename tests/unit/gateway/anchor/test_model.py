"""gateway.anchor.model.judge: the worker's decision for one anchor, given the chain."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.anchor.model import (
    UNSEEN_GRACE_SECONDS,
    AnchorStatus,
    Observation,
    Verdict,
    judge,
    mined,
)
from tests.support.anchor_cases import anchor, confirmed

B = b"\x0b" * 32
OTHER = b"\x0c" * 32
OLD = UNSEEN_GRACE_SECONDS + 1


def seen(**kw: object) -> Observation:
    base: dict[str, object] = {"found": True, "head": 10, "age": OLD}
    base.update(kw)
    return Observation(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("observation", "k", "verdict"),
    [
        (seen(), 1, Verdict.WAIT),  # in the pool
        (seen(found=False), 1, Verdict.DROPPED),
        (seen(found=False, account_nonce=99), 1, Verdict.DROPPED),  # nonce taken
        (seen(found=False, age=1.0), 1, Verdict.WAIT),  # just sent: not shown yet
        (seen(block_number=10, block_hash=B, success=True), 1, Verdict.CONFIRMED),
        (seen(block_number=10, block_hash=B, success=True), 2, Verdict.MINED),
        (seen(block_number=9, block_hash=B, success=True), 2, Verdict.CONFIRMED),
        (seen(block_number=10, block_hash=B, success=False), 1, Verdict.FAILED),
    ],
)
def test_pending(observation: Observation, k: int, verdict: Verdict) -> None:
    assert judge(anchor(5), observation, k) is verdict


def test_mined_and_waiting_is_not_news_twice() -> None:
    a = mined(anchor(5), seen(block_number=10, block_hash=B, success=True, anchor_number=2))
    assert (a.status, a.block_number, a.block_hash, a.anchor_number) == (
        AnchorStatus.PENDING,
        10,
        B,
        2,
    )
    assert judge(a, seen(block_number=10, block_hash=B, success=True), 3) is Verdict.WAIT
    # in another block after a reorganisation: news
    assert judge(a, seen(block_number=10, block_hash=OTHER, success=True), 3) is Verdict.MINED


def test_confirmed() -> None:
    a = confirmed(anchor(5), 7)
    assert judge(a, seen(found=False, canonical_hash=a.block_hash), 1) is Verdict.STILL_CONFIRMED
    # its block left the chain ...
    assert judge(a, seen(found=False, canonical_hash=OTHER, age=0.0), 1) is Verdict.DROPPED
    assert judge(a, seen(found=False, canonical_hash=None), 1) is Verdict.DROPPED
    # ... and the transaction is in another block, or back in the pool
    again = seen(block_number=8, block_hash=OTHER, success=True, canonical_hash=OTHER)
    assert judge(a, again, 1) is Verdict.CONFIRMED
    assert judge(a, replace(again, head=8), 2) is Verdict.MINED
    assert judge(a, seen(canonical_hash=OTHER), 1) is Verdict.WAIT


def test_a_signed_anchor_the_node_does_not_know_is_broadcast_again() -> None:
    a = replace(anchor(5), raw_tx=b"signed")  # nonce 5
    # Never broadcast, or lost: its nonce is free, at once (no grace needed).
    for nonce in (4, 5):
        lost = seen(found=False, account_nonce=nonce, age=0.0)
        assert judge(a, lost, 1) is Verdict.REBROADCAST
    # Its nonce taken by another transaction: dropped, after the grace, as before.
    assert judge(a, seen(found=False, account_nonce=6, age=0.0), 1) is Verdict.WAIT
    assert judge(a, seen(found=False, account_nonce=6), 1) is Verdict.DROPPED
    # A row without its signed transaction (an earlier version's) is judged as before.
    assert judge(anchor(5), seen(found=False, account_nonce=5), 1) is Verdict.DROPPED
    # A confirmed anchor whose block left the chain is dropped (and anchored anew).
    gone = seen(found=False, account_nonce=5, canonical_hash=OTHER)
    assert judge(replace(confirmed(anchor(5), 7), raw_tx=b"signed"), gone, 1) is Verdict.DROPPED


def test_mined_names_the_transaction_that_was_mined() -> None:
    a = replace(anchor(5, tx="second"), earlier_tx_hashes=(OTHER,))
    first = mined(a, seen(block_number=10, block_hash=B, success=True, tx_hash=OTHER))
    assert (first.tx_hash, first.earlier_tx_hashes) == (OTHER, (a.tx_hash,))
    assert set(first.tx_hashes) == set(a.tx_hashes)
    current = mined(a, seen(block_number=10, block_hash=B, success=True))
    assert current.tx_hashes == a.tx_hashes
