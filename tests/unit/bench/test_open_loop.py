"""bench.gateway's open loop counts a call's latency from when it was due, so a client
that falls behind shows in the figures instead of hiding them (coordinated omission)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from bench.gateway import open_loop_calls, unary_open_loop


class _StallingStub:
    """Answers at once; after its first call the client's event loop stalls 80 ms."""

    def __init__(self) -> None:
        self.calls = 0

    async def SubmitEvidence(self, request: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            asyncio.get_running_loop().call_soon(time.sleep, 0.08)
        return SimpleNamespace(receipt=SimpleNamespace(entry_id="e"))


def test_late_calls_count_from_when_they_were_due() -> None:
    calls = asyncio.run(open_loop_calls(_StallingStub(), 200.0, 0.2))  # type: ignore[arg-type]
    assert len(calls) == 40
    late = [c for c in calls if c.started - c.due > 0.04]
    assert late, "the stall delayed no call"
    for c in late:
        assert c.answered is not None
        assert c.answered - c.due >= c.started - c.due  # the delay is in the latency


def test_the_summary_reports_the_stall_in_p99_and_lateness() -> None:
    _, _, p99, failed, late_p99 = asyncio.run(
        unary_open_loop(_StallingStub(), 200.0, 0.2)  # type: ignore[arg-type]
    )
    assert failed == 0
    assert late_p99 >= 40.0
    assert p99 >= late_p99  # the stub itself answers at once: the tail is the client's
