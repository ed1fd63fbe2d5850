"""VerificationService: run the court's checks on a record and hand back the material.

Every check here is a court-side check (:mod:`court.verify` and
:mod:`court.evidence`): the time-stamp token checks of
:func:`court.verify.token.verify_timestamp` under their own names, then the
leaf, checkpoint and Merkle proof checks, each recorded with a
:class:`court.verify.result.Checklist`. This module only gathers the inputs
from the ledger and chooses which checks apply; :func:`check_record` imports
nothing of the server so that it can move into the court package as is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509

from court.errors import CourtError
from court.evidence.leaf import LeafFields, decode_leaf
from court.verify.checkpoint import Checkpoint, parse_checkpoint, verify_checkpoint
from court.verify.merkle import verify_consistency, verify_inclusion
from court.verify.result import Checklist, CheckStatus, Verdict
from court.verify.rfc6962 import leaf_hash
from court.verify.token import TOKEN_CHECKS, verify_timestamp
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import verification_service_pb2 as pb
from evidence_gateway.v1 import verification_service_pb2_grpc as pb_grpc
from gateway.api import convert
from gateway.api.caller import DevCallers
from gateway.api.errors import rpc_errors
from gateway.api.ports import LedgerPort
from gateway.errors import InvalidArgument, NotFound
from gateway.model import EvidenceRecord, validate_entry_id

__all__ = [
    "CHECK_CHECKPOINT",
    "CHECK_CONSISTENCY",
    "CHECK_INCLUSION",
    "CHECK_LEAF_FORMAT",
    "CHECK_LEAF_RECORD",
    "CHECK_LEAF_TOKEN",
    "CHECK_RECEIPT_CHECKPOINT",
    "CHECK_RECEIPT_INCLUSION",
    "CHECK_RECEIPT_MATCHES",
    "RECORD_CHECKS",
    "ExpectedRecord",
    "ReceiptInput",
    "VerificationServicer",
    "check_record",
]

CHECK_LEAF_FORMAT: Final = "Leaf well-formed"
CHECK_LEAF_RECORD: Final = "Leaf matches record"
CHECK_LEAF_TOKEN: Final = "Leaf names token"
CHECK_CHECKPOINT: Final = "Checkpoint signature valid"
CHECK_INCLUSION: Final = "Inclusion proof valid"
CHECK_RECEIPT_MATCHES: Final = "Receipt matches record"
CHECK_RECEIPT_CHECKPOINT: Final = "Receipt checkpoint signature valid"
CHECK_RECEIPT_INCLUSION: Final = "Receipt inclusion proof valid"
CHECK_CONSISTENCY: Final = "Log consistent with receipt checkpoint"

#: The checks after the token's, in report order.
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
#: Checks that must pass for a VALID verdict (the receipt checks apply only with a receipt).
_REQUIRED: Final[tuple[str, ...]] = (CHECK_LEAF_FORMAT, CHECK_LEAF_RECORD, CHECK_LEAF_TOKEN,
                                     CHECK_CHECKPOINT, CHECK_INCLUSION)  # fmt: skip
_RECEIPT_REQUIRED: Final[tuple[str, ...]] = (
    CHECK_RECEIPT_MATCHES,
    CHECK_RECEIPT_CHECKPOINT,
    CHECK_RECEIPT_INCLUSION,
    CHECK_CONSISTENCY,
)


@dataclass(frozen=True, slots=True)
class ExpectedRecord:
    """What the record says, to compare with its leaf (court-side view)."""

    entry_id: str
    institution: str
    loan_ref: str
    kind: str
    hash_algorithm: str
    digest: bytes
    occurred_at: Any
    supersedes: str | None
    metadata: tuple[tuple[str, str], ...]
    loan_sequence: int
    previous_leaf_hash: bytes | None
    leaf_index: int
    leaf: bytes
    timestamp_token: bytes


@dataclass(frozen=True, slots=True)
class ReceiptInput:
    """A receipt a caller holds (court-side view)."""

    entry_id: str
    leaf: bytes
    timestamp_token: bytes
    checkpoint: str
    leaf_index: int
    proof_tree_size: int
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class RecordCheckResult:
    verdict: Verdict
    token_ok: bool


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


def check_record(
    record: ExpectedRecord,
    *,
    roots: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate],
    log_verifier_key: str,
    checkpoint: str,
    inclusion_proof: Sequence[bytes],
    receipt: ReceiptInput | None = None,
    consistency_proof: Sequence[bytes] | None = None,
) -> RecordCheckResult:
    """Run every named check on a record and (optionally) a receipt for it.

    ``checkpoint`` is the log's latest signed note and ``inclusion_proof`` the
    proof of ``record.leaf`` at its size; ``consistency_proof`` goes from the
    receipt's checkpoint to ``checkpoint`` (when the receipt's is older).
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
        if check.status is CheckStatus.PASSED:
            checks.passed(check.name, check.detail)
        elif check.status is CheckStatus.FAILED:
            checks.failed(check.name, check.detail)
        else:
            checks.not_run(check.name, check.detail)

    # The leaf: canonical, about this record, naming this token.
    leaf: LeafFields | None = None
    try:
        leaf = decode_leaf(record.leaf)
        checks.passed(CHECK_LEAF_FORMAT, f"canonical DER evidence leaf v{leaf.version}")
    except CourtError as exc:
        checks.failed(CHECK_LEAF_FORMAT, str(exc))
        checks.blocked((CHECK_LEAF_RECORD, CHECK_LEAF_TOKEN), CHECK_LEAF_FORMAT)
    if leaf is not None:
        wrong = _leaf_mismatches(leaf, record)
        checks.record(
            CHECK_LEAF_RECORD,
            not wrong,
            "the leaf records this entry's fields"
            if not wrong
            else "the leaf differs from the record in: " + ", ".join(wrong),
        )
        token_hash = hashlib.sha256(record.timestamp_token).digest()
        checks.record(
            CHECK_LEAF_TOKEN,
            leaf.token_sha256 == token_hash,
            f"leaf tokenHash {leaf.token_sha256.hex()}, SHA-256 of the token {token_hash.hex()}",
        )

    # The latest checkpoint and the inclusion of the leaf in it.
    latest: Checkpoint | None = None
    try:
        latest = verify_checkpoint(checkpoint, log_verifier_key)
        checks.passed(
            CHECK_CHECKPOINT, f"{latest.origin} at size {latest.size}, signed by the log key"
        )
    except CourtError as exc:
        checks.failed(CHECK_CHECKPOINT, str(exc))
        checks.blocked((CHECK_INCLUSION,), CHECK_CHECKPOINT)
    if latest is not None:
        try:
            verify_inclusion(
                record.leaf_index,
                latest.size,
                leaf_hash(record.leaf),
                inclusion_proof,
                latest.root_hash,
            )
            checks.passed(
                CHECK_INCLUSION, f"leaf {record.leaf_index} is in the tree of size {latest.size}"
            )
        except CourtError as exc:
            checks.failed(CHECK_INCLUSION, str(exc))

    # The receipt the caller holds, if any.
    if receipt is None:
        for name in _RECEIPT_REQUIRED:
            checks.not_run(name, "no receipt was supplied")
    else:
        _check_receipt(checks, record, receipt, log_verifier_key, latest, consistency_proof)
    return RecordCheckResult(checks.verdict(), token.ok)


