"""A real receipt and the log around it, built the way the gateway builds them.

A token from the notary engine, the canonical leaf naming it (version 2 with
its opening, as the gateway writes it, or version 1 as earlier gateways did),
a Merkle log (``gateway.log.tree``) and checkpoints signed with the log key
(``gateway.log.checkpoint``): the receipt is for DOCUMENT at leaf INDEX of a
log of SIZE leaves; the log then grows to NEWER leaves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.evidence.leaf import LeafFields, encode_leaf
from court.evidence.leaf_v2 import (
    PrivateRecord,
    PublicLeaf,
    derive_loan_key,
    encode_private_record,
    encode_public_leaf,
    record_commitment,
)
from court.evidence.opening import LeafOpening
from court.verify.checkpoint import parse_checkpoint
from court.verify.receipt import ReceiptCopies
from court.verify.record import ExpectedRecord, ReceiptInput
from court.verify.rfc6962 import leaf_hash
from evidence_gateway.v1 import common_pb2
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from gateway.log.tree import CompactTree, MemoryNodeStore, consistency_proof, inclusion_proof
from notary.pki import load_log_signing_key, load_log_verifier_key, load_tsa_signing_material
from notary.tsa.engine import TimeStampAuthority

DOCUMENT = b"loan contract, signed"
INDEX = 2  # the receipt's leaf; the log has SIZE leaves when the receipt is issued
SIZE = 5
NEWER = 9
ENTRY_ID = f"entry-{INDEX}"
OCCURRED = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 1, 9, 30, 0, 123000, tzinfo=UTC)
RECEIVED_NS = 1_793_525_400_123_000_000  # RECEIVED in nanoseconds since 1970
LOAN_SALT = bytes(range(100, 132))


@dataclass(frozen=True)
class Log:
    """A receipt for DOCUMENT at INDEX, plus a newer checkpoint of the same log."""

    roots: list[x509.Certificate]
    vkey: str
    log_key: Ed25519PrivateKey
    origin: str
    leaf: bytes
    token: bytes
    checkpoint: str
    proof: list[bytes]
    newer: str
    consistency: list[bytes]
    newer_proof: list[bytes]  # of the leaf at INDEX, to the newer checkpoint
    opening: LeafOpening | None = None  # of a version 2 leaf

    @property
    def copies(self) -> ReceiptCopies:
        """The receipt's unsigned copies, as the gateway fills them in."""
        return self.copies_for(self.checkpoint)

    def copies_for(self, checkpoint: str) -> ReceiptCopies:
        """The unsigned copies of a receipt for INDEX that carries ``checkpoint``."""
        held = parse_checkpoint(checkpoint)
        return ReceiptCopies(
            entry_id=ENTRY_ID,
            loan_sequence=1,
            previous_leaf_hash=b"",
            received_at_ns=RECEIVED_NS,
            checkpoint_origin=held.origin,
            checkpoint_size=held.size,
            checkpoint_root_hash=held.root_hash,
        )

    def kwargs(self, **changes: Any) -> dict[str, Any]:
        """verify_receipt's arguments for the good receipt, with `changes`."""
        base: dict[str, Any] = {
            "leaf": self.leaf,
            "token": self.token,
            "checkpoint": self.checkpoint,
            "leaf_index": INDEX,
            "tree_size": SIZE,
            "inclusion_proof": self.proof,
            "copies": self.copies,
            "log_verifier_key": self.vkey,
            "roots": self.roots,
            "digest": hashlib.sha256(DOCUMENT).digest(),
            "hash_algorithm": "sha256",
            "opening": self.opening,
        }
        return {**base, **changes}

    def record(self, **changes: Any) -> ExpectedRecord:
        """The stored record of the receipt's entry, as the gateway holds it, with ``changes``."""
        fields: dict[str, Any] = {
            "entry_id": ENTRY_ID,
            "institution": "bank-a",
            "loan_ref": "loan-42",
            "kind": "loan_contract",
            "hash_algorithm": "sha256",
            "digest": hashlib.sha256(DOCUMENT).digest(),
            "occurred_at": OCCURRED,
            "received_at": RECEIVED,
            "supersedes": None,
            "metadata": (),
            "loan_sequence": 1,
            "previous_leaf_hash": None,
            "leaf_index": INDEX,
            "leaf": self.leaf,
            "timestamp_token": self.token,
            "opening": self.opening,
        }
        return ExpectedRecord(**{**fields, **changes})

    def held(self, **changes: Any) -> ReceiptInput:
        """The receipt as a caller of VerifyEvidence holds it, with ``changes``."""
        fields: dict[str, Any] = {
            "entry_id": ENTRY_ID,
            "leaf": self.leaf,
            "timestamp_token": self.token,
            "checkpoint": self.checkpoint,
            "leaf_index": INDEX,
            "proof_tree_size": SIZE,
            "proof": tuple(self.proof),
            "copies": self.copies,
            "opening": self.opening,
        }
        return ReceiptInput(**{**fields, **changes})

    def receipt_message(self) -> common_pb2.Receipt:
        """The Receipt protobuf message a lender archives, every field filled in."""
        held = parse_checkpoint(self.checkpoint)
        message = common_pb2.Receipt(
            entry_id=ENTRY_ID,
            leaf_index=INDEX,
            leaf=self.leaf,
            timestamp_token=self.token,
            checkpoint=common_pb2.Checkpoint(
                signed_note=self.checkpoint,
                origin=held.origin,
                size=held.size,
                root_hash=held.root_hash,
            ),
            inclusion_proof=common_pb2.InclusionProof(
                leaf_index=INDEX, tree_size=SIZE, hashes=self.proof
            ),
            loan_sequence=1,
        )
        message.received_at.FromDatetime(RECEIVED)
        if self.opening is not None:
            message.opening.private_record = self.opening.private_record
            message.opening.loan_salt = self.opening.loan_salt
        return message


