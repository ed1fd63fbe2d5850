"""The one authorization table: RPC x role -> allowed, and the object rule that applies.

:data:`POLICY` maps each RPC's full gRPC method name to the roles that may
call it, each with the :class:`Rule` that then decides which objects (loans,
records) the call may touch. A role not listed for an RPC, and an RPC not in
the table, is denied (PERMISSION_DENIED): the table is the whole truth, and
a test checks that it names every RPC the server serves.

The object rules themselves are here too, as pure functions of the caller
and the grants in force: :func:`read_scope` (which records a read may see;
the store turns it into a condition of the query, so paging stays right)
and :func:`submit_denial` (whether a submission may be written). What the
issue calls "no probing" follows from the scope: a record outside it is not
found, exactly as a record that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from gateway.authz.roles import Caller, Role
from gateway.model import GATEWAY_KINDS, EvidenceKind

__all__ = [
    "COLLECTION_KINDS",
    "GRANTEE_ROLES",
    "POLICY",
    "Decision",
    "Delegation",
    "ReadScope",
    "Rule",
    "ScopeKind",
    "decide",
    "read_scope",
    "submit_denial",
]


class Rule(StrEnum):
    """The object rule an allowed call is held to."""

    #: Records of the caller's own loans (the caller is the owning lender).
    SUBMIT_OWN = "submit_own"
    #: Collection records for loans a lender delegated to the caller, until the expiry.
    SUBMIT_DELEGATED = "submit_delegated"
    #: Reads see the records :func:`read_scope` gives the caller.
    READ_SCOPED = "read_scoped"
    #: The log's public material (checkpoints, proofs, leaves, trust material).
    PUBLIC_LOG = "public_log"
    #: Grants (delegations, shares) on the caller's own loans only.
    GRANT_OWN = "grant_own"
    #: Counts per institution, kind and day; no loan references.
    STATISTICS = "statistics"
    #: The institutions registry (the operator).
    ADMINISTER = "administer"


_EVIDENCE = "/evidence_gateway.v1.EvidenceService/"
_LOG = "/evidence_gateway.v1.LogService/"
_VERIFICATION = "/evidence_gateway.v1.VerificationService/"
_ACCESS = "/evidence_gateway.v1.AccessService/"
_ADMIN = "/evidence_gateway.v1.AdminService/"

_SUBMIT: Final = {Role.LENDER: Rule.SUBMIT_OWN, Role.COLLECTOR: Rule.SUBMIT_DELEGATED}
_READ: Final = {
    role: Rule.READ_SCOPED
    for role in (Role.LENDER, Role.COLLECTOR, Role.COURT, Role.ARBITRATION, Role.ADMIN)
}
_PUBLIC: Final = {role: Rule.PUBLIC_LOG for role in Role}
_GRANT: Final = {Role.LENDER: Rule.GRANT_OWN}
_ADMINISTER: Final = {Role.ADMIN: Rule.ADMINISTER}

#: Full gRPC method name -> role -> the rule a call of that role is held to.
POLICY: Final[Mapping[str, Mapping[Role, Rule]]] = {
    _EVIDENCE + "SubmitEvidence": _SUBMIT,
    _EVIDENCE + "BatchSubmitEvidence": _SUBMIT,
    _EVIDENCE + "SubmitEvidenceStream": _SUBMIT,
    _EVIDENCE + "GetEvidence": _READ,
    _EVIDENCE + "FindEvidence": _READ,
    _EVIDENCE + "ListEvidence": _READ,
    _VERIFICATION + "VerifyEvidence": _READ,
    # A bundle: a record GetEvidence would return; a dossier: a loan ListEvidence lists.
    _VERIFICATION + "GetEvidenceBundle": _READ,
    _VERIFICATION + "GetDossier": _READ,
    _LOG + "GetCheckpoint": _PUBLIC,
    _LOG + "GetInclusionProof": _PUBLIC,
    _LOG + "GetConsistencyProof": _PUBLIC,
    _LOG + "GetEntries": _PUBLIC,
    _LOG + "GetTrustInfo": _PUBLIC,
    _LOG + "GetAnchor": _PUBLIC,
    _LOG + "ListCheckpoints": _PUBLIC,
    _ACCESS + "DelegateLoans": _GRANT,
    _ACCESS + "RevokeDelegation": _GRANT,
    _ACCESS + "ShareLoan": _GRANT,
    _ACCESS + "RevokeShare": _GRANT,
    _ACCESS + "GetStatistics": {Role.REGULATOR: Rule.STATISTICS},
    **{
        _ADMIN + name: _ADMINISTER
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
    },
}


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a role may call an RPC; the rule if so, else why not (for the log)."""

    allowed: bool
    rule: Rule | None
    reason: str


