"""A refused grant call, as an integrator meets it over real gRPC.

docs/access.md: a refused grant is INVALID_ARGUMENT naming the field "and nothing is
recorded"; the log's grant records are evidence a court reads, so a record of a grant
that never came into force would tell it something that did not happen. And an error
names what the caller sent (its request_id, the loan at fault), so that it knows what
to correct.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from evidence_gateway.v1 import evidence_service_pb2 as ev
from gateway.authz.roles import Role
from tests.support.grpc_client import error_fields, timestamp
from tests.unit.gateway.api.conftest import Harness
from tests.unit.gateway.api.test_authorization import delegate, who

# A mobile phone number's shape: refused by the personal-data rule (docs/leaf-format.md).
PHONE = "13812345678"


def _loan(tag: str = "") -> str:
    """A fresh loan_ref: digits glued to letters, so no run of them can look like a
    card number to the personal-data rule (docs/leaf-format.md)."""
    return f"L{tag}x{time.monotonic_ns()}"


def _request_id() -> str:
    """A fresh request_id whose digits never run to 11: an error shows such a run as
    "[N digits hidden]" whatever field it comes from (docs/gateway.md), so a message
    could not be checked for a request_id like ``call-<13 digits>``."""
    digits = str(time.monotonic_ns())
    return "call-" + ".".join(digits[i : i + 6] for i in range(0, len(digits), 6))


def _refused(call: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()  # type: ignore[operator]
    return info.value


def _records(h: Harness, loan: str) -> list[int]:
    response = h.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref=loan), metadata=who(Role.LENDER, "bank-a")
    )
    return [r.submission.kind for r in response.records]


def test_a_delegation_refused_for_one_loan_records_none_of_its_loans(harness: Harness) -> None:
    """One bad loan_ref (personal data) among good ones: the call is INVALID_ARGUMENT,
    and no loan of the call gets a record saying it was delegated (the delegation is
    not in force: the agency's writes to that loan are refused)."""
    h = harness
    good = _loan("good")
    error = _refused(lambda: delegate(h, [good, PHONE]))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _records(h, good) == []


def test_a_loan_ref_with_personal_data_is_named_by_its_path(harness: Harness) -> None:
    """The BadRequest names the loan at fault, as for every other loan_ref rule
    (``loans.loan_refs[N]``), not the whole selection."""
    h = harness
    error = _refused(lambda: delegate(h, [_loan(), PHONE]))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(error) == ["loans.loan_refs[1]"]


def test_a_grant_s_request_id_reused_names_the_caller_s_request_id(harness: Harness) -> None:
    """The same request_id with another expiry is ALREADY_EXISTS, and the message names
    the request_id the caller sent, not a key of the gateway's own making."""
    h = harness
    request_id = _request_id()
    loan = _loan()
    soon = datetime.now(UTC) + timedelta(days=1)
    delegate(h, [loan], request_id=request_id, expires_at=timestamp(soon))
    error = _refused(
        lambda: delegate(
            h, [loan], request_id=request_id, expires_at=timestamp(soon + timedelta(days=1))
        )
    )
    assert error.code() is grpc.StatusCode.ALREADY_EXISTS
    message = error.details() or ""
    assert request_id in message, message
    assert "grant-" not in message, message


def test_an_expiry_past_the_timestamp_range_is_not_called_past(harness: Harness) -> None:
    """An expires_at beyond 9999-12-31 (not a valid google.protobuf.Timestamp) is
    refused for what it is, not as 'must be in the future'."""
    h = harness
    beyond = Timestamp(seconds=253_402_300_800)  # 10000-01-01T00:00:00Z
    error = _refused(lambda: delegate(h, [_loan()], expires_at=beyond))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(error) == ["expires_at"]
    assert "future" not in (error.details() or ""), error.details()


def test_a_grant_s_request_id_reused_for_more_loans_is_already_exists(harness: Harness) -> None:
    """A request_id is the key of one grant call (access.proto: "the same request again
    returns the original receipts"; other content is ALREADY_EXISTS): sent again naming
    one loan more, it does not quietly delegate that loan too."""
    h = harness
    request_id = f"call-{time.monotonic_ns()}"
    first, extra = _loan(), _loan("extra")
    expires = timestamp(datetime.now(UTC) + timedelta(days=1))
    delegate(h, [first], request_id=request_id, expires_at=expires)
    error = _refused(lambda: delegate(h, [first, extra], request_id=request_id, expires_at=expires))
    assert error.code() is grpc.StatusCode.ALREADY_EXISTS
    assert _records(h, extra) == []
