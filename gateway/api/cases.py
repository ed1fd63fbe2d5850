"""CaseService: filing, acceptance and enforcement status (validate -> service -> response).

Only lenders, courts and arbitration bodies reach these methods (the
authorization table; only a lender files). A case is answered to its two
parties only; to anyone else exactly as a case that does not exist (NOT_FOUND).
The rules are the machine's (:mod:`gateway.cases.machine`), the writes and
reads the service's (:mod:`gateway.cases.service`), the stream's
:mod:`gateway.cases.watch`; errors go through the one map of
:mod:`gateway.api.errors`. WatchCases writes its messages itself, through an
:class:`~gateway.api.stream_writer.AnswerWriter`, so that a client that does
not read cannot hold its stream (a call slot, a subscription) for ever.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, Iterable, Sequence
from typing import Any, Final

from court.evidence.case_terms import CaseEventType, CaseStatus
from evidence_gateway.v1 import case_service_pb2 as pb
from evidence_gateway.v1 import case_service_pb2_grpc as pb_grpc
from gateway.api import case_convert as cc
from gateway.api import convert
from gateway.api.caller import current_caller
from gateway.api.errors import abort_unread, rpc_errors
from gateway.api.evidence import DEFAULT_STREAM_STALLED_WRITE_SECONDS
from gateway.api.observe import mark_denied
from gateway.api.stream_writer import write_all
from gateway.authz.roles import Caller, Role
from gateway.cases.machine import UPDATE_EVENTS, EventRequest
from gateway.cases.notifier import Notifier
from gateway.cases.service import CaseService
from gateway.cases.watch import (
    DEFAULT_HEARTBEAT_SECONDS,
    Message,
    SlowReader,
    parse_cursor,
    watch_events,
)
from gateway.errors import InvalidArgument, NotFound, ResourceExhausted
from gateway.metrics import Observer
from gateway.model import (
    EvidenceRecord,
    validate_entry_id,
    validate_institution,
    validate_loan_ref,
    validate_request_id,
)
from gateway.store.base import StoreError
from gateway.store.cases import CaseFilter, CaseTables, StoredCase, StoredCaseEvent

__all__ = ["CaseServicer"]

_EVENT_CACHE: Final = 4096


class CaseServicer(pb_grpc.CaseServiceServicer):
    """The gRPC face of judicial cases."""

    def __init__(
        self,
        service: CaseService,
        ledger: Any,
        notifier: Notifier,
        *,
        heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
        stalled_write_seconds: float = DEFAULT_STREAM_STALLED_WRITE_SECONDS,
    ) -> None:
        """``stalled_write_seconds``: how long a WatchCases message may wait to be
        written before its stream ends (``[stream] stalled_write_seconds``)."""
        self._service = service
        self._ledger = ledger
        self._notifier = notifier
        self._heartbeat = heartbeat_seconds
        self._stalled_write = stalled_write_seconds
        # One CaseEvent message per event, shared by the streams that deliver it; read
        # and filled from the event loop and from worker threads, under the lock (held
        # for the dictionary's operations only, never while a message is built).
        self._events: OrderedDict[str, pb.CaseEvent] = OrderedDict()
        self._events_lock = threading.Lock()

    def observe(self, observer: Observer) -> None:
        """Report the events recorded and the streams ended as too slow to ``observer``."""
        self._service.observer = observer
        self._notifier.observer = observer

    def open_streams(self) -> int:
        """The WatchCases streams open (any thread: the metrics' scrape)."""
        return self._notifier.subscriptions

    def drain(self) -> None:
        """The gateway stops: every WatchCases stream ends with UNAVAILABLE (reconnect
        with the last cursor), the ones opened later at once."""
        self._notifier.close()

    # ------------------------------------------------------------ helpers

    def _record(self, entry_id: str) -> EvidenceRecord | None:
        try:
            record: EvidenceRecord = self._ledger.get(entry_id)
        except NotFound:  # pragma: no cover - a case event's record is published
            return None
        return record

    def _cached(self, entry_id: str) -> pb.CaseEvent | None:
        """The event's message if it is cached (any thread; takes no time)."""
        with self._events_lock:
            return self._events.get(entry_id)

    def _build(self, events: Sequence[StoredCaseEvent]) -> dict[str, pb.CaseEvent]:
        """The events' messages by entry id, those not cached built and cached (a
        worker thread: reading a record is store reads and an inclusion proof)."""
        found: dict[str, pb.CaseEvent] = {}
        for event in events:
            message = self._cached(event.entry_id)
            if message is None:
                built = cc.event_to_proto(event, self._record(event.entry_id))
                with self._events_lock:
                    message = self._events.setdefault(event.entry_id, built)
                    if len(self._events) > _EVENT_CACHE:
                        self._events.popitem(last=False)
            found[event.entry_id] = message
        return found

    def _event(self, event: StoredCaseEvent) -> pb.CaseEvent:
        """One event's message (a worker thread)."""
        return self._build([event])[event.entry_id]

    async def _messages(self, events: Sequence[StoredCaseEvent]) -> dict[str, pb.CaseEvent]:
        """The events' messages (the event loop): from the cache, and those not in it
        built by one worker thread for them all, never on the loop."""
        found: dict[str, pb.CaseEvent] = {}
        missing: list[StoredCaseEvent] = []
        for event in events:
            message = self._cached(event.entry_id)
            if message is None:
                missing.append(event)
            else:
                found[event.entry_id] = message
        if missing:
            found.update(await asyncio.to_thread(self._build, missing))
        return found

    def _case(self, case: StoredCase, caller: Caller) -> pb.Case:
        checkpoint = self._checkpoint(case.filing_size)
        return cc.case_to_proto(case, caller, filing_checkpoint=checkpoint)

    def _checkpoint(self, size: int) -> str | None:
        try:
            found = self._ledger.store.checkpoint_at(size)
        except StoreError:  # pragma: no cover - shown without it
            return None
        return None if found is None else str(found.note)

    @staticmethod
    def _case_id(value: str, problems: list[tuple[str, str]]) -> None:
        problems += validate_entry_id(value, "case_id")

    async def _record_event(
        self, request: Any, event_request: EventRequest, problems: list[tuple[str, str]]
    ) -> tuple[pb.CaseEvent, tuple[str, ...]]:
        caller = current_caller()
        problems += validate_request_id(request.request_id)
        self._case_id(request.case_id, problems)
        occurred = cc.occurred_at_from_proto(request, "occurred_at", problems)
        if problems:
            raise InvalidArgument(problems)
        assert occurred is not None
        event, warnings = await self._service.record(
            caller,
            case_id=request.case_id,
            request_id=request.request_id,
            request=event_request,
            occurred_at=occurred,
        )
        return await asyncio.to_thread(self._event, event), warnings

    # ------------------------------------------------------------ writes

    @rpc_errors()
    async def FileCase(self, request: pb.FileCaseRequest, context: Any) -> pb.FileCaseResponse:
        caller = current_caller()
        problems: list[tuple[str, str]] = []
        claim = cc.money_from_proto(request.claim, request.HasField("claim"), "claim", problems)
        expires = (
            convert.datetime_from_proto(request.share_expires_at)
            if request.HasField("share_expires_at")
            else None
        )
        if problems:
            raise InvalidArgument(problems)
        case = await self._service.file(
            caller,
            request_id=request.request_id,
            loan_ref=request.loan_ref,
            body=request.body,
            claim=claim,
            relied_on=tuple(request.relied_on_entry_ids),
            share_expires_at=expires,
        )
        message = self._case(case, caller)
        filing = await self._service.filing_event(case)
        message.events.append(await asyncio.to_thread(self._event, filing))
        return pb.FileCaseResponse(case=message)

    @rpc_errors()
    async def AcceptCase(
        self, request: pb.AcceptCaseRequest, context: Any
    ) -> pb.AcceptCaseResponse:
        event, _ = await self._record_event(
            request,
            EventRequest(event=CaseEventType.ACCEPTED, case_number=request.case_number),
            [],
        )
        return pb.AcceptCaseResponse(event=event)

    @rpc_errors()
    async def RejectCase(
        self, request: pb.RejectCaseRequest, context: Any
    ) -> pb.RejectCaseResponse:
        problems: list[tuple[str, str]] = []
        reason = cc.reason_from_proto(request.reason)
        if request.reason and reason is None:
            problems.append(("reason", "is not a known CaseReason"))
        event, _ = await self._record_event(
            request,
            EventRequest(
                event=CaseEventType.REJECTED,
                case_number=request.case_number or None,
                reason=reason,
            ),
            problems,
        )
        return pb.RejectCaseResponse(event=event)

    @rpc_errors()
    async def UpdateCaseStatus(
        self, request: pb.UpdateCaseStatusRequest, context: Any
    ) -> pb.UpdateCaseStatusResponse:
        problems: list[tuple[str, str]] = []
        event = cc.event_from_proto(request.event)
        if event not in UPDATE_EVENTS:
            problems.append(
                (
                    "event",
                    "is required: a CaseEventType other than FILED, ACCEPTED and REJECTED "
                    "(FileCase, AcceptCase and RejectCase record those)",
                )
            )
        reason = cc.reason_from_proto(request.reason)
        if request.reason and reason is None:
            problems.append(("reason", "is not a known CaseReason"))
        amount = cc.money_from_proto(request.amount, request.HasField("amount"), "amount", problems)
        if problems:  # the machine names the rest once the event is known
            problems += validate_request_id(request.request_id)
            self._case_id(request.case_id, problems)
            cc.occurred_at_from_proto(request, "occurred_at", problems)
            raise InvalidArgument(problems)
        assert event is not None
        recorded, warnings = await self._record_event(
            request, EventRequest(event=event, reason=reason, amount=amount), problems
        )
        return pb.UpdateCaseStatusResponse(event=recorded, warnings=list(warnings))

    # ------------------------------------------------------------ reads

    @rpc_errors()
    async def GetCase(self, request: pb.GetCaseRequest, context: Any) -> pb.GetCaseResponse:
        caller = current_caller()
        problems: list[tuple[str, str]] = []
        self._case_id(request.case_id, problems)
        if problems:
            raise InvalidArgument(problems)
        view = await self._service.get(caller, request.case_id)

        def build() -> pb.Case:
            return cc.case_to_proto(
                view.case,
                caller,
                filing_checkpoint=self._checkpoint(view.case.filing_size),
                view=view,
                records=self._record,
            )

        return pb.GetCaseResponse(case=await asyncio.to_thread(build))

    @rpc_errors()
    async def ListCases(self, request: pb.ListCasesRequest, context: Any) -> pb.ListCasesResponse:
        caller = current_caller()
        statuses, problems = _statuses(request.statuses)
        as_lender = caller.role is Role.LENDER
        if request.loan_ref:
            problems += validate_loan_ref(request.loan_ref)
            if not as_lender and not request.counterpart:
                problems.append(
                    ("counterpart", "is required with loan_ref: the lender whose loan it is")
                )
        if request.counterpart:
            problems += validate_institution(request.counterpart, "counterpart")
        after = (
            convert.datetime_from_proto(request.filed_after)
            if request.HasField("filed_after")
            else None
        )
        before = (
            convert.datetime_from_proto(request.filed_before)
            if request.HasField("filed_before")
            else None
        )
        if after is not None and before is not None and before <= after:
            problems.append(("filed_before", "must be after filed_after"))
        page_size, bad = convert.page_size_from_proto(request.page_size)
        problems += bad
        query = (
            caller.institution,
            caller.role.value,
            ",".join(sorted(s.value for s in statuses)),
            request.loan_ref,
            request.counterpart,
            str(after),
            str(before),
        )
        if problems:
            raise InvalidArgument(problems)
        position = cc.list_position(request.page_token, query)
        case_filter = CaseFilter(
            institution=caller.institution,
            as_lender=as_lender,
            statuses=frozenset(statuses),
            loan_ref=request.loan_ref or None,
            counterpart=request.counterpart or None,
            filed_after=after,
            filed_before=before,
        )
        found = await self._service.list_cases(case_filter, position, page_size + 1)
        token = ""
        if len(found) > page_size:
            found = found[:page_size]
            token = cc.list_token(query, found[-1].filing_leaf_index)
        return pb.ListCasesResponse(
            cases=[self._case(c, caller) for c in found], next_page_token=token
        )

    async def _responses(
        self, steps: AsyncGenerator[list[Message], None]
    ) -> AsyncGenerator[pb.WatchCasesResponse, None]:
        """The messages of a watch's steps, each step's events built at once; closing
        this closes ``steps`` (unsubscribes now, not when the generator is collected)."""
        try:
            async for step in steps:
                messages = await self._messages([e for e, _ in step if e is not None])
                for event, cursor in step:
                    if event is None:
                        yield pb.WatchCasesResponse(cursor=cursor)
                    else:
                        yield pb.WatchCasesResponse(event=messages[event.entry_id], cursor=cursor)
        finally:
            await steps.aclose()

    @rpc_errors()
    async def WatchCases(self, request: pb.WatchCasesRequest, context: Any) -> None:
        """The caller's case events, replayed then live (:func:`watch_events`).

        The messages are written here (``context.write``), one at a time: a client
        that does not read fills gRPC's flow-control window and the next write waits.
        Once one has waited ``stalled_write_seconds`` the stream ends with
        RESOURCE_EXHAUSTED (denial reason ``stalled_write``): its subscription is
        dropped at once, and its call slot given back without waiting for the status
        to be sent, which waits behind the unread messages
        (:func:`~gateway.api.errors.abort_unread`). A client that reads, but more
        slowly than its events come, ends with RESOURCE_EXHAUSTED too when its live
        queue fills (:class:`SlowReader`, denial reason ``slow_reader``). Both are
        counted as streams ended as too slow; the client reconnects with its last
        cursor.
        """
        caller = current_caller()
        statuses, problems = _statuses(request.statuses)
        if problems:
            raise InvalidArgument(problems)
        size = (await asyncio.to_thread(self._ledger.published)).size
        position = parse_cursor(request.cursor, size)
        steps = watch_events(
            self._service.tables,
            self._notifier,
            institution=caller.institution,
            as_lender=caller.role is Role.LENDER,
            position=position,
            statuses=statuses,
            heartbeat=self._heartbeat,
        )
        try:
            stalled = await write_all(self._responses(steps), context.write, self._stalled_write)
        except SlowReader:
            mark_denied("slow_reader")
            raise
        if stalled is not None:
            self._notifier.observer.watch_too_slow()
            mark_denied("stalled_write")
            await abort_unread(
                context,
                ResourceExhausted(
                    f"this WatchCases stream's messages were not read for {stalled.limit:g} s "
                    "(stream.stalled_write_seconds), so the gateway ended it: read the stream "
                    "as its messages come, and reconnect with the last cursor received "
                    "(nothing after it is lost)"
                ),
            )


def serve_cases(
    ledger: Any,
    role_of: Any,
    *,
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
    stalled_write_seconds: float = DEFAULT_STREAM_STALLED_WRITE_SECONDS,
) -> CaseServicer | None:
    """The CaseService of a ledger on a SQL store, with its tables kept by the commits and
    the notifier of its streams; None when the ledger's store keeps no batch hooks (a
    fake of the tests) or there is no registry to tell courts and arbitration bodies."""
    store = getattr(ledger, "store", None)
    if role_of is None or not hasattr(store, "add_batch_hook"):
        return None
    tables = CaseTables(store)
    notifier = Notifier()
    tables.listener = notifier.publish
    service = CaseService(ledger, tables, role_of=role_of)
    return CaseServicer(
        service,
        ledger,
        notifier,
        heartbeat_seconds=heartbeat_seconds,
        stalled_write_seconds=stalled_write_seconds,
    )


def _statuses(values: Iterable[int]) -> tuple[set[CaseStatus], list[tuple[str, str]]]:
    """The ``statuses`` filter of ListCases and WatchCases, and its bad values by field."""
    problems: list[tuple[str, str]] = []
    statuses: set[CaseStatus] = set()
    for n, value in enumerate(values):
        status = cc.status_from_proto(value)
        if status is None:
            problems.append((f"statuses[{n}]", "is not a known CaseStatus"))
        else:
            statuses.add(status)
    return statuses, problems
