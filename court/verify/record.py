"""Court-side verification of a record against the log, and of a receipt held for it (pure).

:func:`verify_record` is what a verification service runs on a record it
holds: the record's token and leaf against what the record says (every field
the leaf signs, ``received_at`` included), the log's latest checkpoint and the
leaf's inclusion in it, and, when the caller holds a receipt for the record,
whether it is the record's and :func:`court.verify.receipt.verify_receipt` on
it against that latest checkpoint. A version 2 leaf is compared with the
record through the record's opening ("Leaf opening matches" first). The
steps are shared with the receipt verification (:mod:`court.verify.steps`),
so each rule is written once.

When the log was anchored on chain past the record's leaf, the service also
hands over the anchored checkpoint (:class:`AnchoredInput`) and the last check,
"Log consistent with anchored checkpoint", ties it to the latest checkpoint:
the anchored note is the log's, covers the leaf, is what the anchor says it
anchored, and the latest checkpoint extends it. Whether the chain holds that
anchor is the court's own check against a chain node
(:mod:`court.verify.anchor`); this check is not needed for a valid outcome
(``not_run`` while the leaf is not anchored).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509

from court.errors import CourtError
from court.evidence.leaf import LeafFields
from court.evidence.opening import LeafOpening, OpenedLeaf
from court.verify.caches import VerifyCaches
from court.verify.checkpoint import Checkpoint, verify_checkpoint
from court.verify.merkle import verify_consistency
from court.verify.receipt import ReceiptCopies, ReceiptVerification, verify_receipt
from court.verify.result import Check, Checklist, Verdict
from court.verify.steps import (
    CHECK_CHECKPOINT,
    CHECK_CONSISTENCY,
    CHECK_INCLUSION,
    CHECK_LEAF_FORMAT,
    CHECK_LEAF_OPENING,
    CHECK_LEAF_RECORD,
    CHECK_LEAF_TOKEN,
    CHECK_RECEIPT_CHECKPOINT,
    CHECK_RECEIPT_CHECKPOINT_FIELDS,
    CHECK_RECEIPT_FIELDS,
    CHECK_RECEIPT_INCLUSION,
    CHECK_RECEIPT_MATCHES,
    Outcome,
    copy_check,
    decode_leaf_or_error,
    included,
    leaf_format,
    leaf_names_token,
    leaf_opening,
    open_or_error,
    outcome,
    shown,
    signed_checkpoint,
)
from court.verify.token import TokenVerification, verify_timestamp

__all__ = [
    "CHECK_ANCHORED",
    "RECORD_CHECKS",
    "AnchoredInput",
    "ExpectedRecord",
    "ReceiptInput",
    "RecordVerification",
    "verify_record",
]

CHECK_ANCHORED: Final = "Log consistent with anchored checkpoint"

#: The checks of :func:`verify_record` after the token's, in report order.
RECORD_CHECKS: Final[tuple[str, ...]] = (
    CHECK_LEAF_FORMAT,
    CHECK_LEAF_OPENING,
    CHECK_LEAF_RECORD,
    CHECK_LEAF_TOKEN,
    CHECK_CHECKPOINT,
    CHECK_INCLUSION,
    CHECK_RECEIPT_MATCHES,
    CHECK_RECEIPT_FIELDS,
    CHECK_RECEIPT_CHECKPOINT,
    CHECK_RECEIPT_CHECKPOINT_FIELDS,
    CHECK_RECEIPT_INCLUSION,
    CHECK_CONSISTENCY,
    CHECK_ANCHORED,
)

_RECORD_REQUIRED: Final[tuple[str, ...]] = RECORD_CHECKS[:6]
_RECORD_REQUIRED_V1: Final[tuple[str, ...]] = tuple(
    name for name in _RECORD_REQUIRED if name != CHECK_LEAF_OPENING
)
_HELD_REQUIRED: Final[tuple[str, ...]] = RECORD_CHECKS[6:12]
# The checks of a held receipt's own verification that a record report carries.
_HELD_FROM_RECEIPT: Final[tuple[str, ...]] = RECORD_CHECKS[7:12]


@dataclass(frozen=True, slots=True)
class ExpectedRecord:
    """What a record says, to compare with its leaf (the court-side view of a stored record).

    ``institution`` is the loan's owner; ``submitter`` the institution that
    submitted it (``None``: the owner). ``opening`` opens a version 2 leaf.
    """

    entry_id: str
    institution: str
    loan_ref: str
    kind: str
    hash_algorithm: str
    digest: bytes
    occurred_at: datetime
    received_at: datetime
    supersedes: str | None
    metadata: tuple[tuple[str, str], ...]
    loan_sequence: int
    previous_leaf_hash: bytes | None
    leaf_index: int
    leaf: bytes
    timestamp_token: bytes
    submitter: str | None = None
    opening: LeafOpening | None = None


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
    copies: ReceiptCopies
    opening: LeafOpening | None = None


@dataclass(frozen=True, slots=True)
class AnchoredInput:
    """An anchor of the log on chain, as the gateway keeps it: the signed checkpoint it
    anchored, the root and checkpoint hash it wrote on chain, and the consistency
    proof from that checkpoint to the latest one (RFC 9162; empty when the same size)."""

    checkpoint: str
    tree_size: int
    root_hash: bytes
    checkpoint_hash: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class RecordVerification:
    """Outcome of :func:`verify_record`; ``receipt`` is the held receipt's own verification."""

    verdict: Verdict
    token: TokenVerification
    receipt: ReceiptVerification | None = None
    clear: bool = False  # a version 1 leaf: nothing to open

    @property
    def outcome(self) -> Outcome:
        own = _RECORD_REQUIRED_V1 if self.clear else _RECORD_REQUIRED
        required = own + (_HELD_REQUIRED if self.receipt is not None else ())
        return outcome(self.verdict, self.token.ok, required)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.VALID

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.verdict.checks


