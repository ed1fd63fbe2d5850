"""EvidenceService: validate -> ledger -> response.

Field paths in errors: SubmitEvidence names fields under ``submission``
(``"submission.digest"``); the per-item errors of BatchSubmitEvidence and
SubmitEvidenceStream are relative to the item (``"digest"``), as the API
contract says.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evidence_gateway.v1 import evidence_service_pb2 as pb
from evidence_gateway.v1 import evidence_service_pb2_grpc as pb_grpc
from gateway.api import convert
from gateway.api.caller import Resolver, current_caller
from gateway.api.errors import abort_unread, rpc_errors, to_rpc_status
from gateway.api.observe import mark_denied
from gateway.api.ports import LedgerPort
from gateway.api.stream_budget import READ_SLOT_BYTES, ByteBudget
from gateway.api.stream_messages import StreamMessage, answer, echo, read_message, take
from gateway.api.stream_writer import write_all
from gateway.authz.policy import Delegation, read_scope, submit_denial
from gateway.authz.roles import Caller, Role
from gateway.errors import (
    DeadlineExceeded,
    GatewayError,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from gateway.metrics import NO_OBSERVER, Observer
from gateway.model import (
    DEFAULT_MIN_OCCURRED_AT,
    ItemResult,
    Submission,
    validate_entry_id,
    validate_institution,
    validate_loan_ref,
)

__all__ = [
    "DEFAULT_STREAM_BUFFER_BYTES",
    "DEFAULT_STREAM_STALLED_WRITE_SECONDS",
    "MAX_BATCH_ITEMS",
    "STREAM_CHUNK",
    "STREAM_CHUNKS_IN_FLIGHT",
    "STREAM_DRAINED",
    "STREAM_WINDOW",
    "EvidenceServicer",
]

log = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 1000
#: The read-ahead budget of all streams together when none is given (config ``[stream]``).
DEFAULT_STREAM_BUFFER_BYTES = 64 * 1024 * 1024
#: How long an answer of a stream may wait to be written before the stream ends (config
#: ``[stream] stalled_write_seconds``): its client does not read what it is sent.
DEFAULT_STREAM_STALLED_WRITE_SECONDS = 30.0
#: How many stream submissions may be in flight (read but not yet answered).
STREAM_WINDOW = 2000
#: At most this many submissions of one stream go to the ledger in one call ...
STREAM_CHUNK = 500
#: ... and at most this many such calls of one stream are in the ledger at a time.
#: One keeps registration in stream order even when a full queue makes a chunk
#: wait: the next chunk is submitted only once the previous one is in.
STREAM_CHUNKS_IN_FLIGHT = 1
#: A stream authenticates its caller again after this long (seconds), at its next message:
#: a revoked or suspended institution cannot go on submitting over a stream it opened before.
STREAM_RECHECK_SECONDS = 1.0
#: How a stream ends when the gateway stops (:meth:`EvidenceServicer.drain`).
STREAM_DRAINED = (
    "the gateway is shutting down: this stream was answered for every submission it "
    "read; send the ones without an answer again (same request_id: safe) on a new "
    "stream once the gateway is back"
)
_STREAM_RETRY_DELAYS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
#: The stream's full method name, for the log of a refused re-authentication.
_STREAM_RPC = (
    "/" + pb.DESCRIPTOR.services_by_name["EvidenceService"].full_name + ("/SubmitEvidenceStream")
)


@dataclass
class _StreamState:
    """One stream's share: bytes of the budget it holds (its read slot and its
    unanswered messages), how many messages await their answer, and when (event
    loop time) it last started waiting for, read or answered one."""

    held: int = 0
    unanswered: int = 0
    active: float = 0.0
    awaiting_client: bool = False  # the reader waits for the client's next message
    checked: float = 0.0  # when the caller was last authenticated
    draining: bool = False  # the gateway stops: read nothing more, answer what was read
    client_done: bool = False  # the client ended its side of the stream


def _utcnow() -> datetime:
    return datetime.now(UTC)


class EvidenceServicer(pb_grpc.EvidenceServiceServicer):
    """The gRPC face of the ledger's evidence operations."""

    def __init__(
        self,
        ledger: LedgerPort,
        clock: Callable[[], datetime] = _utcnow,
        stream_window: int = STREAM_WINDOW,
        *,
        min_occurred_at: datetime = DEFAULT_MIN_OCCURRED_AT,
        stream_budget: ByteBudget | None = None,
        stream_idle_seconds: float = 0.0,
        stream_stalled_write_seconds: float = DEFAULT_STREAM_STALLED_WRITE_SECONDS,
        recheck: Resolver | None = None,
    ) -> None:
        """``recheck``: the resolver that authenticates an open stream's caller again
        (see :meth:`SubmitEvidenceStream`); ``None``: never again."""
        self._ledger = ledger
        self._recheck = recheck
        self._clock = clock
        self._min_occurred_at = min_occurred_at
        self._stream_window = stream_window
        #: Read-ahead of every stream of this servicer together (one per server).
        self.stream_budget = stream_budget or ByteBudget(DEFAULT_STREAM_BUFFER_BYTES)
        self._stream_idle = stream_idle_seconds  # 0: no idle limit
        self._stream_stalled_write = stream_stalled_write_seconds
        #: Told of the streams ended because their answers could not be written.
        self.observer: Observer = NO_OBSERVER
        #: Set by :meth:`drain`: the open streams' drain hooks and whether it was called.
        self._drains: set[Callable[[], None]] = set()
        self.draining = False

    def drain(self) -> None:
        """The gateway stops: every open stream reads no more messages, answers each one
        it read (they are registered or refused as usual), then ends with UNAVAILABLE
        (:data:`STREAM_DRAINED`). Streams opened later end that way at once."""
        self.draining = True
        for hook in list(self._drains):
            hook()

    # ------------------------------------------------------------------ submit

    def _submission(
        self, message: Any, institution: str, now: datetime
    ) -> Submission | InvalidArgument:
        submission, problems = convert.submission_from_proto(
            message, institution, now, self._min_occurred_at
        )
        return InvalidArgument(problems) if problems else submission

    async def _authorized(
        self, rpc: str, caller: Caller, items: Sequence[Submission | GatewayError]
    ) -> list[Submission | GatewayError]:
        """``items`` with each submission the caller may not write replaced by
        PERMISSION_DENIED (:func:`gateway.authz.policy.submit_denial`), each
        denial logged with the caller, the RPC and the reason.

        A collection agency's delegations are read once for all the items, per
        owning lender; a lender's need no read.
        """
        valid = [i for i in items if isinstance(i, Submission)]
        delegations: list[Delegation] = []
        if caller.role is Role.COLLECTOR and valid:
            now = self._clock()
            loans: dict[str, set[str]] = {}
            for s in valid:
                loans.setdefault(s.owner, set()).add(s.loan_ref)
            for owner, refs in loans.items():
                if owner != caller.institution:
                    delegations += await asyncio.to_thread(
                        self._ledger.delegations_in_force,
                        caller.institution,
                        owner,
                        sorted(refs),
                        now,
                    )
        now = self._clock()
        out: list[Submission | GatewayError] = []
        for item in items:
            if isinstance(item, Submission):
                reason = submit_denial(
                    caller, item.owner, item.loan_ref, item.kind, delegations, now
                )
                if reason is not None:
                    log.warning(
                        "denied: caller %s (role %s) called %s: %s",
                        caller.institution,
                        caller.role.value,
                        rpc,
                        reason,
                    )
                    out.append(PermissionDenied(reason))
                    continue
            out.append(item)
        return out

    @rpc_errors("submission")
    async def SubmitEvidence(
        self, request: pb.SubmitEvidenceRequest, context: Any
    ) -> pb.SubmitEvidenceResponse:
        caller = current_caller()
        if not request.HasField("submission"):
            raise InvalidArgument([("", "is required")])
        (item,) = await self._authorized(
            "SubmitEvidence",
            caller,
            [self._submission(request.submission, caller.institution, self._clock())],
        )
        if isinstance(item, GatewayError):
            raise item
        (result,) = await self._ledger.submit([item])
        if isinstance(result, GatewayError):
            raise result
        return pb.SubmitEvidenceResponse(receipt=convert.receipt_to_proto(result))

    @rpc_errors()
    async def BatchSubmitEvidence(
        self, request: pb.BatchSubmitEvidenceRequest, context: Any
    ) -> pb.BatchSubmitEvidenceResponse:
        caller = current_caller()
        count = len(request.submissions)
        if not 1 <= count <= MAX_BATCH_ITEMS:
            raise InvalidArgument(
                [("submissions", f"must hold 1 to {MAX_BATCH_ITEMS:,} items, got {count:,}")]
            )
        now = self._clock()
        items = await self._authorized(
            "BatchSubmitEvidence",
            caller,
            [self._submission(m, caller.institution, now) for m in request.submissions],
        )
        valid = [item for item in items if isinstance(item, Submission)]
        results = iter(await self._ledger.submit(valid) if valid else [])
        response = pb.BatchSubmitEvidenceResponse()
        for message, item in zip(request.submissions, items, strict=True):
            outcome: ItemResult = next(results) if isinstance(item, Submission) else item
            result = response.results.add(request_id=echo(message.request_id))
            if isinstance(outcome, GatewayError):
                result.error.CopyFrom(to_rpc_status(outcome))
            else:
                result.receipt.CopyFrom(convert.receipt_to_proto(outcome))
        return response

    @rpc_errors()
    async def SubmitEvidenceStream(
        self, request_iterator: AsyncIterator[pb.SubmitEvidenceStreamRequest], context: Any
    ) -> None:
        """Answer each submission in order, reading ahead within the stream budget.

        A reader takes messages off the stream as they come, at most
        ``stream_window`` unanswered ones per stream, and only with a read slot
        of the servicer's :class:`ByteBudget` (shared by every stream, at most
        its share per institution) in hand: when the budget or the caller's
        share is spent it stops reading, and gRPC's flow control slows the
        sender. A dispatcher hands what has accumulated to the
        ledger as one chunk, with at most ``STREAM_CHUNKS_IN_FLIGHT`` chunks
        of one stream in the ledger at a time. So a trickle is submitted item
        by item at once, and a flood in chunks as large as the ledger's
        commits are slow (up to ``STREAM_CHUNK`` items); items are registered
        in stream order. A full queue is waited out (back-pressure), not
        reported; UNAVAILABLE ends the stream. A stream that sends nothing
        for ``stream_idle_seconds`` while none of its submissions awaits an
        answer ends with DEADLINE_EXCEEDED. The caller is authenticated again
        at the first message after every ``STREAM_RECHECK_SECONDS``: once it
        is refused (revoked, suspended, its certificate expired), the stream
        ends with UNAUTHENTICATED. When the gateway stops (:meth:`drain`) the
        stream reads no more, answers every submission it read, and ends with
        UNAVAILABLE (:data:`STREAM_DRAINED`).

        The answers are written here (``context.write``), one at a time: an
        answer not written within ``stream_stalled_write_seconds`` (the client
        does not read, and gRPC's flow control holds it) ends the stream with
        RESOURCE_EXHAUSTED, after what the stream held of the budget is given
        back, and without waiting for the status to be sent behind the unread answers
        (:func:`~gateway.api.errors.abort_unread`: the call slot is given back too);
        what was registered stays registered.
        """
        answers = self._stream_answers(request_iterator, context)
        # Closing the answers gives back what the stream held of the budget.
        stalled = await write_all(answers, context.write, self._stream_stalled_write)
        if stalled is not None:
            self.observer.stream_stalled()
            mark_denied("stalled_write")
            await abort_unread(  # not waiting behind the unread answers
                context,
                ResourceExhausted(
                    f"this SubmitEvidenceStream's answers were not read for {stalled.limit:g} "
                    "s (stream.stalled_write_seconds), so the gateway ended it; submissions "
                    "without an answer may be registered: send them again with the same "
                    "request_id (safe) on a new stream, and read its answers as they come"
                ),
            )

    async def _stream_answers(
        self, request_iterator: AsyncIterator[pb.SubmitEvidenceStreamRequest], context: Any
    ) -> AsyncGenerator[pb.SubmitEvidenceStreamResponse, None]:
        """The answers of :meth:`SubmitEvidenceStream`, in order (see there)."""
        caller = current_caller()
        institution = caller.institution
        budget = self.stream_budget
        window = asyncio.Semaphore(self._stream_window)
        in_flight = asyncio.Semaphore(STREAM_CHUNKS_IN_FLIGHT)
        buffer: list[StreamMessage] = []
        wake = asyncio.Event()
        eof = asyncio.Event()
        chunks: asyncio.Queue[tuple[list[StreamMessage], asyncio.Task[list[ItemResult]]] | None]
        chunks = asyncio.Queue()
        loop = asyncio.get_running_loop()
        state = _StreamState(active=loop.time(), checked=loop.time())

        async def watch_idle() -> None:
            """Return once the client has kept the stream idle for ``stream_idle_seconds``."""
            idle = self._stream_idle
            while True:
                await asyncio.sleep(max(0.0, state.active + idle - loop.time()))
                quiet = loop.time() - state.active
                if state.awaiting_client and not state.unanswered and quiet >= idle:
                    return
                if quiet >= idle:  # busy on our side: count again from now
                    state.active = loop.time()

        async def read() -> None:
            messages = aiter(request_iterator)
            while True:
                await window.acquire()
                await budget.acquire(institution, READ_SLOT_BYTES)
                state.held += READ_SLOT_BYTES
                state.awaiting_client, state.active = True, loop.time()
                request = await anext(messages, None)
                state.awaiting_client, state.active = False, loop.time()
                if request is None:
                    state.client_done = True
                    break
                if (
                    self._recheck is not None
                    and loop.time() - state.checked >= STREAM_RECHECK_SECONDS
                ):
                    again = self._recheck(context, _STREAM_RPC)  # Unauthenticated ends it
                    if inspect.isawaitable(again):
                        await again
                    state.checked = loop.time()
                size = request.ByteSize()
                convert_one = functools.partial(
                    self._submission, institution=institution, now=self._clock()
                )
                message = read_message(request, size, convert_one, budget.share)
                if message.cost > READ_SLOT_BYTES:
                    # Several submissions: their whole cost before reading on, the slot
                    # given back first (holding it while waiting could deadlock streams).
                    budget.release(institution, READ_SLOT_BYTES)
                    state.held -= READ_SLOT_BYTES
                    await budget.acquire(institution, message.cost)
                    state.held += message.cost
                else:
                    budget.release(institution, READ_SLOT_BYTES - message.cost)
                    state.held -= READ_SLOT_BYTES - message.cost
                state.unanswered += 1
                if state.draining:  # read after the drain began: no answer, not registered
                    return
                buffer.append(message)
                wake.set()
            budget.release(institution, READ_SLOT_BYTES)  # the slot and window place of no message
            state.held -= READ_SLOT_BYTES
            window.release()
            eof.set()
            wake.set()

        async def dispatch() -> None:
            while True:
                await wake.wait()
                await in_flight.acquire()
                wake.clear()
                if not buffer:
                    in_flight.release()
                    if eof.is_set():
                        await chunks.put(None)
                        return
                    continue
                chunk = take(buffer, STREAM_CHUNK)
                if buffer or eof.is_set():
                    wake.set()
                log.debug("stream chunk of %d", len(chunk))
                task = asyncio.create_task(self._submit_chunk(caller, chunk))
                task.add_done_callback(lambda _: in_flight.release())
                await chunks.put((chunk, task))

        def drain() -> None:
            # The reader may stay blocked on the client: the stream ends without it.
            state.draining = True
            eof.set()
            wake.set()

        reader = asyncio.create_task(read())
        dispatcher = asyncio.create_task(dispatch())
        self._drains.add(drain)
        if self.draining:
            drain()
        watcher = asyncio.create_task(watch_idle()) if self._stream_idle else None
        try:
            while True:
                getter = asyncio.ensure_future(chunks.get())
                if not reader.done():
                    waits = {getter, reader} if watcher is None else {getter, reader, watcher}
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done() and reader.done() and reader.exception() is not None:
                        getter.cancel()
                        reader.result()  # the client's side of the stream failed
                    if not getter.done() and watcher is not None and watcher.done():
                        getter.cancel()
                        raise DeadlineExceeded(
                            f"the stream sent nothing for {self._stream_idle:g} s with no "
                            "submission awaiting an answer, so the gateway closed it; open a "
                            "new stream to send more"
                        )
                elif not getter.done() and reader.exception() is not None:
                    getter.cancel()
                    reader.result()  # the reader failed (e.g. the caller is refused now)
                entry = await getter
                if entry is None:
                    if state.draining and not state.client_done:
                        raise Unavailable(STREAM_DRAINED)
                    return
                chunk, task = entry
                outcomes = await task
                start = 0
                for message in chunk:
                    mine = outcomes[start : start + len(message.items)]
                    start += len(message.items)
                    window.release()
                    budget.release(institution, message.cost)
                    state.held -= message.cost
                    state.unanswered -= 1
                    state.active = loop.time()
                    for outcome in mine:
                        if isinstance(outcome, Unavailable):
                            raise outcome  # the stream cannot go on
                    yield answer(message, mine)
        finally:
            self._drains.discard(drain)
            for helper in (reader, dispatcher, watcher):
                if helper is None:
                    continue
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await helper
            budget.release(institution, state.held)  # what it read and never answered

    async def _submit_chunk(self, caller: Caller, chunk: list[StreamMessage]) -> list[ItemResult]:
        items = await self._authorized(
            "SubmitEvidenceStream", caller, [item for m in chunk for item in m.items]
        )
        valid = [item for item in items if isinstance(item, Submission)]
        results = iter(await self._submit_patiently(valid) if valid else [])
        return [next(results) if isinstance(item, Submission) else item for item in items]

    async def _submit_patiently(
        self, items: list[Submission], attempt: int = 0
    ) -> list[ItemResult]:
        """Submit, waiting out a full queue; a chunk that keeps not fitting is split."""
        while True:
            try:
                return await self._ledger.submit(items)
            except ResourceExhausted:
                if len(items) > 1 and attempt >= 2:
                    half = len(items) // 2
                    first = await self._submit_patiently(items[:half], attempt)
                    return first + await self._submit_patiently(items[half:], attempt)
                await asyncio.sleep(
                    _STREAM_RETRY_DELAYS[min(attempt, len(_STREAM_RETRY_DELAYS) - 1)]
                )
                attempt += 1
            except GatewayError as exc:
                return [exc] * len(items)

    # -------------------------------------------------------------------- read

    @rpc_errors()
    async def GetEvidence(
        self, request: pb.GetEvidenceRequest, context: Any
    ) -> pb.GetEvidenceResponse:
        scope = read_scope(current_caller(), self._clock())
        problems = validate_entry_id(request.entry_id)
        if problems:
            raise InvalidArgument(problems)
        record = await asyncio.to_thread(self._ledger.get, request.entry_id, scope)
        return pb.GetEvidenceResponse(record=convert.record_to_proto(record))

    @rpc_errors()
    async def FindEvidence(
        self, request: pb.FindEvidenceRequest, context: Any
    ) -> pb.FindEvidenceResponse:
        scope = read_scope(current_caller(), self._clock())
        problems = convert.digest_violations(
            request.hash_algorithm, request.digest, "hash_algorithm", "digest"
        )
        page_size, more = convert.page_size_from_proto(request.page_size)
        problems += more
        if problems:
            raise InvalidArgument(problems)
        algorithm = convert.algorithm_from_proto(request.hash_algorithm)
        assert algorithm is not None
        records, next_token = await asyncio.to_thread(
            self._ledger.find,
            algorithm,
            bytes(request.digest),
            page_size,
            request.page_token,
            scope,
        )
        return pb.FindEvidenceResponse(
            records=[convert.record_to_proto(r) for r in records], next_page_token=next_token
        )

    @rpc_errors()
    async def ListEvidence(
        self, request: pb.ListEvidenceRequest, context: Any
    ) -> pb.ListEvidenceResponse:
        caller = current_caller()
        scope = read_scope(caller, self._clock())
        problems = validate_loan_ref(request.loan_ref)
        owner = request.institution or caller.institution
        if request.institution:
            problems += validate_institution(request.institution)
        elif caller.role not in (Role.LENDER, Role.ADMIN):
            # Said from the role alone: the answer tells nothing of any loan. (The operator
            # owns its records of registry changes: loan_ref ":institutions".)
            problems.append(
                (
                    "institution",
                    f"is required for a {caller.role.value}: the institution id of the lender "
                    "that owns the loan (the one that delegated or shared it with you); "
                    "empty means the caller's own loans, which only a lender has",
                )
            )
        page_size, more = convert.page_size_from_proto(request.page_size)
        problems += more
        if problems:
            raise InvalidArgument(problems)
        records, next_token = await asyncio.to_thread(
            self._ledger.list_by_loan, owner, request.loan_ref, page_size, request.page_token, scope
        )
        return pb.ListEvidenceResponse(
            records=[convert.record_to_proto(r) for r in records], next_page_token=next_token
        )
