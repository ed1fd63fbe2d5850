"""Graceful stop of the gRPC server (on the real ledger): GatewayServer.drain.

The whole process under load (signals, exit codes, restart) is
tests/integration/test_graceful_shutdown.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from evidence_gateway.v1 import evidence_service_pb2 as ev
from gateway.api.evidence import STREAM_DRAINED
from gateway.api.shutdown import REFUSED, ShutdownGate
from gateway.cases.notifier import Notifier
from gateway.config import ConfigError, load_config
from gateway.stopping import serve_until_signalled
from tests.support.grpc_client import submission
from tests.unit.gateway.api.conftest import Harness


def test_drain_answers_what_a_stream_read_ends_it_and_refuses_new_calls(
    harness: Harness,
) -> None:
    sent = [submission("drain") for _ in range(20)]
    hold = threading.Event()  # the client never ends its side of the stream

    def requests() -> Iterator[ev.SubmitEvidenceStreamRequest]:
        for s in sent:
            yield ev.SubmitEvidenceStreamRequest(submission=s)
        hold.wait(30)

    before = harness.ledger.size
    call = harness.evidence.SubmitEvidenceStream(requests(), timeout=30)
    answers = [next(call) for _ in range(5)]  # the stream is under way
    try:
        drained = harness.run(harness.server.drain(10.0))
        for answer in call:
            answers.append(answer)
        pytest.fail("the stream ended with OK while the client still had it open")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc.details()
        assert exc.details() == STREAM_DRAINED
    finally:
        hold.set()
    assert drained is True
    # Every submission read was answered, in order, each with a receipt.
    assert [a.request_id for a in answers] == [s.request_id for s in sent[: len(answers)]]
    assert all(a.HasField("receipt") for a in answers)
    # Every submission registered was answered: how many the stream had read when the
    # drain began depends on the scheduling, but none was registered and left unanswered.
    assert harness.ledger.size - before == len(answers)

    health = health_pb2_grpc.HealthStub(harness.channel)
    status = health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING
    with pytest.raises(grpc.RpcError) as refused:
        harness.evidence.SubmitEvidence(
            ev.SubmitEvidenceRequest(submission=submission("late")), timeout=5
        )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert refused.value.details() == REFUSED
    assert harness.server.gate.active == 0


def test_wait_idle_gives_up_after_the_grace_period_or_when_hurried() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        gate = ShutdownGate(())
        assert await gate.wait_idle(0.0)  # nothing running
        await gate._admit(None)  # one call running
        gate.close()
        timed_out = await gate.wait_idle(0.05)
        hurry = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, hurry.set)
        hurried = await gate.wait_idle(30.0, hurry)
        loop.call_later(0.05, gate._release, None)
        ended = await gate.wait_idle(30.0)
        return timed_out, hurried, ended

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) == (False, False, True)


def test_a_closed_notifier_ends_every_subscription_now_and_later() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        notifier = Notifier()
        before = notifier.subscribe("bank-a", True)
        notifier.close()
        after = notifier.subscribe("bank-b", False)
        return before.closed and before.wake.is_set(), after.closed, after.wake.is_set()

    assert asyncio.run(scenario()) == (True, True, True)


def test_the_grace_period_is_configured_by_file_or_environment(tmp_path: Path) -> None:
    assert load_config(None, environ={}).shutdown_grace_seconds == 15.0
    config = tmp_path / "gateway.toml"
    config.write_text("[shutdown]\ngrace_seconds = 2.5\n")
    assert load_config(config, environ={}).shutdown_grace_seconds == 2.5
    env = {"GATEWAY_SHUTDOWN_GRACE_SECONDS": "0"}
    assert load_config(config, environ=env).shutdown_grace_seconds == 0.0
    with pytest.raises(ConfigError, match=r"shutdown\.grace_seconds must not be negative"):
        load_config(None, environ={"GATEWAY_SHUTDOWN_GRACE_SECONDS": "-1"})


class _Server:
    """A stand-in for GatewayServer: its drain waits for ``hurry`` up to the grace."""

    def __init__(self) -> None:
        self.draining = asyncio.Event()
        self.stopped_with: float | None = None

    async def drain(self, grace: float, hurry: asyncio.Event | None = None) -> bool:
        self.draining.set()
        assert hurry is not None
        try:
            await asyncio.wait_for(hurry.wait(), grace)
        except TimeoutError:
            return False
        return False

    async def stop(self, grace: float = 5.0) -> None:
        self.stopped_with = grace


@pytest.mark.parametrize("signals", [1, 2])
def test_a_signal_drains_and_a_second_one_stops_waiting(signals: int) -> None:
    async def scenario() -> tuple[bool, _Server, float]:
        server = _Server()
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(serve_until_signalled(server, 0.3, None, 1.0))
        await asyncio.sleep(0.05)  # the handlers are installed
        started = loop.time()
        for _ in range(signals):
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(server.draining.wait(), 5)
        clean = await asyncio.wait_for(task, 5)
        return clean, server, loop.time() - started

    clean, server, took = asyncio.run(scenario())
    assert clean is False  # the stand-in's calls never end on their own
    if signals == 1:
        assert server.stopped_with == 1.0 and took >= 0.3  # waited out the grace
    else:
        assert server.stopped_with == 0.0 and took < 0.3  # the second signal cut it short
    # The process's own handlers are back (pytest's SIGINT handler, default SIGTERM).
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
