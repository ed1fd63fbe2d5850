"""A stream ended unread (errors.abort_unread) gives its call slot back at once, but
gRPC keeps the call, its status queued behind the unread messages, until the client
ends it: InstitutionCallLimit counts such calls and refuses the institution's new
streams while it has ``limit`` of them, so that one client cannot pile them up
without bound (one every ``stalled_write_seconds`` per slot, each tens of KB held by
gRPC until its connection closes). A real gateway: tests/integration/test_stream_adversary.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from gateway.api.call_limit import InstitutionCallLimit
from gateway.api.caller import set_current_caller
from gateway.api.errors import abort_unread, unread_status
from gateway.authz.roles import Caller, Role
from gateway.errors import ResourceExhausted


class _Refused(Exception):
    def __init__(self, status: grpc.Status) -> None:
        super().__init__(status.details)
        self.status = status


class _Context:
    """A call whose status waits behind messages its client does not read, until
    :meth:`client_ends` (it reads them, cancels, or its connection closes)."""

    def __init__(self) -> None:
        self.ended = asyncio.Event()
        self.status: grpc.Status | None = None

    async def abort_with_status(self, status: grpc.Status) -> None:
        self.status = status
        if status.details.startswith("not read for"):
            await self.ended.wait()
        raise _Refused(status)


async def _unread(request: Any, context: Any) -> None:
    await abort_unread(context, ResourceExhausted("not read for 30 s"))


async def _stream(request: Any, context: Any) -> AsyncIterator[str]:
    yield "message"


async def _unary(request: Any, context: Any) -> str:
    return "answer"


def _limited(limit: int) -> tuple[InstitutionCallLimit, Any, Any, Any]:
    calls = InstitutionCallLimit(limit, exempt=())
    unread = calls._intercept(grpc.unary_stream_rpc_method_handler(_unread), "/s/Unread")
    stream = calls._intercept(grpc.unary_stream_rpc_method_handler(_stream), "/s/Stream")
    unary = calls._intercept(grpc.unary_unary_rpc_method_handler(_unary), "/s/Unary")
    return calls, unread.unary_stream, stream.unary_stream, unary.unary_unary


async def _call_unread(handler: Any, context: _Context) -> None:
    set_current_caller(Caller("bank-a", Role.LENDER))
    with pytest.raises(asyncio.CancelledError):
        async for _ in handler(None, context):
            pass  # pragma: no cover - it writes nothing


async def _call_stream(handler: Any) -> list[str] | grpc.Status:
    set_current_caller(Caller("bank-a", Role.LENDER))
    context = _Context()
    try:
        return [m async for m in handler(None, context)]
    except _Refused as refused:
        return refused.status


def test_an_unread_stream_gives_its_slot_back_but_is_counted_until_its_client_ends_it() -> None:
    async def scenario() -> None:
        calls, unread, stream, unary = _limited(2)
        first, second = _Context(), _Context()
        # Each task a call of its own (its own context, as grpc.aio runs them).
        await asyncio.create_task(_call_unread(unread, first))
        assert calls.active == {} and calls.unread == {"bank-a": 1}
        assert await asyncio.create_task(_call_stream(stream)) == ["message"]
        await asyncio.create_task(_call_unread(unread, second))
        assert calls.active == {} and calls.unread == {"bank-a": 2}
        # Two streams held unread in gRPC: the next stream is refused, not a unary call.
        refused = await asyncio.create_task(_call_stream(stream))
        assert isinstance(refused, grpc.Status)
        assert refused.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "did not read them" in refused.details
        assert "max_calls_per_institution = 2" in refused.details

        async def call_unary() -> str:
            set_current_caller(Caller("bank-a", Role.LENDER))
            return str(await unary(None, _Context()))

        assert await asyncio.create_task(call_unary()) == "answer"
        # The client ends one (reads it, cancels it, closes its connection): one more stream.
        first.ended.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert calls.unread == {"bank-a": 1}
        assert await asyncio.create_task(_call_stream(stream)) == ["message"]
        second.ended.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert calls.unread == {}

    asyncio.run(scenario())


def test_a_status_sent_in_time_is_not_left_queued() -> None:
    async def scenario() -> None:
        context = _Context()
        context.ended.set()  # the client reads: the status goes out at once
        with pytest.raises(_Refused):
            await abort_unread(context, ResourceExhausted("not read for 30 s"))
        assert unread_status() is None

    asyncio.run(scenario())
