"""The one mapping from gateway errors to gRPC statuses."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from gateway.api.caller import Unauthenticated
from gateway.api.errors import (
    field_path,
    grpc_code,
    to_grpc_status,
    to_rpc_status,
    violations_of,
)
from gateway.errors import (
    AlreadyExists,
    FailedPrecondition,
    GatewayError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidArgument([("digest", "bad")]), code_pb2.INVALID_ARGUMENT),
        (NotFound("x"), code_pb2.NOT_FOUND),
        (AlreadyExists("x"), code_pb2.ALREADY_EXISTS),
        (ResourceExhausted("x"), code_pb2.RESOURCE_EXHAUSTED),
        (Unavailable("x"), code_pb2.UNAVAILABLE),
        (FailedPrecondition("x"), code_pb2.FAILED_PRECONDITION),
        (Unauthenticated("x"), code_pb2.UNAUTHENTICATED),
        (GatewayError("x"), code_pb2.UNKNOWN),
    ],
)
def test_each_error_has_one_code(error: GatewayError, code: int) -> None:
    assert grpc_code(error) == code
    assert to_rpc_status(error).code == code
    assert to_rpc_status(error).message == error.message


def test_subclass_maps_like_its_base() -> None:
    class QueueFull(ResourceExhausted):
        pass

    assert grpc_code(QueueFull("x")) == code_pb2.RESOURCE_EXHAUSTED


@pytest.mark.parametrize(
    ("prefix", "field", "path"),
    [
        ("submission", "digest", "submission.digest"),
        ("submission", "metadata[channel]", "submission.metadata[channel]"),
        ("submission", "", "submission"),
        ("", "digest", "digest"),
        ("submissions", "[3].loan_ref", "submissions[3].loan_ref"),
    ],
)
def test_field_paths(prefix: str, field: str, path: str) -> None:
    assert field_path(prefix, field) == path


def test_invalid_argument_carries_bad_request_with_prefixed_fields() -> None:
    error = InvalidArgument([("digest", "too short"), ("metadata[k]", "too long")])
    status = to_rpc_status(error, "submission")
    assert violations_of(status) == [
        ("submission.digest", "too short"),
        ("submission.metadata[k]", "too long"),
    ]
    grpc_status = to_grpc_status(error, "submission")
    assert grpc_status.code is grpc.StatusCode.INVALID_ARGUMENT
    ((key, value),) = grpc_status.trailing_metadata
    assert key == "grpc-status-details-bin"
    assert status_pb2.Status.FromString(value) == status


def test_retryable_errors_suggest_a_delay() -> None:
    for error in (ResourceExhausted("x"), Unavailable("y")):
        (detail,) = to_rpc_status(error).details
        info = error_details_pb2.RetryInfo()
        assert detail.Unpack(info)
        assert info.retry_delay.ToMilliseconds() > 0
    assert list(to_rpc_status(NotFound("z")).details) == []
