"""The cases' application service: each event checked, documented and registered as a record.

One serialized path per case: the case is loaded, the event checked by the pure
machine (:func:`gateway.cases.machine.apply_event`), its canonical document built
(:mod:`court.evidence.case_event`) and registered through the ledger as a record of
the case's loan (owner the lender, submitter the party that records it, digest the
SHA-256 of the document, ``occurred_at`` the document's time, metadata ``body`` and
``case_id``). The case's row and the event's row are written by the commit that
writes the record, in its transaction (:class:`gateway.store.cases.CaseTables`).
Events of one case are serialized by a lock per case (the gateway has one writer
process); filings of one loan with one body by a lock per (lender, loan, body), so
that a second open case of the same loan with the same body is refused.

Filing first shares the loan with the body (a ``LOAN_SHARED`` record through
:meth:`gateway.access.LedgerAccess.record_grant`, until ``share_expires_at``), then
registers the filing: the filing's checkpoint (its receipt's) then holds the share.

Idempotency: the record's request id is derived from the caller's
(:func:`case_request_id`): the same request again finds the record and returns the
original event; the same request id with other content is ALREADY_EXISTS.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeVar

from court.evidence.case_event import (
    CaseEventDocument,
    decode_case_event,
    document_digest,
    encode_case_event,
)
from court.evidence.case_terms import EVENT_KINDS, BodyKind, CaseEventType, CaseStatus, Money
from gateway.access import GrantRequest
from gateway.authz.roles import Caller, Role
from gateway.cases.machine import (
    BODY_ROLES,
    CaseState,
    EventRequest,
    NotAParty,
    apply_event,
    event_document,
    file_case,
    filing_document,
    side_of,
)
from gateway.errors import (
    AlreadyExists,
    FailedPrecondition,
    GatewayError,
    InvalidArgument,
    Unavailable,
)
from gateway.metrics import NO_OBSERVER, Observer
from gateway.model import (
    MAX_FUTURE_SKEW,
    EvidenceKind,
    ItemResult,
    Receipt,
    Submission,
    new_entry_id,
    validate_request_id,
)
from gateway.store.base import StoredEntry, StoreError
from gateway.store.cases import (
    CaseFilter,
    CaseTables,
    LoanRecordRow,
    PendingEvent,
    StoredCase,
    StoredCaseEvent,
)

__all__ = ["CaseLedger", "CaseService", "CaseView", "case_request_id"]

#: The loan's records GetCase lists after the filing.
SINCE_FILING_KINDS: Final = (EvidenceKind.REPAYMENT, EvidenceKind.SETTLEMENT_AGREEMENT)
MAX_SINCE_FILING: Final = 1000
_BODY_KINDS: Final = {role: kind for kind, role in BODY_ROLES.items()}
T = TypeVar("T")


class CaseLedger(Protocol):
    """What the service needs of the ledger."""

    @property
    def store(self) -> Any: ...

    async def submit(self, items: Sequence[Submission]) -> list[ItemResult]: ...

    async def record_grant(self, grant: GrantRequest, now: datetime) -> list[Receipt]: ...


def case_request_id(request_id: str, what: str = "case") -> str:
    """The idempotency key of a case call's record, derived from the caller's request_id
    (so that it never meets the caller's evidence submissions' keys)."""
    h = hashlib.sha256(f"{what}\0{request_id}".encode()).digest()
    return f"{what}-" + base64.b32encode(h[:20]).decode("ascii").lower()


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as GetCase shows it."""

    case: StoredCase
    events: list[StoredCaseEvent]
    records_since_filing: list[LoanRecordRow]
    settled_recorded_at: datetime | None


