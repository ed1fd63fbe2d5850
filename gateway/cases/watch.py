"""WatchCases: a party's case events in log order, replayed then live, with a cursor.

The cursor is a position in the log: every event of the party's cases whose
record's leaf index is below it was delivered (or passed over by the stream's
status filter). It travels as ``base64url("w1:" + position)`` without padding:
opaque to clients, validated on the way back (:func:`parse_cursor`).

A stream first subscribes to the live events (:class:`~gateway.cases.notifier.Notifier`),
*then* replays the events after its cursor from the ``case_events`` table, page by page
(one index search each, ``ix_case_events_lender`` / ``_body``), then delivers the live
ones. The handover cannot lose or repeat an event: the notifier hears of an event only
after its commit is durable, so an event the subscription misses (delivered before it
existed) was committed before the replay began and is replayed; an event both replayed
and delivered live is skipped by its leaf index (at most the replay's last pages can
overlap). Events reach the notifier in commit order, which is leaf order (one writer).

While nothing happens the stream sends a message carrying only the cursor at its
start and every ``heartbeat`` seconds, so a client always holds a cursor.

When the gateway stops (:meth:`~gateway.cases.notifier.Notifier.close`) the
stream ends with UNAVAILABLE (:data:`WATCH_CLOSED`) before its next message:
the client reconnects with the last cursor it received. A client that reads
too slowly for its live queue ends with :class:`SlowReader`; one that does not
read at all holds the servicer's write (gRPC flow control), which the servicer
ends itself (:mod:`gateway.api.cases`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
from collections.abc import AsyncGenerator, Collection
from typing import Final, TypeAlias

from court.evidence.case_terms import CaseStatus
from gateway.cases.notifier import Notifier
from gateway.errors import InvalidArgument, ResourceExhausted, Unavailable
from gateway.store.cases import CaseTables, StoredCaseEvent

__all__ = [
    "DEFAULT_HEARTBEAT_SECONDS",
    "REPLAY_PAGE",
    "WATCH_CLOSED",
    "Message",
    "SlowReader",
    "format_cursor",
    "parse_cursor",
    "watch_events",
]

DEFAULT_HEARTBEAT_SECONDS: Final = 30.0
#: Events read from the table per replay page.
REPLAY_PAGE: Final = 500
#: How a stream ends when the gateway stops.
WATCH_CLOSED: Final = (
    "the gateway is shutting down; reconnect with the last cursor received "
    "(nothing after it is lost) once the gateway is back"
)
#: One message of a stream: an event and the cursor after it, or a cursor only (None).
Message: TypeAlias = tuple[StoredCaseEvent | None, str]
_MAX_CURSOR_CHARS: Final = 128
_CURSOR_TEXT: Final = re.compile(r"w1:(0|[1-9][0-9]{0,17})")
_CURSOR_CHARS: Final = re.compile(r"[A-Za-z0-9_-]*")


class SlowReader(ResourceExhausted):
    """The stream's live queue overflowed: its client reads more slowly than its cases'
    events come (RESOURCE_EXHAUSTED; it reconnects with its cursor)."""


def format_cursor(position: int) -> str:
    """The opaque cursor of a log position (every event below it delivered)."""
    raw = f"w1:{position}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def parse_cursor(cursor: str, log_size: int) -> int:
    """The position of a cursor this gateway gave out (0 for an empty one).

    InvalidArgument naming ``cursor`` for anything else, including a position past the
    log's size (no stream of this log ever gave it)."""
    if not cursor:
        return 0
    bad = InvalidArgument(
        [("cursor", "is not a cursor of this gateway's WatchCases; send the last one received")]
    )
    if len(cursor) > _MAX_CURSOR_CHARS or _CURSOR_CHARS.fullmatch(cursor) is None:
        raise bad
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    match = _CURSOR_TEXT.fullmatch(text)
    if match is None or format_cursor(int(match.group(1))) != cursor:
        raise bad
    position = int(match.group(1))
    if position > log_size:
        raise bad
    return position


async def watch_events(
    tables: CaseTables,
    notifier: Notifier,
    *,
    institution: str,
    as_lender: bool,
    position: int,
    statuses: Collection[CaseStatus],
    heartbeat: float = DEFAULT_HEARTBEAT_SECONDS,
) -> AsyncGenerator[list[Message], None]:
    """The stream's messages, a step at a time: each a list of ``(event, cursor)`` pairs
    (``event`` None in a cursor-only message), all the events of one replay page or of
    one wake-up of the live queue together, so that the caller can build what it sends
    for a whole step at once (off the event loop).

    Raises :class:`SlowReader` when the client reads too slowly (its live queue
    overflowed). ``statuses``: only events that leave a case in one of these (empty:
    all); the cursor still moves past the others."""
    sub = notifier.subscribe(institution, as_lender)
    try:
        yield [(None, format_cursor(position))]
        # 1. replay (the subscription already collects what commits meanwhile)
        while True:
            page = await asyncio.to_thread(
                tables.party_events, institution, as_lender, position - 1, REPLAY_PAGE
            )
            if sub.closed:
                raise Unavailable(WATCH_CLOSED)
            step: list[Message] = []
            for event in page:
                position = event.leaf_index + 1
                if not statuses or event.status in statuses:
                    step.append((event, format_cursor(position)))
            if page and not step:
                step.append((None, format_cursor(position)))
            if step:
                yield step
            if len(page) < REPLAY_PAGE:
                break
        # 2. live
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while True:
            if sub.closed:
                raise Unavailable(WATCH_CLOSED)
            if sub.overflowed:
                notifier.observer.watch_too_slow()
                raise SlowReader(
                    "this WatchCases stream was not read fast enough and its queue filled: "
                    "reconnect with the last cursor received"
                )
            events = sub.take()
            moved = False
            step = []
            for event in events:
                if event.leaf_index < position:  # replayed already
                    continue
                position = event.leaf_index + 1
                moved = True
                if not statuses or event.status in statuses:
                    step.append((event, format_cursor(position)))
            if step:
                quiet_since = loop.time()
                yield step
                continue
            if moved or loop.time() - quiet_since >= heartbeat:
                quiet_since = loop.time()
                yield [(None, format_cursor(position))]
                continue
            if sub.events or sub.overflowed or sub.closed:
                continue
            wait = max(0.0, heartbeat - (loop.time() - quiet_since))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.wake.wait(), wait)
    finally:
        notifier.unsubscribe(sub)
