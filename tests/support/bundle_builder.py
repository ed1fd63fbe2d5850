"""Evidence bundles and dossiers assembled from a real ledger's output, for court tests.

Only protobuf assembly: the records, tokens, checkpoints and proofs are what a
real :class:`gateway.ledger.Ledger` (with a real token source) wrote and
answers. The checkpoint a bundle or dossier carries is the ledger's latest one
when it has the ``loan-map/v1`` line; otherwise (a ledger without the map) the
same tree is re-signed with the log key and the map line computed by replaying
the ledger's leaves (:class:`court.verify.loanmap.LoanMap`), as the gateway does.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from google.protobuf import json_format
from google.protobuf.message import Message

from court.bundles import BUNDLE_MEDIA_TYPE, DOSSIER_MEDIA_TYPE
from court.verify.checkpoint import parse_checkpoint
from court.verify.loanmap import LoanMap, format_map_line, head_of_leaf, map_root_of
from evidence_gateway.v1 import bundle_pb2, common_pb2
from gateway.ledger import Ledger
from gateway.log.checkpoint import sign_checkpoint
from gateway.model import Receipt
from notary.pki import load_log_signing_key, load_tsa_signing_material, pki_paths


def mapped_map(ledger: Ledger, size: int) -> LoanMap:
    """The loan map of the ledger's first ``size`` leaves (a replay of the log)."""
    loan_map = LoanMap()
    for start in range(0, size, 1000):
        entries = ledger.entries(start, min(size, start + 1000))
        loan_map.update(h for i, leaf in entries if (h := head_of_leaf(i, leaf)) is not None)
    return loan_map


def mapped_checkpoint(ledger: Ledger, pki: Path) -> tuple[str, LoanMap]:
    """A signed checkpoint of the ledger's latest tree that carries the loan map line."""
    note = ledger.checkpoint()
    held = parse_checkpoint(note)
    loan_map = mapped_map(ledger, held.size)
    if map_root_of(held) is None:
        note = sign_checkpoint(
            held.origin,
            held.size,
            held.root_hash,
            load_log_signing_key(pki),
            held.origin,
            [*held.extensions, format_map_line(loan_map.root())],
        )
    return note, loan_map


def checkpoint_message(note: str) -> common_pb2.Checkpoint:
    held = parse_checkpoint(note)
    return common_pb2.Checkpoint(
        signed_note=note, origin=held.origin, size=held.size, root_hash=held.root_hash
    )


def record_message(
    ledger: Ledger, receipt: Receipt, size: int, superseded_by: Sequence[str] = ()
) -> bundle_pb2.BundledRecord:
    """One record with its inclusion proof at ``size``."""
    message = bundle_pb2.BundledRecord(
        entry_id=receipt.entry_id,
        leaf_index=receipt.leaf_index,
        leaf=receipt.leaf,
        timestamp_token=receipt.timestamp_token,
        inclusion_proof=common_pb2.InclusionProof(
            leaf_index=receipt.leaf_index,
            tree_size=size,
            hashes=ledger.inclusion_proof(receipt.leaf_index, size),
        ),
        superseded_by=list(superseded_by),
    )
    if receipt.opening is not None:
        message.opening.private_record = receipt.opening.private_record
        message.opening.loan_salt = receipt.opening.loan_salt
    return message


def tsa_certificates(pki: Path) -> list[bytes]:
    """The TSA's certificate (DER), as a bundle carries it (the root is the court's)."""
    return [load_tsa_signing_material(pki)[1].public_bytes(Encoding.DER)]


def anchor_message(ledger: Ledger, anchored_size: int, size: int) -> bundle_pb2.AnchorEvidence:
    """An anchor of the checkpoint of ``anchored_size`` (one the ledger signed) with the
    consistency proof between it and ``size``. The chain fields are placeholders: only a
    court that reads the chain (--rpc) checks them."""
    small, large = sorted((anchored_size, size))
    note = ledger.checkpoint_at(anchored_size)
    held = parse_checkpoint(note)
    return bundle_pb2.AnchorEvidence(
        anchor=common_pb2.Anchor(
            chain_name="test",
            chain_id=31337,
            contract="0x" + "11" * 20,
            anchor_number=0,
            tree_size=anchored_size,
            root_hash=held.root_hash,
            checkpoint=checkpoint_message(note),
            transaction_hash=bytes(32),
            block_number=1,
        ),
        consistency_proof=common_pb2.ConsistencyProof(
            from_size=small,
            to_size=large,
            hashes=ledger.consistency_proof(small, large) if small != large else (),
        ),
    )


