"""The role x RPC matrix: every RPC of the API called as every role.

:data:`ALLOWED` is the expected matrix, written out by hand (not derived from
the table it checks). :func:`mismatches` prepares one record every reader role
but the operator may read (a lender's loan delegated to a collection agency,
which records a call, shared with a court and an arbitration body; the
operator reads only its records of registry changes), then calls each RPC as
each role through :class:`Callers` and returns every answer that is not the
expected one (OK for an allowed role, or the servicer's own answer where OK
cannot be had, e.g. NOT_FOUND from GetAnchor on a log nothing anchored;
PERMISSION_DENIED for the others).

:class:`Callers` gives the stubs and call metadata of a role: the same channel
with the development headers (``x-institution``, ``x-role``), or a channel of
its own per role (client certificates).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc

from evidence_gateway.v1 import access_service_pb2 as ac
from evidence_gateway.v1 import (
    access_service_pb2_grpc,
    admin_service_pb2_grpc,
    case_service_pb2_grpc,
    common_pb2,
    evidence_service_pb2_grpc,
    log_service_pb2_grpc,
    verification_service_pb2_grpc,
)
from evidence_gateway.v1 import admin_service_pb2 as ad
from evidence_gateway.v1 import case_service_pb2 as cs
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.authz.roles import Role
from tests.support.grpc_client import submission, timestamp

#: One institution of each role.
WHO: dict[Role, str] = {
    Role.LENDER: "bank-a",
    Role.COLLECTOR: "agency-1",
    Role.COURT: "court-1",
    Role.ARBITRATION: "arb-1",
    Role.REGULATOR: "reg-1",
    Role.ADMIN: "admin-1",
}
#: The operator (admin) reads its records of registry changes (loan_ref ":institutions").
READERS = {Role.LENDER, Role.COLLECTOR, Role.COURT, Role.ARBITRATION, Role.ADMIN}
WRITERS = {Role.LENDER, Role.COLLECTOR}
EVERYONE = set(Role)

#: The expected matrix: RPC (service/method) -> the roles that may call it.
ALLOWED: dict[str, set[Role]] = {
    "EvidenceService/SubmitEvidence": WRITERS,
    "EvidenceService/BatchSubmitEvidence": WRITERS,
    "EvidenceService/SubmitEvidenceStream": WRITERS,
    "EvidenceService/GetEvidence": READERS,
    "EvidenceService/FindEvidence": READERS,
    "EvidenceService/ListEvidence": READERS,
    "VerificationService/VerifyEvidence": READERS,
    "VerificationService/GetEvidenceBundle": READERS,
    "VerificationService/GetDossier": READERS,
    "LogService/GetCheckpoint": EVERYONE,
    "LogService/GetInclusionProof": EVERYONE,
    "LogService/GetConsistencyProof": EVERYONE,
    "LogService/GetEntries": EVERYONE,
    "LogService/GetTrustInfo": EVERYONE,
    "LogService/GetAnchor": EVERYONE,
    "LogService/ListCheckpoints": EVERYONE,
    "AccessService/DelegateLoans": {Role.LENDER},
    "AccessService/RevokeDelegation": {Role.LENDER},
    "AccessService/ShareLoan": {Role.LENDER},
    "AccessService/RevokeShare": {Role.LENDER},
    "AccessService/GetStatistics": {Role.REGULATOR},
}
#: The AdminService (served with the institutions registry, as by `gateway serve`): the
#: operator only. Each call names an institution that does not exist, or is incomplete,
#: so an allowed call gets the servicer's own answer (NOT_FOUND, INVALID_ARGUMENT, OK, or
#: FAILED_PRECONDITION for anchoring, which the matrix's servers do not run),
#: which only a call that passed the authorization table can get.
ADMIN_ALLOWED: dict[str, set[Role]] = {
    f"AdminService/{name}": {Role.ADMIN}
    for name in (
        "RegisterInstitution",
        "GetInstitution",
        "ListInstitutions",
        "SuspendInstitution",
        "ReinstateInstitution",
        "RevokeInstitution",
        "AddCertificate",
        "RevokeCertificate",
        "AnchorNow",
        "GetAnchoringStatus",
    )
}
#: The CaseService (served with the institutions registry, as AdminService): lenders file,
#: bodies accept or reject, parties update, read and watch. Each call names a case that
#: does not exist, or is incomplete, so an allowed call gets the servicer's own answer.
BODIES = {Role.COURT, Role.ARBITRATION}
CASE_ALLOWED: dict[str, set[Role]] = {
    "CaseService/FileCase": {Role.LENDER},
    "CaseService/AcceptCase": BODIES,
    "CaseService/RejectCase": BODIES,
    "CaseService/UpdateCaseStatus": {Role.LENDER, *BODIES},
    "CaseService/GetCase": {Role.LENDER, *BODIES},
    "CaseService/ListCases": {Role.LENDER, *BODIES},
    "CaseService/WatchCases": {Role.LENDER, *BODIES},
}
_CASE_ANSWER = {
    "CaseService/FileCase": grpc.StatusCode.INVALID_ARGUMENT,
    "CaseService/ListCases": grpc.StatusCode.OK,
    "CaseService/WatchCases": grpc.StatusCode.INVALID_ARGUMENT,
}
#: The answer of an allowed call that is not OK: the matrix's servers anchor nothing.
_ANSWER = {"LogService/GetAnchor": grpc.StatusCode.NOT_FOUND}
#: ... and of an allowed role whose scope does not cover the record asked for: the
#: operator reads no loan's records, so the agency's record, and the lender's loan, are
#: not found (as ones that do not exist; FindEvidence, ListEvidence and VerifyEvidence
#: answer OK, empty). A collection agency gets the loan's dossier: it lists its own
#: record of it (the lender's records withheld).
_ROLE_ANSWER = {
    ("EvidenceService/GetEvidence", Role.ADMIN): grpc.StatusCode.NOT_FOUND,
    ("VerificationService/GetEvidenceBundle", Role.ADMIN): grpc.StatusCode.NOT_FOUND,
    ("VerificationService/GetDossier", Role.ADMIN): grpc.StatusCode.NOT_FOUND,
}
_ADMIN_ANSWER = {
    "AdminService/RegisterInstitution": grpc.StatusCode.INVALID_ARGUMENT,
    "AdminService/ListInstitutions": grpc.StatusCode.OK,
    "AdminService/AddCertificate": grpc.StatusCode.INVALID_ARGUMENT,
    # The matrix's servers run no anchoring worker.
    "AdminService/AnchorNow": grpc.StatusCode.FAILED_PRECONDITION,
    "AdminService/GetAnchoringStatus": grpc.StatusCode.FAILED_PRECONDITION,
}


def dev_headers(role: Role, institution: str | None = None) -> tuple[tuple[str, str], ...]:
    """The development-mode headers of a caller."""
    return (("x-institution", institution or WHO[role]), ("x-role", role.value))


@dataclass
class Stubs:
    """What one caller calls with: the stubs of its channel and its call metadata."""

    evidence: evidence_service_pb2_grpc.EvidenceServiceStub
    log: log_service_pb2_grpc.LogServiceStub
    verification: verification_service_pb2_grpc.VerificationServiceStub
    access: access_service_pb2_grpc.AccessServiceStub
    admin: admin_service_pb2_grpc.AdminServiceStub
    cases: case_service_pb2_grpc.CaseServiceStub
    metadata: tuple[tuple[str, str], ...] | None = None

    @classmethod
    def of(cls, channel: grpc.Channel, metadata: Any = None) -> Stubs:
        return cls(
            evidence=evidence_service_pb2_grpc.EvidenceServiceStub(channel),
            log=log_service_pb2_grpc.LogServiceStub(channel),
            verification=verification_service_pb2_grpc.VerificationServiceStub(channel),
            access=access_service_pb2_grpc.AccessServiceStub(channel),
            admin=admin_service_pb2_grpc.AdminServiceStub(channel),  # type: ignore[no-untyped-call]
            cases=case_service_pb2_grpc.CaseServiceStub(channel),  # type: ignore[no-untyped-call]
            metadata=metadata,
        )


Callers = Callable[[Role], Stubs]


def _later(**delta: float) -> Any:
    return timestamp(datetime.now(UTC) + timedelta(**delta))


def _rid() -> str:
    return f"m-{time.monotonic_ns()}"


def _code(call: Callable[[], Any]) -> grpc.StatusCode:
    try:
        result = call()
        if isinstance(result, Iterator):
            list(result)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _calls(as_: Callers) -> dict[str, Callable[[Role], Any]]:
    """Each RPC with a request an allowed role gets OK for (after the preparation)."""
    lender = as_(Role.LENDER)
    md = lender.metadata
    lender.access.DelegateLoans(
        ac.DelegateLoansRequest(
            request_id=_rid(),
            collector=WHO[Role.COLLECTOR],
            loans=ac.LoanSelection(loan_refs=["L-M"]),
            expires_at=_later(days=30),
        ),
        metadata=md,
    )
    for grantee in (WHO[Role.COURT], WHO[Role.ARBITRATION]):
        lender.access.ShareLoan(
            ac.ShareLoanRequest(
                request_id=_rid(),
                grantee=grantee,
                loans=ac.LoanSelection(loan_refs=["L-M"]),
                expires_at=_later(days=30),
            ),
            metadata=md,
        )
    call_kind = common_pb2.EVIDENCE_KIND_COLLECTION_CALL
    data = f"a collection call recording {time.monotonic_ns()}".encode()
    agency = as_(Role.COLLECTOR)
    first = agency.evidence.SubmitEvidence(
        ev.SubmitEvidenceRequest(
            submission=submission("L-M", data=data, kind=call_kind, owner=WHO[Role.LENDER])
        ),
        metadata=agency.metadata,
    ).receipt
    digest = hashlib.sha256(data).digest()
    today = datetime.now(UTC).strftime("%Y-%m-%d")

    def fresh() -> common_pb2.EvidenceSubmission:
        return submission("L-M", kind=call_kind, owner=WHO[Role.LENDER])

    def s(role: Role) -> Stubs:
        return as_(role)

    return {
        "EvidenceService/SubmitEvidence": lambda r: s(r).evidence.SubmitEvidence(
            ev.SubmitEvidenceRequest(submission=fresh()), metadata=s(r).metadata
        ),
        "EvidenceService/BatchSubmitEvidence": lambda r: s(r).evidence.BatchSubmitEvidence(
            ev.BatchSubmitEvidenceRequest(submissions=[fresh()]), metadata=s(r).metadata
        ),
        "EvidenceService/SubmitEvidenceStream": lambda r: s(r).evidence.SubmitEvidenceStream(
            iter([ev.SubmitEvidenceStreamRequest(submission=fresh())]), metadata=s(r).metadata
        ),
        "EvidenceService/GetEvidence": lambda r: s(r).evidence.GetEvidence(
            ev.GetEvidenceRequest(entry_id=first.entry_id), metadata=s(r).metadata
        ),
        "EvidenceService/FindEvidence": lambda r: s(r).evidence.FindEvidence(
            ev.FindEvidenceRequest(hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256, digest=digest),
            metadata=s(r).metadata,
        ),
        "EvidenceService/ListEvidence": lambda r: s(r).evidence.ListEvidence(
            ev.ListEvidenceRequest(loan_ref="L-M", institution=WHO[Role.LENDER]),
            metadata=s(r).metadata,
        ),
        "VerificationService/VerifyEvidence": lambda r: s(r).verification.VerifyEvidence(
            vf.VerifyEvidenceRequest(entry_id=first.entry_id), metadata=s(r).metadata
        ),
        "VerificationService/GetEvidenceBundle": lambda r: s(r).verification.GetEvidenceBundle(
            vf.GetEvidenceBundleRequest(entry_id=first.entry_id), metadata=s(r).metadata
        ),
        "VerificationService/GetDossier": lambda r: s(r).verification.GetDossier(
            vf.GetDossierRequest(loan_ref="L-M", owner=WHO[Role.LENDER]),
            metadata=s(r).metadata,
        ),
        "LogService/ListCheckpoints": lambda r: s(r).log.ListCheckpoints(
            lg.ListCheckpointsRequest(page_size=2), metadata=s(r).metadata
        ),
        "LogService/GetCheckpoint": lambda r: s(r).log.GetCheckpoint(
            lg.GetCheckpointRequest(), metadata=s(r).metadata
        ),
        "LogService/GetInclusionProof": lambda r: s(r).log.GetInclusionProof(
            lg.GetInclusionProofRequest(leaf_index=0), metadata=s(r).metadata
        ),
        "LogService/GetConsistencyProof": lambda r: s(r).log.GetConsistencyProof(
            lg.GetConsistencyProofRequest(from_size=1), metadata=s(r).metadata
        ),
        "LogService/GetEntries": lambda r: s(r).log.GetEntries(
            lg.GetEntriesRequest(start=0, end=1), metadata=s(r).metadata
        ),
        "LogService/GetTrustInfo": lambda r: s(r).log.GetTrustInfo(
            lg.GetTrustInfoRequest(), metadata=s(r).metadata
        ),
        "LogService/GetAnchor": lambda r: s(r).log.GetAnchor(
            lg.GetAnchorRequest(tree_size=1), metadata=s(r).metadata
        ),
        "AccessService/DelegateLoans": lambda r: s(r).access.DelegateLoans(
            ac.DelegateLoansRequest(
                request_id=_rid(),
                collector=WHO[Role.COLLECTOR],
                loans=ac.LoanSelection(loan_refs=["L-X"]),
                expires_at=_later(days=1),
            ),
            metadata=s(r).metadata,
        ),
        "AccessService/RevokeDelegation": lambda r: s(r).access.RevokeDelegation(
            ac.RevokeDelegationRequest(
                request_id=_rid(),
                collector=WHO[Role.COLLECTOR],
                loans=ac.LoanSelection(loan_refs=["L-X"]),
            ),
            metadata=s(r).metadata,
        ),
        "AccessService/ShareLoan": lambda r: s(r).access.ShareLoan(
            ac.ShareLoanRequest(
                request_id=_rid(),
                grantee=WHO[Role.COURT],
                loans=ac.LoanSelection(loan_refs=["L-X"]),
                expires_at=_later(days=1),
            ),
            metadata=s(r).metadata,
        ),
        "AccessService/RevokeShare": lambda r: s(r).access.RevokeShare(
            ac.RevokeShareRequest(
                request_id=_rid(),
                grantee=WHO[Role.COURT],
                loans=ac.LoanSelection(loan_refs=["L-X"]),
            ),
            metadata=s(r).metadata,
        ),
        "AccessService/GetStatistics": lambda r: s(r).access.GetStatistics(
            ac.GetStatisticsRequest(from_day=today, to_day=today), metadata=s(r).metadata
        ),
    }


def _admin_calls() -> dict[str, Callable[[Stubs], Any]]:
    nobody = "nobody-at-all"
    return {
        "AdminService/RegisterInstitution": lambda s: s.admin.RegisterInstitution(
            ad.RegisterInstitutionRequest(), metadata=s.metadata
        ),
        "AdminService/GetInstitution": lambda s: s.admin.GetInstitution(
            ad.GetInstitutionRequest(name=nobody), metadata=s.metadata
        ),
        "AdminService/ListInstitutions": lambda s: s.admin.ListInstitutions(
            ad.ListInstitutionsRequest(), metadata=s.metadata
        ),
        "AdminService/SuspendInstitution": lambda s: s.admin.SuspendInstitution(
            ad.SuspendInstitutionRequest(name=nobody), metadata=s.metadata
        ),
        "AdminService/ReinstateInstitution": lambda s: s.admin.ReinstateInstitution(
            ad.ReinstateInstitutionRequest(name=nobody), metadata=s.metadata
        ),
        "AdminService/RevokeInstitution": lambda s: s.admin.RevokeInstitution(
            ad.RevokeInstitutionRequest(name=nobody), metadata=s.metadata
        ),
        "AdminService/AddCertificate": lambda s: s.admin.AddCertificate(
            ad.AddCertificateRequest(name=nobody), metadata=s.metadata
        ),
        "AdminService/RevokeCertificate": lambda s: s.admin.RevokeCertificate(
            ad.RevokeCertificateRequest(name=nobody, sha256=bytes(32)), metadata=s.metadata
        ),
        "AdminService/AnchorNow": lambda s: s.admin.AnchorNow(
            ad.AnchorNowRequest(), metadata=s.metadata
        ),
        "AdminService/GetAnchoringStatus": lambda s: s.admin.GetAnchoringStatus(
            ad.GetAnchoringStatusRequest(), metadata=s.metadata
        ),
    }


def _case_calls() -> dict[str, Callable[[Stubs], Any]]:
    nobody = "nonexistent-case"
    at = _later(minutes=-1)
    judgment = cs.CASE_EVENT_TYPE_JUDGMENT
    return {
        "CaseService/FileCase": lambda s: s.cases.FileCase(
            cs.FileCaseRequest(request_id=_rid()), metadata=s.metadata
        ),
        "CaseService/AcceptCase": lambda s: s.cases.AcceptCase(
            cs.AcceptCaseRequest(
                request_id=_rid(), case_id=nobody, case_number="1", occurred_at=at
            ),
            metadata=s.metadata,
        ),
        "CaseService/RejectCase": lambda s: s.cases.RejectCase(
            cs.RejectCaseRequest(
                request_id=_rid(),
                case_id=nobody,
                reason=cs.CASE_REASON_OTHER,
                occurred_at=at,
            ),
            metadata=s.metadata,
        ),
        "CaseService/UpdateCaseStatus": lambda s: s.cases.UpdateCaseStatus(
            cs.UpdateCaseStatusRequest(
                request_id=_rid(), case_id=nobody, event=judgment, occurred_at=at
            ),
            metadata=s.metadata,
        ),
        "CaseService/GetCase": lambda s: s.cases.GetCase(
            cs.GetCaseRequest(case_id=nobody), metadata=s.metadata
        ),
        "CaseService/ListCases": lambda s: s.cases.ListCases(
            cs.ListCasesRequest(), metadata=s.metadata
        ),
        "CaseService/WatchCases": lambda s: s.cases.WatchCases(
            cs.WatchCasesRequest(cursor="not-a-cursor"), metadata=s.metadata
        ),
    }


def mismatches(as_: Callers, *, admin: bool = False) -> list[str]:
    """Call every RPC as every role; each answer that is not the expected one, described.

    ``admin``: the server also serves the AdminService and the CaseService (it has the
    registry)."""
    calls = _calls(as_)
    assert set(calls) == set(ALLOWED)
    allowed = dict(ALLOWED)
    answers: dict[str, grpc.StatusCode] = dict(_ANSWER)
    if admin:
        admin_calls = _admin_calls()
        assert set(admin_calls) == set(ADMIN_ALLOWED)
        for rpc, admin_call in admin_calls.items():
            calls[rpc] = lambda role, admin_call=admin_call: admin_call(as_(role))  # type: ignore[misc]
        allowed.update(ADMIN_ALLOWED)
        answers.update(
            {rpc: _ADMIN_ANSWER.get(rpc, grpc.StatusCode.NOT_FOUND) for rpc in ADMIN_ALLOWED}
        )
        case_calls = _case_calls()
        assert set(case_calls) == set(CASE_ALLOWED)
        for rpc, case_call in case_calls.items():
            calls[rpc] = lambda role, case_call=case_call: case_call(as_(role))  # type: ignore[misc]
        allowed.update(CASE_ALLOWED)
        answers.update(
            {rpc: _CASE_ANSWER.get(rpc, grpc.StatusCode.NOT_FOUND) for rpc in CASE_ALLOWED}
        )
    wrong: list[str] = []
    for rpc, call in calls.items():
        for role in Role:
            expected = (
                _ROLE_ANSWER.get((rpc, role), answers.get(rpc, grpc.StatusCode.OK))
                if role in allowed[rpc]
                else grpc.StatusCode.PERMISSION_DENIED
            )
            got = _code(lambda call=call, role=role: call(role))  # type: ignore[misc]
            if got != expected:
                wrong.append(f"{rpc} as {role.value}: {got.name}, expected {expected.name}")
    return wrong
