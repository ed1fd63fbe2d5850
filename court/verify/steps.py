"""The steps that receipt and record verification share, each written once (pure).

:mod:`court.verify.receipt` (a receipt, offline) and :mod:`court.verify.record`
(a record a verification service holds, and a receipt held for it) run the
same leaf, checkpoint and proof checks under the same names; the names, the
overall :class:`Outcome` and those steps live here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Final

from cryptography.hazmat.primitives import hashes

from court.errors import CourtError
from court.evidence.leaf import LeafFields
from court.evidence.leaf_v2 import PublicLeaf
from court.evidence.opening import (
    LeafOpening,
    OpenedLeaf,
    OpeningError,
    decode_any_leaf,
    open_leaf,
    opened_v1,
)
from court.verify.checkpoint import Checkpoint, CheckpointCache, verify_checkpoint
from court.verify.merkle import verify_consistency, verify_inclusion
from court.verify.result import Check, Checklist, CheckStatus, Verdict
from court.verify.rfc6962 import leaf_hash
from court.verify.token import TokenVerification

__all__ = [
    "CHECK_CHECKPOINT",
    "CHECK_CONSISTENCY",
    "CHECK_INCLUSION",
    "CHECK_LEAF_DIGEST",
    "CHECK_LEAF_FORMAT",
    "CHECK_LEAF_OPENING",
    "CHECK_LEAF_RECORD",
    "CHECK_LEAF_TOKEN",
    "CHECK_RECEIPT_CHECKPOINT",
    "CHECK_RECEIPT_CHECKPOINT_FIELDS",
    "CHECK_RECEIPT_FIELDS",
    "CHECK_RECEIPT_INCLUSION",
    "CHECK_RECEIPT_MATCHES",
    "Leaf",
    "Outcome",
    "consistent",
    "copy_check",
    "decode_leaf_or_error",
    "document_digest",
    "included",
    "leaf_digest",
    "leaf_format",
    "leaf_names_token",
    "leaf_opening",
    "open_or_error",
    "outcome",
    "shown",
    "signed_checkpoint",
]

CHECK_LEAF_FORMAT: Final = "Leaf well-formed"
CHECK_LEAF_OPENING: Final = "Leaf opening matches"
CHECK_LEAF_RECORD: Final = "Leaf matches record"
CHECK_LEAF_DIGEST: Final = "Leaf digest matches"
CHECK_LEAF_TOKEN: Final = "Leaf names token"
CHECK_RECEIPT_FIELDS: Final = "Receipt fields match leaf"
CHECK_CHECKPOINT: Final = "Checkpoint signature valid"
CHECK_INCLUSION: Final = "Inclusion proof valid"
CHECK_RECEIPT_MATCHES: Final = "Receipt matches record"
CHECK_RECEIPT_CHECKPOINT: Final = "Receipt checkpoint signature valid"
CHECK_RECEIPT_CHECKPOINT_FIELDS: Final = "Receipt checkpoint fields match note"
CHECK_RECEIPT_INCLUSION: Final = "Receipt inclusion proof valid"
CHECK_CONSISTENCY: Final = "Log consistent with receipt checkpoint"

_SHOWN_CHARS: Final = 80

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


def outcome(verdict: Verdict, token_ok: bool, required: Sequence[str]) -> Outcome:
    """INVALID if a check failed; VALID if the token and every ``required`` check passed."""
    if verdict.failures:
        return Outcome.INVALID
    if token_ok and all(name in verdict and verdict[name].passed for name in required):
        return Outcome.VALID
    return Outcome.INCONCLUSIVE


def shown(value: str) -> str:
    """A value from the input as a detail quotes it: repr, at most 80 characters of it."""
    if len(value) <= _SHOWN_CHARS:
        return repr(value)
    return repr(value[:_SHOWN_CHARS]) + f"… ({len(value)} characters)"


def copy_check(checks: Checklist, check: Check) -> None:
    """Record ``check`` (from another verification) in ``checks`` as it is."""
    if check.status is CheckStatus.PASSED:
        checks.passed(check.name, check.detail)
    elif check.status is CheckStatus.FAILED:
        checks.failed(check.name, check.detail)
    else:
        checks.not_run(check.name, check.detail)


Leaf = LeafFields | PublicLeaf
"""A decoded leaf: version 1 (fields in clear) or version 2 (public fields only)."""


def decode_leaf_or_error(leaf: bytes) -> Leaf | CourtError:
    try:
        return decode_any_leaf(leaf)
    except CourtError as exc:
        return exc


def open_or_error(leaf: Leaf, opening: LeafOpening | None) -> OpenedLeaf | OpeningError | None:
    """The record of ``leaf``: in clear (version 1), opened (version 2), the reason the
    opening fails, or ``None`` for a version 2 leaf without an opening."""
    if isinstance(leaf, LeafFields):
        return opened_v1(leaf)
    if opening is None:
        return None
    try:
        return open_leaf(leaf, opening)
    except OpeningError as exc:
        return exc


def leaf_opening(
    checks: Checklist,
    leaf: Leaf,
    opened: OpenedLeaf | OpeningError | None,
    dependants: Sequence[str],
) -> OpenedLeaf | None:
    """Leaf opening matches: the opening (version 2) opens the leaf's commitment and loan key.

    A version 1 leaf holds its fields in clear: the check is not run and the
    record is returned. Without an opening, or with one that fails, the
    ``dependants`` (checks that need the private fields) are not run.
    """
    if isinstance(leaf, LeafFields):
        checks.not_run(
            CHECK_LEAF_OPENING, f"a version {leaf.version} leaf holds its fields in clear"
        )
        assert isinstance(opened, OpenedLeaf)
        return opened
    if opened is None:
        checks.not_run(
            CHECK_LEAF_OPENING,
            "no opening was supplied: a version 2 leaf holds its private fields only as a "
            "commitment (the receipt's opening goes to the loan's owner)",
        )
        for name in dependants:
            checks.not_run(name, "not run: the version 2 leaf was not opened")
        return None
    if isinstance(opened, OpeningError):
        checks.failed(CHECK_LEAF_OPENING, f"{opened.reason.value}: {opened}")
        checks.blocked(dependants, CHECK_LEAF_OPENING)
        return None
    checks.passed(
        CHECK_LEAF_OPENING,
        f"the private record hashes to the leaf's commitment {leaf.commitment.hex()} and the "
        f"loan salt gives its loan key {leaf.loan_key.hex()}",
    )
    return opened


def leaf_format(
    checks: Checklist, decoded: Leaf | CourtError, dependants: Sequence[str]
) -> Leaf | None:
    """Leaf well-formed; on failure the ``dependants`` are not run."""
    if isinstance(decoded, CourtError):
        checks.failed(CHECK_LEAF_FORMAT, str(decoded))
        checks.blocked(dependants, CHECK_LEAF_FORMAT)
        return None
    checks.passed(CHECK_LEAF_FORMAT, f"canonical DER evidence leaf v{decoded.version}")
    return decoded


def leaf_names_token(checks: Checklist, leaf: Leaf, token: bytes) -> None:
    token_hash = hashlib.sha256(token).digest()
    checks.record(
        CHECK_LEAF_TOKEN,
        leaf.token_sha256 == token_hash,
        f"leaf tokenHash {leaf.token_sha256.hex()}, SHA-256 of the token {token_hash.hex()}",
    )


def signed_checkpoint(
    checks: Checklist,
    name: str,
    note: str,
    log_verifier_key: str,
    dependants: Sequence[str],
    cache: CheckpointCache | None = None,
) -> Checkpoint | None:
    """A checkpoint signature check; on failure the ``dependants`` are not run.

    ``cache`` keeps the notes that verified (:class:`CheckpointCache`)."""
    try:
        if cache is not None:
            checkpoint = cache.verify(note, log_verifier_key)
        else:
            checkpoint = verify_checkpoint(note, log_verifier_key)
    except CourtError as exc:
        checks.failed(name, str(exc))
        checks.blocked(dependants, name)
        return None
    checks.passed(name, f"{checkpoint.origin} at size {checkpoint.size}, signed by the log key")
    return checkpoint


def included(
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


def consistent(
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


def document_digest(algorithm: str, data: bytes) -> bytes:
    """The digest of ``data`` under one of the leaf's hash algorithms."""
    h = hashes.Hash(_HASHES[algorithm]())
    h.update(data)
    return h.finalize()