def bundle_message(
    ledger: Ledger, receipt: Receipt, pki: Path, anchored_size: int | None = None
) -> bundle_pb2.EvidenceBundle:
    """The bundle of one record at the ledger's latest (mapped) checkpoint."""
    note, _ = mapped_checkpoint(ledger, pki)
    size = parse_checkpoint(note).size
    message = bundle_pb2.EvidenceBundle(
        media_type=BUNDLE_MEDIA_TYPE,
        record=record_message(ledger, receipt, size),
        tsa_certificates=tsa_certificates(pki),
        checkpoint=checkpoint_message(note),
    )
    if anchored_size is not None:
        message.anchor.CopyFrom(anchor_message(ledger, anchored_size, size))
    return message


def dossier_message(
    ledger: Ledger,
    receipts: Sequence[Receipt],
    pki: Path,
    superseded_by: dict[str, list[str]] | None = None,
    anchored_size: int | None = None,
) -> bundle_pb2.Dossier:
    """The dossier of one loan whose records (in loan order) are ``receipts``."""
    note, loan_map = mapped_checkpoint(ledger, pki)
    size = parse_checkpoint(note).size
    later = superseded_by or {}
    key = head_of_leaf(receipts[0].leaf_index, receipts[0].leaf)
    assert key is not None, "version 2 leaves"
    proof = loan_map.prove(key.loan_key)
    assert proof is not None
    message = bundle_pb2.Dossier(
        media_type=DOSSIER_MEDIA_TYPE,
        checkpoint=checkpoint_message(note),
        records=[record_message(ledger, r, size, later.get(r.entry_id, ())) for r in receipts],
        loan_head=bundle_pb2.LoanHeadProof(
            loan_key=proof.head.loan_key,
            loan_sequence=proof.head.loan_sequence,
            leaf_index=proof.head.leaf_index,
            leaf_hash=proof.head.leaf_hash,
            siblings=[b"" if s == bytes(32) else s for s in proof.siblings],
        ),
        tsa_certificates=tsa_certificates(pki),
    )
    if anchored_size is not None:
        message.anchor.CopyFrom(anchor_message(ledger, anchored_size, size))
    return message


def to_json(message: Message) -> bytes:
    return json_format.MessageToJson(message).encode("utf-8")


def write(message: Message, path: Path) -> Path:
    path.write_bytes(to_json(message))
    return path


def trust_dir(pki: Path, dest: Path) -> Path:
    """The court's trust directory for a `notary pki init` folder: log.vkey and the root."""
    paths = pki_paths(pki)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(pki / "log.vkey", dest / "log.vkey")
    shutil.copy(paths.root, dest / "tsa-root.pem")
    return dest


def root_certificate(pki: Path) -> x509.Certificate:
    return load_tsa_signing_material(pki)[2][0]


def bundle_from_receipt(
    receipt: common_pb2.Receipt, certificates: Sequence[bytes]
) -> bundle_pb2.EvidenceBundle:
    """A bundle of the record a gateway's receipt is for, at the receipt's own checkpoint
    (what a lender holds; no anchor)."""
    record = bundle_pb2.BundledRecord(
        entry_id=receipt.entry_id,
        leaf_index=receipt.leaf_index,
        leaf=receipt.leaf,
        timestamp_token=receipt.timestamp_token,
        inclusion_proof=receipt.inclusion_proof,
    )
    if receipt.HasField("opening"):
        record.opening.CopyFrom(receipt.opening)
    return bundle_pb2.EvidenceBundle(
        media_type=BUNDLE_MEDIA_TYPE,
        record=record,
        tsa_certificates=list(certificates),
        checkpoint=receipt.checkpoint,
    )
