"""Verify a receipt file and print every named check (`court-verify receipt`).

A receipt file holds one serialized ``evidence_gateway.v1.Receipt`` protobuf
message (binary wire format, ``receipt.SerializeToString()``), the form a
lender's system archives. The generated ``evidence_gateway`` stubs are a shared
package, not server code; they are read here, at the edge, and nowhere in
:mod:`court.verify`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from google.protobuf.message import DecodeError

from court.errors import CourtError
from court.evidence.opening import LeafOpening
from court.files import InputError, json_hint, load_certificates, read_file
from court.report.output import write_report
from court.report.text import invalid_line
from court.tokens import digest_algorithm
from court.verify.checkpoint import parse_verifier_key
from court.verify.receipt import ReceiptCopies, ReceiptVerification, verify_receipt
from court.verify.steps import Outcome
from evidence_gateway.v1 import common_pb2, evidence_service_pb2

__all__ = [
    "read_log_key",
    "read_receipt",
    "receipt_copies",
    "receipt_opening",
    "verify_receipt_file",
]

_NS_PER_SECOND = 1_000_000_000


def receipt_copies(receipt: common_pb2.Receipt) -> ReceiptCopies:
    """The values `receipt` repeats outside its signed parts, for the court to compare."""
    received: int | None = None
    if receipt.HasField("received_at"):
        received = receipt.received_at.seconds * _NS_PER_SECOND + receipt.received_at.nanos
    return ReceiptCopies(
        entry_id=receipt.entry_id,
        loan_sequence=receipt.loan_sequence,
        previous_leaf_hash=bytes(receipt.previous_leaf_hash),
        received_at_ns=received,
        checkpoint_origin=receipt.checkpoint.origin,
        checkpoint_size=receipt.checkpoint.size,
        checkpoint_root_hash=bytes(receipt.checkpoint.root_hash),
    )


def receipt_opening(receipt: common_pb2.Receipt) -> LeafOpening | None:
    """The opening of the receipt's version 2 leaf, ``None`` when it carries none."""
    if not receipt.HasField("opening"):
        return None
    return LeafOpening(
        private_record=bytes(receipt.opening.private_record),
        loan_salt=bytes(receipt.opening.loan_salt),
    )


#: What to do with a whole response (SubmitEvidenceResponse, GetEvidenceResponse ...) saved.
_WRAPPED = (
    "; it looks like a whole response message that holds one: archive its receipt "
    "(response.receipt, or record.receipt) alone"
)


def _hint(data: bytes) -> str:
    """Advice for the two usual ways a receipt is archived wrong, or nothing."""
    from_json = json_hint(data, "evidence_gateway.v1.Receipt", "receipt", "docs/gateway.md")
    if from_json:
        return from_json
    submitted = evidence_service_pb2.SubmitEvidenceResponse()
    fetched = evidence_service_pb2.GetEvidenceResponse()
    for response in (submitted, fetched):
        try:
            response.ParseFromString(data)
        except DecodeError:
            continue
        receipt = submitted.receipt if response is submitted else fetched.record.receipt
        if receipt.leaf and receipt.timestamp_token:
            return _WRAPPED
    return ""


def read_receipt(path: Path) -> common_pb2.Receipt:
    """The Receipt message in `path`, or InputError when the file holds none."""
    data = read_file(path, "receipt")
    receipt = common_pb2.Receipt()
    try:
        receipt.ParseFromString(data)
    except DecodeError as exc:
        raise InputError(
            f"receipt {path} is not a serialized evidence_gateway.v1.Receipt: {exc}{_hint(data)}"
        ) from exc
    missing = [
        name
        for name, present in (
            ("leaf", receipt.leaf),
            ("timestamp_token", receipt.timestamp_token),
            ("checkpoint.signed_note", receipt.checkpoint.signed_note),
        )
        if not present
    ]
    if missing:
        raise InputError(
            f"receipt {path} is not a serialized evidence_gateway.v1.Receipt "
            f"(no {', '.join(missing)}){_hint(data)}"
        )
    if receipt.inclusion_proof.leaf_index != receipt.leaf_index:
        raise InputError(
            f"receipt {path} contradicts itself: leaf_index {receipt.leaf_index}, "
            f"inclusion_proof.leaf_index {receipt.inclusion_proof.leaf_index}"
        )
    return receipt