def _check_receipt(
    checks: Checklist,
    record: ExpectedRecord,
    receipt: ReceiptInput,
    log_verifier_key: str,
    latest: Checkpoint | None,
    consistency_proof: Sequence[bytes] | None,
) -> None:
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
    held: Checkpoint | None = None
    try:
        held = verify_checkpoint(receipt.checkpoint, log_verifier_key)
        checks.passed(
            CHECK_RECEIPT_CHECKPOINT, f"{held.origin} at size {held.size}, signed by the log key"
        )
    except CourtError as exc:
        checks.failed(CHECK_RECEIPT_CHECKPOINT, str(exc))
        checks.blocked((CHECK_RECEIPT_INCLUSION, CHECK_CONSISTENCY), CHECK_RECEIPT_CHECKPOINT)
        return
    if receipt.proof_tree_size != held.size:
        checks.failed(
            CHECK_RECEIPT_INCLUSION,
            f"the proof is for tree size {receipt.proof_tree_size}, the checkpoint has {held.size}",
        )
    else:
        try:
            verify_inclusion(
                receipt.leaf_index,
                held.size,
                leaf_hash(receipt.leaf),
                receipt.proof,
                held.root_hash,
            )
            checks.passed(
                CHECK_RECEIPT_INCLUSION,
                f"leaf {receipt.leaf_index} is in the receipt's tree of size {held.size}",
            )
        except CourtError as exc:
            checks.failed(CHECK_RECEIPT_INCLUSION, str(exc))
    if latest is None:
        checks.blocked((CHECK_CONSISTENCY,), CHECK_CHECKPOINT)
        return
    if held.origin != latest.origin:
        checks.failed(
            CHECK_CONSISTENCY, f"the receipt is from log {held.origin!r}, not {latest.origin!r}"
        )
        return
    if held.size > latest.size:
        checks.failed(
            CHECK_CONSISTENCY,
            f"the receipt's checkpoint (size {held.size}) is ahead of the log's ({latest.size})",
        )
        return
    try:
        verify_consistency(
            held.size, latest.size, consistency_proof or (), held.root_hash, latest.root_hash
        )
        checks.passed(
            CHECK_CONSISTENCY,
            f"the log of size {latest.size} extends the receipt's of size {held.size}",
        )
    except CourtError as exc:
        checks.failed(CHECK_CONSISTENCY, str(exc))


