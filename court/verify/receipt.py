"""Court-side verification of a receipt, and of a record against the log (pure).

A **receipt** is what the gateway sends a lender once an entry is durable: the
canonical leaf (:mod:`court.evidence.leaf`), the RFC 3161 time-stamp token, a
signed C2SP checkpoint that already contains the leaf, and the RFC 9162
inclusion proof of the leaf in it. :func:`verify_receipt` checks one with
nothing but the document (or its digest), the TSA's trust anchors and the
log's verifier key, each check separately and named, in this order:

====================================== ==================================================
check                                  what passes
====================================== ==================================================
(every check of :func:`court.verify.token.verify_timestamp`, under its own name:
"DER well-formed", ..., "Signature valid", "Chain valid at genTime", "Imprint matches", ...)
Leaf well-formed                       the leaf is a canonical DER evidence leaf
Leaf digest matches                    the leaf's hash algorithm and digest are the
                                       document's (the given digest, or the hash of the
                                       given data) and the token's message imprint
Leaf names token                       the leaf's tokenHash is the SHA-256 of the token
Receipt checkpoint signature valid     the receipt's checkpoint verifies with the log key
Receipt inclusion proof valid          the proof is for the checkpoint's size and leads
                                       from the leaf hash at its index to its root
Checkpoint signature valid             (with a newer checkpoint) it verifies with the
                                       log key
Log consistent with receipt checkpoint (with a newer checkpoint) same log, not smaller,
                                       and the consistency proof from the receipt's
                                       checkpoint to it verifies
====================================== ==================================================

The two checks about a newer checkpoint are ``not_run`` when none is given, so
every receipt report has the same names (:data:`RECEIPT_CHECKS` after the
token's).

:func:`verify_record` is what a verification service runs on a record it
holds: the record's token and leaf against what the record says, the log's
latest checkpoint and the leaf's inclusion in it, and, when the caller holds a
receipt for the record, whether it is the record's and :func:`verify_receipt`
on it against that latest checkpoint. Both functions share the steps below, so
each rule is written once, here.

Nothing here raises for bad evidence: a bad token, leaf, note, key or proof is
a failed check. ``ValueError`` is raised only for programming errors (neither
or both of ``digest`` and ``data``, an unknown hash name, a digest of the wrong
length, a consistency proof without a newer checkpoint).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from court.errors import CourtError
from court.evidence.leaf import LeafFields, decode_leaf
from court.verify.checkpoint import Checkpoint, verify_checkpoint
from court.verify.merkle import verify_consistency, verify_inclusion
from court.verify.result import Check, Checklist, CheckStatus, Verdict
from court.verify.rfc6962 import leaf_hash
from court.verify.token import TokenVerification, verify_timestamp

__all__ = [
    "CHECK_CHECKPOINT",
    "CHECK_CONSISTENCY",
    "CHECK_INCLUSION",
    "CHECK_LEAF_DIGEST",
    "CHECK_LEAF_FORMAT",
    "CHECK_LEAF_RECORD",
    "CHECK_LEAF_TOKEN",
    "CHECK_RECEIPT_CHECKPOINT",
    "CHECK_RECEIPT_INCLUSION",
    "CHECK_RECEIPT_MATCHES",
    "RECEIPT_CHECKS",
    "RECORD_CHECKS",
    "ExpectedRecord",
    "Outcome",
    "ReceiptInput",
    "ReceiptVerification",
    "RecordVerification",
    "verify_receipt",
    "verify_record",
]

CHECK_LEAF_FORMAT: Final = "Leaf well-formed"
CHECK_LEAF_RECORD: Final = "Leaf matches record"
CHECK_LEAF_DIGEST: Final = "Leaf digest matches"
CHECK_LEAF_TOKEN: Final = "Leaf names token"
CHECK_CHECKPOINT: Final = "Checkpoint signature valid"
CHECK_INCLUSION: Final = "Inclusion proof valid"
CHECK_RECEIPT_MATCHES: Final = "Receipt matches record"
CHECK_RECEIPT_CHECKPOINT: Final = "Receipt checkpoint signature valid"
CHECK_RECEIPT_INCLUSION: Final = "Receipt inclusion proof valid"
CHECK_CONSISTENCY: Final = "Log consistent with receipt checkpoint"

#: The checks of :func:`verify_receipt` after the token's, in report order.
RECEIPT_CHECKS: Final[tuple[str, ...]] = (
    CHECK_LEAF_FORMAT,
    CHECK_LEAF_DIGEST,
    CHECK_LEAF_TOKEN,
    CHECK_RECEIPT_CHECKPOINT,
    CHECK_RECEIPT_INCLUSION,
    CHECK_CHECKPOINT,
    CHECK_CONSISTENCY,
)

#: The checks of :func:`verify_record` after the token's, in report order.
RECORD_CHECKS: Final[tuple[str, ...]] = (
    CHECK_LEAF_FORMAT,
    CHECK_LEAF_RECORD,
    CHECK_LEAF_TOKEN,
    CHECK_CHECKPOINT,
    CHECK_INCLUSION,
    CHECK_RECEIPT_MATCHES,
    CHECK_RECEIPT_CHECKPOINT,
    CHECK_RECEIPT_INCLUSION,
    CHECK_CONSISTENCY,
)

# Checks that must pass (besides the token's) for a VALID outcome.
_RECEIPT_REQUIRED: Final[tuple[str, ...]] = RECEIPT_CHECKS[:5]
_NEWER_REQUIRED: Final[tuple[str, ...]] = (CHECK_CHECKPOINT, CHECK_CONSISTENCY)
_RECORD_REQUIRED: Final[tuple[str, ...]] = RECORD_CHECKS[:5]
_HELD_REQUIRED: Final[tuple[str, ...]] = RECORD_CHECKS[5:]
# The checks of a held receipt's own verification that a record report carries.
_HELD_FROM_RECEIPT: Final[tuple[str, ...]] = (
    CHECK_RECEIPT_CHECKPOINT,
    CHECK_RECEIPT_INCLUSION,
    CHECK_CONSISTENCY,
)

# Document hash algorithms of the leaf (court.evidence.leaf.HASH_OIDS), for `data=`.
_HASHES: Final[dict[str, Callable[[], hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sm3": hashes.SM3,
}


class Outcome(StrEnum):
    """The overall result of a verification."""

    VALID = "valid"
    """No check failed and every check needed to establish validity passed."""
    INVALID = "invalid"
    """At least one check failed."""
    INCONCLUSIVE = "inconclusive"
    """No check failed, but a needed check could not run (its input was missing)."""


def _outcome(verdict: Verdict, token_ok: bool, required: Sequence[str]) -> Outcome:
    if verdict.failures:
        return Outcome.INVALID
    if token_ok and all(name in verdict and verdict[name].passed for name in required):
        return Outcome.VALID
    return Outcome.INCONCLUSIVE


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ReceiptVerification:
    """Outcome of :func:`verify_receipt`: the named checks and what was learnt.

    ``leaf``, ``checkpoint`` and ``newer_checkpoint`` are set when they decoded
    and (for checkpoints) verified with the log key, even if another check failed.
    """

    verdict: Verdict
    token: TokenVerification
    leaf: LeafFields | None = None
    checkpoint: Checkpoint | None = None
    newer_checkpoint: Checkpoint | None = None
    with_newer: bool = False

    @property
    def outcome(self) -> Outcome:
        required = _RECEIPT_REQUIRED + (_NEWER_REQUIRED if self.with_newer else ())
        return _outcome(self.verdict, self.token.ok, required)

    @property
    def ok(self) -> bool:
        """True when the receipt is valid: nothing failed and every needed check passed."""
        return self.outcome is Outcome.VALID

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.verdict.checks

    @property
    def failures(self) -> tuple[Check, ...]:
        return self.verdict.failures

    @property
    def first_failure(self) -> Check | None:
        return self.verdict.first_failure


@dataclass(frozen=True, slots=True)
class RecordVerification:
    """Outcome of :func:`verify_record`; ``receipt`` is the held receipt's own verification."""

    verdict: Verdict
    token: TokenVerification
    receipt: ReceiptVerification | None = None

    @property
    def outcome(self) -> Outcome:
        required = _RECORD_REQUIRED + (_HELD_REQUIRED if self.receipt is not None else ())
        return _outcome(self.verdict, self.token.ok, required)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.VALID

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.verdict.checks


