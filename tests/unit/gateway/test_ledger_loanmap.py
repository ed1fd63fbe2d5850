"""The ledger's loan map: every checkpoint carries the map of its leaves, heads are proven
at any checkpoint carrying it, and a database made before the map gets it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from court.verify.checkpoint import verify_checkpoint
from court.verify.loanmap import EMPTY, LoanHead, head_of_leaf, map_root_of, verify_loan_head
from gateway.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from gateway.ledger import Ledger
from gateway.model import Receipt
from gateway.store.sql import SqlStore
from tests.support.ledger_env import Env, sub, submit
from tests.support.ledger_faults import FaultyStore
from tests.support.loanmap_replay import check_every_checkpoint, checkpoints


@pytest.fixture
def env(pki_p256: Path, tmp_path: Path) -> Iterator[Env]:
    e = Env(pki_p256, tmp_path)
    yield e
    for ledger in list(e.opened):
        e.close(ledger)


def _batches(ledger: Ledger, start: int, count: int) -> list[Receipt]:
    """``count`` calls (one batch each) of 1 to 4 records on 5 loans, from request ``start``."""
    out: list[Receipt] = []
    n = start
    for b in range(count):
        items = [sub(n + j, loan=f"L-{(n + j) * 7 % 5}") for j in range(1 + b % 4)]
        n += len(items)
        for r in submit(ledger, items):
            assert isinstance(r, Receipt), r
            out.append(r)
    return out


def _key(r: Receipt) -> bytes:
    head = head_of_leaf(r.leaf_index, r.leaf)
    assert head is not None
    return head.loan_key


def _check_heads(ledger: Ledger, receipts: list[Receipt], sizes: list[int]) -> int:
    """Each loan's proven head at each size is its last record below it; returns proofs."""
    keys = {_key(r) for r in receipts}
    checked = 0
    for size in sizes:
        root = map_root_of(ledger.checkpoint_at(size))
        assert root is not None
        for key in keys:
            below = [r for r in receipts if _key(r) == key and r.leaf_index < size]
            proof = ledger.loan_head_proof(key, size)
            if not below:
                assert proof is None
                continue
            last = below[-1]
            assert proof is not None
            assert proof.head == LoanHead(
                key, last.loan_sequence, last.leaf_index, proof.head.leaf_hash
            )
            verify_loan_head(proof, root)
            checked += 1
    return checked


def test_every_checkpoint_carries_the_map_of_its_leaves(env: Env) -> None:
    ledger = env.open(max_wait_ms=0.0)
    empty = verify_checkpoint(ledger.checkpoint(), env.vkey)
    assert empty.size == 0 and map_root_of(empty) == EMPTY
    receipts = _batches(ledger, 0, 12)
    for r in receipts:  # each receipt's checkpoint carries the line
        assert map_root_of(verify_checkpoint(r.checkpoint, env.vkey)) is not None
    store = SqlStore.sqlite(env.db)
    try:
        assert check_every_checkpoint(store) == (13, 0)
        sizes = [size for size, _ in checkpoints(store)]
    finally:
        store.close()
    assert _check_heads(ledger, receipts, sizes) > 30
    assert ledger.loan_head_proof(b"\x07" * 32, sizes[-1]) is None


def test_a_head_proof_of_a_size_that_is_not_a_map_checkpoint_is_refused(env: Env) -> None:
    ledger = env.open(max_wait_ms=0.0)
    [r] = submit(ledger, [sub(1)])
    submit(ledger, [sub(2), sub(3)])  # checkpoints 0, 1, 3: none of size 2
    assert isinstance(r, Receipt)
    key = _key(r)
    with pytest.raises(InvalidArgument, match="loan_key"):
        ledger.loan_head_proof(key[:31], 3)
    with pytest.raises(InvalidArgument, match="tree_size"):
        ledger.loan_head_proof(key, 4)
    with pytest.raises(InvalidArgument, match="tree_size"):
        ledger.loan_head_proof(key, -1)
    with pytest.raises(NotFound, match="no checkpoint was signed at size 2"):
        ledger.loan_head_proof(key, 2)
    assert ledger.loan_head_proof(key, 0) is None  # the empty map's checkpoint
    proof = ledger.loan_head_proof(key, 1)
    assert proof is not None and proof.head.leaf_index == 0 and proof.siblings == ()


def _drop_map(db: Path) -> None:
    """Make the file what a gateway before the loan map left: no map table at all."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM loan_map_blocks").fetchone() == (0,)
        conn.execute("DROP TABLE loan_map_blocks")


def test_a_database_made_before_the_map_gets_it_from_its_leaves(env: Env) -> None:
    old = env.open(max_wait_ms=0.0, loan_map=False)
    before = _batches(old, 0, 6)
    assert all(map_root_of(r.checkpoint) is None for r in before)
    env.close(old)
    _drop_map(env.db)
    # Two starts before the next commit: each builds the map from the leaves.
    for _ in range(2):
        ledger = env.open(max_wait_ms=0.0)
        old_size = ledger.size
        with pytest.raises(NotFound, match="signed before the loan map existed"):
            ledger.loan_head_proof(_key(before[0]), old_size)
        env.close(ledger)
    ledger = env.open(max_wait_ms=0.0)
    after = _batches(ledger, 100, 5)
    store = SqlStore.sqlite(env.db)
    try:
        with_line, without = check_every_checkpoint(store)
        assert (with_line, without) == (5, 7)  # sizes 0.. of the old log carry no line
        sizes = [s for s, note in checkpoints(store) if map_root_of(note) is not None]
    finally:
        store.close()
    assert _check_heads(ledger, before + after, sizes) >= 5 * 5
    env.close(ledger)
    again = env.open(max_wait_ms=0.0)  # and it loads from its rows after a restart
    more = _batches(again, 200, 2)
    assert _check_heads(again, before + after + more, [again.size]) == 5


def test_a_damaged_map_row_stops_the_start(env: Env) -> None:
    ledger = env.open(max_wait_ms=0.0)
    _batches(ledger, 0, 6)
    env.close(ledger)
    with sqlite3.connect(env.db) as conn:
        (path, version, body) = conn.execute(
            "SELECT path, version, body FROM loan_map_blocks ORDER BY version DESC, path LIMIT 1"
        ).fetchone()
        changed = body[:-1] + bytes([body[-1] ^ 1])
        conn.execute(
            "UPDATE loan_map_blocks SET body = ? WHERE path = ? AND version = ?",
            (changed, path, version),
        )
    with pytest.raises(FailedPrecondition, match="stored loan map does not match"):
        env.open()


@pytest.mark.parametrize("fault", ["fail_before", "fail_after"])
def test_a_failed_commit_leaves_the_map_following_the_log(env: Env, fault: str) -> None:
    store = FaultyStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=store, max_wait_ms=0.0)
    _batches(ledger, 0, 3)
    setattr(store, fault, 1)
    lost = submit(ledger, [sub(50, loan="L-1"), sub(51, loan="L-new")])
    if fault == "fail_before":
        assert all(isinstance(r, Unavailable) for r in lost)
    _batches(ledger, 60, 3)
    check = SqlStore.sqlite(env.db)
    try:
        with_line, without = check_every_checkpoint(check)
    finally:
        check.close()
    assert without == 0 and with_line == len(checkpoints_of(env.db))


def checkpoints_of(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [s for (s,) in conn.execute("SELECT size FROM checkpoints")]
