"""Health warns before the TSA certificate or its root expires, and submissions go on."""

from __future__ import annotations

from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc
from notary.pki import init_pki
from tests.support.gateway_proc import GatewayProcess, write_config
from tests.support.grpc_client import submission

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
CERTIFICATES = "evidence_gateway.certificates"


def _gateway(folder: Path, pki: Path, warning_days: int) -> GatewayProcess:
    folder.mkdir()
    config = write_config(
        folder, top={"certificate_warning_days": warning_days}, sections={"tsa": {"pki_dir": pki}}
    )
    return GatewayProcess(config, folder)


def _status(proc: GatewayProcess, service: str) -> int:
    with proc.channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return int(stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status)


@pytest.mark.parametrize(("warning_days", "certificates"), [(30, NOT_SERVING), (5, SERVING)])
def test_certificates_health_warns_ahead_of_expiry(
    tmp_path: Path, warning_days: int, certificates: int
) -> None:
    """TSA certificate valid 10 days, root 20: a warning with 30 days' notice, none with 5."""
    pki = tmp_path / "pki"
    init_pki(pki, validity_days={"tsa": 10, "root": 20})
    proc = _gateway(tmp_path / "gateway", pki, warning_days)
    proc.start()
    try:
        assert _status(proc, CERTIFICATES) == certificates
        assert _status(proc, "") == SERVING  # submissions still work
        with proc.channel() as channel:
            stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
            request = ev.SubmitEvidenceRequest(submission=submission("loan-expiring"))
            assert stub.SubmitEvidence(request, timeout=30).receipt.entry_id
    finally:
        assert proc.stop() == 0
    log = proc.log_path.read_text()
    if certificates == SERVING:
        assert "certificates:" not in log
        return
    assert "WARNING gateway.server: certificates: the TSA certificate CN=" in log
    assert " (in 9 days " in log and "renew it before then" in log
    assert "certificates: the root certificate CN=" in log
