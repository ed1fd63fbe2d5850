"""Grants follow the log's order: what is in force is what the last record of a loan
and grantee says, whatever order calls, retries and grant-table writes come in; and
the grant calls use the store off the event loop.

Over real gRPC on the real ledger (development-mode identities)."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

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