def _store_down(exc: StoreError) -> Unavailable:
    return Unavailable(f"the store is unavailable ({exc}); retry with the same request_id")


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Any, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class CaseService:
    """Files cases and records their events (see the module docstring)."""

    def __init__(
        self,
        ledger: CaseLedger,
        tables: CaseTables,
        *,
        role_of: Callable[[str], Role | None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._store = ledger.store
        self.tables = tables
        self._role_of = role_of
        self._clock = clock
        self._locks = _KeyedLocks()
        #: Told of each event recorded (the server's metrics, when on).
        self.observer: Observer = NO_OBSERVER

    # ------------------------------------------------------------ helpers

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except StoreError as exc:
            raise _store_down(exc) from exc

    async def _earlier(self, institution: str, rid: str) -> StoredCaseEvent | None:
        """The event an earlier call with this request id registered, if any."""
        found = await self._read(self._store.entries_by_requests, [(institution, rid)])
        entry: StoredEntry | None = found.get((institution, rid))
        if entry is None:
            return None
        event: StoredCaseEvent | None = await self._read(self.tables.event_at, entry.leaf_index)
        if event is None:  # pragma: no cover - the event's rows commit with its record
            raise Unavailable("the case event's record has no case rows; retry")
        return event

    async def _register(self, submission: Submission, pending: PendingEvent) -> Receipt:
        """Register the event's record; its rows are written by the same commit."""
        key = (submission.institution, submission.request_id)
        self.tables.expect(*key, pending)
        (result,) = await self._ledger.submit([submission])
        self.tables.forget(*key)  # the commit took it, or there was none
        if isinstance(result, AlreadyExists):  # a concurrent call with the same request_id
            raise AlreadyExists(
                "the request_id was already used for another case call; use a new request_id"
            )
        if isinstance(result, GatewayError):
            raise result
        return result

    @staticmethod
    def _submission(
        institution: str, rid: str, doc: CaseEventDocument, document: bytes
    ) -> Submission:
        return Submission(
            institution=institution,
            owner=doc.lender,
            request_id=rid,
            loan_ref=doc.loan_ref,
            kind=EvidenceKind(EVENT_KINDS[doc.event]),
            hash_algorithm="sha256",
            digest=document_digest(document),
            occurred_at=doc.occurred_at,
            metadata=(("body", doc.body), ("case_id", doc.case_id)),
        )

    async def _case_of_party(self, caller: Caller, case_id: str) -> StoredCase:
        case: StoredCase | None = await self._read(self.tables.get, case_id)
        if case is None or side_of(case.state, caller) is None:
            raise NotAParty(case_id)
        return case

    # ------------------------------------------------------------ filing

    async def file(
        self,
        caller: Caller,
        *,
        request_id: str,
        loan_ref: str,
        body: str,
        claim: Money | None,
        relied_on: tuple[str, ...],
        share_expires_at: datetime | None,
    ) -> StoredCase:
        """File a case (FileCase); the case in status FILED."""
        now = self._clock()
        problems = validate_request_id(request_id)
        if share_expires_at is None or share_expires_at <= now:
            problems.append(("share_expires_at", "is required and must be in the future"))
        role = self._role_of(body) if body else None
        kind = _BODY_KINDS.get(role) if role is not None else None
        try:
            state = file_case(
                caller,
                case_id=new_entry_id(),
                loan_ref=loan_ref,
                body=body,
                body_kind=kind or BodyKind.COURT,
                claim=claim,
                relied_on=relied_on,
            )
        except InvalidArgument as exc:
            problems += exc.violations
        if kind is None and not any(f == "body" for f, _ in problems):
            problems.append(("body", "is not a registered, active court or arbitration body"))
        if problems:
            raise InvalidArgument(problems)
        rid = case_request_id(request_id)
        assert share_expires_at is not None
        return await _to_the_end(
            self._file(caller, rid, request_id, state, share_expires_at, now, relied_on)
        )

    async def _file(
        self,
        caller: Caller,
        rid: str,
        request_id: str,
        state: CaseState,
        share_expires_at: datetime,
        now: datetime,
        relied_on: tuple[str, ...],
    ) -> StoredCase:
        loan_ref, body, claim = state.loan_ref, state.body, state.claim
        async with (
            self._locks.hold(("request", caller.institution, rid)),
            self._locks.hold(("file", caller.institution, loan_ref, body)),
        ):
            earlier = await self._earlier(caller.institution, rid)
            if earlier is not None:
                return await self._refiled(caller, earlier, loan_ref, body, claim, relied_on)
            found: dict[str, StoredEntry] = await self._read(self._store.get_entries, relied_on)
            bad = [
                (f"relied_on_entry_ids[{i}]", "is not a record of this loan")
                for i, entry_id in enumerate(relied_on)
                if (e := found.get(entry_id)) is None
                or (e.submission.owner, e.submission.loan_ref) != (caller.institution, loan_ref)
            ]
            if bad:
                raise InvalidArgument(bad)
            open_case = await self._read(self.tables.open_case, caller.institution, loan_ref, body)
            if open_case is not None:
                raise FailedPrecondition(
                    f"the loan already has case {open_case} with {body}, which is not in a "
                    "final status: record its next event, or settle or withdraw it first"
                )
            await self._ledger.record_grant(
                GrantRequest(
                    kind=EvidenceKind.LOAN_SHARED,
                    owner=caller.institution,
                    grantee=body,
                    request_id=case_request_id(request_id, "case-share"),
                    loan_refs=(loan_ref,),
                    expires_at=share_expires_at,
                ),
                now,
            )
            document = encode_case_event(filing_document(state, relied_on, now))
            doc = decode_case_event(document)
            await self._register(
                self._submission(caller.institution, rid, doc, document),
                PendingEvent(state, document, relied_on),
            )
            self.observer.case_event(doc.event.value)
        return await self._case_of_party(caller, state.case_id)

    async def _refiled(
        self,
        caller: Caller,
        earlier: StoredCaseEvent,
        loan_ref: str,
        body: str,
        claim: Money | None,
        relied_on: tuple[str, ...],
    ) -> StoredCase:
        doc = decode_case_event(earlier.document)
        if doc.event is not CaseEventType.FILED or (
            doc.loan_ref,
            doc.body,
            doc.claim,
            doc.relied_on,
        ) != (loan_ref, body, claim, relied_on):
            raise _reused()
        return await self._case_of_party(caller, earlier.case_id)

    # ------------------------------------------------------------ later events

    async def record(
        self,
        caller: Caller,
        *,
        case_id: str,
        request_id: str,
        request: EventRequest,
        occurred_at: datetime,
    ) -> tuple[StoredCaseEvent, tuple[str, ...]]:
        """Record one later event (AcceptCase, RejectCase, UpdateCaseStatus): the event
        and the warnings. The caller validated the arguments' shapes."""
        rid = case_request_id(request_id)
        return await _to_the_end(self._record(caller, case_id, rid, request, occurred_at))

    async def _record(
        self,
        caller: Caller,
        case_id: str,
        rid: str,
        request: EventRequest,
        occurred_at: datetime,
    ) -> tuple[StoredCaseEvent, tuple[str, ...]]:
        async with (
            self._locks.hold(("request", caller.institution, rid)),
            self._locks.hold(("case", case_id)),
        ):
            case = await self._case_of_party(caller, case_id)
            earlier = await self._earlier(caller.institution, rid)
            if earlier is not None:
                doc = decode_case_event(earlier.document)
                same = (
                    earlier.case_id == case_id
                    and doc.event is request.event
                    and doc.case_number == request.case_number
                    and doc.reason == request.reason
                    and doc.amount == request.amount
                    and doc.occurred_at == occurred_at
                )
                if not same:
                    raise _reused()
                return earlier, ()
            transition = apply_event(case.state, caller, request)
            filed = case.filed_at.replace(microsecond=0)
            if occurred_at < filed:
                at = filed.astimezone(UTC).isoformat().replace("+00:00", "Z")
                raise InvalidArgument(
                    [
                        (
                            "occurred_at",
                            f"must not be before the case's filing ({at}): send the time "
                            "of the event, not a date at midnight",
                        )
                    ]
                )
            if occurred_at - self._clock() > MAX_FUTURE_SKEW:
                raise InvalidArgument(
                    [("occurred_at", "must not be more than 5 minutes after the gateway's clock")]
                )
            after = transition.state
            document = encode_case_event(
                event_document(after, request, occurred_at, case.last_entry_id)
            )
            doc = decode_case_event(document)
            receipt = await self._register(
                self._submission(caller.institution, rid, doc, document),
                PendingEvent(after, document),
            )
            self.observer.case_event(doc.event.value)
            event = await self._read(self.tables.event_at, receipt.leaf_index)
            if event is None:  # pragma: no cover - written by the record's commit
                raise Unavailable("the case event was registered but its row is missing; retry")
            return event, transition.warnings

    # ------------------------------------------------------------ reads

    async def get(self, caller: Caller, case_id: str) -> CaseView:
        case = await self._case_of_party(caller, case_id)
        events: list[StoredCaseEvent] = await self._read(self.tables.events, case_id)
        since: list[LoanRecordRow] = await self._read(
            self.tables.loan_records_since,
            case.state.lender,
            case.state.loan_ref,
            case.filing_leaf_index,
            SINCE_FILING_KINDS,
            MAX_SINCE_FILING,
        )
        # Settled: the first settlement agreement after the filing, or the case's
        # SETTLED event (final, so its record's time is the case's last update).
        times = [r.received_at for r in since if r.kind is EvidenceKind.SETTLEMENT_AGREEMENT]
        if case.state.status is CaseStatus.SETTLED:
            times.append(case.updated_at)
        return CaseView(case, events, since, min(times) if times else None)

    async def filing_event(self, case: StoredCase) -> StoredCaseEvent:
        """The case's first event, its filing (one read, by its record's leaf index)."""
        event: StoredCaseEvent | None = await self._read(
            self.tables.event_at, case.filing_leaf_index
        )
        if event is None:  # pragma: no cover - the filing's rows commit with its record
            raise Unavailable("the case's filing has no event row; retry")
        return event

    async def list_cases(
        self, case_filter: CaseFilter, after_leaf: int, limit: int
    ) -> list[StoredCase]:
        found: list[StoredCase] = await self._read(
            self.tables.list_cases, case_filter, after_leaf, limit
        )
        return found


async def _to_the_end(work: Coroutine[Any, Any, T]) -> T:
    """Run a write to its end even if its caller is cancelled (a client's deadline or
    disconnect): its record may be in the ledger's pipeline already (``Ledger.submit``
    shields it), and the locks it holds must stay held until the record's fate is known,
    or the case's next event would be checked against the state before it."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return await asyncio.shield(task)


def _reused() -> AlreadyExists:
    return AlreadyExists(
        "the request_id was already used for a case call with other content; use a new "
        "request_id for a new call, or resend exactly the original request"
    )
