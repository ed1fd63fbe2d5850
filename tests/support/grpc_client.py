"""Client-side helpers for tests of the gRPC API: submissions and error details."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from evidence_gateway.v1 import common_pb2

MIB16 = 16 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MIB16),
    ("grpc.max_send_message_length", MIB16),
]


def timestamp(value: datetime | None = None) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value or datetime.now(UTC) - timedelta(minutes=1))
    return ts


def submission(
    loan_ref: str = "loan-1",
    *,
    data: bytes | None = None,
    request_id: str | None = None,
    kind: int = common_pb2.EVIDENCE_KIND_REPAYMENT,
    hash_algorithm: int = common_pb2.HASH_ALGORITHM_SHA256,
    digest: bytes | None = None,
    occurred_at: datetime | None = None,
    metadata: dict[str, str] | None = None,
    supersedes: str = "",
    owner: str = "",
) -> common_pb2.EvidenceSubmission:
    """A valid submission unless told otherwise; digest = SHA-256 of ``data`` (random)."""
    if digest is None:
        payload = data if data is not None else uuid.uuid4().bytes
        digest = hashlib.sha256(payload).digest()
    return common_pb2.EvidenceSubmission(
        request_id=request_id or str(uuid.uuid4()),
        loan_ref=loan_ref,
        kind=kind,  # type: ignore[arg-type]
        hash_algorithm=hash_algorithm,  # type: ignore[arg-type]
        digest=digest,
        occurred_at=timestamp(occurred_at),
        metadata=metadata or {},
        supersedes=supersedes,
        owner=owner,
    )


def rich_status(error: grpc.RpcError) -> status_pb2.Status:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"no google.rpc.Status in {error!r}"
    return status


def bad_fields(status: status_pb2.Status) -> list[str]:
    """The field paths of the BadRequest in ``status``."""
    fields: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields.extend(v.field for v in bad.field_violations)
    return fields


def error_fields(error: grpc.RpcError) -> list[str]:
    return bad_fields(rich_status(error))
