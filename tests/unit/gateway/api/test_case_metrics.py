"""The operator's case metrics: events recorded by type, WatchCases streams open, and
streams ended as too slow (RESOURCE_EXHAUSTED)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from evidence_gateway.v1 import case_service_pb2 as cs
from gateway.cases.notifier import Notifier
from gateway.cases.watch import watch_events
from gateway.errors import ResourceExhausted
from gateway.metrics import Metrics
from tests.support.case_events import NoTables, case_event
from tests.support.grpc_client import timestamp
from tests.support.registered_institutions import as_institution as md
from tests.unit.gateway.api.conftest import Harness
from tests.unit.gateway.api.test_case_adversary import _file, certificates, h

__all__ = ["certificates", "h"]  # the fixtures, shared with test_case_adversary


def _metrics(h: Harness) -> Metrics:
    servicer = h.server.cases
    assert servicer is not None
    metrics = Metrics()
    servicer.observe(metrics)
    metrics.watch_cases(servicer)
    return metrics


def test_events_are_counted_by_type_once_each(h: Harness) -> None:
    metrics = _metrics(h)
    get = metrics.registry.get_sample_value
    first = _file(h, "bank-a", "L-M1")
    _file(h, "bank-b", "L-M2")
    request = cs.AcceptCaseRequest(
        request_id="acc-1",
        case_id=first.case_id,
        case_number="(2026)京0105民初1号",
        occurred_at=timestamp(datetime.now(UTC)),
    )
    h.cases.AcceptCase(request, metadata=md("court-1"))
    h.cases.AcceptCase(request, metadata=md("court-1"))  # the same call again: no new event
    h.cases.UpdateCaseStatus(
        cs.UpdateCaseStatusRequest(
            request_id="judg-1",
            case_id=first.case_id,
            event=cs.CASE_EVENT_TYPE_JUDGMENT,
            occurred_at=timestamp(datetime.now(UTC)),
        ),
        metadata=md("court-1"),
    )
    assert get("gateway_case_events_total", {"event": "filed"}) == 2
    assert get("gateway_case_events_total", {"event": "accepted"}) == 1
    assert get("gateway_case_events_total", {"event": "judgment"}) == 1
    assert get("gateway_case_events_total", {"event": "rejected"}) is None


def test_open_streams_are_a_gauge_read_at_the_scrape(h: Harness) -> None:
    metrics = _metrics(h)
    get = metrics.registry.get_sample_value
    assert get("gateway_case_watch_streams") == 0
    streams = [
        h.cases.WatchCases(cs.WatchCasesRequest(), metadata=md(who))
        for who in ("bank-a", "court-1")
    ]
    for stream in streams:
        next(stream)  # the first message: the stream is subscribed
    assert get("gateway_case_watch_streams") == 2
    for stream in streams:
        stream.cancel()
    deadline = time.monotonic() + 10
    while get("gateway_case_watch_streams") != 0:
        assert time.monotonic() < deadline, get("gateway_case_watch_streams")
        time.sleep(0.02)


def test_a_stream_ended_as_too_slow_is_counted() -> None:
    metrics = Metrics()
    notifier = Notifier(queue_size=2)
    notifier.observer = metrics

    async def scenario() -> None:
        stream = watch_events(
            NoTables(),  # type: ignore[arg-type]
            notifier,
            institution="bank-a",
            as_lender=True,
            position=0,
            statuses=(),
        )
        await anext(stream)  # the first cursor: subscribed
        # Three events arrive for a stream that holds two, before it reads them.
        notifier._deliver([case_event(n) for n in range(3)])
        with pytest.raises(ResourceExhausted):
            await asyncio.wait_for(anext(stream), 5)
        await stream.aclose()

    asyncio.run(scenario())
    assert metrics.registry.get_sample_value("gateway_case_watch_slow_disconnects_total") == 1
    assert notifier.subscriptions == 0