def decide(method: str, role: Role) -> Decision:
    """What the table says of ``role`` calling the RPC ``method`` (full method name)."""
    rules = POLICY.get(method)
    if rules is None:
        return Decision(False, None, "the RPC has no entry in the authorization table")
    rule = rules.get(role)
    if rule is None:
        allowed = ", ".join(sorted(r.value for r in rules)) or "no role"
        return Decision(False, None, f"role {role.value} may not call it (only {allowed})")
    return Decision(True, rule, "")


# ----------------------------------------------------------------- reads


class ScopeKind(StrEnum):
    """Which records a reader sees."""

    OWNER = "owner"  # records of the loans it owns (lender)
    SUBMITTER = "submitter"  # records it submitted itself (collector)
    SHARED = "shared"  # records of loans shared with it, while the share lasts (court)
    #: the operator's records of registry changes (loan_ref ``:institutions``), no loan's (admin)
    OPERATOR_RECORDS = "operator_records"
    NOTHING = "nothing"  # no record (regulator)


@dataclass(frozen=True, slots=True)
class ReadScope:
    """The visibility a record query takes: ``kind`` of ``institution`` at time ``at``."""

    kind: ScopeKind
    institution: str
    at: datetime


def read_scope(caller: Caller, now: datetime) -> ReadScope:
    """The records ``caller`` may read at ``now``."""
    kind = {
        Role.LENDER: ScopeKind.OWNER,
        Role.COLLECTOR: ScopeKind.SUBMITTER,
        Role.COURT: ScopeKind.SHARED,
        Role.ARBITRATION: ScopeKind.SHARED,
        Role.ADMIN: ScopeKind.OPERATOR_RECORDS,
    }.get(caller.role, ScopeKind.NOTHING)
    return ReadScope(kind, caller.institution, now)


# ----------------------------------------------------------------- writes

#: What a collection agency may record for a delegated loan.
COLLECTION_KINDS: Final = frozenset(
    {
        EvidenceKind.OVERDUE_NOTICE,
        EvidenceKind.COLLECTION_CALL,
        EvidenceKind.COLLECTION_VISIT,
        EvidenceKind.COLLECTION_MESSAGE,
        EvidenceKind.SETTLEMENT_AGREEMENT,
    }
)


@dataclass(frozen=True, slots=True)
class Delegation:
    """A lender's delegation to a collector: one loan, or all (``loan_ref`` None)."""

    owner: str
    collector: str
    loan_ref: str | None
    expires_at: datetime

    def covers(self, owner: str, loan_ref: str, now: datetime) -> bool:
        return (
            self.owner == owner
            and (self.loan_ref is None or self.loan_ref == loan_ref)
            and now < self.expires_at
        )


def submit_denial(
    caller: Caller,
    owner: str,
    loan_ref: str,
    kind: EvidenceKind,
    delegations: Iterable[Delegation],
    now: datetime,
) -> str | None:
    """Why ``caller`` may not record ``kind`` for the loan ``(owner, loan_ref)``; None if it may.

    A lender records anything but the gateway's own kinds for its own loans.
    A collector records collection kinds for a loan whose owner delegated
    it (by name or with all its loans) to the collector, until the
    delegation expires; ``delegations`` are those not revoked. The reason
    names only what the caller sent and its own grants.
    """
    if kind in GATEWAY_KINDS:
        return f"kind {kind.value} is recorded by the gateway itself, never submitted"
    if caller.role is Role.LENDER:
        if owner != caller.institution:
            return "a lender records evidence of its own loans only (owner must be empty or itself)"
        return None
    if caller.role is Role.COLLECTOR:
        if owner == caller.institution:
            return (
                "a collection agency records evidence for a lender's loan: set owner to the"
                " institution id of the lender that delegated the loan"
            )
        if kind not in COLLECTION_KINDS:
            allowed = ", ".join(sorted(k.value for k in COLLECTION_KINDS))
            return (
                f"a collection agency records collection kinds only ({allowed}), not {kind.value}"
            )
        if not any(
            d.collector == caller.institution and d.covers(owner, loan_ref, now)
            for d in delegations
        ):
            return f"no delegation in force from {owner} covers this loan for {caller.institution}"
        return None
    return f"role {caller.role.value} records no evidence"


#: Who may receive a grant: a delegation goes to a collection agency, a share to a
#: court or an arbitration body (an active institution of that role in the registry).
GRANTEE_ROLES: Final[Mapping[EvidenceKind, frozenset[Role]]] = {
    EvidenceKind.LOAN_DELEGATED: frozenset({Role.COLLECTOR}),
    EvidenceKind.LOAN_SHARED: frozenset({Role.COURT, Role.ARBITRATION}),
}
