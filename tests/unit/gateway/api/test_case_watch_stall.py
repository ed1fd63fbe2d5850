"""WatchCases' servicer against a client that stops reading: the stream ends once a
message has waited ``stalled_write_seconds`` to be written, drops its subscription at
once, and is counted; a client whose live queue fills is told apart (``slow_reader``).

The real processes over mutual TLS: tests/integration/test_stream_adversary.py."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from evidence_gateway.v1 import case_service_pb2 as cs
from gateway.api import cases as cases_api
from gateway.api.caller import set_current_caller
from gateway.api.cases import CaseServicer
from gateway.authz.roles import Caller, Role
from gateway.cases.notifier import Notifier
from gateway.metrics import Metrics
from tests.support.case_events import NoTables, case_event

SLOW = "gateway_case_watch_slow_disconnects_total"


class _Ended(Exception):
    def __init__(self, status: grpc.Status) -> None:
        super().__init__(status.details)
        self.status = status


class _Context:
    """A call's context whose client takes the first ``reads`` messages, then none: as
    with gRPC's flow control, the next write, and the status after it, wait for ever."""

    def __init__(self, reads: int) -> None:
        self.reads = reads
        self.written: list[cs.WatchCasesResponse] = []
        self.status: grpc.Status | None = None

    async def write(self, message: cs.WatchCasesResponse) -> None:
        if len(self.written) >= self.reads:
            await asyncio.Event().wait()
        self.written.append(message)

    async def abort_with_status(self, status: grpc.Status) -> None:
        self.status = status
        if len(self.written) >= self.reads:
            await asyncio.Event().wait()  # sent after what the client does not take
        raise _Ended(status)


def _servicer(notifier: Notifier, *, stall: float, heartbeat: float) -> CaseServicer:
    service: Any = SimpleNamespace(tables=NoTables())
    ledger: Any = SimpleNamespace(published=lambda: SimpleNamespace(size=0))
    return CaseServicer(
        service, ledger, notifier, heartbeat_seconds=heartbeat, stalled_write_seconds=stall
    )


@pytest.fixture
def denied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The denial reasons the servicer gives (the Observe interceptor's part)."""
    reasons: list[str] = []
    monkeypatch.setattr(cases_api, "mark_denied", lambda reason, role=None: reasons.append(reason))
    return reasons


def test_a_stream_whose_messages_are_not_read_ends_at_the_limit_unsubscribed(
    denied: list[str],
) -> None:
    metrics = Metrics()
    notifier = Notifier()
    notifier.observer = metrics
    stall = 0.3
    # A heartbeat every 0.05 s: the client takes the first message, then none.
    servicer = _servicer(notifier, stall=stall, heartbeat=0.05)
    context = _Context(reads=1)

    async def scenario() -> tuple[float, int]:
        set_current_caller(Caller("bank-a", Role.LENDER))  # the interceptor's part
        started = time.monotonic()
        # The handler ends, without waiting for its status to go out behind the
        # messages the client does not take (its call slot is given back).
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(servicer.WatchCases(cs.WatchCasesRequest(), context), 10)
        took = time.monotonic() - started
        # Unsubscribed as the call ends, not when its generator is collected later.
        return took, notifier.subscriptions

    took, left = asyncio.run(scenario())
    assert left == 0
    assert len(context.written) == 1
    assert stall <= took < stall + 1.0, took
    status = context.status
    assert status is not None and status.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"not read for {stall:g} s (stream.stalled_write_seconds)" in status.details
    assert "reconnect with the last cursor received" in status.details
    assert denied == ["stalled_write"]
    assert metrics.registry.get_sample_value(SLOW) == 1


def test_a_stream_whose_queue_fills_is_a_slow_reader_not_a_full_commit_queue(
    denied: list[str],
) -> None:
    metrics = Metrics()
    notifier = Notifier(queue_size=2)
    notifier.observer = metrics
    servicer = _servicer(notifier, stall=30.0, heartbeat=30.0)
    context = _Context(reads=1_000)

    async def scenario() -> grpc.Status:
        set_current_caller(Caller("bank-a", Role.LENDER))
        call = asyncio.ensure_future(servicer.WatchCases(cs.WatchCasesRequest(), context))
        while not context.written:  # the first cursor: subscribed
            await asyncio.sleep(0.01)
        # Three events arrive for a stream that holds two, before it takes them.
        notifier._deliver([case_event(n) for n in range(3)])
        with pytest.raises(_Ended) as ended:
            await asyncio.wait_for(call, 10)
        return ended.value.status

    status = asyncio.run(scenario())
    assert status.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "queue filled" in status.details
    assert denied == ["slow_reader"]
    assert metrics.registry.get_sample_value(SLOW) == 1
    assert notifier.subscriptions == 0
