"""VerificationService: run the court's checks on a record and hand back the material.

Every check is the court's: :func:`court.verify.record.verify_record` runs the
time-stamp token checks, the leaf, checkpoint and inclusion checks on the
record, and hands a receipt the caller holds to
:func:`court.verify.receipt.verify_receipt` (the function `court-verify
receipt` runs offline). This module only validates the request, fetches the
record, the latest checkpoint and the proofs from the ledger, and converts to
and from protobuf. Check names and details are escaped as in the court's
reports (:mod:`court.report.escape`): a detail quotes the evidence, such as a
signer's certificate subject, and must not carry its control or bidi characters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from cryptography import x509

from court.errors import CourtError
from court.receipts import receipt_copies, receipt_opening
from court.report.escape import escape_text
from court.verify.caches import VerifyCaches
from court.verify.checkpoint import parse_checkpoint
from court.verify.record import (
    CHECK_ANCHORED,
    RECORD_CHECKS,
    AnchoredInput,
    ExpectedRecord,
    ReceiptInput,
    verify_record,
)
from court.verify.result import Check, CheckStatus
from court.verify.steps import (
    CHECK_CHECKPOINT,
    CHECK_CONSISTENCY,
    CHECK_INCLUSION,
    CHECK_LEAF_FORMAT,
    CHECK_LEAF_RECORD,
    CHECK_LEAF_TOKEN,
    CHECK_RECEIPT_CHECKPOINT,
    CHECK_RECEIPT_CHECKPOINT_FIELDS,
    CHECK_RECEIPT_FIELDS,
    CHECK_RECEIPT_INCLUSION,
    CHECK_RECEIPT_MATCHES,
    Outcome,
)
from court.verify.token import TOKEN_CHECKS
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import verification_service_pb2 as pb
from evidence_gateway.v1 import verification_service_pb2_grpc as pb_grpc
from gateway.api import convert
from gateway.api.bundle_service import BundleMethods
from gateway.api.caller import current_caller
from gateway.api.errors import rpc_errors
from gateway.api.ports import LedgerPort
from gateway.authz.policy import ReadScope, read_scope
from gateway.errors import InvalidArgument, NotFound
from gateway.model import EvidenceRecord, validate_entry_id
from gateway.tsa_certificates import TsaCertificates

__all__ = [
    "ALL_CHECKS",
    "CHECK_ANCHORED",
    "CHECK_CHECKPOINT",
    "CHECK_CONSISTENCY",
    "CHECK_INCLUSION",
    "CHECK_LEAF_FORMAT",
    "CHECK_LEAF_RECORD",
    "CHECK_LEAF_TOKEN",
    "CHECK_RECEIPT_CHECKPOINT",
    "CHECK_RECEIPT_CHECKPOINT_FIELDS",
    "CHECK_RECEIPT_FIELDS",
    "CHECK_RECEIPT_INCLUSION",
    "CHECK_RECEIPT_MATCHES",
    "MAX_OTHER_ENTRY_IDS",
    "RECORD_CHECKS",
    "VerificationServicer",
]

#: Every check name a response carries, in order.
ALL_CHECKS: Final[tuple[str, ...]] = TOKEN_CHECKS + RECORD_CHECKS

#: At most this many `other_entry_ids` in a response (the rest: FindEvidence pages).
MAX_OTHER_ENTRY_IDS: Final = 1000
#: Largest receipt token and leaf read. The court's verifier answers within 100 ms for
#: a token up to 64 KiB; its work grows with the token's size (a 3 MB token of junk
#: certificates took 1.5 s), and a call may carry up to ``max_message_bytes``.
#: A leaf holds at most 16 metadata entries of 320 bytes and a few fixed fields.
MAX_RECEIPT_TOKEN_BYTES: Final = 64 * 1024
MAX_RECEIPT_LEAF_BYTES: Final = 64 * 1024
#: An RFC 9162 inclusion proof in a tree of fewer than 2**64 leaves has at most 64 hashes.
MAX_PROOF_HASHES: Final = 64

_VERDICT: Final = {
    Outcome.VALID: pb.VERDICT_VALID,
    Outcome.INVALID: pb.VERDICT_INVALID,
    Outcome.INCONCLUSIVE: pb.VERDICT_INCONCLUSIVE,
}
_STATUS: Final = {
    CheckStatus.PASSED: pb.CHECK_STATUS_PASSED,
    CheckStatus.FAILED: pb.CHECK_STATUS_FAILED,
    CheckStatus.NOT_RUN: pb.CHECK_STATUS_NOT_RUN,
}


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
        received_at=r.received_at,
        supersedes=s.supersedes,
        metadata=s.metadata,
        loan_sequence=r.loan_sequence,
        previous_leaf_hash=r.previous_leaf_hash or None,
        leaf_index=r.leaf_index,
        leaf=r.leaf,
        timestamp_token=r.timestamp_token,
        opening=r.opening,
    )


def _receipt_input(message: common_pb2.Receipt) -> ReceiptInput:
    problems: list[tuple[str, str]] = []
    problems += validate_entry_id(message.entry_id, "receipt.entry_id")
    if not message.leaf:
        problems.append(("receipt.leaf", "is required"))
    elif len(message.leaf) > MAX_RECEIPT_LEAF_BYTES:
        problems.append(
            ("receipt.leaf", f"is {len(message.leaf)} bytes; at most {MAX_RECEIPT_LEAF_BYTES}")
        )
    if not message.timestamp_token:
        problems.append(("receipt.timestamp_token", "is required"))
    elif len(message.timestamp_token) > MAX_RECEIPT_TOKEN_BYTES:
        problems.append(
            (
                "receipt.timestamp_token",
                f"is {len(message.timestamp_token)} bytes; at most {MAX_RECEIPT_TOKEN_BYTES}",
            )
        )
    if len(message.inclusion_proof.hashes) > MAX_PROOF_HASHES:
        problems.append(
            (
                "receipt.inclusion_proof.hashes",
                f"has {len(message.inclusion_proof.hashes)} hashes; at most {MAX_PROOF_HASHES}",
            )
        )
    try:
        parse_checkpoint(message.checkpoint.signed_note)
    except CourtError as exc:
        problems.append(
            (
                "receipt.checkpoint.signed_note",
                f"is not a signed checkpoint: {escape_text(str(exc))}",
            )
        )
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
        copies=receipt_copies(message),
        opening=receipt_opening(message),
    )


def _check_to_proto(check: Check) -> pb.VerificationCheck:
    """One check of the answer; its text escaped as in the court's reports (it quotes input)."""
    return pb.VerificationCheck(
        name=escape_text(check.name),
        status=_STATUS[check.status],
        detail=escape_text(check.detail),
    )


