"""One institution cannot take every call slot: the cap per institution
(``max_calls_per_institution``), over real gRPC on the real ledger."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from gateway.authz.roles import Role
from tests.support.grpc_client import submission
from tests.unit.gateway.api.conftest import Harness
from tests.unit.gateway.api.test_authorization import submit, who


def _error(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def test_one_institution_cannot_take_every_call_slot(harness: Harness) -> None:
    """``max_concurrent_rpcs`` is one pool for all institutions: a lender (or a
    collection agency) holding that many idle submission streams would make every
    other institution's calls RESOURCE_EXHAUSTED. One institution holds at most
    ``max_calls_per_institution`` calls (a quarter of the pool by default); beyond,
    its own calls are refused, naming that limit, and the others are served."""
    h = harness
    assert h.server.institution_calls.limit == 250  # a quarter of the default 1,000
    h.server.calls.limit = 4
    h.server.institution_calls.limit = 2
    stop = threading.Event()

    def idle() -> Iterator[ev.SubmitEvidenceStreamRequest]:
        stop.wait(30)
        return
        yield  # pragma: no cover - a generator that sends nothing

    calls = [
        h.evidence.SubmitEvidenceStream(idle(), metadata=who(Role.LENDER, "bank-a"))
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 10
        while h.server.calls.active < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert h.server.institution_calls.active == {"bank-a": 2}
        third = h.evidence.SubmitEvidenceStream(idle(), metadata=who(Role.LENDER, "bank-a"))
        refused = _error(lambda: list(third))
        assert refused.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_calls_per_institution = 2" in (refused.details() or "")
        # bank-b has no call in progress: it is served, and so is a second one of it.
        h.log.GetCheckpoint(lg.GetCheckpointRequest(), metadata=who(Role.LENDER, "bank-b"))
        submit(h, submission("B-1"), Role.LENDER, "bank-b")
    finally:
        stop.set()
        for call in calls:
            list(call)
    deadline = time.monotonic() + 10
    while h.server.calls.active and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (h.server.calls.active, h.server.institution_calls.active) == (0, {})