def _verdict(result: RecordCheckResult, with_receipt: bool) -> int:
    verdict = result.verdict
    if verdict.failures:
        return pb.VERDICT_INVALID
    required = _REQUIRED + (_RECEIPT_REQUIRED if with_receipt else ())
    if not result.token_ok or not all(verdict[name].passed for name in required):
        return pb.VERDICT_INCONCLUSIVE
    return pb.VERDICT_VALID


_STATUS = {
    CheckStatus.PASSED: pb.CHECK_STATUS_PASSED,
    CheckStatus.FAILED: pb.CHECK_STATUS_FAILED,
    CheckStatus.NOT_RUN: pb.CHECK_STATUS_NOT_RUN,
}

#: Every check name a response carries, in order.
ALL_CHECKS: Final[tuple[str, ...]] = TOKEN_CHECKS + RECORD_CHECKS


def _expected(record: EvidenceRecord) -> ExpectedRecord:
    s, r = record.submission, record.receipt
    return ExpectedRecord(
        entry_id=r.entry_id,
        institution=s.institution,
        loan_ref=s.loan_ref,
        kind=str(s.kind.value),
        hash_algorithm=s.hash_algorithm,
        digest=s.digest,
        occurred_at=s.occurred_at,
        supersedes=s.supersedes,
        metadata=s.metadata,
        loan_sequence=r.loan_sequence,
        previous_leaf_hash=r.previous_leaf_hash or None,
        leaf_index=r.leaf_index,
        leaf=r.leaf,
        timestamp_token=r.timestamp_token,
    )


def _receipt_input(message: common_pb2.Receipt) -> ReceiptInput:
    problems: list[tuple[str, str]] = []
    problems += validate_entry_id(message.entry_id, "receipt.entry_id")
    if not message.leaf:
        problems.append(("receipt.leaf", "is required"))
    if not message.timestamp_token:
        problems.append(("receipt.timestamp_token", "is required"))
    try:
        parse_checkpoint(message.checkpoint.signed_note)
    except CourtError as exc:
        problems.append(("receipt.checkpoint.signed_note", f"is not a signed checkpoint: {exc}"))
    if problems:
        raise InvalidArgument(problems)
    return ReceiptInput(
        entry_id=message.entry_id,
        leaf=bytes(message.leaf),
        timestamp_token=bytes(message.timestamp_token),
        checkpoint=message.checkpoint.signed_note,
        leaf_index=message.inclusion_proof.leaf_index,
        proof_tree_size=message.inclusion_proof.tree_size,
        proof=tuple(message.inclusion_proof.hashes),
    )


