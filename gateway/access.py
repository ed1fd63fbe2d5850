"""Grants as evidence: delegations and shares recorded in the log, then put in force.

A lender's grant (a delegation of loans to a collection agency, a share of
loans with a court or arbitration body) and its revocation are records of
the log like any evidence, one per loan, in that loan's hash chain (a grant of
all of a lender's loans under the reserved loan_ref
:data:`~gateway.model.ALL_LOANS`), so a court can later see when a loan was
delegated or shared. Each record's digest is the SHA-256 of the grant's
document (:func:`grant_document`), which anyone can rebuild from the leaf:
its kind, owner, loan_ref and the metadata ``grantee`` and ``expires_at``.

Order: every rule of every record of the call is checked, and the call's
earlier records and whole request (kind, grantee, loans, expiry: its
fingerprint, kept under the caller's request_id) compared, before anything is
registered, so a refused call (INVALID_ARGUMENT, ALREADY_EXISTS) records
nothing. Then the records are registered (durable, with receipts), then the
grant tables are changed. If either step fails for a passing cause (store or
TSA down: UNAVAILABLE) the lender retries with the same request_id: the
records registered are found again (idempotency), the others registered and
the tables changed then. So a grant is never in force without its record.
And the log's order decides what is in force, whatever order the table
changes come in: a revocation ends only grants recorded before it, and a
grant the log revokes later is never put in force (see
:meth:`gateway.store.base.Store.add_grants`).

:class:`LedgerAccess` is mixed into :class:`gateway.ledger.Ledger`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from court.evidence.registry import change_document
from gateway.authz.policy import Delegation
from gateway.errors import (
    AlreadyExists,
    FailedPrecondition,
    GatewayError,
    InvalidArgument,
    Unavailable,
)
from gateway.model import (
    ALL_LOANS,
    INSTITUTIONS_LOAN,
    EvidenceKind,
    ItemResult,
    Receipt,
    Submission,
    validate_institution,
    validate_submission,
)
from gateway.store.base import DayCount, Store, StoredGrant, StoreError

__all__ = [
    "MAX_GRANT_LOANS",
    "MAX_STATISTICS_DAYS",
    "GrantRequest",
    "LedgerAccess",
    "change_document",
    "grant_document",
]

MAX_GRANT_LOANS: Final = 1000
MAX_STATISTICS_DAYS: Final = 366
_EPOCH_DAY: Final = datetime(1970, 1, 1, tzinfo=UTC)
_KIND_VALUES: Final = frozenset(k.value for k in EvidenceKind)

#: Grant kind -> (table, whether it grants (True) or revokes).
_KINDS: Final = {
    EvidenceKind.LOAN_DELEGATED: ("delegations", True),
    EvidenceKind.DELEGATION_REVOKED: ("delegations", False),
    EvidenceKind.LOAN_SHARED: ("shares", True),
    EvidenceKind.SHARE_REVOKED: ("shares", False),
}


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """One grant or revocation call: ``loan_refs`` None means all the owner's loans."""

    kind: EvidenceKind
    owner: str
    grantee: str
    request_id: str
    loan_refs: tuple[str, ...] | None
    expires_at: datetime | None  # None for a revocation


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def grant_document(
    kind: EvidenceKind, owner: str, grantee: str, loan_ref: str, expires_at: str
) -> bytes:
    """The document a grant record's digest is the SHA-256 of (rebuilt from the leaf)."""
    return (
        "evidence-gateway grant v1\n"
        f"kind={kind.value}\nowner={owner}\ngrantee={grantee}\n"
        f"loan_ref={loan_ref}\nexpires_at={expires_at}\n"
    ).encode()


#: A statistics page token holds at most this much (the key of a count and the query).
_MAX_STATISTICS_TOKEN: Final = 512


def _statistics_token(query: str, key: tuple[int, str, str]) -> str:
    """The opaque token of the page after the count ``key`` of ``query``."""
    raw = "\n".join(("s1", query, str(key[0]), key[1], key[2])).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _statistics_position(token: str, query: str) -> tuple[int, str, str] | None:
    """The count key a ``page_token`` of ``query`` continues after (``None``: none)."""
    if not token:
        return None
    bad = InvalidArgument(
        [("page_token", "is not a next_page_token of this same query; start from an empty one")]
    )
    if len(token) > _MAX_STATISTICS_TOKEN:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (ValueError, TypeError):
        raise bad from None
    parts = raw.split("\n")
    if len(parts) != 5 or parts[:2] != ["s1", query] or not re.fullmatch(r"-?[0-9]{1,7}", parts[2]):
        raise bad
    institution, kind = parts[3], parts[4]
    if validate_institution(institution) or kind not in _KIND_VALUES:
        raise bad
    return int(parts[2]), institution, kind


