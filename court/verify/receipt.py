"""Court-side verification of a receipt (pure).

A **receipt** is what the gateway sends a lender once an entry is durable: the
canonical leaf (:mod:`court.evidence.leaf`), the RFC 3161 time-stamp token, a
signed C2SP checkpoint that already contains the leaf, and the RFC 9162
inclusion proof of the leaf in it. It also repeats, for convenience, values
that only the leaf or the checkpoint note sign: the entry id, loan sequence,
previous leaf hash and reception time (the leaf's), and the checkpoint's
origin, size and root hash (the note's). :func:`verify_receipt` checks one
with nothing but the document (or its digest), the TSA's trust anchors and the
log's verifier key, each check separately and named, in this order:

====================================== ==================================================
check                                  what passes
====================================== ==================================================
(every check of :func:`court.verify.token.verify_timestamp`, under its own name:
"DER well-formed", ..., "Signature valid", "Chain valid at genTime", "Imprint matches", ...)
Leaf well-formed                       the leaf is a canonical DER evidence leaf
                                       (version 1 or 2)
Leaf opening matches                   (version 2) the opening's private record hashes
                                       to the leaf's commitment and its loan salt,
                                       owner and loan_ref give the leaf's loan key;
                                       ``not_run`` for a version 1 leaf (in clear)
Leaf digest matches                    the leaf's hash algorithm and digest are the
                                       document's (the given digest, or the hash of the
                                       given data) and the token's message imprint
Leaf names token                       the leaf's tokenHash is the SHA-256 of the token
Receipt fields match leaf              the receipt's entry_id, loan_sequence,
                                       previous_leaf_hash and received_at are the leaf's
Receipt checkpoint signature valid     the receipt's checkpoint verifies with the log key
Receipt checkpoint fields match note   the receipt's checkpoint origin, size and root
                                       hash are the signed note's
Receipt inclusion proof valid          the proof is for the checkpoint's size and leads
                                       from the leaf hash at its index to its root
Checkpoint signature valid             (with a newer checkpoint) it verifies with the
                                       log key
Log consistent with receipt checkpoint (with a newer checkpoint) same log, not smaller,
                                       and the consistency proof from the receipt's
                                       checkpoint to it verifies
====================================== ==================================================

With an anchor (:class:`AnchorEvidence`: what the court read from a chain node
itself, and the gateway's anchored checkpoint with the consistency proof from
the receipt's checkpoint to it), the anchor checks of
:func:`court.verify.anchor.check_anchor` follow, for the receipt's checkpoint:
"Log key pinned on chain", "Anchor found on chain", "Anchored root matches
checkpoint", "Consistency to anchored checkpoint", "Anchor confirmations".

The two checks about a newer checkpoint are ``not_run`` when none is given,
and the anchor checks when no anchor is, so every receipt report has the same
names (:data:`RECEIPT_CHECKS` after the token's). A report may print the leaf's
values once the receipt is valid: every copy of them in the receipt was then
compared with them.

A version 2 leaf names the document only inside its commitment: without its
opening (the receipt's ``opening``, given to the loan's owner) the receipt
is at best inconclusive, and "Leaf digest matches" is not run.

The receipt's copies of signed values (:class:`ReceiptCopies`) and their two
checks live in :mod:`court.verify.receipt_copies`, the anchor checks in
:mod:`court.verify.anchor`.

Nothing here raises for bad evidence: a bad token, leaf, note, key, proof or
copy is a failed check. ``ValueError`` is raised only for programming errors
(neither or both of ``digest`` and ``data``, an unknown hash name, a digest of
the wrong length, a consistency proof without a newer checkpoint).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509

from court.errors import CourtError
from court.evidence.leaf import LeafFields
from court.evidence.opening import LeafOpening, OpenedLeaf
from court.verify.anchor import ANCHOR_CHECKS, ChainView, OnChainAnchor, check_anchor
from court.verify.caches import VerifyCaches
from court.verify.checkpoint import Checkpoint
from court.verify.receipt_copies import (
    ReceiptCopies,
    check_checkpoint_fields,
    check_receipt_fields,
)
from court.verify.result import Check, Checklist, Verdict
from court.verify.steps import (
    CHECK_CHECKPOINT,
    CHECK_CONSISTENCY,
    CHECK_LEAF_DIGEST,
    CHECK_LEAF_FORMAT,
    CHECK_LEAF_OPENING,
    CHECK_LEAF_TOKEN,
    CHECK_RECEIPT_CHECKPOINT,
    CHECK_RECEIPT_CHECKPOINT_FIELDS,
    CHECK_RECEIPT_FIELDS,
    CHECK_RECEIPT_INCLUSION,
    Leaf,
    Outcome,
    consistent,
    copy_check,
    decode_leaf_or_error,
    document_digest,
    included,
    leaf_digest,
    leaf_format,
    leaf_names_token,
    leaf_opening,
    open_or_error,
    outcome,
    signed_checkpoint,
)
from court.verify.token import TokenVerification, verify_timestamp

__all__ = [
    "ANCHOR_CHECKS",
    "CHECK_CHECKPOINT",
    "CHECK_CONSISTENCY",
    "CHECK_LEAF_DIGEST",
    "CHECK_LEAF_FORMAT",
    "CHECK_LEAF_OPENING",
    "CHECK_LEAF_TOKEN",
    "CHECK_RECEIPT_CHECKPOINT",
    "CHECK_RECEIPT_CHECKPOINT_FIELDS",
    "CHECK_RECEIPT_FIELDS",
    "CHECK_RECEIPT_INCLUSION",
    "NEWER_CHECKS",
    "RECEIPT_CHECKS",
    "AnchorEvidence",
    "Outcome",
    "ReceiptCopies",
    "ReceiptVerification",
    "verify_receipt",
]

#: The checks of :func:`verify_receipt` after the token's, in report order.
RECEIPT_CHECKS: Final[tuple[str, ...]] = (
    CHECK_LEAF_FORMAT,
    CHECK_LEAF_OPENING,
    CHECK_LEAF_DIGEST,
    CHECK_LEAF_TOKEN,
    CHECK_RECEIPT_FIELDS,
    CHECK_RECEIPT_CHECKPOINT,
    CHECK_RECEIPT_CHECKPOINT_FIELDS,
    CHECK_RECEIPT_INCLUSION,
    CHECK_CHECKPOINT,
    CHECK_CONSISTENCY,
    *ANCHOR_CHECKS,
)

#: The checks about a newer checkpoint (``not_run`` without one).
NEWER_CHECKS: Final[tuple[str, ...]] = (CHECK_CHECKPOINT, CHECK_CONSISTENCY)

# Checks that must pass (besides the token's) for a VALID outcome; the opening only for
# a version 2 leaf.
_RECEIPT_REQUIRED: Final[tuple[str, ...]] = tuple(
    name for name in RECEIPT_CHECKS if name not in NEWER_CHECKS + ANCHOR_CHECKS
)
_RECEIPT_REQUIRED_V1: Final[tuple[str, ...]] = tuple(
    name for name in _RECEIPT_REQUIRED if name != CHECK_LEAF_OPENING
)


@dataclass(frozen=True, slots=True)
class AnchorEvidence:
    """The anchor of the receipt's checkpoint, for :func:`verify_receipt`.

    ``view`` is what the court read from a chain node itself (the first anchor
    covering the receipt's tree size, the log key the contract pins, the chain
    head); ``anchored_note`` and ``consistency_proof`` (from the receipt's
    checkpoint to the anchored one; empty when they have the same size) come
    from the gateway and count only as far as they verify against the chain.
    ``confirmations``: blocks the anchor's block must have, itself included.
    """

    view: ChainView
    anchored_note: str
    consistency_proof: tuple[bytes, ...]
    confirmations: int


@dataclass(frozen=True, slots=True)
class ReceiptVerification:
    """Outcome of :func:`verify_receipt`: the named checks and what was learnt.

    ``leaf``, ``checkpoint`` and ``newer_checkpoint`` are set when they decoded
    and (for checkpoints) verified with the log key, even if another check failed;
    ``leaf`` is the record the leaf states (opened, for version 2), and
    ``public_leaf`` the leaf as decoded. ``anchor`` is the anchor on chain that
    covers the receipt's checkpoint, when one was asked for and found.
    """

    verdict: Verdict
    token: TokenVerification
    leaf: OpenedLeaf | None = None
    public_leaf: Leaf | None = None
    checkpoint: Checkpoint | None = None
    newer_checkpoint: Checkpoint | None = None
    with_newer: bool = False
    with_anchor: bool = False
    anchor: OnChainAnchor | None = None

    @property
    def required(self) -> tuple[str, ...]:
        """The checks (besides the token's) that must pass for a VALID outcome."""
        clear = isinstance(self.public_leaf, LeafFields)
        return (
            (_RECEIPT_REQUIRED_V1 if clear else _RECEIPT_REQUIRED)
            + (NEWER_CHECKS if self.with_newer else ())
            + (ANCHOR_CHECKS if self.with_anchor else ())
        )

    @property
    def outcome(self) -> Outcome:
        return outcome(self.verdict, self.token.ok, self.required)

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


# --------------------------------------------------------------------------- receipt


def verify_receipt(
    *,
    leaf: bytes,
    token: bytes,
    checkpoint: str,
    leaf_index: int,
    tree_size: int,
    inclusion_proof: Sequence[bytes],
    copies: ReceiptCopies,
    log_verifier_key: str,
    roots: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate] = (),
    digest: bytes | None = None,
    hash_algorithm: str | None = None,
    data: bytes | None = None,
    newer_checkpoint: str | None = None,
    consistency_proof: Sequence[bytes] | None = None,
    opening: LeafOpening | None = None,
    anchor: AnchorEvidence | None = None,
    caches: VerifyCaches | None = None,
) -> ReceiptVerification:
    """Run every named check of a receipt (see the module docstring).

    ``leaf``, ``token`` (DER TimeStampToken or TimeStampResp), ``checkpoint``
    (the signed note), ``leaf_index``, ``tree_size``, ``inclusion_proof`` and
    ``copies`` are the receipt's. The document is ``digest`` +
    ``hash_algorithm``, or ``data`` (hashed with ``hash_algorithm``, by default
    the leaf's algorithm). ``roots`` / ``untrusted`` are the TSA's trust
    anchors and extra certificates; ``log_verifier_key`` is the log's C2SP
    verifier key. ``newer_checkpoint`` is a later signed checkpoint of the same
    log and ``consistency_proof`` the RFC 9162 proof from the receipt's
    checkpoint to it (empty or ``None`` when both have the same size).
    ``opening`` is the receipt's opening of a version 2 leaf. ``anchor`` is the
    anchor of the receipt's checkpoint on chain (:class:`AnchorEvidence`).
    ``caches`` (a long-lived verifier's) keep the TSA chains and the checkpoints
    that verified (:class:`court.verify.caches.VerifyCaches`).
    """
    if consistency_proof is not None and newer_checkpoint is None:
        raise ValueError("a consistency_proof needs the newer_checkpoint it leads to")
    if hash_algorithm is not None:
        hash_algorithm = hash_algorithm.lower()
    decoded = decode_leaf_or_error(leaf)
    opened = None if isinstance(decoded, CourtError) else open_or_error(decoded, opening)
    if data is not None and hash_algorithm is None and isinstance(opened, OpenedLeaf):
        hash_algorithm = opened.hash_algorithm
    token_result = verify_timestamp(
        token,
        roots=roots,
        untrusted=untrusted,
        digest=digest,
        hash_algorithm=hash_algorithm,
        data=data,
        chain_cache=caches.chains if caches is not None else None,
    )  # ValueError for a bad combination of digest, data and hash_algorithm

    checks = Checklist()
    for check in token_result.checks:
        copy_check(checks, check)

    fields = leaf_format(
        checks,
        decoded,
        (CHECK_LEAF_OPENING, CHECK_LEAF_DIGEST, CHECK_LEAF_TOKEN, CHECK_RECEIPT_FIELDS),
    )
    record: OpenedLeaf | None = None
    if fields is not None:
        record = leaf_opening(checks, fields, opened, (CHECK_LEAF_DIGEST,))
        if record is not None:
            # verify_timestamp took digest= with its hash_algorithm; data= takes the leaf's.
            algorithm = hash_algorithm or record.hash_algorithm
            if digest is not None:
                expected = bytes(digest)
            else:
                assert data is not None  # exactly one of the two, as verify_timestamp checked
                expected = document_digest(algorithm, bytes(data))
            leaf_digest(checks, record, token_result, algorithm, expected)
        leaf_names_token(checks, fields, token)
        check_receipt_fields(checks, fields, copies)

    checkpoints = caches.checkpoints if caches is not None else None
    held = signed_checkpoint(
        checks,
        CHECK_RECEIPT_CHECKPOINT,
        checkpoint,
        log_verifier_key,
        (CHECK_RECEIPT_CHECKPOINT_FIELDS, CHECK_RECEIPT_INCLUSION),
        checkpoints,
    )
    if held is not None:
        check_checkpoint_fields(checks, held, copies)
        if tree_size != held.size:
            checks.failed(
                CHECK_RECEIPT_INCLUSION,
                f"the proof is for tree size {tree_size}, the checkpoint has {held.size}",
            )
        else:
            included(
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
        for name in NEWER_CHECKS:
            checks.not_run(name, "no newer checkpoint was given")
    else:
        newer = signed_checkpoint(
            checks,
            CHECK_CHECKPOINT,
            newer_checkpoint,
            log_verifier_key,
            (CHECK_CONSISTENCY,),
            checkpoints,
        )
        if newer is not None:
            if held is None:
                checks.blocked((CHECK_CONSISTENCY,), CHECK_RECEIPT_CHECKPOINT)
            else:
                consistent(checks, held, newer, consistency_proof or ())
    on_chain: OnChainAnchor | None = None
    if anchor is None:
        for name in ANCHOR_CHECKS:
            checks.not_run(name, "no anchor was given (--anchor, --rpc and --contract)")
    elif held is None:
        checks.blocked(ANCHOR_CHECKS, CHECK_RECEIPT_CHECKPOINT)
    else:
        on_chain = check_anchor(
            checks,
            held=held,
            log_verifier_key=log_verifier_key,
            view=anchor.view,
            anchored_note=anchor.anchored_note,
            consistency_proof=anchor.consistency_proof,
            confirmations=anchor.confirmations,
        )
    return ReceiptVerification(
        verdict=checks.verdict(),
        token=token_result,
        leaf=record,
        public_leaf=fields,
        checkpoint=held,
        newer_checkpoint=newer,
        with_newer=newer_checkpoint is not None,
        with_anchor=anchor is not None,
        anchor=on_chain,
    )
