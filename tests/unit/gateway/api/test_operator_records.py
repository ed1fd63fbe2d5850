"""The operator reads its records of registry changes (loan_ref ``:institutions``),
and nothing else; no other role reads them. Over real gRPC, on the real ledger.

A record outside a caller's scope is answered exactly as one that does not
exist (docs/access.md, "No probing"): NOT_FOUND with the same message from
GetEvidence, empty answers from FindEvidence and ListEvidence, the very same
VERDICT_NOT_FOUND response from VerifyEvidence.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from court.evidence.registry import change_document
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.authz.roles import Role
from gateway.model import Receipt
from tests.support.grpc_client import error_fields, submission
from tests.support.opened import opened
from tests.unit.gateway.api.conftest import Harness
from tests.unit.gateway.api.test_authorization import share, submit, who

OPERATOR = "operator"
_SHA256 = common_pb2.HASH_ALGORITHM_SHA256
_MISSING = "a" * 26  # an entry id no record has


def _change(h: Harness, institution: str, change: str, operator: str = OPERATOR) -> Receipt:
    now = datetime.now(UTC)
    receipt = h.run(
        h.ledger.record_institution_change(
            operator, institution, change, f"{change}-{institution}", now
        )
    )
    assert isinstance(receipt, Receipt)
    return receipt


def _get_error(h: Harness, entry_id: str, md: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        h.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id=entry_id), metadata=md)
    return info.value


def _find(h: Harness, digest: bytes, md: Any) -> list[str]:
    found = h.evidence.FindEvidence(
        ev.FindEvidenceRequest(hash_algorithm=_SHA256, digest=digest), metadata=md
    )
    return [r.receipt.entry_id for r in found.records]


def _list(h: Harness, institution: str, loan_ref: str, md: Any) -> list[str]:
    listed = h.evidence.ListEvidence(
        ev.ListEvidenceRequest(institution=institution, loan_ref=loan_ref), metadata=md
    )
    return [r.receipt.entry_id for r in listed.records]


def _verify(h: Harness, entry_id: str, md: Any) -> vf.VerifyEvidenceResponse:
    response: vf.VerifyEvidenceResponse = h.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(entry_id=entry_id), metadata=md
    )
    return response


def _assert_hidden(h: Harness, entry_id: str, digest: bytes, md: Any) -> None:
    """``entry_id`` (with ``digest``) is answered to ``md`` as a record that does not exist."""
    hidden, missing = _get_error(h, entry_id, md), _get_error(h, _MISSING, md)
    assert hidden.code() is missing.code() is grpc.StatusCode.NOT_FOUND
    assert hidden.details() == (missing.details() or "").replace(_MISSING, entry_id)
    assert entry_id not in _find(h, digest, md)
    assert _verify(h, entry_id, md) == _verify(h, _MISSING, md)
    assert _verify(h, entry_id, md) == vf.VerifyEvidenceResponse(verdict=vf.VERDICT_NOT_FOUND)


def test_the_operator_reads_its_registry_records(harness: Harness) -> None:
    h = harness
    registered = _change(h, "bank-a", "register")
    revoked = _change(h, "bank-a", "revoke")
    admin = who(Role.ADMIN, OPERATOR)
    # Its own chain: `institution` empty (the caller's own) or named.
    for institution in ("", OPERATOR):
        records = h.evidence.ListEvidence(
            ev.ListEvidenceRequest(institution=institution, loan_ref=":institutions"),
            metadata=admin,
        ).records
        assert [r.receipt.entry_id for r in records] == [registered.entry_id, revoked.entry_id]
        assert [dict(r.submission.metadata) for r in records] == [
            {"change": "register", "institution": "bank-a"},
            {"change": "revoke", "institution": "bank-a"},
        ]
        assert {r.submission.kind for r in records} == {
            common_pb2.EVIDENCE_KIND_INSTITUTION_CHANGED
        }
    got = h.evidence.GetEvidence(
        ev.GetEvidenceRequest(entry_id=revoked.entry_id), metadata=admin
    ).record
    # The receipt as issued, with the opening of its leaf: what `court-verify receipt` takes.
    assert got.receipt.leaf == revoked.leaf
    assert got.receipt.HasField("opening")
    assert opened(got.receipt).loan_ref == ":institutions"
    digest = hashlib.sha256(change_document("bank-a", "register")).digest()
    assert _find(h, digest, admin) == [registered.entry_id]
    verified = _verify(h, registered.entry_id, admin)
    assert verified.verdict == vf.VERDICT_VALID, verified
    # Any admin reads the registry changes, whichever admin recorded them.
    assert _list(h, OPERATOR, ":institutions", who(Role.ADMIN, "ops-2")) == [
        registered.entry_id,
        revoked.entry_id,
    ]


def test_the_operator_reads_no_lender_s_record(harness: Harness) -> None:
    h = harness
    _change(h, "bank-a", "register")
    data = b"a loan contract"
    own = submit(h, submission("L-1", data=data), Role.LENDER, "bank-a")
    # A lender's record with the digest of a registry change's document is not the
    # operator's either: its digest search finds only its chain's record.
    change_digest = hashlib.sha256(change_document("bank-a", "suspend")).digest()
    copied = submit(h, submission("L-2", digest=change_digest), Role.LENDER, "bank-a")
    suspended = _change(h, "bank-a", "suspend")
    admin = who(Role.ADMIN, OPERATOR)
    _assert_hidden(h, own.entry_id, hashlib.sha256(data).digest(), admin)
    _assert_hidden(h, copied.entry_id, change_digest, admin)
    assert _find(h, change_digest, admin) == [suspended.entry_id]
    assert _list(h, "bank-a", "L-1", admin) == []
    assert _list(h, "bank-a", "L-1", admin) == _list(h, "bank-a", "L-none", admin)
    # The lender's own digest search finds its record, not the operator's.
    assert _find(h, change_digest, who(Role.LENDER, "bank-a")) == [copied.entry_id]


@pytest.mark.parametrize(
    ("role", "institution"),
    [
        (Role.LENDER, "bank-a"),  # the institution the records are about
        (Role.COLLECTOR, "agency-1"),
        (Role.COURT, "court-1"),
        (Role.ARBITRATION, "arb-1"),
    ],
)
def test_no_other_role_reads_the_registry_records(
    harness: Harness, role: Role, institution: str
) -> None:
    h = harness
    submit(h, submission("L-1"), Role.LENDER, "bank-a")
    share(h, ["L-1"], grantee="court-1")
    share(h, ["L-1"], grantee="arb-1")
    registered = _change(h, "bank-a", "register")
    md = who(role, institution)
    digest = hashlib.sha256(change_document("bank-a", "register")).digest()
    _assert_hidden(h, registered.entry_id, digest, md)
    listed = _list(h, OPERATOR, ":institutions", md)
    assert listed == [] == _list(h, OPERATOR, "L-none", md)


def test_the_reserved_loan_ref_is_read_not_written(harness: Harness) -> None:
    with pytest.raises(grpc.RpcError) as info:
        submit(harness, submission(":institutions"), Role.LENDER, "bank-a")
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == ["submission.loan_ref"]
    with pytest.raises(grpc.RpcError) as denied:
        submit(harness, submission(":institutions"), Role.ADMIN, OPERATOR)
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED
