"""Receipts of version 2 leaves: the opening is checked against the leaf ("Leaf opening
matches"), by the library and by `court-verify receipt`; version 1 receipts still verify."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from court.cli import main as court_verify
from court.evidence.opening import LeafOpening
from court.verify.receipt import (
    CHECK_LEAF_DIGEST,
    CHECK_LEAF_OPENING,
    CHECK_RECEIPT_INCLUSION,
    RECEIPT_CHECKS,
    Outcome,
    verify_receipt,
)
from court.verify.record import RECORD_CHECKS, ReceiptInput, RecordVerification, verify_record
from court.verify.result import CheckStatus
from court.verify.steps import CHECK_RECEIPT_MATCHES
from court.verify.token import TOKEN_CHECKS
from evidence_gateway.v1 import common_pb2
from tests.support.receipt_log import DOCUMENT, INDEX, Log


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def _opening(log: Log) -> LeafOpening:
    assert log.opening is not None
    return log.opening


def _tampered_record(log: Log) -> LeafOpening:
    """The opening with one bit of the document digest in its private record flipped."""
    record = _opening(log).private_record
    at = record.index(hashlib.sha256(DOCUMENT).digest()) + 7
    return replace(_opening(log), private_record=_flip(record, at))


def test_the_opening_check_passes_and_names_the_commitment(log: Log) -> None:
    result = verify_receipt(**log.kwargs())
    assert result.ok
    check = result.verdict[CHECK_LEAF_OPENING]
    assert check.passed
    assert "commitment" in check.detail and "loan key" in check.detail
    assert result.leaf is not None and result.leaf.version == 2
    assert (result.leaf.owner, result.leaf.submitter, result.leaf.loan_ref) == (
        "bank-a",
        "bank-a",
        "loan-42",
    )


@pytest.mark.parametrize(
    ("opening", "reason"),
    [
        (_tampered_record, "commitment: "),
        (lambda g: replace(_opening(g), loan_salt=bytes(32)), "loan key: "),
        (lambda g: replace(_opening(g), loan_salt=b"short"), "malformed: "),
        (lambda g: replace(_opening(g), private_record=b"\x30\x00"), "malformed: "),
    ],
)
def test_a_tampered_opening_fails_the_opening_check_for_its_reason(
    log: Log, opening: object, reason: str
) -> None:
    result = verify_receipt(**log.kwargs(opening=opening(log)))  # type: ignore[operator]
    assert result.outcome is Outcome.INVALID
    assert {c.name for c in result.failures} == {CHECK_LEAF_OPENING}
    assert result.verdict[CHECK_LEAF_OPENING].detail.startswith(reason)
    # the digest is in the private record: without a good opening it cannot be compared
    assert result.verdict[CHECK_LEAF_DIGEST].status is CheckStatus.NOT_RUN


def test_without_an_opening_a_version_2_receipt_is_inconclusive(log: Log) -> None:
    result = verify_receipt(**log.kwargs(opening=None))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert not result.failures
    assert result.verdict[CHECK_LEAF_OPENING].status is CheckStatus.NOT_RUN
    assert result.verdict[CHECK_LEAF_DIGEST].status is CheckStatus.NOT_RUN
    assert result.leaf is None


# ---------------------------------------------------------------- version 1


def test_a_version_1_receipt_still_verifies(log_v1: Log) -> None:
    assert log_v1.opening is None
    result = verify_receipt(**log_v1.kwargs())
    assert result.ok, result.failures
    assert [c.name for c in result.checks] == [*TOKEN_CHECKS, *RECEIPT_CHECKS]
    opening = result.verdict[CHECK_LEAF_OPENING]
    assert opening.status is CheckStatus.NOT_RUN and "version 1" in opening.detail
    assert result.verdict[CHECK_LEAF_DIGEST].passed
    assert result.leaf is not None and result.leaf.version == 1


def test_a_version_1_leaf_with_another_digest_fails_the_digest_check(log_v1: Log) -> None:
    needle = hashlib.sha256(DOCUMENT).digest()
    leaf = _flip(log_v1.leaf, log_v1.leaf.index(needle) + 5)
    result = verify_receipt(**log_v1.kwargs(leaf=leaf))
    assert {c.name for c in result.failures} == {CHECK_LEAF_DIGEST, CHECK_RECEIPT_INCLUSION}


def test_a_version_1_record_still_verifies(log_v1: Log) -> None:
    result = verify_record(
        log_v1.record(),
        roots=log_v1.roots,
        log_verifier_key=log_v1.vkey,
        checkpoint=log_v1.newer,
        inclusion_proof=log_v1.newer_proof,
        receipt=log_v1.held(),
        consistency_proof=log_v1.consistency,
    )
    assert result.outcome is Outcome.VALID, result.verdict.failures
    assert [c.name for c in result.checks] == [*TOKEN_CHECKS, *RECORD_CHECKS]
    assert result.verdict[CHECK_LEAF_OPENING].status is CheckStatus.NOT_RUN


def test_a_record_that_is_not_what_the_leaf_commits_to_fails(log: Log) -> None:
    result = verify_record(
        log.record(loan_ref="loan-43"),
        roots=log.roots,
        log_verifier_key=log.vkey,
        checkpoint=log.newer,
        inclusion_proof=log.newer_proof,
    )
    assert {c.name for c in result.verdict.failures} == {"Leaf matches record"}
    assert "loan_ref" in result.verdict["Leaf matches record"].detail
    no_opening = verify_record(
        log.record(opening=None),
        roots=log.roots,
        log_verifier_key=log.vkey,
        checkpoint=log.newer,
        inclusion_proof=log.newer_proof,
    )
    assert no_opening.outcome is Outcome.INCONCLUSIVE


# ---------------------------------------------------------------- court-verify receipt


def _files(log: Log, pki: Path, tmp: Path, receipt: common_pb2.Receipt) -> list[str]:
    (tmp / "receipt.pb").write_bytes(receipt.SerializeToString())
    (tmp / "log.vkey").write_text(log.vkey + "\n")
    (tmp / "doc").write_bytes(DOCUMENT)
    return [
        "receipt",
        str(tmp / "receipt.pb"),
        "--ca",
        str(pki / "root-ca.pem"),
        "--log-key",
        str(tmp / "log.vkey"),
        "--file",
        str(tmp / "doc"),
    ]


def test_cli_checks_the_opening_of_a_version_2_receipt(
    log: Log, pki_p256: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = log.receipt_message()
    assert court_verify(_files(log, pki_p256, tmp_path, receipt)) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"PASS  {CHECK_LEAF_OPENING}") for line in out)
    assert out[-1].startswith(f"VALID: entry entry-{INDEX} of loan loan-42 (bank-a, ")


def test_cli_refuses_a_tampered_opening_naming_the_check(
    log: Log, pki_p256: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = log.receipt_message()
    receipt.opening.private_record = _tampered_record(log).private_record
    assert court_verify(_files(log, pki_p256, tmp_path, receipt)) == 1
    out = capsys.readouterr().out.splitlines()
    (line,) = [x for x in out if x[6:].startswith(CHECK_LEAF_OPENING)]
    assert line.startswith(f"FAIL  {CHECK_LEAF_OPENING}") and "commitment: " in line
    assert out[-1] == f"INVALID: {CHECK_LEAF_OPENING}"


def test_cli_says_a_receipt_without_its_opening_is_inconclusive(
    log: Log, pki_p256: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = log.receipt_message()
    receipt.ClearField("opening")
    assert court_verify(_files(log, pki_p256, tmp_path, receipt)) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(f"INCONCLUSIVE: {CHECK_LEAF_OPENING}: no opening was supplied")


def test_cli_verifies_a_version_1_receipt(
    log_v1: Log, pki_p256: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = log_v1.receipt_message()
    assert not receipt.HasField("opening")
    assert court_verify(_files(log_v1, pki_p256, tmp_path, receipt)) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"VALID: entry entry-{INDEX} ")


def test_a_held_receipt_must_carry_the_record_s_opening_if_any(log: Log) -> None:
    def run(held: ReceiptInput) -> RecordVerification:
        return verify_record(
            log.record(),
            roots=log.roots,
            log_verifier_key=log.vkey,
            checkpoint=log.newer,
            inclusion_proof=log.newer_proof,
            receipt=held,
            consistency_proof=log.consistency,
        )

    assert run(log.held(opening=None)).outcome is Outcome.VALID  # an archived copy without it
    other = run(log.held(opening=_tampered_record(log)))
    assert {c.name for c in other.verdict.failures} == {CHECK_RECEIPT_MATCHES}
    assert other.verdict[CHECK_RECEIPT_MATCHES].detail.endswith("in: opening")
