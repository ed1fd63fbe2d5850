"""Protobuf <-> core conversion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf import timestamp_pb2

from evidence_gateway.v1 import common_pb2
from gateway.api import convert
from gateway.model import EvidenceKind
from tests.support.grpc_client import submission


def test_every_kind_and_algorithm_round_trips() -> None:
    for kind in EvidenceKind:
        assert convert.kind_from_proto(convert.kind_to_proto(kind)) is kind
    for name in ("sha256", "sha384", "sha512", "sm3"):
        assert convert.algorithm_from_proto(convert.algorithm_to_proto(name)) == name
    assert convert.kind_from_proto(common_pb2.EVIDENCE_KIND_UNSPECIFIED) is None
    assert convert.kind_from_proto(12345) is None
    assert convert.algorithm_from_proto(common_pb2.HASH_ALGORITHM_UNSPECIFIED) is None


def test_submission_round_trips() -> None:
    message = submission("loan-9", metadata={"b": "2", "a": "1"}, supersedes="abc")
    model, problems = convert.submission_from_proto(message, "bank-a", datetime.now(UTC))
    assert problems == []
    assert model.institution == "bank-a"
    assert model.metadata == (("a", "1"), ("b", "2"))
    assert model.kind is EvidenceKind.REPAYMENT
    assert convert.submission_to_proto(model) == message


def test_timestamps_truncate_to_microseconds_and_reject_out_of_range() -> None:
    ts = timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=123_456_789)
    value = convert.datetime_from_proto(ts)
    assert value == datetime.fromtimestamp(1_700_000_000, UTC).replace(microsecond=123_456)
    assert convert.datetime_from_proto(timestamp_pb2.Timestamp(seconds=-62_135_596_801)) is None
    assert convert.datetime_from_proto(timestamp_pb2.Timestamp(seconds=0, nanos=-1)) is None
    message = submission()
    message.occurred_at.seconds = 253_402_300_800
    _, problems = convert.submission_from_proto(message, "bank-a", datetime.now(UTC))
    assert [f for f, _ in problems] == ["occurred_at"]


@pytest.mark.parametrize(
    ("value", "size", "bad"), [(0, 100, False), (7, 7, False), (5000, 1000, False), (-1, 100, True)]
)
def test_page_size(value: int, size: int, bad: bool) -> None:
    got, problems = convert.page_size_from_proto(value)
    assert got == size
    assert bool(problems) is bad


def test_checkpoint_fields_are_parsed_from_the_note() -> None:
    bogus = convert.checkpoint_to_proto("not a note")
    assert bogus.signed_note == "not a note" and bogus.size == 0


def test_an_empty_timestamp_is_refused_by_the_floor() -> None:
    message = submission()
    message.occurred_at.Clear()  # set, but empty: 1970-01-01T00:00:00Z
    assert message.HasField("occurred_at")
    _, problems = convert.submission_from_proto(message, "bank-a", datetime.now(UTC))
    assert [f for f, _ in problems] == ["occurred_at"]
    assert problems[0][1].startswith("must not be before 2000-01-01T00:00:00Z")
    # A configured floor is the one applied.
    message.occurred_at.FromDatetime(datetime(1995, 1, 1, tzinfo=UTC))
    _, refused = convert.submission_from_proto(message, "bank-a", datetime.now(UTC))
    _, accepted = convert.submission_from_proto(
        message, "bank-a", datetime.now(UTC), datetime(1990, 1, 1, tzinfo=UTC)
    )
    assert [f for f, _ in refused] == ["occurred_at"] and accepted == []


def test_milliseconds_sent_as_seconds_are_out_of_range() -> None:
    message = submission()
    message.occurred_at.seconds = 1_717_171_717_123  # Date.now() in a JavaScript client
    _, problems = convert.submission_from_proto(message, "bank-a", datetime.now(UTC))
    assert [f for f, _ in problems] == ["occurred_at"]
    assert "milliseconds sent as seconds" in problems[0][1]