def make_leaf(
    index: int, token: bytes, digest: bytes, version: int = 2
) -> tuple[bytes, LeafOpening | None]:
    """The leaf of entry ``index`` (first of loan-42 of bank-a), with its opening (v2)."""
    if version == 2:
        record = encode_private_record(
            PrivateRecord(
                salt=hashlib.sha256(b"record salt %d" % index).digest(),
                owner="bank-a",
                submitter="bank-a",
                loan_ref="loan-42",
                kind="loan_contract",
                hash_algorithm="sha256",
                digest=digest,
                occurred_at=OCCURRED,
            )
        )
        leaf = PublicLeaf(
            entry_id=f"entry-{index}",
            loan_key=derive_loan_key(LOAN_SALT, "bank-a", "loan-42"),
            loan_sequence=1,
            received_at=RECEIVED,
            token_sha256=hashlib.sha256(token).digest(),
            commitment=record_commitment(record),
        )
        return encode_public_leaf(leaf), LeafOpening(record, LOAN_SALT)
    return encode_leaf(
        LeafFields(
            entry_id=f"entry-{index}",
            institution="bank-a",
            loan_ref="loan-42",
            kind="loan_contract",
            hash_algorithm="sha256",
            digest=digest,
            occurred_at=OCCURRED,
            received_at=RECEIVED,
            token_sha256=hashlib.sha256(token).digest(),
            loan_sequence=1,
        )
    ), None


def build_log_on_pki(engine: TimeStampAuthority, pki_dir: Path, version: int = 2) -> Log:
    """:func:`build_log` with the TSA roots and the log key of a `notary pki init` folder."""
    return build_log(
        engine,
        load_tsa_signing_material(pki_dir)[2],
        load_log_signing_key(pki_dir),
        load_log_verifier_key(pki_dir).origin,
        version,
    )


def build_log(
    engine: TimeStampAuthority,
    roots: list[x509.Certificate],
    log_key: Ed25519PrivateKey,
    origin: str,
    version: int = 2,
) -> Log:
    """NEWER leaves of ``version``, each with a token from ``engine``; the receipt is the
    one at INDEX."""
    nodes, tree = MemoryNodeStore(), CompactTree()
    ours: tuple[bytes, bytes] = (b"", b"")
    opening: LeafOpening | None = None
    checkpoint = ""
    for i in range(NEWER):
        digest = hashlib.sha256(DOCUMENT if i == INDEX else b"doc %d" % i).digest()
        token = engine.issue("sha256", digest).token
        leaf, leaf_opening = make_leaf(i, token, digest, version)
        if i == INDEX:
            ours = (leaf, token)
            opening = leaf_opening
        nodes.put_nodes(tree.append_leaves([leaf_hash(leaf)]))
        if tree.size == SIZE:
            checkpoint = sign_checkpoint(origin, SIZE, tree.root(), log_key, origin)
    newer = sign_checkpoint(origin, NEWER, tree.root(), log_key, origin)
    return Log(
        roots=roots,
        vkey=make_verifier_key(origin, log_key.public_key()),
        log_key=log_key,
        origin=origin,
        leaf=ours[0],
        token=ours[1],
        checkpoint=checkpoint,
        proof=inclusion_proof(nodes, INDEX, SIZE),
        newer=newer,
        consistency=consistency_proof(nodes, SIZE, NEWER),
        newer_proof=inclusion_proof(nodes, INDEX, NEWER),
        opening=opening,
    )
