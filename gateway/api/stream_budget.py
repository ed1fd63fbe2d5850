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

The cost of a message is an upper bound of what it holds in memory once
parsed: twice its serialized size plus 512 bytes (measured: a 99-byte
submission holds about 510 bytes once parsed, a 5.6 KB one about 7 KB).
A stream message larger than :data:`MAX_STREAM_MESSAGE_BYTES` cannot be a
valid submission; it is answered with an error and not kept.
"""

from __future__ import annotations

import asyncio
import collections

__all__ = ["MAX_STREAM_MESSAGE_BYTES", "READ_SLOT_BYTES", "ByteBudget", "message_cost"]

#: The largest stream message kept: a valid submission (16 metadata entries of
#: 256 bytes, the longest ids) is under 6 KB.
MAX_STREAM_MESSAGE_BYTES = 8 * 1024
_ITEM_BYTES = 512


def message_cost(size: int) -> int:
    """What a message of ``size`` serialized bytes counts against the budget."""
    return 2 * min(size, MAX_STREAM_MESSAGE_BYTES) + _ITEM_BYTES


#: What a reader reserves before reading one message: the most a message may cost.
READ_SLOT_BYTES = message_cost(MAX_STREAM_MESSAGE_BYTES)


class ByteBudget:
    """A pool of ``limit`` bytes shared by the streams of one server (one event loop).

    Waiters are served in arrival order, so a stream reserving a slot is not
    starved by others that keep taking smaller amounts. ``used`` is what is
    reserved now; ``peak`` the most that was ever reserved at once.
    """

    def __init__(self, limit: int) -> None:
        if limit < READ_SLOT_BYTES:
            raise ValueError(f"a stream budget holds at least one read slot ({READ_SLOT_BYTES})")
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    def _take(self, amount: int) -> None:
        self.used += amount
        self.peak = max(self.peak, self.used)

    async def acquire(self, amount: int) -> None:
        """Reserve ``amount`` bytes, waiting (first come, first served) until they are free."""
        if not 0 <= amount <= self.limit:
            raise ValueError(f"cannot reserve {amount} bytes of a budget of {self.limit}")
        if not self._waiters and self.used + amount <= self.limit:
            self._take(amount)
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((amount, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(amount)  # granted, but its taker is gone
            else:
                self._waiters.remove((amount, waiter))
                self._wake()  # a smaller waiter behind it may fit now
            raise

    def release(self, amount: int) -> None:
        """Give ``amount`` reserved bytes back."""
        if amount:
            self.used -= amount
            assert self.used >= 0, "released more than was reserved"
            self._wake()

    def _wake(self) -> None:
        while self._waiters:
            amount, waiter = self._waiters[0]
            if self.used + amount > self.limit:
                return
            self._waiters.popleft()
            if not waiter.done():
                self._take(amount)
                waiter.set_result(None)
