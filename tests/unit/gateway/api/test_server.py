"""Health checking and reflection of the gRPC server (on the real ledger)."""

from __future__ import annotations

import asyncio
import time

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from gateway.server import API_SERVICES
from tests.unit.gateway.api.conftest import Harness

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def check(h: Harness, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(h.channel)
    return int(stub.Check(health_pb2.HealthCheckRequest(service=service)).status)


def wait_for(h: Harness, want: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        status = check(h)
        if status == want or time.monotonic() > deadline:
            return status


def test_health_follows_the_ledgers_dependencies(harness: Harness) -> None:
    assert check(harness) == SERVING
    for name in API_SERVICES:
        assert check(harness, name) == SERVING
    harness.tsa.down = True
    assert wait_for(harness, NOT_SERVING) == NOT_SERVING
    assert check(harness, API_SERVICES[0]) == NOT_SERVING
    harness.tsa.down = False
    assert wait_for(harness, SERVING) == SERVING


def test_reflection_lists_every_service(harness: Harness) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(harness.channel)
    responses = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert names >= {
        "evidence_gateway.v1.EvidenceService",
        "evidence_gateway.v1.LogService",
        "evidence_gateway.v1.VerificationService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }


def test_reflection_serves_the_api_descriptors(harness: Harness) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(harness.channel)
    responses = list(
        stub.ServerReflectionInfo(
            iter(
                [
                    reflection_pb2.ServerReflectionRequest(
                        file_containing_symbol="evidence_gateway.v1.EvidenceService"
                    )
                ]
            )
        )
    )
    protos = responses[0].file_descriptor_response.file_descriptor_proto
    assert protos, responses[0]


def test_stop_waits_for_a_running_health_probe_before_closing_the_store(
    harness: Harness,
) -> None:
    # The health poll probes the store in a thread; cancelling the poll does not stop
    # that thread. Closing the store under it crashed the process (the in-memory
    # database's one connection closed in the middle of a query: a segfault).
    harness.store.ping_gate.clear()
    assert harness.store.pinging.wait(10), "no health probe came"
    stopping = asyncio.run_coroutine_threadsafe(harness.server.stop(0.5), harness.loop)
    time.sleep(0.3)
    assert "close" not in harness.store.events  # still waiting for the probe
    harness.store.ping_gate.set()
    stopping.result(10)
    assert harness.store.events[-2:] == ["ping done", "close"]
