"""Who may call what, and see which records: over real gRPC, on the real ledger.

The callers are development-mode identities (``x-institution`` and ``x-role``
headers, the resolver of ``--insecure-dev``); the interceptor, the table and
the object rules are those every resolver feeds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from evidence_gateway.v1 import access_service_pb2 as ac
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from gateway.authz.roles import Role
from gateway.server import API_SERVICES
from tests.support.authz_matrix import ALLOWED, Stubs, dev_headers, mismatches
from tests.support.grpc_client import error_fields, submission, timestamp
from tests.support.opened import opened
from tests.unit.gateway.api.conftest import Harness

who = dev_headers


def _later(**delta: float) -> Any:
    return timestamp(datetime.now(UTC) + timedelta(**delta))


def delegate(h: Harness, loans: list[str], *, lender: str = "bank-a", **kw: Any) -> Any:
    request = ac.DelegateLoansRequest(
        request_id=kw.pop("request_id", f"d-{time.monotonic_ns()}"),
        collector=kw.pop("collector", "agency-1"),
        loans=ac.LoanSelection(loan_refs=loans, all_loans=not loans),
        expires_at=kw.pop("expires_at", _later(days=30)),
    )
    return h.access.DelegateLoans(request, metadata=who(Role.LENDER, lender))


def share(h: Harness, loans: list[str], grantee: str = "court-1", **kw: Any) -> Any:
    request = ac.ShareLoanRequest(
        request_id=kw.pop("request_id", f"s-{time.monotonic_ns()}"),
        grantee=grantee,
        loans=ac.LoanSelection(loan_refs=loans),
        expires_at=kw.pop("expires_at", _later(days=30)),
    )
    return h.access.ShareLoan(request, metadata=who(Role.LENDER, kw.pop("lender", "bank-a")))


def submit(h: Harness, s: common_pb2.EvidenceSubmission, role: Role, institution: str = "") -> Any:
    return h.evidence.SubmitEvidence(
        ev.SubmitEvidenceRequest(submission=s), metadata=who(role, institution or None)
    ).receipt


# ------------------------------------------------------------------ the matrix


def test_the_matrix_names_every_rpc_the_server_serves(harness: Harness) -> None:
    from google.protobuf import descriptor_pool
    from grpc_reflection.v1alpha import reflection  # noqa: F401  (descriptors are loaded)

    pool = descriptor_pool.Default()
    served = {
        f"{name.rsplit('.', 1)[-1]}/{method.name}"
        for name in API_SERVICES
        for method in pool.FindServiceByName(name).methods
    }
    assert served == set(ALLOWED)


def test_role_x_rpc_matrix(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Every RPC for every role: the allowed ones answer OK, the others PERMISSION_DENIED."""
    caplog.set_level(logging.WARNING, logger="gateway.api.authz")
    stubs = Stubs.of(harness.channel)
    wrong = mismatches(lambda role: replace(stubs, metadata=who(role)))
    assert not wrong, "\n".join(wrong)
    # Every denial is in the gateway's log with caller, RPC and reason.
    denied = [r.getMessage() for r in caplog.records if r.getMessage().startswith("denied:")]
    assert len(denied) == sum(len(set(Role) - roles) for roles in ALLOWED.values())
    assert (
        "denied: caller court-1 (role court) called "
        "/evidence_gateway.v1.EvidenceService/SubmitEvidence: "
        "role court may not call it (only collector, lender)"
    ) in denied


def test_a_denied_call_says_which_role_and_rpc(harness: Harness) -> None:
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.GetEvidence(
            ev.GetEvidenceRequest(entry_id="abc"), metadata=who(Role.REGULATOR)
        )
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert info.value.details() == "role regulator may not call GetEvidence"


def test_an_unknown_role_is_unauthenticated(harness: Harness) -> None:
    with pytest.raises(grpc.RpcError) as info:
        harness.log.GetCheckpoint(
            lg.GetCheckpointRequest(), metadata=(("x-institution", "x"), ("x-role", "king"))
        )
    assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "the x-role header names no role" in (info.value.details() or "")