def read_log_key(path: Path) -> str:
    """The log's C2SP verifier key from a file such as ``log.vkey``."""
    raw = read_file(path, "--log-key file")
    try:
        text = raw.decode("utf-8").strip()
        parse_verifier_key(text)
    except (UnicodeDecodeError, CourtError) as exc:
        raise InputError(
            f"--log-key file {path} holds no C2SP verifier key "
            f"(<origin>+<key id>+<base64 key>): {exc}"
        ) from exc
    return text


def verify_receipt_file(
    receipt_file: Path,
    *,
    digest: bytes | None,
    data_file: Path | None,
    hash_name: str | None,
    ca_files: list[Path],
    untrusted_files: list[Path],
    log_key_file: Path,
    out: TextIO,
    as_json: bool = False,
    anchor: tuple[Path, str, str, int, int] | None = None,
) -> bool:
    """Verify, print every named check to `out`, and return whether the receipt is valid.

    Raises InputError when an input cannot be read or the options make no sense.
    Without `hash_name`, a digest's algorithm follows from its length (SHA-2)
    and a file is hashed with the algorithm the receipt's leaf names. With
    `as_json` the report is one JSON document (court.report.json_report). `anchor` is
    (anchor file, chain node URL, contract address, chain id, confirmations): the receipt's
    checkpoint is then checked against its anchor on chain (court.anchors).
    """
    receipt = read_receipt(receipt_file)
    data = read_file(data_file, "--file") if data_file is not None else None
    roots = [cert for path in ca_files for cert in load_certificates(path, "--ca file")]
    untrusted = [
        cert for path in untrusted_files for cert in load_certificates(path, "--untrusted file")
    ]
    log_key = read_log_key(log_key_file)
    hash_name = digest_algorithm(digest, hash_name)
    on_chain = None
    if anchor is not None:
        from court.anchors import anchor_evidence  # the chain reader, only when asked

        on_chain = anchor_evidence(*anchor, receipt=receipt, log_verifier_key=log_key)
    try:
        result = verify_receipt(
            leaf=bytes(receipt.leaf),
            token=bytes(receipt.timestamp_token),
            checkpoint=receipt.checkpoint.signed_note,
            leaf_index=receipt.leaf_index,
            tree_size=receipt.inclusion_proof.tree_size,
            inclusion_proof=[bytes(h) for h in receipt.inclusion_proof.hashes],
            copies=receipt_copies(receipt),
            log_verifier_key=log_key,
            roots=roots,
            untrusted=untrusted,
            digest=digest,
            hash_algorithm=hash_name,
            data=data,
            opening=receipt_opening(receipt),
            anchor=on_chain,
        )
    except ValueError as exc:
        raise InputError(f"cannot verify with these options: {exc}") from exc
    summary = _summary(result, receipt.leaf_index)
    write_report(out, result.checks, summary, outcome=result.outcome.value, as_json=as_json)
    return result.ok


def _summary(result: ReceiptVerification, leaf_index: int) -> str:
    """The closing line (unescaped). A valid receipt's copies equal the leaf's values shown."""
    if result.outcome is Outcome.INCONCLUSIVE:
        missing = next(
            (c for c in result.checks if c.name in result.required and not c.passed), None
        )
        if missing is not None:
            return f"INCONCLUSIVE: {missing.name}: {missing.detail}"
    if not result.ok:
        return invalid_line(result.checks)
    leaf, checkpoint, token = result.leaf, result.checkpoint, result.token
    assert leaf is not None and checkpoint is not None  # a valid receipt has both
    when = token.gen_time.isoformat() if token.gen_time else "?"
    signer = token.signer.subject.rfc4514_string() if token.signer else "?"
    by = "" if leaf.submitter == leaf.owner else f", submitted by {leaf.submitter}"
    anchored = ""
    if result.anchor is not None:
        a = result.anchor
        anchored = (
            f", anchored on chain as anchor {a.number} (size {a.tree_size}, block {a.block_number})"
        )
    return (
        f"VALID: entry {leaf.entry_id} of loan {leaf.loan_ref} ({leaf.owner}{by}, "
        f"{leaf.kind}, #{leaf.loan_sequence}) time-stamped at {when} by {signer}; "
        f"leaf {leaf_index} in {checkpoint.origin} "
        f"at size {checkpoint.size}{anchored}"
    )
