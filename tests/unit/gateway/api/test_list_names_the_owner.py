"""ListEvidence names the loan's owner: a reader other than a lender is told to."""

from __future__ import annotations

import time

import grpc
import pytest

from evidence_gateway.v1 import evidence_service_pb2 as ev
from gateway.authz.roles import Role
from tests.support.grpc_client import error_fields
from tests.unit.gateway.api.conftest import Harness
from tests.unit.gateway.api.test_authorization import delegate, who


def _loan(tag: str = "") -> str:
    return f"L{tag}x{time.monotonic_ns()}"


@pytest.mark.parametrize("role", [Role.COLLECTOR, Role.COURT, Role.ARBITRATION])
def test_a_reader_other_than_a_lender_must_name_the_lender_to_list(
    harness: Harness, role: Role
) -> None:
    """Without ``institution`` a collection agency's, court's or arbitration body's
    listing would be of its own loans, which it has none of: INVALID_ARGUMENT saying
    what to put there, the same whether the loan exists or not (the role decides)."""
    h = harness
    loan = _loan()
    delegate(h, [loan])  # a loan with a record, and a loan without
    answers = []
    for ref in (loan, _loan("none")):
        with pytest.raises(grpc.RpcError) as info:
            h.evidence.ListEvidence(ev.ListEvidenceRequest(loan_ref=ref), metadata=who(role))
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert error_fields(info.value) == ["institution"]
        answers.append(info.value.details())
    assert answers[0] == answers[1]
    assert "lender" in (answers[0] or "")
