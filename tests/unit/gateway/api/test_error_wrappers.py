"""The servicer wrapper ends every RPC with one status: the core's, INTERNAL, or grpc's own
(streams write with context.write inside it, so one wrapper serves every method)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from gateway.api.errors import rpc_errors
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


async def _unary(error: BaseException) -> FakeContext:
    context = FakeContext()
    with pytest.raises(grpc.aio.AbortError):
        await Servicer(error).Unary(None, context)
    return context


def test_gateway_error_gets_its_own_status() -> None:
    context = asyncio.run(_unary(NotFound("no entry abc")))
    assert context.status.code == grpc.StatusCode.NOT_FOUND
    assert "no entry abc" in context.status.details


def test_unexpected_error_is_internal_without_its_text(caplog: pytest.LogCaptureFixture) -> None:
    context = asyncio.run(_unary(RuntimeError("secret row of another bank")))
    assert context.status.code == grpc.StatusCode.INTERNAL
    assert "secret" not in context.status.details
    assert "logged" in context.status.details
    assert "secret row of another bank" in caplog.text  # the operator sees it in the log


def test_grpc_abort_passes_through_untouched() -> None:
    abort = grpc.aio.AbortError()
    context = FakeContext()

    async def run() -> None:
        await Servicer(abort).Unary(None, context)

    with pytest.raises(grpc.aio.AbortError) as raised:
        asyncio.run(run())
    assert raised.value is abort
    assert context.status is None  # no second status on top of grpc's own
