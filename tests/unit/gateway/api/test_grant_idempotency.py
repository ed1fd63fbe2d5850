"""A grant call's request_id covers the whole request; a refused grant records nothing.

Beyond the integrator's cases (test_grant_refusals.py): the same request with its loans
in another order is the same request; fewer loans, another kind or another grantee under
the same request_id are ALREADY_EXISTS and record nothing; a share refused for one loan
records none; a grantee holding personal data is named as such.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from evidence_gateway.v1 import evidence_service_pb2 as ev
from gateway.authz.roles import Role
from tests.support.grpc_client import error_fields, timestamp
from tests.unit.gateway.api.conftest import Harness
from tests.unit.gateway.api.test_authorization import delegate, share, who

PHONE = "13812345678"


def _loan(tag: str = "") -> str:
    return f"L{tag}x{time.monotonic_ns()}"


def _records(h: Harness, loan: str) -> list[int]:
    response = h.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref=loan), metadata=who(Role.LENDER, "bank-a")
    )
    return [r.submission.kind for r in response.records]


def _code(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()  # type: ignore[operator]
    code: grpc.StatusCode = info.value.code()
    return code


def test_the_same_grant_with_its_loans_in_another_order_gets_the_original_receipts(
    harness: Harness,
) -> None:
    h = harness
    a, b = _loan("a"), _loan("b")
    expires = timestamp(datetime.now(UTC) + timedelta(days=1))
    first = delegate(h, [a, b], request_id="same-call.1", expires_at=expires)
    again = delegate(h, [b, a], request_id="same-call.1", expires_at=expires)
    ids = {r.entry_id for r in first.receipts}
    assert len(ids) == 2
    assert {r.entry_id for r in again.receipts} == ids
    assert [r.entry_id for r in again.receipts] == [r.entry_id for r in first.receipts][::-1]


def test_a_request_id_reused_with_fewer_loans_another_grantee_or_kind_is_already_exists(
    harness: Harness,
) -> None:
    h = harness
    a, b = _loan("a"), _loan("b")
    expires = timestamp(datetime.now(UTC) + timedelta(days=1))
    delegate(h, [a, b], request_id="reused.1", expires_at=expires)
    assert (
        _code(lambda: delegate(h, [a], request_id="reused.1", expires_at=expires))
        is grpc.StatusCode.ALREADY_EXISTS
    )
    assert (
        _code(
            lambda: delegate(
                h, [a, b], request_id="reused.1", expires_at=expires, collector="agency-2"
            )
        )
        is grpc.StatusCode.ALREADY_EXISTS
    )
    c = _loan("c")
    assert (
        _code(lambda: share(h, [c], request_id="reused.1", expires_at=expires))
        is grpc.StatusCode.ALREADY_EXISTS
    )
    assert _records(h, c) == []
    # Each loan still holds its one delegation record, nothing more.
    assert len(_records(h, a)) == 1 and len(_records(h, b)) == 1


def test_a_share_refused_for_one_loan_records_none_of_its_loans(harness: Harness) -> None:
    h = harness
    good = _loan("good")
    with pytest.raises(grpc.RpcError) as info:
        share(h, [good, PHONE])
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == ["loans.loan_refs[1]"]
    assert _records(h, good) == []


def test_a_grantee_holding_personal_data_is_named_and_nothing_recorded(harness: Harness) -> None:
    h = harness
    loan = _loan()
    with pytest.raises(grpc.RpcError) as info:
        delegate(h, [loan], collector=f"agency-{PHONE}")
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == ["collector"]
    assert "personal data" in (info.value.details() or "")
    assert _records(h, loan) == []
