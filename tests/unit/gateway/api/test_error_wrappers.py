"""The servicer wrappers end every RPC with one status: the core's, INTERNAL, or grpc's own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from gateway.api.errors import rpc_errors, rpc_stream_errors
from gateway.errors import NotFound


class FakeContext:
    """Records the status an RPC ends with; aborting raises, as grpc.aio does."""

    def __init__(self) -> None:
        self.status: Any = None

    async def abort_with_status(self, status: Any) -> None:
        self.status = status
        raise grpc.aio.AbortError()


class Servicer:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    @rpc_errors()
    async def Unary(self, request: Any, context: Any) -> str:
        raise self.error

    @rpc_stream_errors()
    async def Stream(self, request: Any, context: Any) -> AsyncIterator[str]:
        yield "first"
        raise self.error


async def _unary(error: BaseException) -> FakeContext:
    context = FakeContext()
    with pytest.raises(grpc.aio.AbortError):
        await Servicer(error).Unary(None, context)
    return context


async def _stream(error: BaseException) -> tuple[list[str], FakeContext]:
    context = FakeContext()
    got: list[str] = []
    with pytest.raises(grpc.aio.AbortError):
        async for item in Servicer(error).Stream(None, context):
            got.append(item)
    return got, context


@pytest.mark.parametrize("kind", ["unary", "stream"])
def test_gateway_error_gets_its_own_status(kind: str) -> None:
    error = NotFound("no entry abc")
    context = asyncio.run(_unary(error)) if kind == "unary" else asyncio.run(_stream(error))[1]
    assert context.status.code == grpc.StatusCode.NOT_FOUND
    assert "no entry abc" in context.status.details


@pytest.mark.parametrize("kind", ["unary", "stream"])
def test_unexpected_error_is_internal_without_its_text(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    error = RuntimeError("secret row of another bank")
    if kind == "unary":
        context = asyncio.run(_unary(error))
    else:
        got, context = asyncio.run(_stream(error))
        assert got == ["first"]  # what was sent before the failure stays sent
    assert context.status.code == grpc.StatusCode.INTERNAL
    assert "secret" not in context.status.details
    assert "logged" in context.status.details
    assert "secret row of another bank" in caplog.text  # the operator sees it in the log


@pytest.mark.parametrize("kind", ["unary", "stream"])
def test_grpc_abort_passes_through_untouched(kind: str) -> None:
    abort = grpc.aio.AbortError()
    context = FakeContext()

    async def run() -> None:
        if kind == "unary":
            await Servicer(abort).Unary(None, context)
        else:
            async for _ in Servicer(abort).Stream(None, context):
                pass

    with pytest.raises(grpc.aio.AbortError) as raised:
        asyncio.run(run())
    assert raised.value is abort
    assert context.status is None  # no second status on top of grpc's own
