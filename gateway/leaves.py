"""The canonical leaf of a submission: version 2, and the opening that goes with it.

The one place where the gateway turns a :class:`gateway.model.Submission`
into a leaf (:mod:`court.evidence.leaf_v2`): the private record with its
random per-record salt, the opaque loan key from the loan's secret salt, and
the public leaf carrying only the commitment. The ledger seals new records
here, and its reads rebuild the opening of a stored record from its columns
and its stored salts (:class:`gateway.store.base.StoredOpening`), with the
same code, so what a reader is handed is what was committed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from court.evidence.leaf_v2 import (
    SALT_SIZE,
    PrivateRecord,
    PublicLeaf,
    derive_loan_key,
    encode_private_record,
    encode_public_leaf,
    record_commitment,
)
from court.evidence.opening import LeafOpening
from gateway.model import Submission
from gateway.store.base import StoredOpening

__all__ = ["fresh_salts", "loan_key_of", "new_salt", "opening_of", "private_record_of", "seal"]


def new_salt() -> bytes:
    """A fresh random salt (32 bytes) for a record or a loan."""
    return secrets.token_bytes(SALT_SIZE)


def fresh_salts(count: int) -> list[bytes]:
    """``count`` fresh salts as :func:`new_salt` makes them, from one read of the
    system's random source (one call per salt cost a group commit 5% of its time)."""
    pool = secrets.token_bytes(SALT_SIZE * count)
    return [pool[i : i + SALT_SIZE] for i in range(0, len(pool), SALT_SIZE)]


def private_record_of(s: Submission, opening: StoredOpening) -> bytes:
    """The encoded private record of the version 2 leaf of ``s`` (what its commitment
    commits to and its opening carries). :class:`court.evidence.leaf.LeafError` if a
    value breaks a leaf rule."""
    return encode_private_record(
        PrivateRecord(
            salt=opening.record_salt,
            owner=opening.owner,
            submitter=opening.submitter,
            loan_ref=s.loan_ref,
            kind=str(s.kind),
            hash_algorithm=s.hash_algorithm,
            digest=s.digest,
            occurred_at=s.occurred_at,
            supersedes=s.supersedes,
            metadata=s.metadata,
        )
    )


def opening_of(s: Submission, opening: StoredOpening) -> LeafOpening:
    """The opening of the version 2 leaf of ``s`` (its private record, rebuilt, and the
    loan salt). :class:`court.evidence.leaf.LeafError` if a value breaks a leaf rule."""
    return LeafOpening(private_record=private_record_of(s, opening), loan_salt=opening.loan_salt)


def loan_key_of(s: Submission, opening: StoredOpening) -> bytes:
    """The opaque loan key the version 2 leaf of ``s`` carries.

    Raises :class:`court.evidence.leaf.LeafError` if a value breaks a leaf rule.
    """
    return derive_loan_key(opening.loan_salt, opening.owner, s.loan_ref)


def seal(
    s: Submission,
    opening: StoredOpening,
    *,
    entry_id: str,
    received_at: datetime,
    token: bytes,
    loan_sequence: int,
    previous_leaf_hash: bytes | None,
    loan_key: bytes | None = None,
    private_record: bytes | None = None,
) -> bytes:
    """The version 2 leaf of ``s``: public fields, loan key and commitment.

    ``loan_key`` is :func:`loan_key_of` ``(s, opening)`` and ``private_record``
    :func:`private_record_of` ``(s, opening)`` if the caller has them already (the
    ledger needs the key for the loan map and the record for the receipt's
    opening), else they are made here.
    Raises :class:`court.evidence.leaf.LeafError` if a value breaks a leaf rule.
    """
    return encode_public_leaf(
        PublicLeaf(
            entry_id=entry_id,
            loan_key=loan_key_of(s, opening) if loan_key is None else loan_key,
            loan_sequence=loan_sequence,
            received_at=received_at,
            token_sha256=hashlib.sha256(token).digest(),
            commitment=record_commitment(
                private_record_of(s, opening) if private_record is None else private_record
            ),
            previous_leaf_hash=previous_leaf_hash,
        )
    )
