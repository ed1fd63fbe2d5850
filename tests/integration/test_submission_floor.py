"""`min_occurred_at` of a real `gateway serve` reaches both the API and the ledger.

The gateway is configured with an earlier floor (1990) than the default
(2000): a record of 1995 is registered end to end, one of 1989 is refused
with INVALID_ARGUMENT naming the field and the setting, and personal data in
a loan reference is refused by the real ledger's gateway as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import pytest

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc
from gateway.api.errors import violations_of
from tests.support.gateway_proc import GatewayProcess, make_pki
from tests.support.grpc_client import rich_status, submission
from tests.support.opened import opened


@pytest.fixture(scope="module")
def evidence(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[evidence_service_pb2_grpc.EvidenceServiceStub]:
    folder = tmp_path_factory.mktemp("floor")
    make_pki(folder / "data" / "pki")
    config = folder / "gateway.toml"
    config.write_text(
        'listen = "127.0.0.1:0"\ndata_dir = "data"\nhealth_poll_seconds = 0.2\n'
        "min_occurred_at = 1990-01-01T00:00:00Z\n"
    )
    proc = GatewayProcess(config, folder)
    proc.start()
    channel = proc.channel()
    try:
        yield evidence_service_pb2_grpc.EvidenceServiceStub(channel)
    finally:
        channel.close()
        assert proc.stop() == 0, proc.log_path.read_text()


def test_a_configured_floor_is_applied(
    evidence: evidence_service_pb2_grpc.EvidenceServiceStub,
) -> None:
    old = submission("loan-1995", occurred_at=datetime(1995, 6, 1, tzinfo=UTC))
    receipt = evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=old), timeout=30)
    assert opened(receipt.receipt).occurred_at == datetime(1995, 6, 1, tzinfo=UTC)

    older = submission("loan-1989", occurred_at=datetime(1989, 12, 31, tzinfo=UTC))
    with pytest.raises(grpc.RpcError) as info:
        evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=older), timeout=30)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    ((field, description),) = violations_of(rich_status(info.value))
    assert field == "submission.occurred_at"
    assert description.startswith("must not be before 1990-01-01T00:00:00Z")
    assert "min_occurred_at" in description


def test_personal_data_is_refused(evidence: evidence_service_pb2_grpc.EvidenceServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as info:
        evidence.SubmitEvidence(
            ev.SubmitEvidenceRequest(submission=submission("11010519491231002X")), timeout=30
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    ((field, description),) = violations_of(rich_status(info.value))
    assert field == "submission.loan_ref" and "resident identity number" in description
