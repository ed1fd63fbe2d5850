"""A valid canonical leaf's fields for tests, changed where a test says."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from court.evidence.leaf import LeafFields

BASE = LeafFields(
    entry_id="e1",
    institution="bank-a",
    loan_ref="L-1",
    kind="repayment",
    hash_algorithm="sha256",
    digest=bytes(range(32)),
    occurred_at=datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=UTC),
    received_at=datetime(2024, 5, 6, 7, 8, 10, tzinfo=UTC),
    token_sha256=b"\x11" * 32,
    loan_sequence=2,
    supersedes="e0",
    metadata=(("agency", "a-17"), ("channel", "sms")),
    previous_leaf_hash=b"\x22" * 32,
)


def sample_leaf(**changes: object) -> LeafFields:
    """`BASE` with `changes` applied."""
    return replace(BASE, **changes)  # type: ignore[arg-type]
