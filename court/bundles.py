"""Reading evidence bundles and dossiers from their files (the edge of `court-verify`).

A bundle or dossier file holds one ``evidence_gateway.v1.EvidenceBundle`` or
``Dossier`` message in protobuf's canonical JSON mapping (UTF-8), with its
media type in ``mediaType`` (docs/bundles.md). This module reads it with a
size bound, parses it with ``google.protobuf.json_format`` (unknown fields
refused, nesting bounded), bounds every repeated field, and converts it to
the plain dataclasses :mod:`court.verify.bundle` and :mod:`court.verify.dossier`
check. Whatever is wrong with the file is an :class:`InputError` (exit 2)
naming the field; what is wrong with the evidence is left to the checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final, TypeVar

from cryptography import x509
from google.protobuf import json_format
from google.protobuf.message import Message

from court.evidence.case_event import MAX_DOCUMENT_BYTES
from court.evidence.opening import LeafOpening
from court.files import InputError
from court.report.escape import escape_text
from court.verify.bundle import Bundle, BundleAnchor, BundleRecord, CheckpointCopy
from court.verify.dossier import Dossier
from court.verify.loanmap import LoanHead, LoanHeadProof
from evidence_gateway.v1 import bundle_pb2, common_pb2

__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "DOSSIER_MEDIA_TYPE",
    "MAX_BUNDLE_BYTES",
    "MAX_DOSSIER_BYTES",
    "MAX_RECORDS",
    "read_bundle",
    "read_bundle_file",
    "read_dossier",
    "read_dossier_file",
]

BUNDLE_MEDIA_TYPE: Final = "application/vnd.court-evidence.bundle.v1+json"
DOSSIER_MEDIA_TYPE: Final = "application/vnd.court-evidence.dossier.v1+json"
MAX_BUNDLE_BYTES: Final = 1 << 20
MAX_DOSSIER_BYTES: Final = 64 << 20
#: Most records of a dossier (the gateway's own bound).
MAX_RECORDS: Final = 10_000
_MAX_PROOF_HASHES: Final = 64
_MAX_SIBLINGS: Final = 256
_MAX_CERTIFICATES: Final = 32
_MAX_SUPERSEDED_BY: Final = 64
_MAX_DEPTH: Final = 16  # the messages nest at most 4 deep

_M = TypeVar("_M", bound=Message)


def _read(path: Path, limit: int, what: str) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from exc
    if len(data) > limit:
        raise InputError(f"{what} {path} is larger than {limit} bytes")
    return data


def _parse(data: bytes, message: _M, what: str, media_type: str) -> _M:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not UTF-8 JSON (byte {exc.start})") from exc
    if text.lstrip()[:1] != "{":
        raise InputError(
            f"{what} is not a JSON object: a {media_type} file holds protobuf's JSON mapping"
        )
    try:
        json_format.Parse(text, message, max_recursion_depth=_MAX_DEPTH)
    except (json_format.ParseError, ValueError, RecursionError) as exc:
        reason = escape_text(str(exc))[:300]
        hint = _hint(text, message)
        raise InputError(f"{what} is not a valid {media_type} file: {reason}{hint}") from exc
    found = getattr(message, "media_type")  # noqa: B009 - both messages have it
    if found != media_type:
        shown = escape_text(repr(found[:100]))
        raise InputError(f"{what} has mediaType {shown}, not {media_type!r}")
    return message


# What other tools write instead of protobuf's JSON mapping, and what to do about it.
_ANSWER_HINT: Final = (
    "; this is the gateway's answer ({answer}, as buf curl and grpcurl print it), "
    "not the file: the file is its {field!r} field (`jq .{field} ANSWER.json > FILE.json`), "
    "or let `court-verify fetch` write it"
)
_SHAPE_HINTS: Final = (
    (
        frozenset({"type", "data"}),
        "; a bytes field holds a Node.js Buffer object: protobuf's JSON mapping writes "
        "bytes as a base64 string (@grpc/proto-loader: bytes: String; docs/bundles.md)",
    ),
    (
        frozenset({"low", "high", "unsigned"}),
        "; a 64-bit integer is a Long object: protobuf's JSON mapping writes it as a "
        "decimal string (@grpc/proto-loader: longs: String; docs/bundles.md)",
    ),
    (
        frozenset({"seconds", "nanos"}),
        "; a google.protobuf.Timestamp (anchor.anchor.confirmedAt) is an object: protobuf's "
        'JSON mapping writes it as an RFC 3339 string, "2026-01-02T03:04:05.123Z" '
        "(docs/bundles.md)",
    ),
)
_MAX_HINT_NODES: Final = 10_000


def _hint(text: str, message: Message) -> str:
    """Why a file that protobuf's parser refused is not the JSON mapping, when it is one
    of the usual mistakes; else ''. Only on the error path; the walk is bounded."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return ""
    if not isinstance(value, dict):
        return ""
    field = "bundle" if isinstance(message, bundle_pb2.EvidenceBundle) else "dossier"
    if field in value and "mediaType" not in value and "media_type" not in value:
        answer = "GetEvidenceBundleResponse" if field == "bundle" else "GetDossierResponse"
        return _ANSWER_HINT.format(answer=answer, field=field)
    stack: list[object] = [value]
    seen = 0
    while stack and seen < _MAX_HINT_NODES:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            for keys, hint in _SHAPE_HINTS:
                if keys <= node.keys() and len(node) <= len(keys) + 1:
                    return hint
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return ""


def _bound(count: int, limit: int, field: str) -> None:
    if count > limit:
        raise InputError(f"{field} has {count} values; at most {limit}")


def _certificates(values: list[bytes], field: str) -> tuple[x509.Certificate, ...]:
    _bound(len(values), _MAX_CERTIFICATES, field)
    certs = []
    for i, der in enumerate(values):
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
            raise InputError(f"{field}[{i}] is not a DER certificate: {exc}") from exc
    return tuple(certs)


def _checkpoint(message: common_pb2.Checkpoint, field: str) -> CheckpointCopy:
    if not message.signed_note:
        raise InputError(f"{field}.signedNote is missing")
    return CheckpointCopy(
        note=message.signed_note,
        origin=message.origin,
        size=message.size,
        root_hash=bytes(message.root_hash),
    )


def _record(
    message: bundle_pb2.BundledRecord, field: str, withheld_ok: bool = False
) -> BundleRecord:
    """One record; ``withheld_ok``: a dossier's record of a loan the holder may not read
    may come without opening and without token (only its public leaf and proof)."""
    if not message.leaf:
        raise InputError(f"{field}.leaf is missing")
    if not message.timestamp_token and not (withheld_ok and not message.HasField("opening")):
        raise InputError(f"{field}.timestampToken is missing")
    if not message.HasField("inclusion_proof"):
        raise InputError(f"{field}.inclusionProof is missing")
    proof = message.inclusion_proof
    _bound(len(proof.hashes), _MAX_PROOF_HASHES, f"{field}.inclusionProof.hashes")
    _bound(len(message.superseded_by), _MAX_SUPERSEDED_BY, f"{field}.supersededBy")
    if len(message.document) > MAX_DOCUMENT_BYTES:
        raise InputError(f"{field}.document is larger than {MAX_DOCUMENT_BYTES} bytes")
    opening = None
    if message.HasField("opening"):
        opening = LeafOpening(
            private_record=bytes(message.opening.private_record),
            loan_salt=bytes(message.opening.loan_salt),
        )
    return BundleRecord(
        entry_id=message.entry_id,
        leaf_index=message.leaf_index,
        leaf=bytes(message.leaf),
        token=bytes(message.timestamp_token),
        opening=opening,
        proof_leaf_index=proof.leaf_index,
        proof_tree_size=proof.tree_size,
        proof=tuple(bytes(h) for h in proof.hashes),
        superseded_by=tuple(message.superseded_by),
        document=bytes(message.document),
    )