# --------------------------------------------------------------------------- steps


def _copy(checks: Checklist, check: Check) -> None:
    if check.status is CheckStatus.PASSED:
        checks.passed(check.name, check.detail)
    elif check.status is CheckStatus.FAILED:
        checks.failed(check.name, check.detail)
    else:
        checks.not_run(check.name, check.detail)


def _decode_leaf(leaf: bytes) -> LeafFields | CourtError:
    try:
        return decode_leaf(leaf)
    except CourtError as exc:
        return exc


def _leaf_format(
    checks: Checklist, decoded: LeafFields | CourtError, dependants: Sequence[str]
) -> LeafFields | None:
    """Leaf well-formed; on failure the ``dependants`` are not run."""
    if isinstance(decoded, CourtError):
        checks.failed(CHECK_LEAF_FORMAT, str(decoded))
        checks.blocked(dependants, CHECK_LEAF_FORMAT)
        return None
    checks.passed(CHECK_LEAF_FORMAT, f"canonical DER evidence leaf v{decoded.version}")
    return decoded


def _leaf_names_token(checks: Checklist, leaf: LeafFields, token: bytes) -> None:
    token_hash = hashlib.sha256(token).digest()
    checks.record(
        CHECK_LEAF_TOKEN,
        leaf.token_sha256 == token_hash,
        f"leaf tokenHash {leaf.token_sha256.hex()}, SHA-256 of the token {token_hash.hex()}",
    )