def _text(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bytes):
        return value.hex() if value else "(none)"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, tuple):
        return f"{len(value)} entries"
    return str(value)


def _leaf_mismatches(leaf: OpenedLeaf, record: ExpectedRecord) -> list[str]:
    """Each field the leaf signs that the record states otherwise, with both values."""
    submitter = record.institution if record.submitter is None else record.submitter
    pairs: list[tuple[str, object, object]] = [
        ("entry_id", leaf.entry_id, record.entry_id),
        ("institution", leaf.owner, record.institution),
        ("submitter", leaf.submitter, submitter),
        ("loan_ref", leaf.loan_ref, record.loan_ref),
        ("kind", leaf.kind, record.kind),
        ("hash_algorithm", leaf.hash_algorithm, record.hash_algorithm),
        ("digest", leaf.digest, record.digest),
        ("occurred_at", leaf.occurred_at, record.occurred_at),
        ("received_at", leaf.received_at, record.received_at),
        ("supersedes", leaf.supersedes, record.supersedes),
        ("metadata", leaf.metadata, record.metadata),
        ("loan_sequence", leaf.loan_sequence, record.loan_sequence),
        ("previous_leaf_hash", leaf.previous_leaf_hash, record.previous_leaf_hash),
    ]
    return [
        f"{name} (record {_text(stated)}, leaf {_text(signed)})"
        for name, signed, stated in pairs
        if signed != stated
    ]


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
    anchored: AnchoredInput | None = None,
    caches: VerifyCaches | None = None,
) -> RecordVerification:
    """Run every named check on a record and (optionally) a receipt held for it.

    ``checkpoint`` is the log's latest signed note and ``inclusion_proof`` the
    proof of ``record.leaf`` at its size. A held ``receipt`` is compared with
    the record, then verified by :func:`verify_receipt` with ``checkpoint`` as
    the newer checkpoint and ``consistency_proof`` (from the receipt's
    checkpoint to it); its copy and log checks are reported here under their
    names. The receipt checks are ``not_run`` without a receipt. ``anchored`` is
    the anchor that covers the leaf, if any. ``caches`` (a long-lived verifier's)
    keep the TSA chains and the checkpoints that verified (:class:`VerifyCaches`).
    """
    token = verify_timestamp(
        record.timestamp_token,
        roots=roots,
        untrusted=untrusted,
        digest=record.digest,
        hash_algorithm=record.hash_algorithm,
        chain_cache=caches.chains if caches is not None else None,
    )
    checks = Checklist()
    for check in token.checks:
        copy_check(checks, check)

    # The leaf: canonical, about this record, naming this token.
    leaf = leaf_format(
        checks,
        decode_leaf_or_error(record.leaf),
        (CHECK_LEAF_OPENING, CHECK_LEAF_RECORD, CHECK_LEAF_TOKEN),
    )
    if leaf is not None:
        opened = leaf_opening(
            checks, leaf, open_or_error(leaf, record.opening), (CHECK_LEAF_RECORD,)
        )
        if opened is not None:
            wrong = _leaf_mismatches(opened, record)
            checks.record(
                CHECK_LEAF_RECORD,
                not wrong,
                "the leaf records every field of this record, received_at included"
                if not wrong
                else "the leaf differs from the record in: " + "; ".join(wrong),
            )
        leaf_names_token(checks, leaf, record.timestamp_token)
    clear = isinstance(leaf, LeafFields)

    # The latest checkpoint and the inclusion of the leaf in it.
    checkpoints = caches.checkpoints if caches is not None else None
    latest = signed_checkpoint(
        checks, CHECK_CHECKPOINT, checkpoint, log_verifier_key, (CHECK_INCLUSION,), checkpoints
    )
    if latest is not None:
        included(
            checks,
            CHECK_INCLUSION,
            record.leaf,
            record.leaf_index,
            inclusion_proof,
            latest,
            "the tree",
        )

    # The receipt the caller holds, if any.
    held: ReceiptVerification | None = None
    if receipt is None:
        for name in _HELD_REQUIRED:
            checks.not_run(name, "no receipt was supplied")
    else:
        held = _held_receipt(
            checks,
            record,
            receipt,
            roots,
            untrusted,
            log_verifier_key,
            checkpoint,
            consistency_proof,
            caches,
        )
    _anchored(checks, anchored, latest, record.leaf_index, log_verifier_key, caches)
    return RecordVerification(checks.verdict(), token, held, clear=clear)