@dataclass(frozen=True, slots=True)
class _Record:
    """One record the gateway registers itself."""

    request_id: str
    loan_ref: str
    kind: EvidenceKind
    document: bytes
    metadata: tuple[tuple[str, str], ...]
    field: str  # the request field its loan_ref came from


@dataclass(frozen=True, slots=True)
class _Call:
    """The call a set of records is registered for: the caller's ``request_id``, the
    request field other violations are reported on, what the call does (for the
    message of a conflict), and the fingerprint of the whole request (a grant's)."""

    request_id: str
    field: str
    what: str
    fingerprint: bytes | None

    def conflict(self) -> AlreadyExists:
        return AlreadyExists(
            f"request_id {self.request_id!r} was already used for {self.what} with other "
            "content; use a new request_id for a new call, or resend exactly the original "
            "request to get its receipts"
        )


def _fingerprint(grant: GrantRequest, expires: str) -> bytes:
    """The SHA-256 of what a grant call asks for: its kind, grantee, set of loans (or all
    loans) and expiry (the owner and request_id are its key)."""
    loans = "*" if grant.loan_refs is None else "\0".join(sorted(grant.loan_refs))
    text = f"grant request v1\0{grant.kind.value}\0{grant.grantee}\0{expires}\0{loans}"
    return hashlib.sha256(text.encode()).digest()


def _request_id(kind: EvidenceKind, request_id: str, loan_ref: str) -> str:
    """The idempotency key of one loan's record of a grant call (distinct per loan)."""
    h = hashlib.sha256(f"{kind.value}\0{request_id}\0{loan_ref}".encode()).digest()
    return "grant-" + base64.b32encode(h[:20]).decode("ascii").lower()


def _store_down(exc: StoreError) -> Unavailable:
    return Unavailable(f"the store is unavailable ({exc}); retry with the same request_id")