def leaf_digest(
    checks: Checklist,
    leaf: OpenedLeaf,
    token: TokenVerification,
    algorithm: str | None,
    digest: bytes | None,
) -> None:
    """Leaf digest matches: the leaf names the document and the token's imprint.

    ``algorithm`` and ``digest`` are the document's; ``None`` when no document
    was given (a bundle verified alone): the leaf is then compared with the
    token's imprint only, and the detail says so.
    """
    said = f"leaf {leaf.hash_algorithm} {leaf.digest.hex()}"
    wrong: list[str] = []
    if digest is not None and (leaf.hash_algorithm, leaf.digest) != (algorithm, digest):
        wrong.append(f"the document's {algorithm} digest is {digest.hex()}")
    imprint = token.imprint
    if imprint is not None and (token.hash_algorithm, imprint) != (
        leaf.hash_algorithm,
        leaf.digest,
    ):
        wrong.append(f"the token's imprint is {token.hash_algorithm} {imprint.hex()}")
    document = "the document's" if digest is not None else "no document was given; it is"
    if wrong:
        checks.failed(CHECK_LEAF_DIGEST, f"{said}, but " + "; ".join(wrong))
    elif imprint is None:
        checks.not_run(
            CHECK_LEAF_DIGEST,
            f"{said} ({document}), but the token's imprint could not be read "
            "(see the token checks)",
        )
    elif digest is None:
        checks.passed(CHECK_LEAF_DIGEST, f"{said}: the token's imprint (no document was given)")
    else:
        checks.passed(CHECK_LEAF_DIGEST, f"{said}: the document's digest and the token's imprint")
