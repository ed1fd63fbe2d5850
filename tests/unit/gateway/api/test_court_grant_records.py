"""What a court or arbitration body sees of a shared loan's grant records, over real gRPC.

It sees when the loan was delegated, also by a delegation of all the lender's
loans (loan_ref ``:all-loans``), while it holds a share of any loan of that
lender; of the share records it sees only those naming it: that the lender
shared the loan with another court is answered as a record that does not exist.
"""

from __future__ import annotations

import hashlib

import grpc
import pytest

from evidence_gateway.v1 import access_service_pb2 as ac
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.authz.roles import Role
from gateway.model import ALL_LOANS
from tests.support.grpc_client import submission
from tests.unit.gateway.api.conftest import Harness
from tests.unit.gateway.api.test_authorization import delegate, share, submit, who

SHA256 = common_pb2.HASH_ALGORITHM_SHA256


def _get(h: Harness, entry_id: str, institution: str, role: Role = Role.COURT) -> ev.EvidenceRecord:
    return h.evidence.GetEvidence(
        ev.GetEvidenceRequest(entry_id=entry_id), metadata=who(role, institution)
    ).record


def _not_found(h: Harness, entry_id: str, institution: str) -> str:
    with pytest.raises(grpc.RpcError) as info:
        _get(h, entry_id, institution)
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    return info.value.details() or ""


def _listed(h: Harness, loan: str, institution: str, role: Role = Role.COURT) -> list[str]:
    response = h.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref=loan, institution="bank-a"),
        metadata=who(role, institution),
    )
    return [r.receipt.entry_id for r in response.records]


def _found(h: Harness, digest: bytes, institution: str) -> list[str]:
    response = h.evidence.FindEvidence(
        ev.FindEvidenceRequest(hash_algorithm=SHA256, digest=digest),
        metadata=who(Role.COURT, institution),
    )
    return [r.receipt.entry_id for r in response.records]


def _verify(h: Harness, institution: str, **kw: object) -> vf.VerifyEvidenceResponse:
    return h.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(**kw),  # type: ignore[arg-type]
        metadata=who(Role.COURT, institution),
    )


def _digest(h: Harness, entry_id: str) -> bytes:
    """The record's digest, as its owner bank-a reads it."""
    return bytes(_get(h, entry_id, "bank-a", Role.LENDER).submission.digest)


def test_a_court_sees_that_all_the_lender_s_loans_were_delegated(harness: Harness) -> None:
    h = harness
    (all_loans,) = delegate(h, []).receipts  # all of bank-a's loans to agency-1
    (bank_b_all,) = delegate(h, [], lender="bank-b").receipts
    record = submit(h, submission("L-1"), Role.LENDER, "bank-a")
    # No share yet: not seen.
    assert _listed(h, ALL_LOANS, "court-1") == []
    _not_found(h, all_loans.entry_id, "court-1")
    (shared,) = share(h, ["L-1"]).receipts
    # A share of any of bank-a's loans shows bank-a's delegations of all its loans,
    # by id, by listing the reserved loan_ref, by digest and through VerifyEvidence.
    assert _get(h, all_loans.entry_id, "court-1").receipt == all_loans
    assert _listed(h, ALL_LOANS, "court-1") == [all_loans.entry_id]
    digest = _digest(h, all_loans.entry_id)
    assert _found(h, digest, "court-1") == [all_loans.entry_id]
    assert _verify(h, "court-1", entry_id=all_loans.entry_id).verdict == vf.VERDICT_VALID
    by_digest = _verify(h, "court-1", digest=vf.Digest(hash_algorithm=SHA256, value=digest))
    assert by_digest.verdict == vf.VERDICT_VALID
    assert _listed(h, "L-1", "court-1") == [record.entry_id, shared.entry_id]
    # Not bank-b's (no share of bank-b's), nor to another court.
    _not_found(h, bank_b_all.entry_id, "court-1")
    assert _listed(h, ALL_LOANS, "court-2") == []
    _not_found(h, all_loans.entry_id, "court-2")
    # Once the share is revoked, no longer.
    h.access.RevokeShare(
        ac.RevokeShareRequest(
            request_id="rs", grantee="court-1", loans=ac.LoanSelection(loan_refs=["L-1"])
        ),
        metadata=who(Role.LENDER),
    )
    assert _listed(h, ALL_LOANS, "court-1") == []
    _not_found(h, all_loans.entry_id, "court-1")


def test_a_court_sees_only_the_share_records_naming_it(harness: Harness) -> None:
    h = harness
    (delegated,) = delegate(h, ["L-1"]).receipts
    record = submit(h, submission("L-1"), Role.LENDER, "bank-a")
    (to_court_1,) = share(h, ["L-1"], "court-1").receipts
    (to_court_2,) = share(h, ["L-1"], "court-2").receipts
    (to_arb,) = share(h, ["L-1"], "arb-1").receipts
    # The lender sees every record of its loan.
    everything = {delegated.entry_id, record.entry_id, to_court_1.entry_id, to_court_2.entry_id}
    assert everything | {to_arb.entry_id} == set(_listed(h, "L-1", "bank-a", Role.LENDER))
    # court-1: the loan's records, its delegation (the collection trace), its own share.
    assert _listed(h, "L-1", "court-1") == [
        delegated.entry_id,
        record.entry_id,
        to_court_1.entry_id,
    ]
    assert _listed(h, "L-1", "arb-1", Role.ARBITRATION) == [
        delegated.entry_id,
        record.entry_id,
        to_arb.entry_id,
    ]
    # court-2's share record, to court-1: as a record that does not exist.
    missing = "a" * len(to_court_2.entry_id)
    theirs = _not_found(h, to_court_2.entry_id, "court-1")
    assert theirs == _not_found(h, missing, "court-1").replace(missing, to_court_2.entry_id)
    unknown = hashlib.sha256(b"no such grant").digest()
    digest = _digest(h, to_court_2.entry_id)
    assert _found(h, digest, "court-1") == _found(h, unknown, "court-1") == []
    assert _found(h, digest, "court-2") == [to_court_2.entry_id]
    assert _verify(h, "court-1", entry_id=to_court_2.entry_id) == _verify(
        h, "court-1", entry_id=missing
    )
    by_digest = _verify(h, "court-1", digest=vf.Digest(hash_algorithm=SHA256, value=digest))
    assert by_digest == _verify(
        h, "court-1", digest=vf.Digest(hash_algorithm=SHA256, value=unknown)
    )
    assert by_digest.verdict == vf.VERDICT_NOT_FOUND
    # and its own share record, it verifies
    assert _verify(h, "court-1", entry_id=to_court_1.entry_id).verdict == vf.VERDICT_VALID