def _held_receipt(
    checks: Checklist,
    record: ExpectedRecord,
    receipt: ReceiptInput,
    roots: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate],
    log_verifier_key: str,
    checkpoint: str,
    consistency_proof: Sequence[bytes] | None,
    caches: VerifyCaches | None,
) -> ReceiptVerification:
    """Receipt matches record, then the held receipt's own checks, recorded here."""
    differs = [
        name
        for name, a, b in (
            ("entry id", receipt.entry_id, record.entry_id),
            ("leaf", receipt.leaf, record.leaf),
            ("timestamp token", receipt.timestamp_token, record.timestamp_token),
            ("leaf index", receipt.leaf_index, record.leaf_index),
            # a held receipt may lack the opening; one it carries must be the record's
            ("opening", receipt.opening or record.opening, record.opening),
        )
        if a != b
    ]
    checks.record(
        CHECK_RECEIPT_MATCHES,
        not differs,
        "same entry id, leaf index, leaf, token (and opening) as the record"
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
        copies=receipt.copies,
        log_verifier_key=log_verifier_key,
        roots=roots,
        untrusted=untrusted,
        digest=record.digest,
        hash_algorithm=record.hash_algorithm,
        newer_checkpoint=checkpoint,
        consistency_proof=consistency_proof,
        opening=receipt.opening or record.opening,
        caches=caches,
    )
    # A check the held receipt's are blocked on ("Receipt checkpoint signature
    # valid", "Checkpoint signature valid" on the same note) failed here as well.
    for name in _HELD_FROM_RECEIPT:
        copy_check(checks, held.verdict[name])
    return held


def _anchored(
    checks: Checklist,
    anchored: AnchoredInput | None,
    latest: Checkpoint | None,
    leaf_index: int,
    log_verifier_key: str,
    caches: VerifyCaches | None,
) -> None:
    """Log consistent with anchored checkpoint (see the module docstring)."""
    if anchored is None:
        checks.not_run(
            CHECK_ANCHORED, "no anchor on chain covers the leaf yet (or the log is not anchored)"
        )
        return
    if latest is None:
        checks.blocked((CHECK_ANCHORED,), CHECK_CHECKPOINT)
        return
    try:
        if caches is not None:
            note = caches.checkpoints.verify(anchored.checkpoint, log_verifier_key)
        else:
            note = verify_checkpoint(anchored.checkpoint, log_verifier_key)
    except CourtError as exc:
        checks.failed(CHECK_ANCHORED, f"the anchored checkpoint: {exc}")
        return
    wrong: list[str] = []
    if (note.size, note.root_hash) != (anchored.tree_size, anchored.root_hash):
        wrong.append(
            f"the anchor says size {anchored.tree_size} root {anchored.root_hash.hex()}, "
            f"its checkpoint has size {note.size} root {note.root_hash.hex()}"
        )
    note_hash = hashlib.sha256(anchored.checkpoint.encode("utf-8")).digest()
    if note_hash != anchored.checkpoint_hash:
        wrong.append(
            f"the anchor's checkpoint hash is {anchored.checkpoint_hash.hex()}, the SHA-256 "
            f"of its checkpoint {note_hash.hex()}"
        )
    if note.origin != latest.origin:
        wrong.append(f"the anchored checkpoint is of log {note.origin!r}, not {latest.origin!r}")
    if note.size <= leaf_index:
        wrong.append(f"the anchored size {note.size} does not cover leaf {leaf_index}")
    if note.size > latest.size:
        wrong.append(f"the anchored size {note.size} is beyond the log's {latest.size}")
    if wrong:
        checks.failed(CHECK_ANCHORED, "; ".join(wrong))
        return
    try:
        verify_consistency(note.size, latest.size, anchored.proof, note.root_hash, latest.root_hash)
    except CourtError as exc:
        checks.failed(CHECK_ANCHORED, f"from the anchored size {note.size}: {exc}")
        return
    checks.passed(
        CHECK_ANCHORED,
        f"the log of size {latest.size} extends the checkpoint of size {note.size} "
        f"anchored with root {note.root_hash.hex()}",
    )
