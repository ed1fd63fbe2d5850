"""The one mapping from gateway errors to gRPC statuses."""

from __future__ import annotations

import re

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2
from hypothesis import given
from hypothesis import strategies as st

from evidence_gateway.v1 import evidence_service_pb2 as ev
from gateway.api.caller import Unauthenticated
from gateway.api.errors import (
    MAX_DETAILS_CHARS,
    MAX_FIELD_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_RULE_CHARS,
    field_path,
    grpc_code,
    shown,
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
from tests.support.grpc_client import submission
from tests.unit.gateway.api.conftest import Harness


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
    if not isinstance(error, InvalidArgument):
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


# --- the top-level message: field and rule, bounded, escaped ---------------------------

PRINTABLE_ASCII = re.compile(r"[ -~]*")
ELEVEN_DIGITS = re.compile(r"\d(?:[ -]?\d){10,}")


def _safe(text: str, limit: int) -> None:
    """What an error shows: printable ASCII, within its bound, no 11-digit run."""
    assert PRINTABLE_ASCII.fullmatch(text), text
    assert len(text) <= limit
    assert not ELEVEN_DIGITS.search(text), text


def test_message_names_the_field_and_the_rule() -> None:
    error = InvalidArgument([("digest", "must be 32 bytes for sha256, got 31")])
    status = to_rpc_status(error, "submission")
    assert status.message == "submission.digest: must be 32 bytes for sha256, got 31"
    assert violations_of(status) == [("submission.digest", "must be 32 bytes for sha256, got 31")]


def test_message_names_the_first_three_and_counts_the_rest() -> None:
    error = InvalidArgument([(f"f{i}", f"rule {i}") for i in range(5)])
    status = to_rpc_status(error, "submission")
    assert status.message == (
        "submission.f0: rule 0; submission.f1: rule 1; submission.f2: rule 2; "
        "and 2 more (google.rpc.BadRequest in the details lists them)"
    )
    assert len(violations_of(status)) == 5


def test_message_for_the_request_item_itself() -> None:
    status = to_rpc_status(InvalidArgument([("", "is required")]), "submission")
    assert status.message == "submission: is required"
    assert to_rpc_status(InvalidArgument([("", "is empty")])).message == "request: is empty"


def test_per_item_status_names_paths_relative_to_the_item() -> None:
    status = to_rpc_status(InvalidArgument([("loan_ref", "must be 1 to 128 characters")]))
    assert status.message == "loan_ref: must be 1 to 128 characters"


FORGED = "k\x1b[32mPASS\r\nVALID\u202e\u2066\x00\\x1b"


def test_text_from_the_request_is_escaped_in_message_and_details() -> None:
    error = InvalidArgument([(f"metadata[{FORGED}]", f"value {FORGED} is bad")])
    status = to_rpc_status(error, "submission")
    escaped = "k\\x1b[32mPASS\\r\\nVALID\\u202e\\u2066\\x00\\\\x1b"
    assert status.message == f"submission.metadata[{escaped}]: value {escaped} is bad"
    ((field, rule),) = violations_of(status)
    assert (field, rule) == (f"submission.metadata[{escaped}]", f"value {escaped} is bad")
    for text in (status.message, field, rule):
        _safe(text, MAX_MESSAGE_CHARS)


@pytest.mark.parametrize(
    ("number", "digits"),
    [
        ("13812345678", 11),  # mobile
        ("11010519491231002X", 17),  # resident identity number, check character X
        ("110105491231002", 15),  # the old 15-digit form
        ("6222 0212 3456 7890", 16),  # bank card, grouped
        ("6222-0212-3456-7890-123", 19),
    ],
)
def test_personal_numbers_are_never_shown(number: str, digits: int) -> None:
    error = InvalidArgument([(f"metadata[{number}]", f"holds {number}")])
    status = to_rpc_status(error, "submission")
    hidden = f"[{digits} digits hidden]"
    assert status.message == f"submission.metadata[{hidden}]: holds {hidden}"
    assert violations_of(status) == [(f"submission.metadata[{hidden}]", f"holds {hidden}")]
    echoed = to_rpc_status(NotFound(f"no evidence record has the entry id {number!r}"))
    assert echoed.message == f"no evidence record has the entry id '{hidden}'"


def test_hashes_and_small_numbers_are_shown_whole() -> None:
    leaf_hash = "0123456789" * 6 + "abcd"
    message = f"no leaf with hash {leaf_hash} among the first 1000000000 leaves"
    assert to_rpc_status(NotFound(message)).message == message


def test_every_status_message_is_escaped_and_bounded() -> None:
    for error in (
        NotFound(FORGED * 500),
        AlreadyExists(FORGED),
        Unavailable(FORGED),
        ResourceExhausted(FORGED),
        FailedPrecondition(FORGED),
        Unauthenticated(f"the x-institution header {FORGED!r} is not an institution id"),
    ):
        message = to_rpc_status(error).message
        _safe(message, MAX_MESSAGE_CHARS)
        assert "\\x1b" in message


def test_huge_violations_are_cut_within_bounds() -> None:
    key = "\x00" * 128
    error = InvalidArgument([(f"metadata[{key}{i}]", "x" * 10_000) for i in range(17)])
    status = to_rpc_status(error, "submission")
    _safe(status.message, MAX_MESSAGE_CHARS)
    assert status.message.startswith("submission.metadata[\\x00\\x00")
    named = status.message.count("submission.metadata[")
    assert 1 <= named <= 3
    assert status.message.endswith(
        f"; and {17 - named} more (google.rpc.BadRequest in the details lists them)"
    )
    violations = violations_of(status)
    for field, rule in violations:
        _safe(field, MAX_FIELD_CHARS)
        _safe(rule, MAX_RULE_CHARS)
    assert all(f.endswith("...") and r.endswith("...") for f, r in violations[:-1])
    assert sum(len(f) + len(r) for f, r in violations) <= MAX_DETAILS_CHARS + MAX_FIELD_CHARS + 20
    assert violations[-1] == ("submission", f"and {17 - len(violations) + 1} more")
    assert len(status.SerializeToString()) < 6000  # the trailer stays far below gRPC's 8 KiB


def test_a_huge_text_is_cut_and_says_so() -> None:
    assert shown("7" * 100_000, 100) == "[264 digits hidden]..."  # what was read of it
    assert shown("x" * 100_000, 10) == "xxxxxxx..."


def test_an_escape_is_never_cut_in_half() -> None:
    assert shown("\x00" * 10, 13) == "\\x00\\x00..."
    assert shown("abcdef", 6) == "abcdef"
    assert shown("abcdefg", 6) == "abc..."


@given(st.text(max_size=400), st.integers(min_value=8, max_value=300))
def test_shown_is_always_printable_bounded_and_hides_digit_runs(text: str, limit: int) -> None:
    _safe(shown(text, limit), limit)


@given(st.lists(st.tuples(st.text(max_size=200), st.text(max_size=400)), min_size=1, max_size=30))
def test_any_violations_give_a_safe_message_naming_the_first_field(
    violations: list[tuple[str, str]],
) -> None:
    status = to_rpc_status(InvalidArgument(violations), "submission")
    _safe(status.message, MAX_MESSAGE_CHARS)
    first_field, first_rule = violations_of(status)[0]
    assert status.message.startswith(f"{first_field}: {first_rule}")


def test_the_rule_reaches_a_grpc_client_in_the_message(harness: Harness) -> None:
    bad = submission(digest=b"\x01" * 31)
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=bad))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == (
        "submission.digest: must be 32 bytes for sha256, got 31; send the raw digest, "
        "not its hex text"
    )
