"""Adversarial review of issue 8 (who sees what): findings that are still open.

Each test states what the issue and the docs promise and fails while the
gateway does otherwise. Over real gRPC on the real ledger (development-mode
identities: the object rules and the log are those of mutual TLS).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from court.evidence.opening import decode_any_leaf
from evidence_gateway.v1 import access_service_pb2 as ac
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from gateway.authz.roles import Role
from gateway.store.base import StoreError
from tests.support.grpc_client import submission, timestamp
from tests.unit.gateway.api.conftest import Harness
from tests.unit.gateway.api.test_authorization import delegate, share, submit, who

CALL = common_pb2.EVIDENCE_KIND_COLLECTION_CALL


def _error(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def _listed(h: Harness, loan: str, role: Role, institution: str) -> list[common_pb2.EvidenceRecord]:
    response = h.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref=loan, institution="bank-a"),
        metadata=who(role, institution),
    )
    return list(response.records)


def _revoke_share(h: Harness, request_id: str, grantee: str = "court-1") -> Any:
    return h.access.RevokeShare(
        ac.RevokeShareRequest(
            request_id=request_id, grantee=grantee, loans=ac.LoanSelection(loan_refs=["L-1"])
        ),
        metadata=who(Role.LENDER, "bank-a"),
    )


def _revoke_delegation(h: Harness, request_id: str) -> Any:
    return h.access.RevokeDelegation(
        ac.RevokeDelegationRequest(
            request_id=request_id, collector="agency-1", loans=ac.LoanSelection(loan_refs=["L-1"])
        ),
        metadata=who(Role.LENDER, "bank-a"),
    )


def _chain_kinds(h: Harness) -> list[int]:
    return [r.submission.kind for r in _listed(h, "L-1", Role.LENDER, "bank-a")]


# --------------------------------------------------------- grants versus their records


def test_a_replayed_revocation_ends_a_later_share_without_a_record(harness: Harness) -> None:
    """Retrying an old RevokeShare (same request_id, e.g. a client's delayed retry)
    finds the old records, records nothing new, and still ends the share the lender
    made since: the loan's chain says "shared" (last) while the court is refused."""
    h = harness
    record = submit(h, submission("L-1"), Role.LENDER, "bank-a")
    share(h, ["L-1"], request_id="share-1")
    first = _revoke_share(h, "revoke-1")
    share(h, ["L-1"], request_id="share-2")
    before = _listed(h, "L-1", Role.COURT, "court-1")
    assert before and before[0].receipt.entry_id == record.entry_id
    replay = _revoke_share(h, "revoke-1")  # the client's late retry of the first revocation
    assert list(replay.receipts) == list(first.receipts)  # nothing new was recorded
    assert _chain_kinds(h)[-1] == common_pb2.EVIDENCE_KIND_LOAN_SHARED  # the log: shared
    # The share recorded last must still be in force.
    assert [r.receipt.entry_id for r in _listed(h, "L-1", Role.COURT, "court-1")][:1] == [
        record.entry_id
    ]


def test_a_retried_delegation_is_in_force_after_its_recorded_revocation(
    harness: Harness,
) -> None:
    """DelegateLoans whose grant table write fails answers UNAVAILABLE (its record is
    in the log); the lender revokes (recorded); the client's retry of the first
    DelegateLoans (as the docs advise) then puts the delegation in force. The chain
    ends "delegation revoked", and the agency goes on writing the loan."""
    h = harness
    submit(h, submission("L-1"), Role.LENDER, "bank-a")
    inner_add = h.store.inner.add_grants
    failing = threading.Event()

    def add_grants_failing(table: str, grants: Any) -> None:
        if failing.is_set():
            raise StoreError("injected: connection lost")
        inner_add(table, grants)

    h.store.add_grants = add_grants_failing  # type: ignore[method-assign]
    expires = timestamp(datetime.now(UTC) + timedelta(days=30))
    failing.set()
    failed = _error(lambda: delegate(h, ["L-1"], request_id="delegate-1", expires_at=expires))
    failing.clear()
    assert failed.code() is grpc.StatusCode.UNAVAILABLE
    _revoke_delegation(h, "revoke-1")
    assert _chain_kinds(h)[-2:] == [
        common_pb2.EVIDENCE_KIND_LOAN_DELEGATED,
        common_pb2.EVIDENCE_KIND_DELEGATION_REVOKED,
    ]
    retried = delegate(h, ["L-1"], request_id="delegate-1", expires_at=expires)  # as advised
    assert len(retried.receipts) == 1
    # The log's last word on this loan and agency is "revoked": the agency must be refused.
    refused = _error(
        lambda: submit(h, submission("L-1", kind=CALL, owner="bank-a"), Role.COLLECTOR)
    )
    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED


def test_a_retried_delegation_stays_ended_by_a_later_revocation_of_all_loans(
    harness: Harness,
) -> None:
    """As above, the revocation covering the loan being one of all the lender's loans
    (recorded under :all-loans): the retry of the named delegation stays out of force,
    while a delegation made after that revocation is in force."""
    h = harness
    submit(h, submission("L-1"), Role.LENDER, "bank-a")
    submit(h, submission("L-2"), Role.LENDER, "bank-a")
    inner_add = h.store.inner.add_grants
    failing = threading.Event()

    def add_grants_failing(table: str, grants: Any) -> None:
        if failing.is_set():
            raise StoreError("injected: connection lost")
        inner_add(table, grants)

    h.store.add_grants = add_grants_failing  # type: ignore[method-assign]
    expires = timestamp(datetime.now(UTC) + timedelta(days=30))
    failing.set()
    failed = _error(lambda: delegate(h, ["L-1"], request_id="delegate-1", expires_at=expires))
    failing.clear()
    assert failed.code() is grpc.StatusCode.UNAVAILABLE
    h.access.RevokeDelegation(
        ac.RevokeDelegationRequest(
            request_id="revoke-all", collector="agency-1", loans=ac.LoanSelection(all_loans=True)
        ),
        metadata=who(Role.LENDER, "bank-a"),
    )
    delegate(h, ["L-2"], request_id="delegate-2", expires_at=expires)
    delegate(h, ["L-1"], request_id="delegate-1", expires_at=expires)  # the late retry
    refused = _error(
        lambda: submit(h, submission("L-1", kind=CALL, owner="bank-a"), Role.COLLECTOR)
    )
    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED
    written = submit(h, submission("L-2", kind=CALL, owner="bank-a"), Role.COLLECTOR)
    assert written.loan_sequence == 3  # contract, delegation, this call


def test_grant_tables_are_written_off_the_event_loop(harness: Harness) -> None:
    """Every other store access of a call runs in a worker thread; the grant calls
    read idempotency keys and write the grant tables on the server's event loop, so a
    slow or locked database stalls every institution's calls meanwhile."""
    h = harness
    loop_thread: list[threading.Thread] = []
    h.run(_note_thread(loop_thread))
    seen: list[threading.Thread] = []
    inner_add = h.store.inner.add_grants
    inner_by_requests = h.store.inner.entries_by_requests

    def add_grants(table: str, grants: Any) -> None:
        seen.append(threading.current_thread())
        inner_add(table, grants)

    def entries_by_requests(keys: Any) -> Any:
        seen.append(threading.current_thread())
        return inner_by_requests(keys)

    h.store.add_grants = add_grants  # type: ignore[method-assign]
    h.store.entries_by_requests = entries_by_requests  # type: ignore[method-assign]
    share(h, ["L-1"])
    assert seen, "the grant reached the store"
    assert loop_thread[0] not in seen


def test_revocations_and_log_reads_use_the_store_off_the_event_loop(harness: Harness) -> None:
    """As above for revocations (the delegations in force, the grant tables) and for
    every LogService call, which reads the latest checkpoint from the store."""
    h = harness
    loop_thread: list[threading.Thread] = []
    h.run(_note_thread(loop_thread))
    submit(h, submission("L-1"), Role.LENDER, "bank-a")
    delegate(h, [])  # all loans
    seen: dict[str, list[threading.Thread]] = {}

    def watched(name: str) -> None:
        inner = getattr(h.store.inner, name)

        def call(*args: Any) -> Any:
            seen.setdefault(name, []).append(threading.current_thread())
            return inner(*args)

        setattr(h.store, name, call)

    for name in ("delegations", "revoke_grants", "latest_checkpoint"):
        watched(name)
    refused = _error(lambda: _revoke_delegation(h, "revoke-named"))
    assert refused.code() is grpc.StatusCode.FAILED_PRECONDITION
    h.access.RevokeDelegation(
        ac.RevokeDelegationRequest(
            request_id="revoke-all", collector="agency-1", loans=ac.LoanSelection(all_loans=True)
        ),
        metadata=who(Role.LENDER, "bank-a"),
    )
    for call in (h.log.GetCheckpoint, h.log.GetEntries):
        with contextlib.suppress(grpc.RpcError):  # GetEntries(0, 0) is INVALID_ARGUMENT
            call(
                lg.GetCheckpointRequest()
                if call is h.log.GetCheckpoint
                else lg.GetEntriesRequest(),
                metadata=who(Role.REGULATOR),
            )
    assert set(seen) == {"delegations", "revoke_grants", "latest_checkpoint"}
    assert all(loop_thread[0] not in threads for threads in seen.values()), seen


async def _note_thread(out: list[threading.Thread]) -> None:
    out.append(threading.current_thread())


# --------------------------------------------------------- one institution, everyone's slots


def test_one_institution_cannot_take_every_call_slot(harness: Harness) -> None:
    """``max_concurrent_rpcs`` is one pool for all institutions: a lender (or a
    collection agency) holding that many idle submission streams would make every
    other institution's calls RESOURCE_EXHAUSTED. One institution holds at most
    ``max_calls_per_institution`` calls (a quarter of the pool by default); beyond,
    its own calls are refused, naming that limit, and the others are served."""
    h = harness
    assert h.server.institution_calls.limit == 250  # a quarter of the default 1,000
    h.server.calls.limit = 4
    h.server.institution_calls.limit = 2
    stop = threading.Event()

    def idle() -> Iterator[ev.SubmitEvidenceStreamRequest]:
        stop.wait(30)
        return
        yield  # pragma: no cover - a generator that sends nothing

    calls = [
        h.evidence.SubmitEvidenceStream(idle(), metadata=who(Role.LENDER, "bank-a"))
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 10
        while h.server.calls.active < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert h.server.institution_calls.active == {"bank-a": 2}
        third = h.evidence.SubmitEvidenceStream(idle(), metadata=who(Role.LENDER, "bank-a"))
        refused = _error(lambda: list(third))
        assert refused.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_calls_per_institution = 2" in (refused.details() or "")
        # bank-b has no call in progress: it is served, and so is a second one of it.
        h.log.GetCheckpoint(lg.GetCheckpointRequest(), metadata=who(Role.LENDER, "bank-b"))
        submit(h, submission("B-1"), Role.LENDER, "bank-b")
    finally:
        stop.set()
        for call in calls:
            list(call)
    deadline = time.monotonic() + 10
    while h.server.calls.active and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (h.server.calls.active, h.server.institution_calls.active) == (0, {})


# --------------------------------------------------------- what a court learns of other shares


def test_a_court_learns_of_a_share_with_others_only_as_a_gap(harness: Harness) -> None:
    """A court reads every record of a loan shared with it but the share records naming
    others, "answered as one that does not exist". Its records' loan_sequence skips
    them, and the next record's previous_leaf_hash finds the hidden leaf in the public
    log (its time): the court learns that, and when, the lender recorded something it
    may not read, i.e. shared the loan with (or revoked a share of) another court or
    arbitration body. Accepted within the per-loan chain (docs/access.md, "A court
    sees where a loan was shared with others"): a record of the chain that the court
    may not read is a gap in it. What must not leak: with whom, and the record."""
    h = harness
    submit(h, submission("L-1"), Role.LENDER, "bank-a")
    share(h, ["L-1"], grantee="court-1")
    (hidden,) = share(h, ["L-1"], grantee="court-2").receipts
    submit(h, submission("L-1"), Role.LENDER, "bank-a")
    seen = _listed(h, "L-1", Role.COURT, "court-1")
    assert [r.receipt.loan_sequence for r in seen] == [1, 2, 4]  # the gap: 3
    assert seen[2].receipt.previous_leaf_hash == hashlib.sha256(b"\0" + hidden.leaf).digest()
    # The hidden record is answered as one that does not exist ...
    missing = _error(
        lambda: h.evidence.GetEvidence(
            ev.GetEvidenceRequest(entry_id=hidden.entry_id), metadata=who(Role.COURT, "court-1")
        )
    )
    nothing = _error(
        lambda: h.evidence.GetEvidence(
            ev.GetEvidenceRequest(entry_id="a" * 26), metadata=who(Role.COURT, "court-1")
        )
    )
    assert missing.code() is nothing.code()
    assert missing.details() == (nothing.details() or "").replace("a" * 26, hidden.entry_id)
    assert missing.code() is grpc.StatusCode.NOT_FOUND
    # ... and its public leaf does not say with whom the loan was shared.
    entries = h.log.GetEntries(
        lg.GetEntriesRequest(start=hidden.leaf_index, end=hidden.leaf_index + 1),
        metadata=who(Role.COURT, "court-1"),
    ).entries
    assert bytes(entries[0].leaf) == hidden.leaf
    assert b"court-2" not in hidden.leaf and b"loan_shared" not in hidden.leaf


# --------------------------------------------------------- what an observer of the log learns


def test_the_public_log_does_not_group_one_call_s_leaves(
    start_harness: Callable[..., Harness],
) -> None:
    """docs/leaf-format.md: an observer learns the volume of the whole gateway, "not of
    any one institution", and not which lender any record belongs to. Every leaf of a
    commit carries the commit's receivedAt, and entry ids are random: the leaves of
    calls that share a commit cannot be told apart by call, so GetEntries does not
    group one BatchSubmitEvidence's loans (i.e. one institution's).

    (Under low load a commit holds one call: docs/leaf-format.md states that residual.
    Here the commit is taken up when its seven items are queued, whatever the timing.)"""
    h = start_harness(max_batch=7, max_wait_ms=60_000)

    def batch(bank: str, loans: list[str]) -> list[str]:
        response = h.evidence.BatchSubmitEvidence(
            ev.BatchSubmitEvidenceRequest(submissions=[submission(loan) for loan in loans]),
            metadata=who(Role.LENDER, bank),
            timeout=30,
        )
        return [r.receipt.entry_id for r in response.results]

    calls = [
        ("bank-a", ["A-1", "A-2", "A-3"]),
        ("bank-b", ["B-1"]),
        ("bank-a", ["A-4", "A-5", "A-6"]),
    ]
    with ThreadPoolExecutor(len(calls)) as pool:
        ids = list(pool.map(lambda call: batch(*call), calls))
    a_ids = set(ids[0])
    size = h.log.GetCheckpoint(lg.GetCheckpointRequest(), metadata=who(Role.REGULATOR))
    entries = h.log.GetEntries(
        lg.GetEntriesRequest(start=0, end=size.checkpoint.size),
        metadata=who(Role.REGULATOR),
    ).entries
    leaves = [decode_any_leaf(bytes(e.leaf)) for e in entries]
    assert {leaf.entry_id for leaf in leaves} >= {i for call in ids for i in call}
    groups: dict[object, set[str]] = {}
    for leaf in leaves:
        groups.setdefault(leaf.received_at, set()).add(leaf.entry_id)
    assert a_ids not in groups.values(), (
        "the leaves with one receivedAt are exactly bank-a's batch: the observer knows "
        "these three loans belong to one institution"
    )
    assert len(groups) == 1, "the seven leaves of one commit share its receivedAt"
    # Nothing in the ids of one commit is shared either (no time or counter prefix).
    assert len({entry_id[:8] for call in ids for entry_id in call}) == 7
