"""The ledger: group commit, receipts a court can check, chains, idempotency, restarts, faults."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from court.evidence.leaf_v2 import PublicLeaf
from court.evidence.opening import decode_any_leaf, open_leaf
from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_consistency, verify_inclusion
from court.verify.rfc6962 import leaf_hash
from gateway.access import change_document
from gateway.errors import (
    AlreadyExists,
    FailedPrecondition,
    GatewayError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from gateway.ledger import Ledger
from gateway.metrics import Observer
from gateway.model import EvidenceKind, ItemResult, Receipt, Submission
from gateway.store.base import StoredCheckpoint
from gateway.store.sql import SqlStore
from gateway.tsa import ProcessEngineTokenSource
from notary.serve import build_authority
from tests.support.ledger_env import (
    Env,
    check_chain,
    sub,
    submit,
    submit_concurrently,
)
from tests.support.ledger_faults import FailingTsa, FaultyStore


@pytest.fixture
def env(pki_p256: Path, tmp_path: Path) -> Iterator[Env]:
    e = Env(pki_p256, tmp_path)
    yield e
    for ledger in list(e.opened):
        e.close(ledger)


# --------------------------------------------------------------------------- receipts


def test_empty_log_has_a_signed_checkpoint(env: Env) -> None:
    ledger = env.open()
    cp = verify_checkpoint(ledger.checkpoint(), env.vkey)
    assert cp.size == 0 and ledger.size == 0


def test_batch_receipts_verify_with_the_court_checks(env: Env) -> None:
    ledger = env.open()
    items = [
        sub(1),
        sub(2, alg="sha384", kind=EvidenceKind.COLLECTION_CALL),
        sub(3, alg="sha512", loan="L-2", metadata=()),
        sub(4, metadata=(("agency", "a-17"), ("channel", "visit"), ("note", "上门"))),
    ]
    results = submit(ledger, items)
    receipts = [env.check_receipt(s, r) for s, r in zip(items, results, strict=True)]
    assert [r.leaf_index for r in receipts] == [0, 1, 2, 3]
    assert {r.checkpoint for r in receipts} == {ledger.checkpoint()}  # one commit, one signature
    assert all(r.received_at.microsecond % 1000 == 0 for r in receipts)


def test_concurrent_callers_share_one_commit_and_checkpoint(env: Env) -> None:
    ledger = env.open(max_wait_ms=200, max_batch=100, wait_when_idle=True)
    calls = [[sub(f"{c}-{i}", loan=f"L{c}")] for c in range(10) for i in range(2)]
    results = submit_concurrently(ledger, calls)
    receipts = [env.check_receipt(c[0], r[0]) for c, r in zip(calls, results, strict=True)]
    assert len({r.checkpoint for r in receipts}) == 1
    assert sorted(r.leaf_index for r in receipts) == list(range(20))


def test_an_idle_ledger_commits_at_once(env: Env) -> None:
    # No commit runs: waiting max_wait_ms for more items would only delay the call.
    ledger = env.open(max_wait_ms=60_000)

    async def one() -> list[ItemResult]:
        return await asyncio.wait_for(ledger.submit([sub(1)]), 30)

    [receipt] = asyncio.run(one())
    env.check_receipt(sub(1), receipt)


def test_each_batch_reports_the_time_of_its_stages(env: Env) -> None:
    stages: list[tuple[str, float]] = []

    class SlowTsa(FailingTsa):
        def stamp_batch(self, items: Sequence[tuple[str, bytes]]) -> list[bytes | GatewayError]:
            time.sleep(0.05)
            return super().stamp_batch(items)

    class Recorder(Observer):
        def batch_stage(self, stage: str, seconds: float) -> None:
            stages.append((stage, seconds))

    ledger = env.open(tsa=SlowTsa(env.tsa()))
    ledger.observer = Recorder()
    results = submit(ledger, [sub(1), sub(2)])  # one call: one batch
    assert all(isinstance(r, Receipt) for r in results)
    assert [stage for stage, _ in stages] == ["queued", "prepare", "time_stamp", "handoff"]
    seconds = dict(stages)
    assert seconds["time_stamp"] >= 0.05  # the token source's part ...
    assert seconds["prepare"] >= seconds["time_stamp"]  # ... of the preparing stage
    assert all(0 <= s < 30 for s in seconds.values())


def test_calls_queued_while_a_commit_runs_share_the_next_one(env: Env) -> None:
    store = FaultyStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=store, max_wait_ms=60_000, max_batch=100)
    store.hold = True
    first = threading.Thread(target=submit, args=(ledger, [sub(0)]))
    first.start()
    assert store.committed.wait(10)
    calls = [[sub(f"{c}-{i}", loan=f"L{c}")] for c in range(5) for i in range(2)]
    results: list[list[ItemResult]] = []
    rest = threading.Thread(target=lambda: results.extend(submit_concurrently(ledger, calls)))
    rest.start()
    try:
        _wait_for(lambda: ledger.queued() == len(calls))
    finally:
        store.release.set()
    # The held commit's end takes the queued batch up: no wait for max_wait_ms.
    for t in (first, rest):
        t.join(30)
        assert not t.is_alive()
    receipts = [env.check_receipt(c[0], r[0]) for c, r in zip(calls, results, strict=True)]
    assert len({r.checkpoint for r in receipts}) == 1
    assert sorted(r.leaf_index for r in receipts) == list(range(1, 11))


def test_batches_larger_than_max_batch_are_split(env: Env) -> None:
    ledger = env.open(max_batch=7, max_wait_ms=0)
    items = [sub(i, loan=f"L{i % 3}") for i in range(30)]
    results = submit(ledger, items)
    receipts = [env.check_receipt(s, r) for s, r in zip(items, results, strict=True)]
    assert [r.leaf_index for r in receipts] == list(range(30))
    assert len({r.tree_size for r in receipts}) >= 5


# --------------------------------------------------------------------------- chains


def test_loan_chains_within_and_across_batches(env: Env) -> None:
    ledger = env.open()
    first = [sub(1), sub(2, loan="L-2"), sub(3), sub(4), sub(5, institution="bank-b")]
    r1 = submit(ledger, first)
    second = [sub(6, loan="L-2"), sub(7), sub(8, institution="bank-b")]
    r2 = submit(ledger, second)
    for s, r in zip(first + second, r1 + r2, strict=True):
        env.check_receipt(s, r)
    loan1 = [
        r
        for s, r in zip(first + second, r1 + r2, strict=True)
        if (s.institution, s.loan_ref) == ("bank-a", "L-1")
    ]
    loan2 = [r for s, r in zip(first + second, r1 + r2, strict=True) if s.loan_ref == "L-2"]
    loan_b = [r for s, r in zip(first + second, r1 + r2, strict=True) if s.institution == "bank-b"]
    check_chain(loan1)  # type: ignore[arg-type]
    check_chain(loan2)  # type: ignore[arg-type]
    check_chain(loan_b)  # type: ignore[arg-type]
    assert [r.loan_sequence for r in loan1] == [1, 2, 3, 4]  # type: ignore[union-attr]


# --------------------------------------------------------------------------- idempotency


def test_same_request_again_returns_the_original_receipt(env: Env) -> None:
    ledger = env.open()
    [first] = submit(ledger, [sub(1)])
    submit(ledger, [sub(2)])  # the log moves on
    [again] = submit(ledger, [sub(1)])
    assert again == first
    assert ledger.size == 2


def test_same_request_id_other_content_is_already_exists(env: Env) -> None:
    ledger = env.open()
    submit(ledger, [sub(1)])
    [other] = submit(ledger, [sub(1, data=b"something else")])
    assert isinstance(other, AlreadyExists)
    [meta] = submit(ledger, [sub(1, metadata=(("channel", "call"),))])
    assert isinstance(meta, AlreadyExists)
    assert ledger.size == 1


def test_repeated_request_ids_inside_one_batch(env: Env) -> None:
    ledger = env.open()
    items = [sub(1), sub(1, data=b"different"), sub(1), sub(2)]
    a, b, c, d = submit(ledger, items)
    assert isinstance(a, Receipt) and isinstance(d, Receipt)
    assert isinstance(b, AlreadyExists)
    assert c == a
    assert ledger.size == 2


def test_repeat_after_a_failed_first_is_judged_on_its_own(env: Env) -> None:
    # "as if separate calls, in order": the first item fails at the TSA, so the
    # second with the same request_id is a new registration, identical or not.
    tsa = FailingTsa(env.tsa())
    ledger = env.open(tsa=tsa)
    tsa.fail_next[sub(1).digest] = 1
    tsa.fail_next[sub(2).digest] = 1
    items = [sub(1), sub(1, data=b"corrected"), sub(2), sub(2)]
    failed1, other, failed2, same = submit(ledger, items)
    assert isinstance(failed1, Unavailable) and isinstance(failed2, Unavailable)
    env.check_receipt(items[1], other)
    env.check_receipt(items[3], same)
    assert ledger.size == 2


def test_repeat_after_a_rejected_first_is_judged_on_its_own(env: Env) -> None:
    ledger = env.open()
    [unrelated] = submit(ledger, [sub(9, loan="L-9")])
    assert isinstance(unrelated, Receipt)
    bad = sub(1, supersedes=unrelated.entry_id)  # another loan's entry: refused
    invalid = replace(sub(1), metadata=(("Bad Key", "x"),))  # refused before the queue
    rejected, accepted, refused, again = submit(ledger, [bad, sub(1), invalid, sub(1)])
    assert isinstance(rejected, InvalidArgument)
    assert isinstance(refused, InvalidArgument)
    env.check_receipt(sub(1), accepted)
    assert again == accepted


def test_repeats_keep_the_order_of_the_batch(env: Env) -> None:
    # A1 fails; A2 (same request_id) is registered where a separate call would be:
    # after B and before C in the loan's chain. A3, identical to A1, then conflicts
    # with A2, which holds the request_id.
    tsa = FailingTsa(env.tsa())
    ledger = env.open(tsa=tsa)
    tsa.fail_next[sub(1).digest] = 1
    a1, b, a2, c, a3 = sub(1), sub(2), sub(1, data=b"corrected"), sub(3), sub(1)
    r_a1, r_b, r_a2, r_c, r_a3 = submit(ledger, [a1, b, a2, c, a3])
    assert isinstance(r_a1, Unavailable) and isinstance(r_a3, AlreadyExists)
    chain = [env.check_receipt(s, r) for s, r in ((b, r_b), (a2, r_a2), (c, r_c))]
    assert [r.leaf_index for r in chain] == [0, 1, 2]
    check_chain(chain)


def test_repeat_after_a_first_whose_commit_failed_is_judged_on_its_own(env: Env) -> None:
    store = FaultyStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=store)
    store.fail_before = 1  # the batch's commit fails; the repeat comes after it
    lost, later, conflict = submit(ledger, [sub(1), sub(1), sub(1, data=b"other")])
    assert isinstance(lost, Unavailable)
    env.check_receipt(sub(1), later)
    assert isinstance(conflict, AlreadyExists)
    assert ledger.size == 1


def _wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("condition not reached in 10 s")


def _held_first_with_a_lost_reply(
    env: Env, repeats: Sequence[Submission]
) -> tuple[Ledger, FaultyStore, list[threading.Thread], dict[int, list[ItemResult]]]:
    """A ledger whose first commit (of sub(1)) is written but held, then reported
    failed; ``repeats`` are submitted meanwhile, one call each, and wait on it."""
    store = FaultyStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=store)
    store.hold = True
    store.fail_after = 1
    results: dict[int, list[ItemResult]] = {}

    def call(n: int, items: list[Submission]) -> threading.Thread:
        t = threading.Thread(target=lambda: results.__setitem__(n, submit(ledger, items)))
        t.start()
        return t

    threads = [call(0, [sub(1)])]
    assert store.committed.wait(10)
    threads += [call(n, [s]) for n, s in enumerate(repeats, start=1)]
    key = ("bank-a", "req-1")
    try:
        _wait_for(lambda: len(ledger._inflight[key].followers) == len(repeats))
    except BaseException:
        store.release.set()
        raise
    return ledger, store, threads, results


def test_repeat_waiting_on_a_commit_that_failed_is_judged_on_its_own(env: Env) -> None:
    # Calls repeating a request_id whose commit is under way wait for it. That
    # commit landed but reported failure: the repeats then find the entry, as
    # separate later calls would (the original receipt, or a conflict).
    ledger, store, threads, results = _held_first_with_a_lost_reply(
        env, [sub(1), sub(1, data=b"other")]
    )
    store.release.set()
    for t in threads:
        t.join(10)
    assert isinstance(results[0][0], Unavailable)
    env.check_receipt(sub(1), results[1][0])
    assert isinstance(results[2][0], AlreadyExists)
    assert ledger.size == 1


def test_repeat_waiting_on_a_failed_commit_is_refused_once_the_ledger_has_closed(
    env: Env,
) -> None:
    ledger, store, threads, results = _held_first_with_a_lost_reply(env, [sub(1)])
    closing = threading.Thread(target=env.close, args=(ledger,))
    closing.start()
    _wait_for(lambda: ledger._drained)
    store.release.set()
    for t in [*threads, closing]:
        t.join(10)
    assert isinstance(results[0][0], Unavailable)
    assert isinstance(results[1][0], FailedPrecondition)


def test_repeats_across_concurrent_calls(env: Env) -> None:
    ledger = env.open(max_batch=3, max_wait_ms=50)
    calls = [[sub(i % 4)] for i in range(12)]
    results = submit_concurrently(ledger, calls)
    by_request: dict[str, set[str]] = {}
    for c, [r] in zip(calls, results, strict=True):
        assert isinstance(r, Receipt), r
        by_request.setdefault(c[0].request_id, set()).add(r.entry_id)
    assert all(len(ids) == 1 for ids in by_request.values())
    assert ledger.size == 4


# --------------------------------------------------------------------------- supersedes


def test_supersedes_rules(env: Env) -> None:
    ledger = env.open()
    [old, other_loan] = submit(ledger, [sub(1), sub(2, loan="L-9")])
    assert isinstance(old, Receipt) and isinstance(other_loan, Receipt)
    ok, unknown, cross = submit(
        ledger,
        [
            sub(3, supersedes=old.entry_id),
            sub(4, supersedes="nonexistent0000"),
            sub(5, supersedes=other_loan.entry_id),
        ],
    )
    env.check_receipt(sub(3, supersedes=old.entry_id), ok)
    assert isinstance(unknown, InvalidArgument) and unknown.violations[0][0] == "supersedes"
    # Another loan's entry, and another lender's entry of a loan with the same loan_ref,
    # are refused exactly as an entry that does not exist: no existence oracle.
    (foreign,) = submit(ledger, [sub(6, institution="bank-b", supersedes=old.entry_id)])
    assert cross == unknown and foreign == unknown
    assert "same owner and loan_ref" in unknown.violations[0][1]
    record = ledger.get(old.entry_id)
    assert isinstance(ok, Receipt)
    assert record.superseded_by == (ok.entry_id,)
    assert record.receipt == old
    assert ledger.get(ok.entry_id).submission.supersedes == old.entry_id


def test_a_collector_corrects_only_its_own_records_of_the_loan(env: Env) -> None:
    ledger = env.open()
    call = EvidenceKind.COLLECTION_CALL
    [lenders, agency] = submit(
        ledger, [sub(1), sub(2, institution="agency-1", kind=call, owner="bank-a")]
    )
    assert isinstance(lenders, Receipt) and isinstance(agency, Receipt)
    # One chain per loan (owner, loan_ref), whoever submitted: the agency's record is second.
    assert agency.loan_sequence == 2 and agency.previous_leaf_hash == leaf_hash(lenders.leaf)
    own, not_own, by_lender = submit(
        ledger,
        [
            sub(3, institution="agency-1", kind=call, owner="bank-a", supersedes=agency.entry_id),
            sub(4, institution="agency-1", kind=call, owner="bank-a", supersedes=lenders.entry_id),
            sub(5, supersedes=agency.entry_id),  # the owner may correct any record of its loan
        ],
    )
    assert isinstance(own, Receipt) and isinstance(by_lender, Receipt)
    assert isinstance(not_own, InvalidArgument) and not_own.violations[0][0] == "supersedes"


# --------------------------------------------------------------------------- validation


def test_invalid_items_fail_alone(env: Env) -> None:
    ledger = env.open()
    bad_digest = replace(sub(2), digest=b"\x00" * 31)
    future = replace(sub(3), occurred_at=datetime.now(UTC) + timedelta(minutes=6))
    bad_meta = replace(sub(4), metadata=(("Bad Key", "x"),))
    results = submit(ledger, [sub(1), bad_digest, future, bad_meta, sub(5)])
    assert isinstance(results[0], Receipt) and isinstance(results[4], Receipt)
    assert isinstance(results[1], InvalidArgument) and results[1].violations[0][0] == "digest"
    assert isinstance(results[2], InvalidArgument)
    assert results[2].violations[0][0] == "occurred_at"
    assert isinstance(results[3], InvalidArgument)
    assert results[3].violations[0][0] == "metadata[Bad Key]"
    assert ledger.size == 2


def test_tsa_refusing_sm3_is_invalid_argument(env: Env) -> None:
    ledger = env.open()
    [r] = submit(ledger, [sub(1, alg="sha256") if False else replace(sub(1), hash_algorithm="sm3")])
    assert isinstance(r, InvalidArgument) and r.violations[0][0] == "hash_algorithm"
    assert ledger.size == 0


# --------------------------------------------------------------------------- reads


def test_get_find_and_list_with_pages(env: Env) -> None:
    ledger = env.open()
    same = b"the same document"
    items = [
        sub(i, data=same if i % 2 else None, loan="L-1" if i < 7 else "L-2") for i in range(10)
    ]
    receipts = submit(ledger, items)
    assert all(isinstance(r, Receipt) for r in receipts)

    record = ledger.get(receipts[3].entry_id)  # type: ignore[union-attr]
    assert record.submission == items[3] and record.receipt == receipts[3]
    with pytest.raises(NotFound):
        ledger.get("doesnotexist")
    with pytest.raises(InvalidArgument):
        ledger.get("bad id!")

    digest = hashlib.sha256(same).digest()
    page, token = ledger.find("sha256", digest, 2, "")
    seen = [r.receipt.leaf_index for r in page]
    while token:
        page, token = ledger.find("sha256", digest, 2, token)
        seen += [r.receipt.leaf_index for r in page]
    assert seen == [1, 3, 5, 7, 9]
    assert ledger.find("sha256", hashlib.sha256(b"none").digest(), 0, "") == ([], "")
    with pytest.raises(InvalidArgument) as info:
        ledger.find("sha256", b"\x00" * 31, 0, "")
    assert info.value.violations[0][0] == "digest"
    with pytest.raises(InvalidArgument) as info:
        ledger.find("sha256", digest, -1, "")
    assert info.value.violations[0][0] == "page_size"

    page, token = ledger.list_by_loan("bank-a", "L-1", 3, "")
    assert [r.receipt.loan_sequence for r in page] == [1, 2, 3] and token
    with pytest.raises(InvalidArgument) as info:
        ledger.list_by_loan("bank-a", "L-2", 3, token)  # a token of another query
    assert info.value.violations[0][0] == "page_token"
    submit(ledger, [sub(99)])  # a new record of L-1 lands on a later page
    rest, token2 = ledger.list_by_loan("bank-a", "L-1", 100, token)
    assert [r.receipt.loan_sequence for r in rest] == [4, 5, 6, 7, 8] and token2 == ""
    assert ledger.list_by_loan("bank-a", "unknown", 0, "") == ([], "")
    with pytest.raises(InvalidArgument):
        ledger.list_by_loan("bank-a", "bad loan ref", 0, "")


def test_log_reads(env: Env) -> None:
    ledger = env.open(max_batch=5, max_wait_ms=0)
    receipts = [r for r in submit(ledger, [sub(i, loan=f"L{i}") for i in range(12)])]
    size = ledger.size
    assert size == 12
    cp = verify_checkpoint(ledger.checkpoint(), env.vkey)
    for r in receipts:
        assert isinstance(r, Receipt)
        proof = ledger.inclusion_proof(r.leaf_index, 0)
        verify_inclusion(r.leaf_index, size, leaf_hash(r.leaf), proof, cp.root_hash)
        assert ledger.leaf_index(leaf_hash(r.leaf)) == r.leaf_index
        old = verify_checkpoint(ledger.checkpoint_at(r.tree_size), env.vkey)
        verify_consistency(
            old.size, size, ledger.consistency_proof(old.size, 0), old.root_hash, cp.root_hash
        )
        verify_inclusion(
            r.leaf_index,
            r.tree_size,
            leaf_hash(r.leaf),
            ledger.inclusion_proof(r.leaf_index, r.tree_size),
            old.root_hash,
        )
    assert [i for i, _ in ledger.entries(3, 7)] == [3, 4, 5, 6]
    assert ledger.entries(0, 12)[11][1] == receipts[11].leaf  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        ledger.leaf_index(b"\x00" * 32)
    checks: list[tuple[Callable[[], object], str]] = [
        (lambda: ledger.inclusion_proof(12, 0), "leaf_index"),
        (lambda: ledger.inclusion_proof(0, 13), "tree_size"),
        (lambda: ledger.consistency_proof(0, 5), "from_size"),
        (lambda: ledger.consistency_proof(6, 5), "from_size"),
        (lambda: ledger.consistency_proof(1, 13), "to_size"),
        (lambda: ledger.entries(5, 5), "end"),
        (lambda: ledger.entries(0, 13), "end"),
        (lambda: ledger.leaf_index(b"short"), "leaf_hash"),
    ]
    for call, field in checks:
        with pytest.raises(InvalidArgument) as info:
            call()
        assert info.value.violations[0][0] == field
    assert ledger.health() == {"store": True, "tsa": True}


# --------------------------------------------------------------------------- publication


def test_reads_during_a_commit_answer_only_what_they_can_prove(env: Env) -> None:
    # The writer is held after its commit, before it answers: every read meanwhile
    # returns only what the checkpoint it serves proves (the old ledger served the
    # record, but the checkpoint of its in-memory tree, one commit behind).
    store = FaultyStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=store)
    submit(ledger, [sub(1)])
    store.hold = True
    answered: list[list[ItemResult]] = []
    writer = threading.Thread(target=lambda: answered.append(submit(ledger, [sub(2)])))
    writer.start()
    try:
        assert store.committed.wait(10)
        [(index, leaf)] = store.inner.entries_range(1, 2)  # durable, not yet answered
        record = ledger.get(decode_any_leaf(leaf).entry_id)
        assert record.receipt.leaf_index == index == 1
        cp = verify_checkpoint(ledger.checkpoint(), env.vkey)
        assert cp.size == 2
        proof = ledger.inclusion_proof(index, 0)
        verify_inclusion(index, cp.size, leaf_hash(leaf), proof, cp.root_hash)
        assert ledger.leaf_index(leaf_hash(leaf)) == index
        assert [i for i, _ in ledger.entries(0, 2)] == [0, 1]
        found, _ = ledger.find("sha256", sub(2).digest, 0, "")
        assert [r.receipt.leaf_index for r in found] == [1]
        listed, _ = ledger.list_by_loan("bank-a", "L-1", 0, "")
        assert [r.receipt.leaf_index for r in listed] == [0, 1]
    finally:
        store.release.set()
        writer.join(10)
    assert answered == [[record.receipt]]


def test_another_ledger_on_the_same_store_serves_what_was_published(env: Env) -> None:
    # A replica (or any other process) reading the store: its bound is the store's
    # latest checkpoint, not the one it loaded when it opened.
    writer = env.open()
    reader = env.open()
    receipts = submit(writer, [sub(1), sub(2)])
    latest = reader.get(receipts[1].entry_id).receipt  # type: ignore[union-attr]
    cp = verify_checkpoint(reader.checkpoint(), env.vkey)
    assert cp.size == reader.size == 2
    proof = reader.inclusion_proof(latest.leaf_index, 0)
    verify_inclusion(latest.leaf_index, 2, leaf_hash(latest.leaf), proof, cp.root_hash)
    assert [i for i, _ in reader.entries(0, 2)] == [0, 1]


def test_entries_beyond_the_published_checkpoint_are_not_served(env: Env) -> None:
    # A reader whose bound was read just before a commit: the entries of that commit
    # are not part of its answers, although the store already returns them.
    store = FaultyStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=store)
    [first] = submit(ledger, [sub(1, data=b"same")])
    store.latest = store.inner.latest_checkpoint()
    [second] = submit(ledger, [sub(2, data=b"same")])
    assert isinstance(first, Receipt) and isinstance(second, Receipt)
    assert ledger.size == 1 and verify_checkpoint(ledger.checkpoint(), env.vkey).size == 1
    with pytest.raises(NotFound):
        ledger.get(second.entry_id)
    found, token = ledger.find("sha256", sub(1, data=b"same").digest, 1, "")
    assert [r.receipt.entry_id for r in found] == [first.entry_id] and token == ""
    listed, token = ledger.list_by_loan("bank-a", "L-1", 1, "")
    assert [r.receipt.entry_id for r in listed] == [first.entry_id] and token == ""
    with pytest.raises(NotFound):
        ledger.leaf_index(leaf_hash(second.leaf))
    for call, field in (
        (lambda: ledger.inclusion_proof(1, 0), "leaf_index"),
        (lambda: ledger.entries(0, 2), "end"),
        (lambda: ledger.consistency_proof(1, 2), "to_size"),
    ):
        with pytest.raises(InvalidArgument) as info:
            call()
        assert info.value.violations[0][0] == field
    store.latest = None
    assert ledger.get(second.entry_id).receipt == second


def test_a_size_already_seen_published_is_not_read_again(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Published sizes only grow: a record or tree size at most the largest published
    # size a read has seen is covered without reading the latest checkpoint again; a
    # larger one is read, and refused while the store has not published it.
    store = FaultyStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=store)
    [first, second] = submit(ledger, [sub(1), sub(2)])
    assert isinstance(first, Receipt) and isinstance(second, Receipt)
    assert ledger.size == 2  # a read saw size 2
    reads: list[int] = []
    latest = store.latest_checkpoint

    def counted() -> StoredCheckpoint | None:
        reads.append(1)
        return latest()

    monkeypatch.setattr(store, "latest_checkpoint", counted)
    assert ledger.get(second.entry_id).receipt == second
    assert len(ledger.inclusion_proof(0, 2)) == 1 and len(ledger.consistency_proof(1, 2)) == 1
    assert reads == []
    store.latest = store.inner.latest_checkpoint()  # the next commit is not published yet
    [third] = submit(ledger, [sub(3)])
    assert isinstance(third, Receipt)
    with pytest.raises(NotFound):
        ledger.get(third.entry_id)
    with pytest.raises(InvalidArgument) as info:
        ledger.inclusion_proof(0, 3)
    assert "size 2" in info.value.violations[0][1]
    assert reads  # each refusal read the latest checkpoint
    store.latest = None
    assert ledger.get(third.entry_id).receipt == third


# --------------------------------------------------------------------------- restart


def test_restart_continues_the_log(env: Env) -> None:
    ledger = env.open()
    before = submit(ledger, [sub(i) for i in range(5)])
    old = verify_checkpoint(ledger.checkpoint(), env.vkey)
    env.close(ledger)

    again = env.open()
    assert again.size == 5
    assert verify_checkpoint(again.checkpoint(), env.vkey) == old
    after = submit(again, [sub(i) for i in range(5, 9)])
    receipts = [env.check_receipt(sub(i), r) for i, r in enumerate(before + after)]
    assert [r.leaf_index for r in receipts] == list(range(9))
    check_chain(receipts)
    new = verify_checkpoint(again.checkpoint(), env.vkey)
    verify_consistency(
        old.size,
        new.size,
        again.consistency_proof(old.size, new.size),
        old.root_hash,
        new.root_hash,
    )
    [replayed] = submit(again, [sub(2)])
    assert replayed == before[2]


# --------------------------------------------------------------------------- faults


def test_store_failure_is_unavailable_and_nothing_is_lost(env: Env) -> None:
    flaky = FaultyStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=flaky)
    first = submit(ledger, [sub(1), sub(2)])
    flaky.fail_before = 1
    failed = submit(ledger, [sub(3), sub(4)])
    assert all(isinstance(r, Unavailable) for r in failed)
    assert ledger.size == 2 and flaky.inner.get_entry("e") is None
    assert flaky.inner.entries_range(0, 100) == [(0, first[0].leaf), (1, first[1].leaf)]  # type: ignore[union-attr]
    retried = submit(ledger, [sub(3), sub(4)])
    receipts = [
        env.check_receipt(sub(i), r) for i, r in zip([1, 2, 3, 4], first + retried, strict=True)
    ]
    assert [r.leaf_index for r in receipts] == [0, 1, 2, 3]
    check_chain(receipts)


def test_commit_with_lost_reply_reloads_and_stays_consistent(env: Env) -> None:
    flaky = FaultyStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=flaky)
    submit(ledger, [sub(1)])
    flaky.fail_after = 1
    [lost] = submit(ledger, [sub(2)])
    assert isinstance(lost, Unavailable)
    # the entry was in fact committed: a retry finds it, the log continues after it
    [retry, nxt] = submit(ledger, [sub(2), sub(3)])
    assert isinstance(retry, Receipt) and retry.leaf_index == 1
    env.check_receipt(sub(2), retry)
    env.check_receipt(sub(3), nxt)
    assert isinstance(nxt, Receipt) and nxt.leaf_index == 2 and nxt.loan_sequence == 3


def test_store_down_then_back(env: Env) -> None:
    flaky = FaultyStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=flaky)
    submit(ledger, [sub(1)])
    flaky.down = True
    assert all(isinstance(r, Unavailable) for r in submit(ledger, [sub(2), sub(3)]))
    assert ledger.health()["store"] is False
    with pytest.raises(Unavailable):
        ledger.get("anything")
    flaky.down = False
    results = submit(ledger, [sub(2), sub(3)])
    assert [r.leaf_index for r in results] == [1, 2]  # type: ignore[union-attr]


def test_tsa_failure_is_unavailable_for_the_affected_items(env: Env) -> None:
    tsa = FailingTsa(env.tsa())
    ledger = env.open(tsa=tsa)
    tsa.bad.add(sub(2).digest)
    results = submit(ledger, [sub(1), sub(2), sub(3)])
    assert isinstance(results[1], Unavailable)
    env.check_receipt(sub(1), results[0])
    env.check_receipt(sub(3), results[2])
    assert ledger.health()["tsa"] is False
    tsa.bad.clear()
    [later] = submit(ledger, [sub(2)])
    receipt = env.check_receipt(sub(2), later)
    assert receipt.loan_sequence == 3


def test_full_queue_is_resource_exhausted(env: Env) -> None:
    tsa = FailingTsa(env.tsa())
    ledger = env.open(tsa=tsa, max_batch=1, max_queue=2, max_wait_ms=0)
    tsa.gate.clear()  # the TSA hangs: the first item blocks the pipeline

    async def scenario() -> tuple[list[ItemResult], list[ItemResult]]:
        first = asyncio.ensure_future(ledger.submit([sub(1)]))
        while ledger.queued():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(ledger.submit([sub(2), sub(3)]))
        await asyncio.sleep(0.05)
        with pytest.raises(ResourceExhausted):
            await ledger.submit([sub(4)])
        tsa.gate.set()
        return await first, await second

    first, second = asyncio.run(scenario())
    assert all(isinstance(r, Receipt) for r in first + second)


def test_ledger_with_tokens_from_worker_processes(env: Env) -> None:
    factory = functools.partial(build_authority, env.pki, env.folder / "serials")
    ledger = env.open(tsa=ProcessEngineTokenSource(factory, env.roots, processes=1))
    items = [sub(i, loan=f"L{i % 3}") for i in range(40)]
    results = submit(ledger, items)
    receipts = [env.check_receipt(s, r) for s, r in zip(items, results, strict=True)]
    check_chain([r for r in receipts if r.leaf_index % 3 == 0])


class BuggyTsa(FailingTsa):
    """A token source that crashes (a bug, not a refusal) while ``crash`` is set."""

    crash = True

    def stamp_batch(self, items: Sequence[tuple[str, bytes]]) -> list[bytes | GatewayError]:
        if self.crash:
            raise RuntimeError("injected bug")
        return super().stamp_batch(items)


def test_unexpected_failure_answers_every_caller_and_recovers(env: Env) -> None:
    tsa = BuggyTsa(env.tsa())
    ledger = env.open(tsa=tsa)
    results = submit(ledger, [sub(1), sub(2), sub(1)])
    assert all(isinstance(r, Unavailable) for r in results)
    tsa.crash = False
    results = submit(ledger, [sub(1), sub(2)])
    assert [r.leaf_index for r in results] == [0, 1]  # type: ignore[union-attr]


def test_close_finishes_queued_work_then_refuses(env: Env) -> None:
    ledger = env.open(max_batch=5, max_wait_ms=20)

    async def scenario() -> list[list[ItemResult]]:
        calls = [asyncio.ensure_future(ledger.submit([sub(i, loan=f"L{i}")])) for i in range(20)]
        await asyncio.sleep(0)
        closing = asyncio.ensure_future(ledger.close())
        done = list(await asyncio.gather(*calls))
        await closing
        with pytest.raises(FailedPrecondition):
            await ledger.submit([sub(99)])
        return done

    done = asyncio.run(scenario())
    env.opened.remove(ledger)
    assert sorted(r.leaf_index for [r] in done) == list(range(20))  # type: ignore[union-attr]


# --------------------------------------------------------------------------- review fixes


def test_lost_reply_is_visible_to_readers_before_the_next_commit(env: Env) -> None:
    flaky = FaultyStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=flaky)
    submit(ledger, [sub(1)])
    flaky.fail_after = 1
    [lost] = submit(ledger, [sub(2)])
    assert isinstance(lost, Unavailable)
    # No further commit: the ledger reloaded right away, so its view matches the store.
    assert verify_checkpoint(ledger.checkpoint(), env.vkey).size == 2
    assert ledger.leaf_index(leaf_hash(ledger.entries(1, 2)[0][1])) == 1


def test_checkpoint_cache_stays_bounded(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.reads

    monkeypatch.setattr(gateway.reads, "_CHECKPOINT_CACHE", 3)
    ledger = env.open()
    for n in range(10):
        submit(ledger, [sub(100 + n)])
    assert len(ledger._checkpoints) <= 3
    # older receipts still come back whole: their checkpoints are read from the store
    first = ledger.entries(0, 1)[0][1]
    record = ledger.get(decode_any_leaf(first).entry_id)
    assert verify_checkpoint(record.receipt.checkpoint, env.vkey).size == 1


def test_forged_page_token_beyond_64_bits_is_invalid(env: Env) -> None:
    import base64

    import gateway.reads

    ledger = env.open()
    submit(ledger, [sub(1), sub(2)])
    _, token = ledger.list_by_loan("bank-a", "L-1", 1, "")
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[1:9] = ((1 << 64) - 1).to_bytes(8, "big")
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(InvalidArgument):
        ledger.list_by_loan("bank-a", "L-1", 1, forged)
    assert gateway.reads._decode_token("", b"x", b"") == -1


def test_store_signed_by_another_log_key_is_refused(env: Env, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    env.close(env.open())  # the store now holds a checkpoint signed by the PKI's log key
    with pytest.raises(FailedPrecondition, match="not signed by this gateway's log key"):
        Ledger.open(
            store=SqlStore.sqlite(env.db),
            tsa=env.tsa(),
            log_key=Ed25519PrivateKey.generate(),
            log_origin=env.origin,
        )


def test_an_institution_change_is_a_record_of_the_operator(env: Env) -> None:
    ledger = env.open()
    now = datetime.now(UTC)
    first = asyncio.run(
        ledger.record_institution_change("operator", "bank-a", "register", "chg-1", now)
    )
    again = asyncio.run(
        ledger.record_institution_change("operator", "bank-a", "register", "chg-1", now)
    )
    assert again == first  # a retried change: the original receipt
    public = decode_any_leaf(first.leaf)
    assert isinstance(public, PublicLeaf) and first.opening is not None
    leaf = open_leaf(public, first.opening)
    assert (leaf.kind, leaf.owner, leaf.submitter, leaf.loan_ref) == (
        "institution_changed",
        "operator",
        "operator",
        ":institutions",
    )
    assert leaf.metadata == (("change", "register"), ("institution", "bank-a"))
    assert leaf.digest == hashlib.sha256(change_document("bank-a", "register")).digest()
    second = asyncio.run(
        ledger.record_institution_change("operator", "bank-a", "suspend", "chg-2", now)
    )
    assert second.loan_sequence == 2  # one chain of the operator's changes
