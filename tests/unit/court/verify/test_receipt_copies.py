"""A receipt's unsigned copies must equal the signed values they repeat.

A receipt repeats the leaf's entry_id, loan_sequence, previous_leaf_hash and
received_at, and the checkpoint note's origin, size and root hash, outside
anything signed. `court-verify receipt` used to print the leaf's values and
say VALID whatever the copies said; each copy is now compared, as a named
check, by the library and on the command line.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from court.cli import main as court_verify
from court.verify.receipt import (
    CHECK_RECEIPT_CHECKPOINT_FIELDS,
    CHECK_RECEIPT_FIELDS,
    Outcome,
    verify_receipt,
)
from court.verify.record import verify_record
from court.verify.result import CheckStatus
from court.verify.steps import CHECK_LEAF_RECORD
from evidence_gateway.v1 import common_pb2
from tests.support.receipt_log import (
    DOCUMENT,
    ENTRY_ID,
    OCCURRED,
    RECEIVED,
    RECEIVED_NS,
    SIZE,
    Log,
)


def failed(result: Any) -> set[str]:
    return {c.name for c in result.checks if c.status is CheckStatus.FAILED}


# (id, change to ReceiptCopies, field named, the receipt's value as the detail shows it)
LEAF_COPIES: list[tuple[str, dict[str, Any], str, str]] = [
    ("entry_id", {"entry_id": "entry-3"}, "entry_id", "'entry-3'"),
    ("entry_id absent", {"entry_id": ""}, "entry_id", "''"),
    ("loan_sequence", {"loan_sequence": 2}, "loan_sequence", "2"),
    ("loan_sequence absent", {"loan_sequence": 0}, "loan_sequence", "0"),
    (
        "previous_leaf_hash",
        {"previous_leaf_hash": b"\x22" * 32},
        "previous_leaf_hash",
        "22" * 32,
    ),
    ("received_at", {"received_at_ns": RECEIVED_NS + 1_000_000}, "received_at", ".124Z"),
    ("received_at one ns", {"received_at_ns": RECEIVED_NS + 1}, "received_at", ".123000001Z"),
    ("received_at absent", {"received_at_ns": None}, "received_at", "(absent)"),
]
CHECKPOINT_COPIES: list[tuple[str, dict[str, Any], str]] = [
    ("origin", {"checkpoint_origin": "other.example/log"}, "origin"),
    ("size", {"checkpoint_size": SIZE + 1}, "size"),
    ("root_hash", {"checkpoint_root_hash": b"\x01" * 32}, "root_hash"),
]


def test_the_good_receipt_shows_the_checked_values(log: Log) -> None:
    result = verify_receipt(**log.kwargs())
    assert result.ok, result.failures
    detail = result.verdict[CHECK_RECEIPT_FIELDS].detail
    assert detail == (
        f"entry_id {ENTRY_ID}, loan_sequence 1, previous_leaf_hash (none), "
        "received_at 2026-11-01T09:30:00.123Z: the receipt's copies equal the leaf's"
    )
    assert f"size {SIZE}" in result.verdict[CHECK_RECEIPT_CHECKPOINT_FIELDS].detail


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [pytest.param(c, f, v, id=name) for name, c, f, v in LEAF_COPIES],
)
def test_a_changed_leaf_copy_fails_its_named_check(
    log: Log, changes: dict[str, Any], field: str, value: str
) -> None:
    result = verify_receipt(**log.kwargs(copies=replace(log.copies, **changes)))
    assert result.outcome is Outcome.INVALID
    assert failed(result) == {CHECK_RECEIPT_FIELDS}
    detail = result.verdict[CHECK_RECEIPT_FIELDS].detail
    assert detail.startswith(f"the receipt's copies differ from the leaf: {field} is ")
    assert value in detail


@pytest.mark.parametrize(
    ("changes", "field"), [pytest.param(c, f, id=name) for name, c, f in CHECKPOINT_COPIES]
)
def test_a_changed_checkpoint_copy_fails_its_named_check(
    log: Log, changes: dict[str, Any], field: str
) -> None:
    result = verify_receipt(**log.kwargs(copies=replace(log.copies, **changes)))
    assert result.outcome is Outcome.INVALID
    assert failed(result) == {CHECK_RECEIPT_CHECKPOINT_FIELDS}
    assert f": {field} is " in result.verdict[CHECK_RECEIPT_CHECKPOINT_FIELDS].detail


def test_a_huge_copy_is_quoted_shortly(log: Log) -> None:
    result = verify_receipt(**log.kwargs(copies=replace(log.copies, entry_id="x" * 100_000)))
    detail = result.verdict[CHECK_RECEIPT_FIELDS].detail
    assert "(100000 characters)" in detail and len(detail) < 400


# ------------------------------------------------------------- court-verify receipt


def _receipt_file(log: Log, folder: Path, change: Any = None) -> Path:
    message = log.receipt_message()
    if change is not None:
        change(message)
    path = folder / "receipt.pb"
    path.write_bytes(message.SerializeToString())
    return path


def _set_received(message: common_pb2.Receipt, delta: timedelta) -> None:
    message.received_at.FromDatetime(RECEIVED + delta)


CLI_CASES: list[tuple[str, Any, str]] = [
    ("entry_id", lambda m: setattr(m, "entry_id", "entry-3"), CHECK_RECEIPT_FIELDS),
    ("loan_sequence", lambda m: setattr(m, "loan_sequence", 7), CHECK_RECEIPT_FIELDS),
    (
        "previous_leaf_hash",
        lambda m: setattr(m, "previous_leaf_hash", b"\x22" * 32),
        CHECK_RECEIPT_FIELDS,
    ),
    ("received_at", lambda m: _set_received(m, timedelta(hours=1)), CHECK_RECEIPT_FIELDS),
    ("received_at cleared", lambda m: m.ClearField("received_at"), CHECK_RECEIPT_FIELDS),
    (
        "checkpoint.origin",
        lambda m: setattr(m.checkpoint, "origin", "other.example/log"),
        CHECK_RECEIPT_CHECKPOINT_FIELDS,
    ),
    (
        "checkpoint.size",
        lambda m: setattr(m.checkpoint, "size", 99),
        CHECK_RECEIPT_CHECKPOINT_FIELDS,
    ),
    (
        "checkpoint.root_hash",
        lambda m: setattr(m.checkpoint, "root_hash", b"\x01" * 32),
        CHECK_RECEIPT_CHECKPOINT_FIELDS,
    ),
]


def _run(log: Log, pki_p256: Path, tmp_path: Path, receipt: Path) -> list[str]:
    vkey = tmp_path / "log.vkey"
    vkey.write_text(log.vkey + "\n")
    digest = hashlib.sha256(DOCUMENT).hexdigest()
    args = ["receipt", str(receipt), "--digest", digest, "--ca", str(pki_p256 / "root-ca.pem")]
    return [*args, "--log-key", str(vkey)]


def test_cli_valid_receipt_prints_the_checked_copies(
    log: Log, pki_p256: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = _receipt_file(log, tmp_path)
    assert court_verify(_run(log, pki_p256, tmp_path, receipt)) == 0
    out = capsys.readouterr().out.splitlines()
    line = next(x for x in out if CHECK_RECEIPT_FIELDS in x)
    assert line.startswith("PASS  ")
    assert line.endswith(
        f"entry_id {ENTRY_ID}, loan_sequence 1, previous_leaf_hash (none), "
        "received_at 2026-11-01T09:30:00.123Z: the receipt's copies equal the leaf's"
    )
    assert out[-1].startswith(
        f"VALID: entry {ENTRY_ID} of loan loan-42 (bank-a, loan_contract, #1)"
    )


@pytest.mark.parametrize(("change", "check"), [pytest.param(c, k, id=n) for n, c, k in CLI_CASES])
def test_cli_changed_copy_is_invalid(
    log: Log,
    pki_p256: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Any,
    check: str,
) -> None:
    receipt = _receipt_file(log, tmp_path, change)
    assert court_verify(_run(log, pki_p256, tmp_path, receipt)) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"INVALID: {check}"
    assert [x for x in out if x.startswith("FAIL")] == [
        next(x for x in out if x.startswith(f"FAIL  {check} "))
    ]


# ------------------------------------------------------------- verify_record


RECORD_CHANGES: list[tuple[str, Any]] = [
    ("entry_id", "entry-3"),
    ("institution", "bank-b"),
    ("loan_ref", "loan-43"),
    ("kind", "repayment"),
    ("occurred_at", OCCURRED + timedelta(seconds=1)),
    ("received_at", RECEIVED + timedelta(milliseconds=1)),
    ("supersedes", "entry-1"),
    ("metadata", (("channel", "sms"),)),
    ("loan_sequence", 2),
    ("previous_leaf_hash", b"\x22" * 32),
]


@pytest.mark.parametrize(("field", "value"), RECORD_CHANGES, ids=[f for f, _ in RECORD_CHANGES])
def test_a_stored_record_that_differs_from_its_leaf_is_invalid(
    log: Log, field: str, value: Any
) -> None:
    result = verify_record(
        log.record(**{field: value}),
        roots=log.roots,
        log_verifier_key=log.vkey,
        checkpoint=log.newer,
        inclusion_proof=log.newer_proof,
    )
    assert result.outcome is Outcome.INVALID
    assert failed(result) == {CHECK_LEAF_RECORD}
    assert result.verdict[CHECK_LEAF_RECORD].detail.startswith(
        f"the leaf differs from the record in: {field} (record "
    )


def test_a_held_receipt_with_a_changed_copy_is_invalid(log: Log) -> None:
    held = log.held(copies=replace(log.copies, loan_sequence=5))
    result = verify_record(
        log.record(),
        roots=log.roots,
        log_verifier_key=log.vkey,
        checkpoint=log.newer,
        inclusion_proof=log.newer_proof,
        receipt=held,
        consistency_proof=log.consistency,
    )
    assert result.outcome is Outcome.INVALID
    assert failed(result) == {CHECK_RECEIPT_FIELDS}
