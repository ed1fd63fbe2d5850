"""Health checking and reflection of the gRPC server (on the real ledger)."""

from __future__ import annotations

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
