"""Protobuf <-> core conversion."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from google.protobuf import timestamp_pb2

from court.evidence.opening import LeafOpening
from court.receipts import receipt_opening
from evidence_gateway.v1 import common_pb2
from gateway.api import convert
from gateway.model import EvidenceKind, Receipt
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
    assert model.owner == "bank-a"  # empty owner: the submitter's own loan
    message.owner = "bank-a"
    assert convert.submission_to_proto(model) == message


def test_submission_names_its_owner() -> None:
    message = submission("loan-9", kind=common_pb2.EVIDENCE_KIND_COLLECTION_CALL)
    message.owner = "bank-b"
    model, problems = convert.submission_from_proto(message, "agency-1", datetime.now(UTC))
    assert problems == []
    assert (model.institution, model.owner) == ("agency-1", "bank-b")
    assert convert.submission_to_proto(model) == message


def test_gateway_kinds_and_reserved_loans_are_not_submitted() -> None:
    message = submission(":all-loans", kind=common_pb2.EVIDENCE_KIND_LOAN_SHARED)
    _, problems = convert.submission_from_proto(message, "bank-a", datetime.now(UTC))
    assert [field for field, _ in problems] == ["kind", "loan_ref"]
    assert "recorded by the gateway itself" in problems[0][1]


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


def test_a_receipt_carries_the_opening_of_a_version_2_leaf_only() -> None:
    opening = LeafOpening(private_record=b"\x30\x00", loan_salt=b"\x07" * 32)
    receipt = Receipt(
        entry_id="e1",
        leaf_index=3,
        leaf=b"leaf",
        timestamp_token=b"token",
        checkpoint="not a note",
        tree_size=4,
        inclusion_proof=(),
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        loan_sequence=1,
        previous_leaf_hash=b"",
        opening=opening,
    )
    message = convert.receipt_to_proto(receipt)
    assert message.HasField("opening")
    assert (message.opening.private_record, message.opening.loan_salt) == (
        opening.private_record,
        opening.loan_salt,
    )
    assert receipt_opening(message) == opening  # what court-verify reads back
    v1 = convert.receipt_to_proto(replace(receipt, opening=None))
    assert not v1.HasField("opening") and receipt_opening(v1) is None