class LedgerAccess:
    """Grants and statistics on the ledger's store (mixed into Ledger)."""

    _store: Store
    _min_occurred_at: datetime

    async def submit(self, items: Sequence[Submission]) -> list[ItemResult]:
        raise NotImplementedError  # pragma: no cover - Ledger's

    def delegations_in_force(
        self, collector: str, owner: str, loan_refs: Sequence[str], at: datetime
    ) -> list[Delegation]:
        """The delegations from ``owner`` to ``collector`` in force at ``at`` for these loans."""
        try:
            return self._store.delegations(collector, owner, loan_refs, at)
        except StoreError as exc:
            raise _store_down(exc) from exc

    async def _register(
        self, institution: str, specs: list[_Record], now: datetime, call: _Call
    ) -> list[Receipt]:
        """Register the gateway's own records of ``institution`` (its own loans), all or
        none: every rule is checked for every record, and every earlier record of the
        call compared, before any is registered. A retried call (same request ids, same
        content) gets the original receipts; a violation is reported on the record's
        ``field`` (its loan) or, for any other field, on ``call.field``."""
        keys = [(institution, spec.request_id) for spec in specs]
        try:
            earlier = await asyncio.to_thread(self._store.entries_by_requests, keys)
        except StoreError as exc:
            raise _store_down(exc) from exc
        items = []
        for spec, key in zip(specs, keys, strict=True):
            old = earlier.get(key)
            items.append(
                Submission(
                    institution=institution,
                    owner=institution,
                    request_id=spec.request_id,
                    loan_ref=spec.loan_ref,
                    kind=spec.kind,
                    hash_algorithm="sha256",
                    digest=hashlib.sha256(spec.document).digest(),
                    # A retried call finds its records: same content, same time.
                    occurred_at=old.submission.occurred_at if old is not None else now,
                    metadata=spec.metadata,
                )
            )
        # 1. Every rule of every record: one refused refuses the call, nothing recorded.
        checked = datetime.now(UTC)
        problems = [
            (spec.field if path == "loan_ref" else call.field, description)
            for spec, item in zip(specs, items, strict=True)
            for path, description in validate_submission(item, checked, self._min_occurred_at)
        ]
        if problems:
            raise InvalidArgument(problems)
        # 2. An earlier record of this request_id with other content: the whole call is.
        if any(
            (old := earlier.get(key)) is not None and old.submission != item
            for key, item in zip(keys, items, strict=True)
        ):
            raise call.conflict()
        # 3. The whole request under its request_id (its loans may differ from the
        #    earlier call's while each record of this one is new, or is one of those).
        if call.fingerprint is not None:
            try:
                kept = await asyncio.to_thread(
                    self._store.claim_grant_request, institution, call.request_id, call.fingerprint
                )
            except StoreError as exc:
                raise _store_down(exc) from exc
            if kept != call.fingerprint:
                raise call.conflict()
        receipts: list[Receipt] = []
        for result in await self.submit(items):
            if isinstance(result, InvalidArgument):
                raise InvalidArgument(
                    [(call.field, description) for _, description in result.violations]
                )
            if isinstance(result, AlreadyExists):  # a concurrent call with other content
                raise call.conflict()
            if isinstance(result, GatewayError):
                raise result
            receipts.append(result)
        return receipts

    async def record_grant(self, grant: GrantRequest, now: datetime) -> list[Receipt]:
        """Register one record per loan of ``grant``, then put it in (or out of) force.

        Raises InvalidArgument, AlreadyExists (request_id reused with other
        content: another kind, grantee, set of loans or expiry), FailedPrecondition
        (named loans revoked from an agency that holds a delegation of all loans) or
        Unavailable; receipts in the order of the loans.
        """
        table, grants = _KINDS[grant.kind]
        # Revoking named loans would leave a delegation of all loans in force: the
        # loan's chain would say "revoked" while the agency went on writing it.
        if (
            grant.kind is EvidenceKind.DELEGATION_REVOKED
            and grant.loan_refs is not None
            and any(
                d.loan_ref is None
                for d in await asyncio.to_thread(
                    self.delegations_in_force, grant.grantee, grant.owner, (), now
                )
            )
        ):
            raise FailedPrecondition(
                f"{grant.grantee} holds a delegation of all your loans, which a revocation "
                "of named loans would leave in force: revoke it with all_loans, then "
                "delegate by name the loans it should keep"
            )
        loans = [ALL_LOANS] if grant.loan_refs is None else list(grant.loan_refs)
        expires = _iso(grant.expires_at) if grant.expires_at is not None else ""
        metadata = (("expires_at", expires),) if expires else ()
        specs = [
            _Record(
                request_id=_request_id(grant.kind, grant.request_id, loan),
                loan_ref=loan,
                kind=grant.kind,
                document=grant_document(grant.kind, grant.owner, grant.grantee, loan, expires),
                metadata=(*metadata, ("grantee", grant.grantee)),
                field="loans.all_loans" if grant.loan_refs is None else f"loans.loan_refs[{n}]",
            )
            for n, loan in enumerate(loans)
        ]
        call = _Call(grant.request_id, "loans", "a grant", _fingerprint(grant, expires))
        receipts = await self._register(grant.owner, specs, now, call)
        try:
            if grants:
                assert grant.expires_at is not None
                await asyncio.to_thread(
                    self._store.add_grants,
                    table,
                    [
                        StoredGrant(
                            r.entry_id,
                            r.leaf_index,
                            grant.owner,
                            grant.grantee,
                            loan,
                            grant.expires_at,
                        )
                        for r, loan in zip(receipts, loans, strict=True)
                    ],
                )
            else:
                await asyncio.to_thread(
                    self._store.revoke_grants,
                    table,
                    grant.owner,
                    grant.grantee,
                    [(loan, r.leaf_index) for r, loan in zip(receipts, loans, strict=True)],
                    now,
                )
        except StoreError as exc:
            raise _store_down(exc) from exc
        return receipts

    async def record_institution_change(
        self, operator: str, institution: str, change: str, request_id: str, now: datetime
    ) -> Receipt:
        """Register an operator's change to an institution (``change``: e.g. "register",
        "suspend", "revoke", "rotate") as a record of kind ``institution_changed`` under
        the loan_ref :data:`~gateway.model.INSTITUTIONS_LOAN` of ``operator``.

        Its digest is the SHA-256 of :func:`change_document`; ``request_id`` makes a
        retried change return the original receipt.
        """
        kind = EvidenceKind.INSTITUTION_CHANGED
        spec = _Record(
            request_id=_request_id(kind, request_id, institution),
            loan_ref=INSTITUTIONS_LOAN,
            kind=kind,
            document=change_document(institution, change),
            metadata=(("change", change), ("institution", institution)),
            field="institution",
        )
        call = _Call(request_id, "institution", "a change of an institution", None)
        (receipt,) = await self._register(operator, [spec], now, call)
        return receipt

    def statistics(
        self, first: datetime, last: datetime, page_size: int, page_token: str
    ) -> tuple[list[DayCount], str]:
        """At most ``page_size`` counts of UTC days ``first`` to ``last`` (dates at
        midnight UTC, at most 366 days), from ``page_token`` on; and the next page's
        token (empty after the last). InvalidArgument names ``page_token`` for a token
        this query did not give out."""
        first_day = (first - _EPOCH_DAY) // timedelta(days=1)
        last_day = (last - _EPOCH_DAY) // timedelta(days=1)
        query = f"{first_day}:{last_day}"
        after = _statistics_position(page_token, query)
        try:
            counts = self._store.day_counts(first_day, last_day, after, page_size + 1)
        except StoreError as exc:
            raise _store_down(exc) from exc
        if len(counts) <= page_size:
            return counts, ""
        last_row = counts[page_size - 1]
        return counts[:page_size], _statistics_token(
            query, (last_row.day, last_row.institution, last_row.kind)
        )
