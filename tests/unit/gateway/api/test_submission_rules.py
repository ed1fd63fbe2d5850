"""Input the gateway refuses over gRPC: personal data, and occurred_at out of bounds.

The field and the rule are named in the google.rpc.BadRequest; the personal
value is never sent back, neither in the message nor in the details.
"""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from evidence_gateway.v1 import evidence_service_pb2 as ev
from tests.support.grpc_client import bad_fields, rich_status, submission
from tests.unit.gateway.api.conftest import Harness

ID_NUMBER = "11010519491231002X"  # the example of GB 11643-1999 (valid check character)


def _descriptions(status: status_pb2.Status) -> list[str]:
    out = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out += [v.description for v in bad.field_violations]
    return out


@pytest.mark.parametrize(
    ("changes", "field", "rule", "value"),
    [
        ({"loan_ref": ID_NUMBER}, "submission.loan_ref", "resident identity number", ID_NUMBER),
        ({"loan_ref": "13812345678"}, "submission.loan_ref", "mobile phone number", "12345678"),
        (
            {"metadata": {"phone": "+86 138-1234-5678"}},
            "submission.metadata[phone]",
            "mobile phone number",
            "1234",
        ),
    ],
)
def test_personal_data_is_refused_without_echo(
    harness: Harness, changes: dict[str, object], field: str, rule: str, value: str
) -> None:
    message = submission(**changes)  # type: ignore[arg-type]
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=message))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rich_status(info.value)
    assert bad_fields(status) == [field]
    (description,) = _descriptions(status)
    assert rule in description and "personal data" in description
    assert value not in status.SerializeToString().decode("utf-8", "replace")
    assert value not in (info.value.details() or "")
    assert harness.ledger.size == 0  # nothing was registered


def test_near_misses_are_registered(harness: Harness) -> None:
    for message in (
        submission("20240615000012345678"),  # a 20-digit loan number
        submission("LN4111111111111111"),  # letters glued to a number that passes Luhn
        submission(metadata={"ref": ID_NUMBER[:17] + "1"}),  # a wrong check character
    ):
        receipt = harness.evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=message))
        assert receipt.receipt.entry_id


def test_batch_item_with_personal_data_is_refused_alone(harness: Harness) -> None:
    good, bad = submission("loan-ok"), submission(ID_NUMBER)
    response = harness.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(submissions=[good, bad])
    )
    assert response.results[0].HasField("receipt")
    error = response.results[1].error
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert bad_fields(error) == ["loan_ref"]
    assert ID_NUMBER not in error.SerializeToString().decode("utf-8", "replace")


@pytest.mark.parametrize(
    "occurred",
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1970, 1, 20, 21, 0, tzinfo=UTC),  # a JavaScript time in ms divided twice
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ],
)
def test_occurred_at_before_2000_is_invalid_argument(harness: Harness, occurred: datetime) -> None:
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.SubmitEvidence(
            ev.SubmitEvidenceRequest(submission=submission(occurred_at=occurred))
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rich_status(info.value)
    assert bad_fields(status) == ["submission.occurred_at"]
    assert _descriptions(status)[0].startswith("must not be before 2000-01-01T00:00:00Z")


def test_an_empty_occurred_at_is_invalid_argument(harness: Harness) -> None:
    message = submission()
    message.occurred_at.Clear()  # present but empty, as a JavaScript Date passed by mistake
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=message))
    assert bad_fields(rich_status(info.value)) == ["submission.occurred_at"]
    # The hint for a JavaScript client reaches it whole, in the message grpc-js shows.
    hint = "{seconds: Math.floor(d.getTime() / 1000)})"
    assert info.value.details().endswith(hint), info.value.details()
    assert _descriptions(rich_status(info.value))[0].endswith(hint)
