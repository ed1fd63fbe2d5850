"""Conversion between the protobuf messages of ``evidence_gateway.v1`` and the core's types.

Generated ``*_pb2`` types stop here: the ledger sees only :mod:`gateway.model`.
Conversion never decides whether a value is acceptable; the field rules live
once, in :func:`gateway.model.validate_submission`. Conversion only reports
what the core types cannot represent at all (an enum value unknown to this
version, a timestamp outside the representable range), with the same field
names, so one request gets one list naming every bad field.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from google.protobuf import timestamp_pb2

from court.verify.checkpoint import CheckpointError, parse_checkpoint
from evidence_gateway.v1 import common_pb2
from gateway.anchor.model import StoredAnchor
from gateway.model import (
    DEFAULT_MIN_OCCURRED_AT,
    DIGEST_SIZES,
    HASH_ALGORITHM_RULE,
    EvidenceKind,
    EvidenceRecord,
    Receipt,
    Submission,
    digest_rule,
    validate_client_submission,
    validate_entry_id,
    validate_submission,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "algorithm_from_proto",
    "algorithm_to_proto",
    "anchor_to_proto",
    "checkpoint_to_proto",
    "datetime_from_proto",
    "kind_from_proto",
    "kind_to_proto",
    "page_size_from_proto",
    "receipt_to_proto",
    "record_to_proto",
    "subject_violations",
    "submission_from_proto",
    "submission_to_proto",
]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

_KIND_PREFIX = "EVIDENCE_KIND_"
_ALG_PREFIX = "HASH_ALGORITHM_"

_KIND_FROM_PROTO: dict[int, EvidenceKind] = {
    common_pb2.EvidenceKind.Value(_KIND_PREFIX + kind.name): kind for kind in EvidenceKind
}
_KIND_TO_PROTO: dict[EvidenceKind, int] = {v: k for k, v in _KIND_FROM_PROTO.items()}
_ALG_FROM_PROTO: dict[int, str] = {
    common_pb2.HashAlgorithm.Value(_ALG_PREFIX + name.upper()): name for name in DIGEST_SIZES
}
_ALG_TO_PROTO: dict[str, int] = {v: k for k, v in _ALG_FROM_PROTO.items()}

# google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def kind_from_proto(value: int) -> EvidenceKind | None:
    """The core kind for a proto enum value; ``None`` when unspecified or unknown."""
    return _KIND_FROM_PROTO.get(value)


def kind_to_proto(kind: EvidenceKind) -> int:
    return _KIND_TO_PROTO[kind]


def algorithm_from_proto(value: int) -> str | None:
    """``"sha256"``, ... for a proto enum value; ``None`` when unspecified or unknown."""
    return _ALG_FROM_PROTO.get(value)


def algorithm_to_proto(name: str) -> int:
    return _ALG_TO_PROTO[name]


def digest_violations(
    algorithm: int, digest: bytes, alg_field: str, digest_field: str
) -> list[tuple[str, str]]:
    """Violations of a (hash algorithm, digest) pair as FindEvidence and VerifyEvidence take it."""
    name = algorithm_from_proto(algorithm)
    if name is None:
        return [(alg_field, HASH_ALGORITHM_RULE)]
    rule = digest_rule(name, digest)
    return [] if rule is None else [(digest_field, rule)]


def subject_violations(request: Any) -> tuple[str | None, list[tuple[str, str]]]:
    """The ``subject`` a request names (its oneof of ``entry_id`` and ``digest``, as
    VerifyEvidence and GetEvidenceBundle take it) and the violations of it; an unset
    subject is named with its choices in the order the message declares them."""
    subject = request.WhichOneof("subject")
    if subject is None:
        choices = [f.name for f in request.DESCRIPTOR.oneofs_by_name["subject"].fields]
        return None, [("subject", f"set {' or '.join(choices)}")]
    if subject == "digest":
        return subject, digest_violations(
            request.digest.hash_algorithm,
            request.digest.value,
            "digest.hash_algorithm",
            "digest.value",
        )
    return subject, validate_entry_id(request.entry_id)


def page_size_from_proto(value: int, field: str = "page_size") -> tuple[int, list[tuple[str, str]]]:
    """Resolve ``page_size``: 0 means 100, above 1,000 means 1,000, negative is invalid."""
    if value < 0:
        return DEFAULT_PAGE_SIZE, [(field, f"must not be negative, got {value}")]
    if value == 0:
        return DEFAULT_PAGE_SIZE, []
    return min(value, MAX_PAGE_SIZE), []


def datetime_from_proto(ts: timestamp_pb2.Timestamp) -> datetime | None:
    """An aware UTC datetime (microsecond precision, nanoseconds truncated), or ``None``
    when the timestamp is outside the range google.protobuf.Timestamp allows."""
    if not (_MIN_SECONDS <= ts.seconds <= _MAX_SECONDS) or not 0 <= ts.nanos < 1_000_000_000:
        return None
    # Truncate (not round) so that the same Timestamp always gives the same datetime.
    micros = ts.seconds * 1_000_000 + ts.nanos // 1000
    return _EPOCH + timedelta(microseconds=micros)


def datetime_to_proto(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def submission_from_proto(
    message: common_pb2.EvidenceSubmission,
    institution: str,
    now: datetime,
    min_occurred_at: datetime = DEFAULT_MIN_OCCURRED_AT,
) -> tuple[Submission, list[tuple[str, str]]]:
    """Convert and validate one submission; returns it with every violation found.

    Paths are relative to the submission (``"digest"``, ``"metadata[key]"``).
    The submission is meaningful only when the list is empty. ``now`` and
    ``min_occurred_at`` bound ``occurred_at`` (:func:`gateway.model.validate_submission`).
    """
    problems: list[tuple[str, str]] = []
    kind = kind_from_proto(message.kind)
    algorithm = algorithm_from_proto(message.hash_algorithm)
    occurred_at: datetime | None = None
    if not message.HasField("occurred_at"):
        problems.append(("occurred_at", "is required (when the recorded event happened)"))
    else:
        occurred_at = datetime_from_proto(message.occurred_at)
        if occurred_at is None:
            problems.append(
                (
                    "occurred_at",
                    "is outside the range of google.protobuf.Timestamp (years 1 to 9999; "
                    "nanos 0 to 999,999,999): a time in milliseconds sent as seconds is beyond it",
                )
            )
    submission = Submission(
        institution=institution,
        request_id=message.request_id,
        loan_ref=message.loan_ref,
        # validate_submission reports "kind" / "hash_algorithm" for the empty value.
        kind=cast(EvidenceKind, kind if kind is not None else ""),
        hash_algorithm=algorithm if algorithm is not None else "",
        digest=bytes(message.digest),
        occurred_at=cast(datetime, occurred_at),
        metadata=tuple(sorted(message.metadata.items())),
        supersedes=message.supersedes or None,
        owner=message.owner,
    )
    reported = {field for field, _ in problems}
    for field, description in validate_submission(submission, now, min_occurred_at):
        if field == "occurred_at" and field in reported:
            continue
        if field == "digest" and algorithm is None and len(submission.digest) in (32, 48, 64):
            continue  # the digest may be fine: its length depends on the missing algorithm
        problems.append((field, description))
    problems += validate_client_submission(submission)
    return submission, problems


def submission_to_proto(s: Submission) -> common_pb2.EvidenceSubmission:
    return common_pb2.EvidenceSubmission(
        request_id=s.request_id,
        loan_ref=s.loan_ref,
        kind=kind_to_proto(s.kind),  # type: ignore[arg-type]
        hash_algorithm=algorithm_to_proto(s.hash_algorithm),  # type: ignore[arg-type]
        digest=s.digest,
        occurred_at=datetime_to_proto(s.occurred_at),
        metadata=dict(s.metadata),
        supersedes=s.supersedes or "",
        owner=s.owner,
    )


@functools.lru_cache(maxsize=64)
def checkpoint_to_proto(note: str) -> common_pb2.Checkpoint:
    """The Checkpoint message of a signed note (convenience fields parsed from it).

    Cached: the receipts of one commit share one checkpoint. Callers must not
    mutate the returned message (``CopyFrom`` it into theirs).
    """
    try:
        parsed = parse_checkpoint(note)
    except CheckpointError:
        # Not ours to judge here: a verifier checks the note; pass it through.
        return common_pb2.Checkpoint(signed_note=note)
    return common_pb2.Checkpoint(
        signed_note=note, origin=parsed.origin, size=parsed.size, root_hash=parsed.root_hash
    )


def inclusion_proof_to_proto(
    leaf_index: int, tree_size: int, hashes: Sequence[bytes]
) -> common_pb2.InclusionProof:
    return common_pb2.InclusionProof(leaf_index=leaf_index, tree_size=tree_size, hashes=hashes)


def receipt_to_proto(r: Receipt) -> common_pb2.Receipt:
    message = common_pb2.Receipt(
        entry_id=r.entry_id,
        leaf_index=r.leaf_index,
        leaf=r.leaf,
        timestamp_token=r.timestamp_token,
        inclusion_proof=inclusion_proof_to_proto(r.leaf_index, r.tree_size, r.inclusion_proof),
        received_at=datetime_to_proto(r.received_at),
        loan_sequence=r.loan_sequence,
        previous_leaf_hash=r.previous_leaf_hash,
    )
    message.checkpoint.CopyFrom(checkpoint_to_proto(r.checkpoint))
    if r.opening is not None:
        message.opening.private_record = r.opening.private_record
        message.opening.loan_salt = r.opening.loan_salt
    return message


def record_to_proto(record: EvidenceRecord) -> common_pb2.EvidenceRecord:
    return common_pb2.EvidenceRecord(
        submission=submission_to_proto(record.submission),
        receipt=receipt_to_proto(record.receipt),
        institution=record.submission.institution,
        superseded_by=list(record.superseded_by),
    )


def anchor_to_proto(anchor: StoredAnchor) -> common_pb2.Anchor:
    """A confirmed anchor as the API shows it (the consistency proof it was sent with stays)."""
    message = common_pb2.Anchor(
        chain_name=anchor.chain_name,
        chain_id=anchor.chain_id,
        contract=anchor.contract,
        log_id=anchor.log_id,
        anchor_number=anchor.anchor_number or 0,
        tree_size=anchor.tree_size,
        root_hash=anchor.root_hash,
        checkpoint_hash=anchor.checkpoint_hash,
        checkpoint=checkpoint_to_proto(anchor.checkpoint_note),
        transaction_hash=anchor.tx_hash,
        block_number=anchor.block_number or 0,
        block_hash=anchor.block_hash or b"",
    )
    if anchor.confirmed_at is not None:
        message.confirmed_at.CopyFrom(datetime_to_proto(anchor.confirmed_at))
    return message
