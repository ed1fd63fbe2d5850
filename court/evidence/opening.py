"""Opening a leaf: the record a leaf stands for, whatever its version.

A version 1 leaf (:mod:`court.evidence.leaf`) holds its record in clear. A
version 2 leaf (:mod:`court.evidence.leaf_v2`) holds only a commitment and an
opaque loan key; its :class:`LeafOpening` (the DER private record, which
carries the per-record salt, and the loan's secret salt) is given to the
loan's owner in the receipt and to whoever may read the record.
:func:`open_leaf` checks an opening against its leaf and returns the whole
record as an :class:`OpenedLeaf`, the one view the court's checks read; it
raises :class:`OpeningError` whose ``reason`` says which part does not match.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from court.errors import CourtError
from court.evidence.fields import LeafError
from court.evidence.leaf import LEAF_VERSION, LEAF_VERSION_1, LeafFields, decode_leaf, read_version
from court.evidence.leaf_v2 import (
    SALT_SIZE,
    PublicLeaf,
    decode_private_record,
    decode_public_leaf,
    derive_loan_key,
    record_commitment,
)

__all__ = [
    "LeafOpening",
    "OpenedLeaf",
    "OpeningError",
    "OpeningProblem",
    "decode_any_leaf",
    "open_leaf",
    "opened_v1",
]

_SUPPORTED: Final = (LEAF_VERSION_1, LEAF_VERSION)


@dataclass(frozen=True, slots=True)
class LeafOpening:
    """What opens a version 2 leaf: the DER private record (with its salt) and the loan salt."""

    private_record: bytes
    loan_salt: bytes


@dataclass(frozen=True, slots=True)
class OpenedLeaf:
    """Every field of a record as its leaf (and, for version 2, its opening) states it.

    For a version 1 leaf ``owner`` and ``submitter`` are both its
    ``institution``, and ``loan_key`` and ``commitment`` are ``None``.
    """

    version: int
    entry_id: str
    owner: str
    submitter: str
    loan_ref: str
    kind: str
    hash_algorithm: str
    digest: bytes
    occurred_at: datetime
    received_at: datetime
    token_sha256: bytes
    loan_sequence: int
    supersedes: str | None
    metadata: tuple[tuple[str, str], ...]
    previous_leaf_hash: bytes | None
    loan_key: bytes | None = None
    commitment: bytes | None = None


class OpeningProblem(StrEnum):
    """Why an opening does not open its leaf."""

    MALFORMED = "malformed"
    """The private record is not a canonical DER private record, or the loan salt is not
    32 bytes."""
    COMMITMENT = "commitment"
    """The private record does not hash to the leaf's commitment."""
    LOAN_KEY = "loan key"
    """The loan salt, owner and loan reference do not give the leaf's loan key."""
    MISSING = "missing"
    """A version 2 leaf came without an opening."""


class OpeningError(CourtError):
    """An opening does not open its leaf; ``reason`` says why (:class:`OpeningProblem`)."""

    def __init__(self, reason: OpeningProblem, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def decode_any_leaf(data: bytes) -> LeafFields | PublicLeaf:
    """Decode a canonical leaf of any supported version; :class:`LeafError` otherwise."""
    version, _ = read_version(data)
    if version == LEAF_VERSION:
        return decode_public_leaf(data)
    if version == LEAF_VERSION_1:
        return decode_leaf(data)
    # Not the value itself: str() refuses an INTEGER of more than 4,300 digits.
    raise LeafError(
        "leaf version is not supported (only " + ", ".join(str(v) for v in _SUPPORTED) + ")"
    )


def opened_v1(leaf: LeafFields) -> OpenedLeaf:
    """The record of a version 1 leaf (everything is in clear)."""
    return OpenedLeaf(
        version=leaf.version,
        entry_id=leaf.entry_id,
        owner=leaf.institution,
        submitter=leaf.institution,
        loan_ref=leaf.loan_ref,
        kind=leaf.kind,
        hash_algorithm=leaf.hash_algorithm,
        digest=leaf.digest,
        occurred_at=leaf.occurred_at,
        received_at=leaf.received_at,
        token_sha256=leaf.token_sha256,
        loan_sequence=leaf.loan_sequence,
        supersedes=leaf.supersedes,
        metadata=leaf.metadata,
        previous_leaf_hash=leaf.previous_leaf_hash,
    )


def open_leaf(leaf: PublicLeaf, opening: LeafOpening) -> OpenedLeaf:
    """The record a version 2 leaf commits to, if ``opening`` opens it.

    Checks, in this order, each failing with its own :class:`OpeningProblem`:
    the private record is canonical and the loan salt 32 bytes (MALFORMED);
    ``SHA-256(tag || private record)`` is the leaf's commitment (COMMITMENT);
    the loan key derived from the loan salt and the record's owner and loan
    reference is the leaf's (LOAN_KEY). Error messages name what differs, and
    never repeat the private record's values.
    """
    if not isinstance(opening.loan_salt, bytes) or len(opening.loan_salt) != SALT_SIZE:
        raise OpeningError(
            OpeningProblem.MALFORMED, f"the opening's loan salt is not {SALT_SIZE} bytes"
        )
    try:
        record = decode_private_record(opening.private_record)
    except LeafError as exc:
        raise OpeningError(
            OpeningProblem.MALFORMED, f"the opening's private record is not canonical: {exc}"
        ) from exc
    commitment = record_commitment(bytes(opening.private_record))
    if not hmac.compare_digest(commitment, leaf.commitment):
        raise OpeningError(
            OpeningProblem.COMMITMENT,
            f"the private record hashes to {commitment.hex()}, "
            f"not to the leaf's commitment {leaf.commitment.hex()}",
        )
    key = derive_loan_key(opening.loan_salt, record.owner, record.loan_ref)
    if not hmac.compare_digest(key, leaf.loan_key):
        raise OpeningError(
            OpeningProblem.LOAN_KEY,
            f"the loan salt, owner and loan_ref give the loan key {key.hex()}, "
            f"not the leaf's {leaf.loan_key.hex()}",
        )
    return OpenedLeaf(
        version=leaf.version,
        entry_id=leaf.entry_id,
        owner=record.owner,
        submitter=record.submitter,
        loan_ref=record.loan_ref,
        kind=record.kind,
        hash_algorithm=record.hash_algorithm,
        digest=record.digest,
        occurred_at=record.occurred_at,
        received_at=leaf.received_at,
        token_sha256=leaf.token_sha256,
        loan_sequence=leaf.loan_sequence,
        supersedes=record.supersedes,
        metadata=record.metadata,
        previous_leaf_hash=leaf.previous_leaf_hash,
        loan_key=leaf.loan_key,
        commitment=leaf.commitment,
    )