def _leaf_digest(
    checks: Checklist,
    leaf: LeafFields,
    token: TokenVerification,
    algorithm: str,
    digest: bytes,
) -> None:
    """Leaf digest matches: the leaf names the document and the token's imprint."""
    said = f"leaf {leaf.hash_algorithm} {leaf.digest.hex()}"
    wrong: list[str] = []
    if (leaf.hash_algorithm, leaf.digest) != (algorithm, digest):
        wrong.append(f"the document's {algorithm} digest is {digest.hex()}")
    imprint = token.imprint
    if imprint is not None and (token.hash_algorithm, imprint) != (
        leaf.hash_algorithm,
        leaf.digest,
    ):
        wrong.append(f"the token's imprint is {token.hash_algorithm} {imprint.hex()}")
    if wrong:
        checks.failed(CHECK_LEAF_DIGEST, f"{said}, but " + "; ".join(wrong))
    elif imprint is None:
        checks.not_run(
            CHECK_LEAF_DIGEST,
            f"{said} is the document's, but the token's imprint could not be read "
            "(see the token checks)",
        )
    else:
        checks.passed(CHECK_LEAF_DIGEST, f"{said}: the document's digest and the token's imprint")


def _signed_checkpoint(
    checks: Checklist, name: str, note: str, log_verifier_key: str, dependants: Sequence[str]
) -> Checkpoint | None:
    """A checkpoint signature check; on failure the ``dependants`` are not run."""
    try:
        checkpoint = verify_checkpoint(note, log_verifier_key)
    except CourtError as exc:
        checks.failed(name, str(exc))
        checks.blocked(dependants, name)
        return None
    checks.passed(name, f"{checkpoint.origin} at size {checkpoint.size}, signed by the log key")
    return checkpoint


def _included(
    checks: Checklist,
    name: str,
    leaf: bytes,
    leaf_index: int,
    proof: Sequence[bytes],
    checkpoint: Checkpoint,
    tree: str,
) -> None:
    try:
        verify_inclusion(leaf_index, checkpoint.size, leaf_hash(leaf), proof, checkpoint.root_hash)
    except CourtError as exc:
        checks.failed(name, str(exc))
        return
    checks.passed(name, f"leaf {leaf_index} is in {tree} of size {checkpoint.size}")


def _consistent(
    checks: Checklist, held: Checkpoint, newer: Checkpoint, proof: Sequence[bytes]
) -> None:
    if held.origin != newer.origin:
        checks.failed(
            CHECK_CONSISTENCY, f"the receipt is from log {held.origin!r}, not {newer.origin!r}"
        )
        return
    if held.size > newer.size:
        checks.failed(
            CHECK_CONSISTENCY,
            f"the receipt's checkpoint (size {held.size}) is ahead of the log's ({newer.size})",
        )
        return
    try:
        verify_consistency(held.size, newer.size, proof, held.root_hash, newer.root_hash)
    except CourtError as exc:
        checks.failed(CHECK_CONSISTENCY, str(exc))
        return
    checks.passed(
        CHECK_CONSISTENCY,
        f"the log of size {newer.size} extends the receipt's of size {held.size}",
    )


def _document_digest(algorithm: str, data: bytes) -> bytes:
    h = hashes.Hash(_HASHES[algorithm]())
    h.update(data)
    return h.finalize()


# --------------------------------------------------------------------------- receipt


