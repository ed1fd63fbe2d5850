"""AccessService: delegations, shares and statistics (validate -> ledger -> response).

Only the roles the authorization table allows reach these methods (lenders
for grants, regulators for statistics); the grant is always of the caller's
own loans: the owner is the caller, never a field of the request.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from evidence_gateway.v1 import access_service_pb2 as pb
from evidence_gateway.v1 import access_service_pb2_grpc as pb_grpc
from gateway.access import MAX_GRANT_LOANS, MAX_STATISTICS_DAYS, GrantRequest
from gateway.api import convert
from gateway.api.caller import current_caller
from gateway.api.errors import rpc_errors
from gateway.api.ports import LedgerPort
from gateway.authz.policy import GRANTEE_ROLES
from gateway.authz.roles import Role
from gateway.errors import InvalidArgument
from gateway.model import (
    RESERVED_LOAN_REFS,
    EvidenceKind,
    personal_data_violations,
    validate_institution,
    validate_recorded_loan_ref,
    validate_request_id,
)

__all__ = ["AccessServicer"]

#: A statistics day as the API takes it: exactly YYYY-MM-DD in ASCII digits.
_DAY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

#: A grant may last at most this long (renew it to go on).
MAX_GRANT_DURATION = timedelta(days=3660)


#: At most this much of a bad value is echoed (the error map escapes it).
_ECHO_CHARS = 32


def _echo(text: str) -> str:
    """A bad value as an error echoes it: quoted, its first characters only (the error
    map, gateway.api.errors, escapes it and hides long runs of digits)."""
    cut = text[:_ECHO_CHARS] + ("..." if len(text) > _ECHO_CHARS else "")
    return f'"{cut}"'


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _loans(
    selection: pb.LoanSelection, *, all_allowed: bool, problems: list[tuple[str, str]]
) -> tuple[str, ...] | None:
    refs = list(selection.loan_refs)
    if selection.all_loans:
        if not all_allowed:
            problems.append(("loans.all_loans", "is not allowed here: name the loans"))
        elif refs:
            problems.append(("loans.loan_refs", "must be empty when all_loans is set"))
        return None
    if not 1 <= len(refs) <= MAX_GRANT_LOANS:
        problems.append(
            ("loans.loan_refs", f"must name 1 to {MAX_GRANT_LOANS:,} loans, got {len(refs):,}")
        )
    elif len(set(refs)) != len(refs):
        problems.append(("loans.loan_refs", "must not name a loan twice"))
    for n, ref in enumerate(refs[:MAX_GRANT_LOANS]):
        # Every rule the log's records follow (personal data included), so a refused
        # loan is named here and nothing of the call is recorded.
        bad = validate_recorded_loan_ref(ref, f"loans.loan_refs[{n}]")
        if not bad and ref in RESERVED_LOAN_REFS:
            bad = [(f"loans.loan_refs[{n}]", "is reserved for the gateway's own records")]
        problems += bad
        if len(problems) > 16:
            break
    return tuple(refs)


class AccessServicer(pb_grpc.AccessServiceServicer):
    """The gRPC face of grants and statistics."""

    def __init__(
        self,
        ledger: LedgerPort,
        clock: Callable[[], datetime] = _utcnow,
        *,
        role_of: Callable[[str], Role | None] | None = None,
    ) -> None:
        """``role_of``: the role of an active registered institution, ``None`` for any
        other name (the registry); a grant goes only to an institution of a role that may
        receive it (:data:`gateway.authz.policy.GRANTEE_ROLES`). Without it (no registry:
        tests of the ledger alone) grantees are not checked."""
        self._ledger = ledger
        self._clock = clock
        self._role_of = role_of

    async def _grant(
        self,
        kind: EvidenceKind,
        request: Any,
        grantee_field: str,
        *,
        all_allowed: bool,
        expiring: bool,
    ) -> list[Any]:
        caller = current_caller()
        now = self._clock()
        problems: list[tuple[str, str]] = []
        problems += validate_request_id(request.request_id)
        grantee = getattr(request, grantee_field)
        problems += validate_institution(grantee, grantee_field) or personal_data_violations(
            grantee_field, grantee
        )
        if not problems and grantee == caller.institution:
            problems.append((grantee_field, "must be another institution than the caller"))
        loans = _loans(request.loans, all_allowed=all_allowed, problems=problems)
        expires: datetime | None = None
        if expiring:
            if not request.HasField("expires_at"):
                problems.append(("expires_at", "is required (when the grant ends)"))
            else:
                expires = convert.datetime_from_proto(request.expires_at)
                if expires is None:
                    problems.append(
                        (
                            "expires_at",
                            "is out of the range of a google.protobuf.Timestamp "
                            "(0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z)",
                        )
                    )
                elif expires <= now:
                    problems.append(("expires_at", "must be in the future"))
                elif expires - now > MAX_GRANT_DURATION:
                    problems.append(("expires_at", "must be at most 10 years from now"))
        roles = GRANTEE_ROLES.get(kind)
        if not problems and roles is not None and self._role_of is not None:
            role = await asyncio.to_thread(self._role_of, grantee)
            if role not in roles:
                names = " or ".join(sorted(r.value for r in roles))
                problems.append(
                    (grantee_field, f"must name an active registered institution of role {names}")
                )
        if problems:
            raise InvalidArgument(problems)
        receipts = await self._ledger.record_grant(
            GrantRequest(
                kind=kind,
                owner=caller.institution,
                grantee=grantee,
                request_id=request.request_id,
                loan_refs=loans,
                expires_at=expires,
            ),
            now,
        )
        return [convert.receipt_to_proto(r) for r in receipts]

    @rpc_errors()
    async def DelegateLoans(
        self, request: pb.DelegateLoansRequest, context: Any
    ) -> pb.DelegateLoansResponse:
        receipts = await self._grant(
            EvidenceKind.LOAN_DELEGATED, request, "collector", all_allowed=True, expiring=True
        )
        return pb.DelegateLoansResponse(receipts=receipts)

    @rpc_errors()
    async def RevokeDelegation(
        self, request: pb.RevokeDelegationRequest, context: Any
    ) -> pb.RevokeDelegationResponse:
        receipts = await self._grant(
            EvidenceKind.DELEGATION_REVOKED, request, "collector", all_allowed=True, expiring=False
        )
        return pb.RevokeDelegationResponse(receipts=receipts)

    @rpc_errors()
    async def ShareLoan(self, request: pb.ShareLoanRequest, context: Any) -> pb.ShareLoanResponse:
        receipts = await self._grant(
            EvidenceKind.LOAN_SHARED, request, "grantee", all_allowed=False, expiring=True
        )
        return pb.ShareLoanResponse(receipts=receipts)

    @rpc_errors()
    async def RevokeShare(
        self, request: pb.RevokeShareRequest, context: Any
    ) -> pb.RevokeShareResponse:
        receipts = await self._grant(
            EvidenceKind.SHARE_REVOKED, request, "grantee", all_allowed=False, expiring=False
        )
        return pb.RevokeShareResponse(receipts=receipts)

    @rpc_errors()
    async def GetStatistics(
        self, request: pb.GetStatisticsRequest, context: Any
    ) -> pb.GetStatisticsResponse:
        problems: list[tuple[str, str]] = []
        days: list[datetime] = []
        for field in ("from_day", "to_day"):
            text = getattr(request, field)
            try:
                # strptime alone takes "2026-1-1" and non-ASCII digits: the form is checked first.
                if not _DAY.fullmatch(text):
                    raise ValueError(text)
                day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                problems.append((field, f"must be a UTC date as YYYY-MM-DD, got {_echo(text)}"))
                continue
            days.append(day)
        page_size, bad_size = convert.page_size_from_proto(request.page_size)
        problems += bad_size
        if len(days) == 2:
            first, last = days
            shown = f"{request.to_day} is"
            if last < first:
                problems.append(
                    ("to_day", f"must not be before from_day ({request.from_day}); {shown} before")
                )
            elif (last - first).days >= MAX_STATISTICS_DAYS:
                problems.append(
                    (
                        "to_day",
                        f"must be less than {MAX_STATISTICS_DAYS} days after from_day "
                        f"({request.from_day}); {shown} {(last - first).days} days after",
                    )
                )
        if problems:
            raise InvalidArgument(problems)
        counts, next_token = await asyncio.to_thread(
            self._ledger.statistics, days[0], days[1], page_size, request.page_token
        )
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        return pb.GetStatisticsResponse(
            next_page_token=next_token,
            counts=[
                pb.StatisticsCount(
                    day=(epoch + timedelta(days=c.day)).strftime("%Y-%m-%d"),
                    institution=c.institution,
                    kind=convert.kind_to_proto(EvidenceKind(c.kind)),  # type: ignore[arg-type]
                    count=c.count,
                )
                for c in counts
            ],
        )