class VerificationServicer(BundleMethods, pb_grpc.VerificationServiceServicer):
    """The gRPC face of the court's checks, run on the ledger's records; and the
    bundles and dossiers a court verifies itself (:class:`BundleMethods`)."""

    def __init__(
        self,
        ledger: LedgerPort,
        *,
        tsa_roots: Sequence[x509.Certificate],
        tsa_untrusted: Sequence[x509.Certificate],
        log_verifier_key: str,
        max_message_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        """``max_message_bytes``: the largest answer the server sends (its gRPC limit)."""
        self._ledger = ledger
        self._roots = tuple(tsa_roots)
        self._untrusted = tuple(tsa_untrusted)
        self._vkey = log_verifier_key
        self._tsa_certificates = TsaCertificates(tsa_roots, tsa_untrusted)
        self._max_message_bytes = max_message_bytes
        # The TSA chains and the checkpoints that verified, kept (bounded) across calls.
        self._caches = VerifyCaches()

    @rpc_errors()
    async def VerifyEvidence(
        self, request: pb.VerifyEvidenceRequest, context: Any
    ) -> pb.VerifyEvidenceResponse:
        scope = read_scope(current_caller(), datetime.now(UTC))
        subject, problems = convert.subject_violations(request)
        receipt: ReceiptInput | None = None
        if request.HasField("receipt"):
            try:
                receipt = _receipt_input(request.receipt)
            except InvalidArgument as exc:
                problems += exc.violations
        if problems:
            raise InvalidArgument(problems)
        assert subject is not None  # an unset subject is one of the problems
        # Store reads and the token check take milliseconds: keep them off the event loop.
        return await asyncio.to_thread(self._verify, request, subject, receipt, scope)

    def _verify(
        self,
        request: pb.VerifyEvidenceRequest,
        subject: str,
        receipt: ReceiptInput | None,
        scope: ReadScope,
    ) -> pb.VerifyEvidenceResponse:
        """Verify the record the request names, among those ``scope`` may read: a record
        outside it gets VERDICT_NOT_FOUND, exactly as a record that does not exist."""
        not_found = pb.VerifyEvidenceResponse(verdict=pb.VERDICT_NOT_FOUND)
        others: list[str] = []
        truncated = False
        if subject == "entry_id":
            try:
                record = self._ledger.get(request.entry_id, scope)
            except NotFound:
                return not_found
        else:
            algorithm = convert.algorithm_from_proto(request.digest.hash_algorithm)
            assert algorithm is not None
            digest = bytes(request.digest.value)
            found = self._by_digest(algorithm, digest, receipt, scope)
            if found is None:
                return not_found
            record = found
            # One more than listed, plus the verified record, tells whether the list is cut.
            ids = self._ledger.entry_ids_by_digest(
                algorithm, digest, MAX_OTHER_ENTRY_IDS + 2, scope
            )
            others = [i for i in ids if i != record.receipt.entry_id]
            truncated = len(others) > MAX_OTHER_ENTRY_IDS
            del others[MAX_OTHER_ENTRY_IDS:]

        note = self._ledger.checkpoint()
        latest = parse_checkpoint(note)
        index = record.receipt.leaf_index
        proof = self._ledger.inclusion_proof(index, latest.size) if index < latest.size else ()
        consistency: tuple[bytes, ...] | None = None
        if receipt is not None:
            held = parse_checkpoint(receipt.checkpoint)
            if 1 <= held.size < latest.size:
                consistency = self._ledger.consistency_proof(held.size, latest.size)
        anchor = self._ledger.anchor_covering(index + 1) if index < latest.size else None
        anchored: AnchoredInput | None = None
        if anchor is not None:
            anchored = AnchoredInput(
                checkpoint=anchor.checkpoint_note,
                tree_size=anchor.tree_size,
                root_hash=anchor.root_hash,
                checkpoint_hash=anchor.checkpoint_hash,
                proof=(
                    self._ledger.consistency_proof(anchor.tree_size, latest.size)
                    if anchor.tree_size <= latest.size
                    else ()
                ),
            )
        result = verify_record(
            _expected(record),
            roots=self._roots,
            untrusted=self._untrusted,
            log_verifier_key=self._vkey,
            checkpoint=note,
            inclusion_proof=proof,
            receipt=receipt,
            consistency_proof=consistency,
            anchored=anchored,
            caches=self._caches,
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
        if anchor is not None and anchored is not None:
            material.anchor.CopyFrom(convert.anchor_to_proto(anchor))
            material.anchor_consistency_proof.CopyFrom(
                common_pb2.ConsistencyProof(
                    from_size=anchor.tree_size, to_size=latest.size, hashes=anchored.proof
                )
            )
        return pb.VerifyEvidenceResponse(
            verdict=_VERDICT[result.outcome],
            checks=[_check_to_proto(c) for c in result.verdict],
            record=convert.record_to_proto(record),
            material=material,
            other_entry_ids=others,
            other_entry_ids_truncated=truncated,
        )

    def _by_digest(
        self, algorithm: str, digest: bytes, receipt: ReceiptInput | None, scope: ReadScope
    ) -> EvidenceRecord | None:
        """The record to verify by digest: the receipt's own, or the earliest one.

        The receipt's record is read by its entry id (an index search, however
        many records share the digest) and must carry this digest.
        """
        if receipt is None:
            records, _ = self._ledger.find(algorithm, digest, 1, "", scope)
            return records[0] if records else None
        try:
            record = self._ledger.get(receipt.entry_id, scope)
        except NotFound:
            return None
        s = record.submission
        return record if (s.hash_algorithm, s.digest) == (algorithm, digest) else None
