"""Writing a stream's answers, and noticing a client that does not take them.

A gRPC write waits while the client's flow-control window is full: a client
that sends and does not read keeps the gateway's write waiting for ever, and
with it what its stream holds. :class:`AnswerWriter` writes one answer at a
time and raises :class:`StalledWrite` in the writing task once one has waited
``limit`` seconds.

One watcher task per stream looks at the write in progress (when it began)
instead of a timer per write (``asyncio.timeout``, a timer handle scheduled
and cancelled for every answer, where a stream of single submissions writes
thousands of answers a second). The watcher wakes every ``limit / 4`` seconds
while no write waits, so it sees a write at most that long after it began,
and then waits for exactly the rest of ``limit``; it ends the write by
cancelling the writing task, which gets :class:`StalledWrite` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

__all__ = ["AnswerWriter", "StalledWrite", "write_all"]


class StalledWrite(Exception):
    """An answer waited ``limit`` seconds to be written: the client does not read."""

    def __init__(self, limit: float) -> None:
        super().__init__(f"an answer waited {limit:g} s to be written")
        self.limit = limit


class AnswerWriter:
    """Writes with ``write`` (e.g. ``context.write`` of a gRPC call), one answer at a
    time, from one task; :meth:`close` when done."""

    def __init__(self, write: Callable[[Any], Awaitable[None]], limit: float) -> None:
        if limit <= 0:
            raise ValueError(f"the stalled-write limit must be positive, got {limit}")
        self._write = write
        self._limit = limit
        self._since: float | None = None  # when the write in progress began (loop time)
        self._stalled = False
        self._writer: asyncio.Task[Any] | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def write(self, message: Any) -> None:
        """Write ``message``; :class:`StalledWrite` once it has waited ``limit`` seconds."""
        loop = asyncio.get_running_loop()
        if self._watcher is None:
            self._writer = asyncio.current_task()
            self._watcher = loop.create_task(self._watch())
        self._since = loop.time()
        try:
            await self._write(message)
        except asyncio.CancelledError:
            if not self._stalled:
                raise  # the call was cancelled
            assert self._writer is not None
            self._writer.uncancel()  # the watcher's cancellation, handled here
            raise StalledWrite(self._limit) from None
        finally:
            self._since = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            since = self._since
            if since is None:
                await asyncio.sleep(self._limit / 4)
                continue
            left = since + self._limit - loop.time()
            if left > 0:
                await asyncio.sleep(left)
                continue
            assert self._writer is not None
            self._stalled = True
            self._writer.cancel()
            return

    def close(self) -> None:
        """Stop watching (the stream ends)."""
        if self._watcher is not None:
            self._watcher.cancel()  # a sleep: nothing to wait for


async def write_all(
    answers: AsyncGenerator[Any, None], write: Callable[[Any], Awaitable[None]], limit: float
) -> StalledWrite | None:
    """Write every answer of ``answers`` through an :class:`AnswerWriter`; the
    :class:`StalledWrite` that ended it, or None once ``answers`` is done. ``answers`` is
    closed (``aclose``) on the way out, whatever ended it, so that what it holds (a
    stream's budget, a subscription) is given back now rather than when it is
    collected; an exception it raises passes through."""
    writer = AnswerWriter(write, limit)
    try:
        async for answer in answers:
            await writer.write(answer)
    except StalledWrite as stalled:
        return stalled
    finally:
        writer.close()
        await answers.aclose()
    return None
