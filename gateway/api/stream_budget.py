"""One bound, in bytes, on what every submission stream together has read ahead.

A stream's reader takes messages off the stream before the ledger has
answered the previous ones, so that a flood is handed to the ledger in
chunks. What it has read and not yet answered is held in memory. Without a
global bound, 1,000 streams reading ahead 2,000 submissions each would hold
gigabytes. :class:`ByteBudget` is that bound: a reader reserves a *read slot*
(the most a message of one submission may cost) *before* it reads, trims the
reservation to the message's cost once read, and gives the cost back when the
message is answered. When the budget is spent, readers stop reading, and
gRPC's flow control slows the senders down: nothing is buffered beyond the
budget, whatever the number of streams, but a message of several submissions
(:mod:`gateway.api.stream_messages`), whose cost is known only once it is
read: its reader gives its slot back and waits for the whole cost before
reading on (so at most one such message per stream waits beyond the budget).

One institution may hold at most a *share* of the budget (by default a
quarter, as the call caps of :mod:`gateway.api.call_limit`): a stream whose
answers are not read keeps what it read until it ends, and without a share
one institution's streams could take the whole budget and stop every other
institution's streams. Over its share, that institution's readers wait while
the others' go on.

The cost of a message is an upper bound of what it holds in memory once
parsed: twice its serialized size plus 512 bytes (measured: a 99-byte
submission holds about 510 bytes once parsed, a 5.6 KB one about 7 KB).
A stream message larger than :data:`MAX_STREAM_MESSAGE_BYTES` cannot be a
valid submission; it is answered with an error and not kept.
"""

from __future__ import annotations

import asyncio
import collections
import itertools

__all__ = [
    "MAX_STREAM_MESSAGE_BYTES",
    "READ_SLOT_BYTES",
    "ByteBudget",
    "message_cost",
    "share_default",
]

#: The largest stream message kept: a valid submission (16 metadata entries of
#: 256 bytes, the longest ids) is under 6 KB.
MAX_STREAM_MESSAGE_BYTES = 8 * 1024
_ITEM_BYTES = 512


def message_cost(size: int) -> int:
    """What a message of ``size`` serialized bytes counts against the budget."""
    return 2 * min(size, MAX_STREAM_MESSAGE_BYTES) + _ITEM_BYTES


#: What a reader reserves before reading one message: the most a message may cost.
READ_SLOT_BYTES = message_cost(MAX_STREAM_MESSAGE_BYTES)


def share_default(limit: int) -> int:
    """The default share of one institution: a quarter of the budget, at least a read slot."""
    return max(READ_SLOT_BYTES, limit // 4)


#: A waiter: its arrival number, the bytes it waits for, and what wakes it.
_Waiter = tuple[int, int, asyncio.Future[None]]


class ByteBudget:
    """A pool of ``limit`` bytes shared by the streams of one server (one event loop),
    of which one institution (an *owner*) may hold at most ``share``.

    Waiters are served in arrival order, so a stream reserving a slot is not
    starved by others that keep taking smaller amounts; a waiter whose owner
    holds its share waits for its owner's bytes and lets the others pass, and
    its owner's later waiters wait behind it. ``used`` is what is reserved
    now, ``held`` what each owner holds, ``peak`` the most that was ever
    reserved at once.
    """

    def __init__(self, limit: int, share: int = 0) -> None:
        """``share``: 0 for :func:`share_default`."""
        if limit < READ_SLOT_BYTES:
            raise ValueError(f"a stream budget holds at least one read slot ({READ_SLOT_BYTES})")
        share = share or share_default(limit)
        if not READ_SLOT_BYTES <= share <= limit:
            raise ValueError(
                f"an institution's share of the stream budget must hold a read slot "
                f"({READ_SLOT_BYTES}) and at most the budget ({limit}), got {share}"
            )
        self.limit = limit
        self.share = share
        self.used = 0
        self.peak = 0
        self.held: dict[str, int] = {}
        # Per owner, its waiters in arrival order: (arrival number, amount, future).
        self._queues: dict[str, collections.deque[_Waiter]] = {}
        self._arrivals = itertools.count()

    def _take(self, owner: str, amount: int) -> None:
        self.used += amount
        self.held[owner] = self.held.get(owner, 0) + amount
        self.peak = max(self.peak, self.used)

    async def acquire(self, owner: str, amount: int) -> None:
        """Reserve ``amount`` bytes for ``owner``, waiting (first come, first served)
        until the budget has them and ``owner`` holds no more than its share with them."""
        if not 0 <= amount <= self.share:
            raise ValueError(
                f"cannot reserve {amount} bytes of a budget of {self.limit} "
                f"({self.share} per institution)"
            )
        if (
            not self._queues
            and self.used + amount <= self.limit
            and self.held.get(owner, 0) + amount <= self.share
        ):
            self._take(owner, amount)
            return
        waiter: _Waiter = (next(self._arrivals), amount, asyncio.get_running_loop().create_future())
        self._queues.setdefault(owner, collections.deque()).append(waiter)
        self._wake()
        try:
            await waiter[2]
        except asyncio.CancelledError:
            if waiter[2].done() and not waiter[2].cancelled():
                self.release(owner, amount)  # granted, but its taker is gone
            else:
                queue = self._queues.get(owner)
                if queue is not None and waiter in queue:  # (else already passed over)
                    queue.remove(waiter)
                    if not queue:
                        del self._queues[owner]
                self._wake()  # a waiter behind it may fit now
            raise

    def release(self, owner: str, amount: int) -> None:
        """Give back ``amount`` bytes that ``owner`` reserved."""
        if amount:
            self.used -= amount
            left = self.held[owner] - amount
            assert self.used >= 0 and left >= 0, "released more than was reserved"
            if left:
                self.held[owner] = left
            else:
                del self.held[owner]
            if self._queues:
                self._wake()

    def _wake(self) -> None:
        """Serve the waiters that may go now: the oldest of those whose owner has room
        in its share, while the budget has room for it."""
        while self._queues:
            first: tuple[str, _Waiter] | None = None
            for owner, queue in self._queues.items():
                waiter = queue[0]
                if self.held.get(owner, 0) + waiter[1] > self.share:
                    continue  # over its owner's share: the others pass
                if first is None or waiter[0] < first[1][0]:
                    first = (owner, waiter)
            if first is None:
                return
            owner, (_, amount, future) = first
            if self.used + amount > self.limit:
                return  # the oldest that may go waits for the budget; no one passes it
            queue = self._queues[owner]
            queue.popleft()
            if not queue:
                del self._queues[owner]
            if not future.done():  # (a cancelled one is passed over)
                self._take(owner, amount)
                future.set_result(None)