def verify_receipt(
    *,
    leaf: bytes,
    token: bytes,
    checkpoint: str,
    leaf_index: int,
    tree_size: int,
    inclusion_proof: Sequence[bytes],
    log_verifier_key: str,
    roots: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate] = (),
    digest: bytes | None = None,
    hash_algorithm: str | None = None,
    data: bytes | None = None,
    newer_checkpoint: str | None = None,
    consistency_proof: Sequence[bytes] | None = None,
) -> ReceiptVerification:
    """Run every named check of a receipt (see the module docstring).

    ``leaf``, ``token`` (DER TimeStampToken or TimeStampResp), ``checkpoint``
    (the signed note), ``leaf_index``, ``tree_size`` and ``inclusion_proof``
    are the receipt's. The document is ``digest`` + ``hash_algorithm``, or
    ``data`` (hashed with ``hash_algorithm``, by default the leaf's algorithm).
    ``roots`` / ``untrusted`` are the TSA's trust anchors and extra
    certificates; ``log_verifier_key`` is the log's C2SP verifier key.
    ``newer_checkpoint`` is a later signed checkpoint of the same log and
    ``consistency_proof`` the RFC 9162 proof from the receipt's checkpoint to
    it (empty or ``None`` when both have the same size).
    """
    if consistency_proof is not None and newer_checkpoint is None:
        raise ValueError("a consistency_proof needs the newer_checkpoint it leads to")
    if hash_algorithm is not None:
        hash_algorithm = hash_algorithm.lower()
    decoded = _decode_leaf(leaf)
    if data is not None and hash_algorithm is None and isinstance(decoded, LeafFields):
        hash_algorithm = decoded.hash_algorithm
    token_result = verify_timestamp(
        token,
        roots=roots,
        untrusted=untrusted,
        digest=digest,
        hash_algorithm=hash_algorithm,
        data=data,
    )  # ValueError for a bad combination of digest, data and hash_algorithm

    checks = Checklist()
    for check in token_result.checks:
        _copy(checks, check)

    fields = _leaf_format(checks, decoded, (CHECK_LEAF_DIGEST, CHECK_LEAF_TOKEN))
    if fields is not None:
        # verify_timestamp took digest= with its hash_algorithm; data= takes the leaf's by default.
        algorithm = hash_algorithm or fields.hash_algorithm
        if digest is not None:
            expected = bytes(digest)
        else:
            assert data is not None  # exactly one of the two, as verify_timestamp checked
            expected = _document_digest(algorithm, bytes(data))
        _leaf_digest(checks, fields, token_result, algorithm, expected)
        _leaf_names_token(checks, fields, token)

    held = _signed_checkpoint(
        checks, CHECK_RECEIPT_CHECKPOINT, checkpoint, log_verifier_key, (CHECK_RECEIPT_INCLUSION,)
    )
    if held is not None:
        if tree_size != held.size:
            checks.failed(
                CHECK_RECEIPT_INCLUSION,
                f"the proof is for tree size {tree_size}, the checkpoint has {held.size}",
            )
        else:
            _included(
                checks,
                CHECK_RECEIPT_INCLUSION,
                leaf,
                leaf_index,
                inclusion_proof,
                held,
                "the receipt's tree",
            )

    newer: Checkpoint | None = None
    if newer_checkpoint is None:
        for name in _NEWER_REQUIRED:
            checks.not_run(name, "no newer checkpoint was given")
    else:
        newer = _signed_checkpoint(
            checks, CHECK_CHECKPOINT, newer_checkpoint, log_verifier_key, (CHECK_CONSISTENCY,)
        )
        if newer is not None:
            if held is None:
                checks.blocked((CHECK_CONSISTENCY,), CHECK_RECEIPT_CHECKPOINT)
            else:
                _consistent(checks, held, newer, consistency_proof or ())
    return ReceiptVerification(
        verdict=checks.verdict(),
        token=token_result,
        leaf=fields,
        checkpoint=held,
        newer_checkpoint=newer,
        with_newer=newer_checkpoint is not None,
    )


# --------------------------------------------------------------------------- record


@dataclass(frozen=True, slots=True)
class ExpectedRecord:
    """What a record says, to compare with its leaf (the court-side view of a stored record)."""

    entry_id: str
    institution: str
    loan_ref: str
    kind: str
    hash_algorithm: str
    digest: bytes
    occurred_at: datetime
    supersedes: str | None
    metadata: tuple[tuple[str, str], ...]
    loan_sequence: int
    previous_leaf_hash: bytes | None
    leaf_index: int
    leaf: bytes
    timestamp_token: bytes


@dataclass(frozen=True, slots=True)
class ReceiptInput:
    """A receipt a caller holds for a record (the court-side view of the API's Receipt)."""

    entry_id: str
    leaf: bytes
    timestamp_token: bytes
    checkpoint: str
    leaf_index: int
    proof_tree_size: int
    proof: tuple[bytes, ...]


