"""VerificationService over real gRPC: the court's checks, on the real ledger's records."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from sqlalchemy import Connection, text

from court.evidence.opening import decode_any_leaf
from court.verify.token import TOKEN_CHECKS
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.api.verification import ALL_CHECKS, CHECK_ANCHORED, RECORD_CHECKS
from tests.support.grpc_client import error_fields, submission
from tests.unit.gateway.api.conftest import Harness


def register(h: Harness, data: bytes = b"contract", loan: str = "loan-v") -> common_pb2.Receipt:
    s = submission(loan, digest=hashlib.sha256(data).digest())
    return h.evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=s)).receipt


def statuses(response: vf.VerifyEvidenceResponse) -> dict[str, int]:
    return {c.name: c.status for c in response.checks}


def test_valid_by_entry_id_lists_every_check_and_the_material(harness: Harness) -> None:
    receipt = register(harness)
    register(harness, b"more", "loan-w")
    response = harness.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(entry_id=receipt.entry_id)
    )
    assert response.verdict == vf.VERDICT_VALID, response.checks
    assert [c.name for c in response.checks] == list(ALL_CHECKS)
    got = statuses(response)
    assert got["Signature valid"] == vf.CHECK_STATUS_PASSED
    assert got["Imprint matches"] == vf.CHECK_STATUS_PASSED
    for name in RECORD_CHECKS[:6]:  # "Leaf opening matches" included: a version 2 leaf
        assert got[name] == vf.CHECK_STATUS_PASSED, name
    for name in RECORD_CHECKS[6:]:
        assert got[name] == vf.CHECK_STATUS_NOT_RUN, name
    assert response.material.timestamp_token == receipt.timestamp_token
    assert response.material.leaf == receipt.leaf
    assert response.material.checkpoint.size == 2
    assert response.material.inclusion_proof.tree_size == 2
    assert not response.material.HasField("consistency_proof")
    assert response.record.receipt.entry_id == receipt.entry_id
    assert response.record.receipt.opening == receipt.opening  # the stored opening, rebuilt


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        pytest.param("record_salt", b"\x00" * 32, "commitment: ", id="record salt"),
        pytest.param("loan_salt", b"\x00" * 32, "loan key: ", id="loan salt"),
    ],
)
def test_a_stored_opening_that_does_not_open_the_leaf_is_invalid(
    harness: Harness, column: str, value: bytes, reason: str
) -> None:
    receipt = register(harness)
    with harness.store.inner.engine.begin() as db:  # the database's row is changed behind it
        db.execute(
            text(f"UPDATE openings SET {column} = :value WHERE leaf_index = :index"),
            {"value": value, "index": receipt.leaf_index},
        )
    response = harness.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(entry_id=receipt.entry_id)
    )
    assert response.verdict == vf.VERDICT_INVALID
    (check,) = [c for c in response.checks if c.name == "Leaf opening matches"]
    assert check.status == vf.CHECK_STATUS_FAILED
    assert check.detail.startswith(reason)
    assert statuses(response)["Leaf matches record"] == vf.CHECK_STATUS_NOT_RUN


def test_by_digest_with_an_older_receipt_checks_consistency(harness: Harness) -> None:
    first = register(harness, b"same doc", "loan-1")
    second = register(harness, b"same doc", "loan-2")
    register(harness, b"other", "loan-3")
    request = vf.VerifyEvidenceRequest(
        digest=vf.Digest(
            hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256,
            value=hashlib.sha256(b"same doc").digest(),
        ),
        receipt=second,
    )
    response = harness.verification.VerifyEvidence(request)
    assert response.verdict == vf.VERDICT_VALID, response.checks
    assert response.record.receipt.entry_id == second.entry_id
    assert list(response.other_entry_ids) == [first.entry_id]
    got = statuses(response)
    assert all(got[n] == vf.CHECK_STATUS_PASSED for n in RECORD_CHECKS if n != CHECK_ANCHORED)
    assert got[CHECK_ANCHORED] == vf.CHECK_STATUS_NOT_RUN  # nothing anchored here
    assert response.material.consistency_proof.from_size == second.checkpoint.size
    assert response.material.consistency_proof.to_size == 3
    # Without a receipt, the earliest record is the subject.
    plain = harness.verification.VerifyEvidence(vf.VerifyEvidenceRequest(digest=request.digest))
    assert plain.record.receipt.entry_id == first.entry_id
    assert list(plain.other_entry_ids) == [second.entry_id]


def test_tampered_receipt_is_invalid_and_names_the_check(harness: Harness) -> None:
    receipt = register(harness)
    forged = common_pb2.Receipt()
    forged.CopyFrom(receipt)
    forged.timestamp_token = receipt.timestamp_token[:-1] + bytes([receipt.timestamp_token[-1] ^ 1])
    response = harness.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(entry_id=receipt.entry_id, receipt=forged)
    )
    assert response.verdict == vf.VERDICT_INVALID
    assert statuses(response)["Receipt matches record"] == vf.CHECK_STATUS_FAILED


@contextlib.contextmanager
def _behind_its_back(harness: Harness) -> Iterator[Connection]:
    """A transaction on the store's database, as a tampered database would change it.

    The in-memory database is one connection that every thread shares (StaticPool):
    hold the store's own lock while using it, as the store does, or the gateway's
    health poll may begin its transaction inside this one.
    """
    store = harness.store.inner
    with store._serial or contextlib.nullcontext(), store.engine.begin() as db:
        yield db


def test_tampered_stored_token_fails_token_and_leaf_checks(harness: Harness) -> None:
    receipt = register(harness)
    other = register(harness, b"another document")
    with _behind_its_back(harness) as db:  # the database's row is changed behind it
        db.execute(
            text("UPDATE entries SET token = :token WHERE entry_id = :id"),
            {"token": other.timestamp_token, "id": receipt.entry_id},
        )
    response = harness.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(entry_id=receipt.entry_id)
    )
    assert response.verdict == vf.VERDICT_INVALID
    got = statuses(response)
    assert got["Imprint matches"] == vf.CHECK_STATUS_FAILED
    assert got["Leaf names token"] == vf.CHECK_STATUS_FAILED
    assert got["Leaf matches record"] == vf.CHECK_STATUS_PASSED


def test_unknown_subject_is_not_found_verdict(harness: Harness) -> None:
    register(harness)
    by_id = harness.verification.VerifyEvidence(vf.VerifyEvidenceRequest(entry_id="unknown"))
    assert by_id.verdict == vf.VERDICT_NOT_FOUND and not by_id.HasField("record")
    by_digest = harness.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(
            digest=vf.Digest(hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256, value=b"\7" * 32)
        )
    )
    assert by_digest.verdict == vf.VERDICT_NOT_FOUND
    assert [c.name for c in by_digest.checks] == []


@pytest.mark.parametrize(
    ("request_message", "expected"),
    [
        (vf.VerifyEvidenceRequest(), ["subject"]),
        (vf.VerifyEvidenceRequest(entry_id="bad id"), ["entry_id"]),
        (vf.VerifyEvidenceRequest(digest=vf.Digest(value=b"\0" * 32)), ["digest.hash_algorithm"]),
        (
            vf.VerifyEvidenceRequest(
                digest=vf.Digest(hash_algorithm=common_pb2.HASH_ALGORITHM_SHA384, value=b"\0" * 32)
            ),
            ["digest.value"],
        ),
        (
            vf.VerifyEvidenceRequest(
                entry_id="abc",
                receipt=common_pb2.Receipt(
                    entry_id="abc",
                    leaf=b"x",
                    timestamp_token=b"y",
                    checkpoint=common_pb2.Checkpoint(signed_note="not a note"),
                ),
            ),
            ["receipt.checkpoint.signed_note"],
        ),
    ],
)
def test_bad_input(
    harness: Harness, request_message: vf.VerifyEvidenceRequest, expected: list[str]
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        harness.verification.VerifyEvidence(request_message)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == expected


def test_token_check_names_are_the_courts(harness: Harness) -> None:
    receipt = register(harness)
    response = harness.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(entry_id=receipt.entry_id)
    )
    assert [c.name for c in response.checks][: len(TOKEN_CHECKS)] == list(TOKEN_CHECKS)


_COLUMNS = {
    "received_at": ("received_at_us", lambda r: r.received_at_us + 1_000_000),
    "loan_sequence": ("loan_sequence", lambda r: r.loan_sequence + 1),
    "previous_leaf_hash": ("previous_leaf_hash", lambda r: b"\x22" * 32),
}


def _stored_with(harness: Harness, entry_id: str, field: str) -> None:
    """Change one column of the stored record (as a tampered database would)."""
    column, change = _COLUMNS[field]
    with _behind_its_back(harness) as db:
        row = db.execute(
            text(f"SELECT {column} FROM entries WHERE entry_id = :id"), {"id": entry_id}
        ).one()
        db.execute(
            text(f"UPDATE entries SET {column} = :value WHERE entry_id = :id"),
            {"value": change(row), "id": entry_id},
        )


@pytest.mark.parametrize("field", sorted(_COLUMNS))
def test_stored_record_that_differs_from_its_leaf_is_invalid(harness: Harness, field: str) -> None:
    receipt = register(harness)
    _stored_with(harness, receipt.entry_id, field)
    response = harness.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(entry_id=receipt.entry_id)
    )
    assert response.verdict == vf.VERDICT_INVALID
    failed = [c for c in response.checks if c.status == vf.CHECK_STATUS_FAILED]
    assert [c.name for c in failed] == ["Leaf matches record"]
    assert failed[0].detail.startswith(f"the leaf differs from the record in: {field} (record ")


@pytest.mark.parametrize(
    "change",
    [
        lambda m: setattr(m, "entry_id", m.entry_id[:-1] + ("a" if m.entry_id[-1] != "a" else "b")),
        lambda m: setattr(m, "loan_sequence", 9),
        lambda m: setattr(m, "previous_leaf_hash", b"\x22" * 32),
        lambda m: m.received_at.FromSeconds(m.received_at.seconds + 3600),
        lambda m: setattr(m.checkpoint, "size", m.checkpoint.size + 1),
    ],
    ids=["entry_id", "loan_sequence", "previous_leaf_hash", "received_at", "checkpoint.size"],
)
def test_held_receipt_with_a_changed_copy_is_invalid(harness: Harness, change: Any) -> None:
    receipt = register(harness)
    forged = common_pb2.Receipt()
    forged.CopyFrom(receipt)
    change(forged)
    response = harness.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(entry_id=receipt.entry_id, receipt=forged)
    )
    assert response.verdict == vf.VERDICT_INVALID
    failed = {c.name for c in response.checks if c.status == vf.CHECK_STATUS_FAILED}
    assert failed & {"Receipt fields match leaf", "Receipt checkpoint fields match note"}
    assert failed <= {
        "Receipt fields match leaf",
        "Receipt checkpoint fields match note",
        "Receipt matches record",  # the entry id is also compared with the record's
    }


def test_a_receipt_checkpoint_with_a_huge_size_is_invalid_argument(harness: Harness) -> None:
    """A size beyond Python's 4,300-digit int limit used to end the call with INTERNAL."""
    receipt = register(harness)
    forged = common_pb2.Receipt()
    forged.CopyFrom(receipt)
    origin, _, rest = receipt.checkpoint.signed_note.partition("\n")
    _, _, rest = rest.partition("\n")
    forged.checkpoint.signed_note = f"{origin}\n{'9' * 5000}\n{rest}"
    with pytest.raises(grpc.RpcError) as info:
        harness.verification.VerifyEvidence(
            vf.VerifyEvidenceRequest(entry_id=receipt.entry_id, receipt=forged)
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == ["receipt.checkpoint.signed_note"]


def test_a_record_being_committed_verifies_valid(harness: Harness) -> None:
    # The writer is held between its commit and its answers: the record is in the
    # store, so it may be served, and then only with a checkpoint and a proof that
    # cover it (the old ledger answered INVALID here: "Inclusion proof valid" failed).
    register(harness)
    harness.store.hold = True
    s = submission("loan-v", digest=hashlib.sha256(b"being committed").digest())
    pending = harness.evidence.SubmitEvidence.future(ev.SubmitEvidenceRequest(submission=s))
    try:
        assert harness.store.committed.wait(10)
        [(_, leaf)] = harness.store.inner.entries_range(1, 2)
        entry_id = decode_any_leaf(leaf).entry_id
        for request in (
            vf.VerifyEvidenceRequest(entry_id=entry_id),
            vf.VerifyEvidenceRequest(
                digest=vf.Digest(hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256, value=s.digest)
            ),
        ):
            response = harness.verification.VerifyEvidence(request)
            assert response.verdict == vf.VERDICT_VALID, response.checks
            assert response.material.checkpoint.size == 2
    finally:
        harness.store.release.set()
    assert pending.result(10).receipt.entry_id == entry_id


@pytest.mark.parametrize(
    ("field", "grow"),
    [
        ("receipt.timestamp_token", lambda r: setattr(r, "timestamp_token", b"\x30" * 65537)),
        ("receipt.leaf", lambda r: setattr(r, "leaf", b"\x30" * 65537)),
        (
            "receipt.inclusion_proof.hashes",
            lambda r: r.inclusion_proof.hashes.extend([b"\x00" * 32] * 65),
        ),
    ],
)
def test_an_oversized_receipt_part_is_invalid_argument(
    harness: Harness, field: str, grow: Any
) -> None:
    """A receipt token of megabytes (up to the message limit) once held a worker thread
    for seconds (3 MB: 1.5 s); what no genuine receipt holds is refused before any work."""
    receipt = register(harness)
    forged = common_pb2.Receipt()
    forged.CopyFrom(receipt)
    grow(forged)
    with pytest.raises(grpc.RpcError) as info:
        harness.verification.VerifyEvidence(
            vf.VerifyEvidenceRequest(entry_id=receipt.entry_id, receipt=forged)
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == [field]
