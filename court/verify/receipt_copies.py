"""The values a receipt repeats outside its signed parts, and the two checks that
compare them with what signs them (pure; part of :func:`court.verify.receipt.verify_receipt`).

A receipt repeats, for convenience, the leaf's entry id, loan sequence,
previous leaf hash and reception time, and the checkpoint note's origin, size
and root hash (:class:`ReceiptCopies`). Nothing signs these copies: "Receipt
fields match leaf" (:func:`check_receipt_fields`) and "Receipt checkpoint
fields match note" (:func:`check_checkpoint_fields`) pass only when each
equals the signed value, and say which differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from court.verify.checkpoint import Checkpoint
from court.verify.result import Checklist
from court.verify.steps import (
    CHECK_RECEIPT_CHECKPOINT_FIELDS,
    CHECK_RECEIPT_FIELDS,
    Leaf,
    shown,
)

__all__ = ["ReceiptCopies", "check_checkpoint_fields", "check_receipt_fields"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NS_PER_SECOND: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ReceiptCopies:
    """The values a receipt repeats outside its signed parts (proto ``Receipt``).

    Nothing signs them: the leaf signs the first four (through the log), the
    checkpoint note the last three. ``received_at_ns`` is the receipt's
    ``received_at`` in nanoseconds since 1970-01-01T00:00:00Z, ``None`` when
    the receipt has none; ``previous_leaf_hash`` is empty when it has none.
    """

    entry_id: str
    loan_sequence: int
    previous_leaf_hash: bytes
    received_at_ns: int | None
    checkpoint_origin: str
    checkpoint_size: int
    checkpoint_root_hash: bytes


def _nanoseconds(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1) * 1000


def _time_text(ns: int | None) -> str:
    if ns is None:
        return "(absent)"
    seconds, fraction = divmod(ns, _NS_PER_SECOND)
    try:
        when = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        return f"{ns} ns after 1970-01-01T00:00:00Z"
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += f".{fraction:09d}".rstrip("0")
    return text + "Z"


def _hash_text(value: bytes) -> str:
    return value.hex() if value else "(none)"


def _compare(
    checks: Checklist, name: str, signed: str, rows: list[tuple[str, bool, str, str]]
) -> None:
    """Record ``name``: each row is (field, equal, the receipt's value, the signed value)."""
    wrong = [
        f"{field} is {copy} in the receipt, {value} in the {signed}"
        for field, equal, copy, value in rows
        if not equal
    ]
    if wrong:
        checks.failed(name, f"the receipt's copies differ from the {signed}: " + "; ".join(wrong))
        return
    listed = ", ".join(f"{field} {value}" for field, _, _, value in rows)
    checks.passed(name, f"{listed}: the receipt's copies equal the {signed}'s")


def check_receipt_fields(checks: Checklist, leaf: Leaf, copies: ReceiptCopies) -> None:
    """Receipt fields match leaf: every unsigned copy of a leaf value equals it."""
    previous = leaf.previous_leaf_hash or b""
    received = _nanoseconds(leaf.received_at)
    _compare(
        checks,
        CHECK_RECEIPT_FIELDS,
        "leaf",
        [
            ("entry_id", copies.entry_id == leaf.entry_id, shown(copies.entry_id), leaf.entry_id),
            (
                "loan_sequence",
                copies.loan_sequence == leaf.loan_sequence,
                str(copies.loan_sequence),
                str(leaf.loan_sequence),
            ),
            (
                "previous_leaf_hash",
                copies.previous_leaf_hash == previous,
                _hash_text(copies.previous_leaf_hash),
                _hash_text(previous),
            ),
            (
                "received_at",
                copies.received_at_ns == received,
                _time_text(copies.received_at_ns),
                _time_text(received),
            ),
        ],
    )


def check_checkpoint_fields(checks: Checklist, held: Checkpoint, copies: ReceiptCopies) -> None:
    """Receipt checkpoint fields match note: the convenience copies equal the signed note."""
    _compare(
        checks,
        CHECK_RECEIPT_CHECKPOINT_FIELDS,
        "note",
        [
            (
                "origin",
                copies.checkpoint_origin == held.origin,
                shown(copies.checkpoint_origin),
                repr(held.origin),
            ),
            (
                "size",
                copies.checkpoint_size == held.size,
                str(copies.checkpoint_size),
                str(held.size),
            ),
            (
                "root_hash",
                copies.checkpoint_root_hash == held.root_hash,
                _hash_text(copies.checkpoint_root_hash),
                _hash_text(held.root_hash),
            ),
        ],
    )