def _leaf_mismatches(leaf: LeafFields, record: ExpectedRecord) -> list[str]:
    pairs: list[tuple[str, object, object]] = [
        ("entry id", leaf.entry_id, record.entry_id),
        ("institution", leaf.institution, record.institution),
        ("loan_ref", leaf.loan_ref, record.loan_ref),
        ("kind", leaf.kind, record.kind),
        ("hash algorithm", leaf.hash_algorithm, record.hash_algorithm),
        ("digest", leaf.digest, record.digest),
        ("occurred_at", leaf.occurred_at, record.occurred_at),
        ("supersedes", leaf.supersedes, record.supersedes),
        ("metadata", leaf.metadata, record.metadata),
        ("loan sequence", leaf.loan_sequence, record.loan_sequence),
        ("previous leaf hash", leaf.previous_leaf_hash, record.previous_leaf_hash),
    ]
    return [name for name, a, b in pairs if a != b]


def verify_record(
    record: ExpectedRecord,
    *,
    roots: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate] = (),
    log_verifier_key: str,
    checkpoint: str,
    inclusion_proof: Sequence[bytes],
    receipt: ReceiptInput | None = None,
    consistency_proof: Sequence[bytes] | None = None,
) -> RecordVerification:
    """Run every named check on a record and (optionally) a receipt held for it.

    ``checkpoint`` is the log's latest signed note and ``inclusion_proof`` the
    proof of ``record.leaf`` at its size. A held ``receipt`` is compared with
    the record, then verified by :func:`verify_receipt` with ``checkpoint`` as
    the newer checkpoint and ``consistency_proof`` (from the receipt's
    checkpoint to it); its log checks are reported here under their names.
    The receipt checks are ``not_run`` without a receipt.
    """
    token = verify_timestamp(
        record.timestamp_token,
        roots=roots,
        untrusted=untrusted,
        digest=record.digest,
        hash_algorithm=record.hash_algorithm,
    )
    checks = Checklist()
    for check in token.checks:
        _copy(checks, check)

    # The leaf: canonical, about this record, naming this token.
    leaf = _leaf_format(checks, _decode_leaf(record.leaf), (CHECK_LEAF_RECORD, CHECK_LEAF_TOKEN))
    if leaf is not None:
        wrong = _leaf_mismatches(leaf, record)
        checks.record(
            CHECK_LEAF_RECORD,
            not wrong,
            "the leaf records this entry's fields"
            if not wrong
            else "the leaf differs from the record in: " + ", ".join(wrong),
        )
        _leaf_names_token(checks, leaf, record.timestamp_token)

    # The latest checkpoint and the inclusion of the leaf in it.
    latest = _signed_checkpoint(
        checks, CHECK_CHECKPOINT, checkpoint, log_verifier_key, (CHECK_INCLUSION,)
    )
    if latest is not None:
        _included(
            checks,
            CHECK_INCLUSION,
            record.leaf,
            record.leaf_index,
            inclusion_proof,
            latest,
            "the tree",
        )

    # The receipt the caller holds, if any.
    if receipt is None:
        for name in _HELD_REQUIRED:
            checks.not_run(name, "no receipt was supplied")
        return RecordVerification(checks.verdict(), token)
    differs = [
        name
        for name, a, b in (
            ("entry id", receipt.entry_id, record.entry_id),
            ("leaf", receipt.leaf, record.leaf),
            ("timestamp token", receipt.timestamp_token, record.timestamp_token),
            ("leaf index", receipt.leaf_index, record.leaf_index),
        )
        if a != b
    ]
    checks.record(
        CHECK_RECEIPT_MATCHES,
        not differs,
        "same entry id, leaf index, leaf and token as the record"
        if not differs
        else "the receipt differs from the record in: " + ", ".join(differs),
    )
    held = verify_receipt(
        leaf=receipt.leaf,
        token=receipt.timestamp_token,
        checkpoint=receipt.checkpoint,
        leaf_index=receipt.leaf_index,
        tree_size=receipt.proof_tree_size,
        inclusion_proof=receipt.proof,
        log_verifier_key=log_verifier_key,
        roots=roots,
        untrusted=untrusted,
        digest=record.digest,
        hash_algorithm=record.hash_algorithm,
        newer_checkpoint=checkpoint,
        consistency_proof=consistency_proof,
    )
    # A check the held receipt's are blocked on ("Receipt checkpoint signature
    # valid", "Checkpoint signature valid" on the same note) failed here as well.
    for name in _HELD_FROM_RECEIPT:
        _copy(checks, held.verdict[name])
    return RecordVerification(checks.verdict(), token, held)