def _anchor(message: bundle_pb2.AnchorEvidence, field: str) -> BundleAnchor:
    anchor = message.anchor
    if not anchor.checkpoint.signed_note:
        raise InputError(f"{field}.anchor.checkpoint.signedNote is missing")
    proof = message.consistency_proof
    _bound(len(proof.hashes), _MAX_PROOF_HASHES, f"{field}.consistencyProof.hashes")
    return BundleAnchor(
        chain_id=anchor.chain_id,
        chain_name=anchor.chain_name,
        contract=anchor.contract,
        anchor_number=anchor.anchor_number,
        tree_size=anchor.tree_size,
        note=anchor.checkpoint.signed_note,
        transaction_hash=bytes(anchor.transaction_hash),
        block_number=anchor.block_number,
        from_size=proof.from_size,
        to_size=proof.to_size,
        proof=tuple(bytes(h) for h in proof.hashes),
    )


def read_bundle(data: bytes, what: str = "the bundle") -> Bundle:
    """The bundle in ``data`` (the file's bytes); :class:`InputError` if it is not one."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise InputError(f"{what} is larger than {MAX_BUNDLE_BYTES} bytes")
    message = _parse(data, bundle_pb2.EvidenceBundle(), what, BUNDLE_MEDIA_TYPE)
    if not message.HasField("record"):
        raise InputError(f"{what}: record is missing")
    if not message.HasField("checkpoint"):
        raise InputError(f"{what}: checkpoint is missing")
    return Bundle(
        record=_record(message.record, "record"),
        tsa_certificates=_certificates(list(message.tsa_certificates), "tsaCertificates"),
        checkpoint=_checkpoint(message.checkpoint, "checkpoint"),
        anchor=_anchor(message.anchor, "anchor") if message.HasField("anchor") else None,
    )


def read_bundle_file(path: Path) -> tuple[Bundle, bytes]:
    """The bundle in ``path`` and the file's bytes (for its SHA-256)."""
    data = _read(path, MAX_BUNDLE_BYTES, "bundle")
    return read_bundle(data, f"bundle {path}"), data


def _head(message: bundle_pb2.LoanHeadProof) -> LoanHeadProof:
    _bound(len(message.siblings), _MAX_SIBLINGS, "loanHead.siblings")
    empty = bytes(32)
    return LoanHeadProof(
        head=LoanHead(
            loan_key=bytes(message.loan_key),
            loan_sequence=message.loan_sequence,
            leaf_index=message.leaf_index,
            leaf_hash=bytes(message.leaf_hash),
        ),
        siblings=tuple(bytes(s) or empty for s in message.siblings),
    )


def read_dossier(data: bytes, what: str = "the dossier") -> Dossier:
    """The dossier in ``data``; :class:`InputError` if it is not one."""
    if len(data) > MAX_DOSSIER_BYTES:
        raise InputError(f"{what} is larger than {MAX_DOSSIER_BYTES} bytes")
    message = _parse(data, bundle_pb2.Dossier(), what, DOSSIER_MEDIA_TYPE)
    if not message.HasField("checkpoint"):
        raise InputError(f"{what}: checkpoint is missing")
    if not message.records:
        raise InputError(f"{what}: records is empty")
    _bound(len(message.records), MAX_RECORDS, "records")
    if not message.HasField("loan_head"):
        raise InputError(f"{what}: loanHead is missing")
    return Dossier(
        checkpoint=_checkpoint(message.checkpoint, "checkpoint"),
        records=tuple(
            _record(r, f"records[{i}]", withheld_ok=True) for i, r in enumerate(message.records)
        ),
        loan_head=_head(message.loan_head),
        tsa_certificates=_certificates(list(message.tsa_certificates), "tsaCertificates"),
        anchor=_anchor(message.anchor, "anchor") if message.HasField("anchor") else None,
    )


def read_dossier_file(path: Path) -> tuple[Dossier, bytes]:
    """The dossier in ``path`` and the file's bytes (for its SHA-256)."""
    data = _read(path, MAX_DOSSIER_BYTES, "dossier")
    return read_dossier(data, f"dossier {path}"), data