class VerificationServicer(pb_grpc.VerificationServiceServicer):
    """The gRPC face of the court's checks, run on the ledger's records."""

    def __init__(
        self,
        ledger: LedgerPort,
        callers: DevCallers,
        *,
        tsa_roots: Sequence[x509.Certificate],
        tsa_untrusted: Sequence[x509.Certificate],
        log_verifier_key: str,
    ) -> None:
        self._ledger = ledger
        self._callers = callers
        self._roots = tuple(tsa_roots)
        self._untrusted = tuple(tsa_untrusted)
        self._vkey = log_verifier_key

    @rpc_errors()
    async def VerifyEvidence(
        self, request: pb.VerifyEvidenceRequest, context: Any
    ) -> pb.VerifyEvidenceResponse:
        self._callers.institution(context)
        subject = request.WhichOneof("subject")
        problems: list[tuple[str, str]] = []
        if subject is None:
            problems.append(("subject", "set digest or entry_id"))
        elif subject == "digest":
            problems += convert.digest_violations(
                request.digest.hash_algorithm,
                request.digest.value,
                "digest.hash_algorithm",
                "digest.value",
            )
        else:
            problems += validate_entry_id(request.entry_id)
        receipt: ReceiptInput | None = None
        if request.HasField("receipt"):
            try:
                receipt = _receipt_input(request.receipt)
            except InvalidArgument as exc:
                problems += exc.violations
        if problems:
            raise InvalidArgument(problems)

        not_found = pb.VerifyEvidenceResponse(verdict=pb.VERDICT_NOT_FOUND)
        others: list[str] = []
        if subject == "entry_id":
            try:
                record = self._ledger.get(request.entry_id)
            except NotFound:
                return not_found
        else:
            algorithm = convert.algorithm_from_proto(request.digest.hash_algorithm)
            assert algorithm is not None
            records, _ = self._ledger.find(
                algorithm, bytes(request.digest.value), convert.MAX_PAGE_SIZE, ""
            )
            if receipt is not None:
                chosen = [r for r in records if r.receipt.entry_id == receipt.entry_id]
            else:
                chosen = records[:1]
            if not chosen:
                return not_found
            record = chosen[0]
            others = [r.receipt.entry_id for r in records if r is not record]

        note = self._ledger.checkpoint()
        latest = parse_checkpoint(note)
        index = record.receipt.leaf_index
        proof = self._ledger.inclusion_proof(index, latest.size) if index < latest.size else ()
        consistency: tuple[bytes, ...] | None = None
        if receipt is not None:
            held = parse_checkpoint(receipt.checkpoint)
            if 1 <= held.size < latest.size:
                consistency = self._ledger.consistency_proof(held.size, latest.size)
        result = check_record(
            _expected(record),
            roots=self._roots,
            untrusted=self._untrusted,
            log_verifier_key=self._vkey,
            checkpoint=note,
            inclusion_proof=proof,
            receipt=receipt,
            consistency_proof=consistency,
        )
        material = pb.VerificationMaterial(
            timestamp_token=record.receipt.timestamp_token,
            leaf=record.receipt.leaf,
            inclusion_proof=convert.inclusion_proof_to_proto(index, latest.size, proof),
        )
        material.checkpoint.CopyFrom(convert.checkpoint_to_proto(note))
        if consistency is not None and receipt is not None:
            material.consistency_proof.CopyFrom(
                common_pb2.ConsistencyProof(
                    from_size=parse_checkpoint(receipt.checkpoint).size,
                    to_size=latest.size,
                    hashes=consistency,
                )
            )
        return pb.VerifyEvidenceResponse(
            verdict=_verdict(result, receipt is not None),  # type: ignore[arg-type]
            checks=[
                pb.VerificationCheck(name=c.name, status=_STATUS[c.status], detail=c.detail)
                for c in result.verdict
            ],
            record=convert.record_to_proto(record),
            material=material,
            other_entry_ids=others,
        )