def test_grants_are_records_of_the_loan_s_chain(harness: Harness) -> None:
    h = harness
    contract = submit(h, submission("L-1"), Role.LENDER)
    (granted,) = delegate(h, ["L-1"]).receipts
    (shared,) = share(h, ["L-1"]).receipts
    assert (granted.loan_sequence, shared.loan_sequence) == (2, 3)
    leaf = opened(granted)
    assert (leaf.kind, leaf.owner, leaf.submitter, leaf.loan_ref) == (
        "loan_delegated",
        "bank-a",
        "bank-a",
        "L-1",
    )
    assert dict(leaf.metadata)["grantee"] == "agency-1"
    listed = h.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref="L-1"), metadata=who(Role.LENDER)
    )
    kinds = [r.submission.kind for r in listed.records]
    assert kinds == [
        common_pb2.EVIDENCE_KIND_REPAYMENT,
        common_pb2.EVIDENCE_KIND_LOAN_DELEGATED,
        common_pb2.EVIDENCE_KIND_LOAN_SHARED,
    ]
    assert listed.records[0].receipt.entry_id == contract.entry_id
    # A delegation of all loans is recorded under the reserved loan_ref.
    (every,) = delegate(h, [], collector="agency-2").receipts
    assert opened(every).loan_ref == ":all-loans"


def test_a_retried_grant_returns_the_original_receipts(harness: Harness) -> None:
    expires = _later(days=3)
    first = delegate(harness, ["L-1", "L-2"], request_id="grant-1", expires_at=expires)
    again = delegate(harness, ["L-1", "L-2"], request_id="grant-1", expires_at=expires)
    assert list(again.receipts) == list(first.receipts)
    with pytest.raises(grpc.RpcError) as info:
        delegate(harness, ["L-1", "L-2"], request_id="grant-1", expires_at=_later(days=9))
    assert info.value.code() is grpc.StatusCode.ALREADY_EXISTS


def test_the_resolver_may_be_async_and_its_errors_are_the_call_s(
    start_harness: Callable[..., Harness],
) -> None:
    from gateway.authz.roles import Caller
    from gateway.errors import Unavailable

    async def regulator(context: Any, rpc: str) -> Caller:
        return Caller("reg-1", Role.REGULATOR)

    h = start_harness(resolver=regulator)
    assert h.log.GetCheckpoint(lg.GetCheckpointRequest()).checkpoint.size == 0
    denied = pytest.raises(grpc.RpcError)
    with denied as info:
        h.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id="abc"))
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED

    def registry_down(context: Any, rpc: str) -> Caller:
        raise Unavailable("the institutions registry is unavailable; retry later")

    down = start_harness(resolver=registry_down)
    with pytest.raises(grpc.RpcError) as info:
        down.log.GetCheckpoint(lg.GetCheckpointRequest())
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    assert info.value.details() == "the institutions registry is unavailable; retry later"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"loans": ac.LoanSelection()}, ["loans.loan_refs"]),
        ({"loans": ac.LoanSelection(loan_refs=["L-1"], all_loans=True)}, ["loans.loan_refs"]),
        ({"loans": ac.LoanSelection(loan_refs=["L-1", "L-1"])}, ["loans.loan_refs"]),
        ({"loans": ac.LoanSelection(loan_refs=[":all-loans"])}, ["loans.loan_refs[0]"]),
        ({"loans": ac.LoanSelection(loan_refs=["bad loan"])}, ["loans.loan_refs[0]"]),
        ({"collector": "agency 1"}, ["collector"]),
        ({"collector": "bank-a"}, ["collector"]),
        ({"request_id": ""}, ["request_id"]),
        ({"expires_at": None}, ["expires_at"]),
        ({"expires_at": "past"}, ["expires_at"]),
    ],
)
def test_a_bad_grant_names_the_field(
    harness: Harness, fields: dict[str, Any], expected: list[str]
) -> None:
    values: dict[str, Any] = {
        "request_id": "g-1",
        "collector": "agency-1",
        "loans": ac.LoanSelection(loan_refs=["L-1"]),
        "expires_at": _later(days=1),
        **fields,
    }
    if values["expires_at"] is None:
        del values["expires_at"]
    elif values["expires_at"] == "past":
        values["expires_at"] = _later(seconds=-1)
    with pytest.raises(grpc.RpcError) as info:
        harness.access.DelegateLoans(ac.DelegateLoansRequest(**values), metadata=who(Role.LENDER))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == expected
    assert harness.ledger.size == 0  # nothing recorded


def test_a_share_names_its_loans(harness: Harness) -> None:
    with pytest.raises(grpc.RpcError) as info:
        harness.access.ShareLoan(
            ac.ShareLoanRequest(
                request_id="s-1",
                grantee="court-1",
                loans=ac.LoanSelection(all_loans=True),
                expires_at=_later(days=1),
            ),
            metadata=who(Role.LENDER),
        )
    assert error_fields(info.value) == ["loans.all_loans"]
