"""Live case events for WatchCases: from the ledger's commits to each stream's queue.

:class:`Notifier` is the listener of :class:`gateway.store.cases.CaseTables`: the
ledger's writer thread hands it each durable batch's case events, in commit order
(one writer: commit order is leaf order). It passes them to the server's event
loop (``call_soon_threadsafe``, which runs callbacks in the order they were
scheduled), where each goes to the subscriptions of the case's lender and of its
body: a dictionary lookup per party, whatever the number of streams.

Each :class:`Subscription` holds at most ``queue_size`` events. One that would
hold more (a client that does not read its stream) is marked ``overflowed`` and
gets nothing more: its stream ends with RESOURCE_EXHAUSTED and the client
reconnects with its cursor, so the gateway's memory stays bounded whatever the
clients do.

When the gateway stops, :meth:`Notifier.close` marks every subscription
``closed`` (and each one made later): its stream ends with UNAVAILABLE and
the client resumes with its cursor once the gateway is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from gateway.metrics import NO_OBSERVER, Observer
from gateway.store.cases import StoredCaseEvent

__all__ = ["DEFAULT_QUEUE_SIZE", "Notifier", "Subscription"]

#: Events one stream may have waiting before it is ended as too slow.
DEFAULT_QUEUE_SIZE = 1024


class Subscription:
    """The live events of one party (``institution`` as lender or as body) for one stream."""

    __slots__ = (
        "as_lender",
        "closed",
        "events",
        "institution",
        "overflowed",
        "queue_size",
        "wake",
    )

    def __init__(self, institution: str, as_lender: bool, queue_size: int) -> None:
        self.institution = institution
        self.as_lender = as_lender
        self.queue_size = queue_size
        self.events: deque[StoredCaseEvent] = deque()
        self.overflowed = False
        self.closed = False  # the gateway stops: the stream ends
        self.wake = asyncio.Event()

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    def push(self, event: StoredCaseEvent) -> None:
        if self.overflowed:
            return
        if len(self.events) >= self.queue_size:
            self.overflowed = True
            self.events.clear()
        else:
            self.events.append(event)
        self.wake.set()

    def take(self) -> list[StoredCaseEvent]:
        """The events waiting, oldest first (and clears the wake flag)."""
        self.wake.clear()
        out = list(self.events)
        self.events.clear()
        return out


class Notifier:
    """Routes durable case events to the subscriptions of their parties (see the module)."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subs: dict[tuple[str, bool], set[Subscription]] = {}
        self._count = 0  # an int: read by the metrics' scrape from its own thread
        self.closed = False
        #: Told of the streams ended as too slow (the server's metrics, when on).
        self.observer: Observer = NO_OBSERVER

    @property
    def subscriptions(self) -> int:
        """The subscriptions open (any thread)."""
        return self._count

    def subscribe(self, institution: str, as_lender: bool) -> Subscription:
        """A new subscription (call on the server's event loop): it receives every event
        delivered from now on."""
        self._loop = asyncio.get_running_loop()
        sub = Subscription(institution, as_lender, self.queue_size)
        self._subs.setdefault((institution, as_lender), set()).add(sub)
        self._count += 1
        if self.closed:
            sub.close()
        return sub

    def close(self) -> None:
        """The gateway stops: end every subscription's stream, now and later (event loop)."""
        self.closed = True
        for subs in self._subs.values():
            for sub in subs:
                sub.close()

    def unsubscribe(self, sub: Subscription) -> None:
        key = (sub.institution, sub.as_lender)
        subs = self._subs.get(key)
        if subs is not None and sub in subs:
            subs.discard(sub)
            self._count -= 1
            if not subs:
                del self._subs[key]

    def publish(self, events: list[StoredCaseEvent]) -> None:
        """Durable events, in commit order (any thread: the ledger's writer)."""
        loop = self._loop
        if loop is None:  # nobody ever subscribed
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            loop.call_soon_threadsafe(self._deliver, events)

    def _deliver(self, events: list[StoredCaseEvent]) -> None:
        subs = self._subs
        for event in events:
            for key in ((event.lender, True), (event.body, False)):
                for sub in subs.get(key, ()):
                    sub.push(event)
