"""A log of version 2 leaves of several loans with checkpoints carrying the loan map line,
built independently of the auditor (reference Merkle and map roots), for audit-log tests.

``leaves[i]`` is leaf i; ``checkpoints`` are signed notes at ``SIZES``; ``proofs[k]`` is
the consistency proof from ``SIZES[k-1]`` to ``SIZES[k]`` (``None`` for the first).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.evidence.leaf import LeafFields, encode_leaf
from court.evidence.leaf_v2 import PublicLeaf, encode_public_leaf
from court.verify.loanmap import format_map_line
from court.verify.rfc6962 import leaf_hash
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from gateway.log.tree import CompactTree, MemoryNodeStore, consistency_proof
from tests.support import loanmap_reference as ref
from tests.support.merkle_reference import mth

ORIGIN = "audit.example/log"
SIZES = (3, 7, 12, 20)
LOANS = 4
RECEIVED = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def loan_key(loan: int) -> bytes:
    return hashlib.sha256(b"loan %d" % loan).digest()


@dataclass
class ReplayLog:
    key: Ed25519PrivateKey
    vkey: str
    leaves: list[bytes]
    checkpoints: list[str]
    proofs: list[list[bytes] | None]

    def sign(self, size: int, root: bytes, map_root: bytes | None) -> str:
        lines = () if map_root is None else (format_map_line(map_root),)
        return sign_checkpoint(ORIGIN, size, root, self.key, ORIGIN, lines)


def make_leaves(count: int, *, v1_first: int = 1) -> list[bytes]:
    """``v1_first`` version 1 leaves, then version 2 leaves round-robin over LOANS loans."""
    leaves: list[bytes] = []
    heads: dict[bytes, tuple[int, bytes]] = {}
    for i in range(count):
        if i < v1_first:
            leaves.append(
                encode_leaf(
                    LeafFields(
                        entry_id=f"old-{i}",
                        institution="bank-a",
                        loan_ref="L-old",
                        kind="repayment",
                        hash_algorithm="sha256",
                        digest=hashlib.sha256(b"old %d" % i).digest(),
                        occurred_at=RECEIVED,
                        received_at=RECEIVED,
                        token_sha256=b"\x11" * 32,
                        loan_sequence=i + 1,
                    )
                )
            )
            continue
        key = loan_key(i % LOANS)
        sequence, previous = heads.get(key, (0, b""))
        leaf = encode_public_leaf(
            PublicLeaf(
                entry_id=f"e-{i}",
                loan_key=key,
                loan_sequence=sequence + 1,
                received_at=RECEIVED,
                token_sha256=hashlib.sha256(b"token %d" % i).digest(),
                commitment=hashlib.sha256(b"record %d" % i).digest(),
                previous_leaf_hash=previous or None,
            )
        )
        heads[key] = (sequence + 1, leaf_hash(leaf))
        leaves.append(leaf)
    return leaves


def map_root(leaves: list[bytes], size: int) -> bytes:
    """The reference map root over the version 2 leaves below ``size``."""
    from court.verify.loanmap import head_of_leaf

    heads: dict[bytes, ref.Head] = {}
    for i, leaf in enumerate(leaves[:size]):
        head = head_of_leaf(i, leaf)
        if head is not None:
            heads[head.loan_key] = (head.loan_sequence, head.leaf_index, head.leaf_hash)
    return ref.root(heads)


def build(leaves: list[bytes] | None = None, sizes: tuple[int, ...] = SIZES) -> ReplayLog:
    leaves = make_leaves(sizes[-1]) if leaves is None else leaves
    key = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    log = ReplayLog(key, make_verifier_key(ORIGIN, key.public_key()), leaves, [], [])
    nodes, tree = MemoryNodeStore(), CompactTree()
    nodes.put_nodes(tree.append_leaves([leaf_hash(leaf) for leaf in leaves]))
    previous = 0
    for size in sizes:
        root = mth(leaves[:size])
        log.checkpoints.append(log.sign(size, root, map_root(leaves, size)))
        log.proofs.append(consistency_proof(nodes, previous, size) if previous else None)
        previous = size
    return log
