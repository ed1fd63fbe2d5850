"""Who may call what, and see which records: over real gRPC, on the real ledger.

The callers are development-mode identities (``x-institution`` and ``x-role``
headers, the resolver of ``--insecure-dev``); the interceptor, the table and
the object rules are those every resolver feeds.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from court.evidence.leaf import decode_leaf
from evidence_gateway.v1 import access_service_pb2 as ac
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.authz.roles import Role
from gateway.server import API_SERVICES
from tests.support.grpc_client import submission, timestamp
from tests.unit.gateway.api.conftest import Harness

#: One institution of each role.
WHO: dict[Role, str] = {
    Role.LENDER: "bank-a",
    Role.COLLECTOR: "agency-1",
    Role.COURT: "court-1",
    Role.ARBITRATION: "arb-1",
    Role.REGULATOR: "reg-1",
    Role.ADMIN: "admin-1",
}
READERS = {Role.LENDER, Role.COLLECTOR, Role.COURT, Role.ARBITRATION}
WRITERS = {Role.LENDER, Role.COLLECTOR}
EVERYONE = set(Role)

#: The expected matrix, written out by hand (not derived from the table it checks).
ALLOWED: dict[str, set[Role]] = {
    "EvidenceService/SubmitEvidence": WRITERS,
    "EvidenceService/BatchSubmitEvidence": WRITERS,
    "EvidenceService/SubmitEvidenceStream": WRITERS,
    "EvidenceService/GetEvidence": READERS,
    "EvidenceService/FindEvidence": READERS,
    "EvidenceService/ListEvidence": READERS,
    "VerificationService/VerifyEvidence": READERS,
    "LogService/GetCheckpoint": EVERYONE,
    "LogService/GetInclusionProof": EVERYONE,
    "LogService/GetConsistencyProof": EVERYONE,
    "LogService/GetEntries": EVERYONE,
    "LogService/GetTrustInfo": EVERYONE,
    "AccessService/DelegateLoans": {Role.LENDER},
    "AccessService/RevokeDelegation": {Role.LENDER},
    "AccessService/ShareLoan": {Role.LENDER},
    "AccessService/RevokeShare": {Role.LENDER},
    "AccessService/GetStatistics": {Role.REGULATOR},
}


def who(role: Role, institution: str | None = None) -> tuple[tuple[str, str], ...]:
    """The dev-mode headers of a caller."""
    return (("x-institution", institution or WHO[role]), ("x-role", role.value))


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


def code_of(call: Callable[[], Any]) -> grpc.StatusCode:
    try:
        result = call()
        if isinstance(result, Iterator):
            list(result)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


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
    h = harness
    # A record of bank-a's loan L-M written by agency-1, readable by every reader role.
    delegate(h, ["L-M"])
    for grantee in ("court-1", "arb-1"):
        share(h, ["L-M"], grantee)
    data = b"a collection call recording"
    call_kind = common_pb2.EVIDENCE_KIND_COLLECTION_CALL
    first = submit(h, submission("L-M", data=data, kind=call_kind, owner="bank-a"), Role.COLLECTOR)
    digest = hashlib.sha256(data).digest()
    today = datetime.now(UTC).strftime("%Y-%m-%d")

    def fresh() -> common_pb2.EvidenceSubmission:
        return submission("L-M", kind=call_kind, owner="bank-a")

    calls: dict[str, Callable[[Any], Any]] = {
        "EvidenceService/SubmitEvidence": lambda md: h.evidence.SubmitEvidence(
            ev.SubmitEvidenceRequest(submission=fresh()), metadata=md
        ),
        "EvidenceService/BatchSubmitEvidence": lambda md: h.evidence.BatchSubmitEvidence(
            ev.BatchSubmitEvidenceRequest(submissions=[fresh()]), metadata=md
        ),
        "EvidenceService/SubmitEvidenceStream": lambda md: h.evidence.SubmitEvidenceStream(
            iter([ev.SubmitEvidenceStreamRequest(submission=fresh())]), metadata=md
        ),
        "EvidenceService/GetEvidence": lambda md: h.evidence.GetEvidence(
            ev.GetEvidenceRequest(entry_id=first.entry_id), metadata=md
        ),
        "EvidenceService/FindEvidence": lambda md: h.evidence.FindEvidence(
            ev.FindEvidenceRequest(hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256, digest=digest),
            metadata=md,
        ),
        "EvidenceService/ListEvidence": lambda md: h.evidence.ListEvidence(
            ev.ListEvidenceRequest(loan_ref="L-M", institution="bank-a"), metadata=md
        ),
        "VerificationService/VerifyEvidence": lambda md: h.verification.VerifyEvidence(
            vf.VerifyEvidenceRequest(entry_id=first.entry_id), metadata=md
        ),
        "LogService/GetCheckpoint": lambda md: h.log.GetCheckpoint(
            lg.GetCheckpointRequest(), metadata=md
        ),
        "LogService/GetInclusionProof": lambda md: h.log.GetInclusionProof(
            lg.GetInclusionProofRequest(leaf_index=0), metadata=md
        ),
        "LogService/GetConsistencyProof": lambda md: h.log.GetConsistencyProof(
            lg.GetConsistencyProofRequest(from_size=1), metadata=md
        ),
        "LogService/GetEntries": lambda md: h.log.GetEntries(
            lg.GetEntriesRequest(start=0, end=1), metadata=md
        ),
        "LogService/GetTrustInfo": lambda md: h.log.GetTrustInfo(
            lg.GetTrustInfoRequest(), metadata=md
        ),
        "AccessService/DelegateLoans": lambda md: h.access.DelegateLoans(
            ac.DelegateLoansRequest(
                request_id=f"m-{time.monotonic_ns()}",
                collector="agency-9",
                loans=ac.LoanSelection(loan_refs=["L-X"]),
                expires_at=_later(days=1),
            ),
            metadata=md,
        ),
        "AccessService/RevokeDelegation": lambda md: h.access.RevokeDelegation(
            ac.RevokeDelegationRequest(
                request_id=f"m-{time.monotonic_ns()}",
                collector="agency-9",
                loans=ac.LoanSelection(loan_refs=["L-X"]),
            ),
            metadata=md,
        ),
        "AccessService/ShareLoan": lambda md: h.access.ShareLoan(
            ac.ShareLoanRequest(
                request_id=f"m-{time.monotonic_ns()}",
                grantee="court-9",
                loans=ac.LoanSelection(loan_refs=["L-X"]),
                expires_at=_later(days=1),
            ),
            metadata=md,
        ),
        "AccessService/RevokeShare": lambda md: h.access.RevokeShare(
            ac.RevokeShareRequest(
                request_id=f"m-{time.monotonic_ns()}",
                grantee="court-9",
                loans=ac.LoanSelection(loan_refs=["L-X"]),
            ),
            metadata=md,
        ),
        "AccessService/GetStatistics": lambda md: h.access.GetStatistics(
            ac.GetStatisticsRequest(from_day=today, to_day=today), metadata=md
        ),
    }
    assert set(calls) == set(ALLOWED)
    wrong: list[str] = []
    caplog.set_level(logging.WARNING, logger="gateway.api.authz")
    for rpc, call in calls.items():
        for role in Role:
            expected = (
                grpc.StatusCode.OK if role in ALLOWED[rpc] else grpc.StatusCode.PERMISSION_DENIED
            )
            got = code_of(lambda call=call, role=role: call(who(role)))  # type: ignore[misc]
            if got != expected:
                wrong.append(f"{rpc} as {role.value}: {got.name}, expected {expected.name}")
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
    assert "is not a role" in (info.value.details() or "")


def test_grants_are_records_of_the_loan_s_chain(harness: Harness) -> None:
    h = harness
    contract = submit(h, submission("L-1"), Role.LENDER)
    (granted,) = delegate(h, ["L-1"]).receipts
    (shared,) = share(h, ["L-1"]).receipts
    assert (granted.loan_sequence, shared.loan_sequence) == (2, 3)
    leaf = decode_leaf(granted.leaf)
    assert (leaf.kind, leaf.institution, leaf.loan_ref) == ("loan_delegated", "bank-a", "L-1")
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
    assert decode_leaf(every.leaf).loan_ref == ":all-loans"


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

    async def regulator(context: Any) -> Caller:
        return Caller("reg-1", Role.REGULATOR)

    h = start_harness(resolver=regulator)
    assert h.log.GetCheckpoint(lg.GetCheckpointRequest()).checkpoint.size == 0
    denied = pytest.raises(grpc.RpcError)
    with denied as info:
        h.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id="abc"))
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED

    def registry_down(context: Any) -> Caller:
        raise Unavailable("the institutions registry is unavailable; retry later")

    down = start_harness(resolver=registry_down)
    with pytest.raises(grpc.RpcError) as info:
        down.log.GetCheckpoint(lg.GetCheckpointRequest())
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    assert info.value.details() == "the institutions registry is unavailable; retry later"
