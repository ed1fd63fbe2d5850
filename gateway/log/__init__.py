"""The gateway's append-only Merkle log: tree, proofs and signed checkpoints.

Hashing and proof verification are the court's (:mod:`court.verify`); this
package builds what the court checks.
"""

from __future__ import annotations

from gateway.log.checkpoint import make_verifier_key, sign_checkpoint, sign_note
from gateway.log.tree import (
    CompactTree,
    MemoryNodeStore,
    MissingNodeError,
    Node,
    NodeID,
    NodeReader,
    ProofPlan,
    consistency_plan,
    consistency_proof,
    fold_root,
    inclusion_plan,
    inclusion_proof,
    range_nodes,
    root_hash,
)

__all__ = [
    "CompactTree",
    "MemoryNodeStore",
    "MissingNodeError",
    "Node",
    "NodeID",
    "NodeReader",
    "ProofPlan",
    "consistency_plan",
    "consistency_proof",
    "fold_root",
    "inclusion_plan",
    "inclusion_proof",
    "make_verifier_key",
    "range_nodes",
    "root_hash",
    "sign_checkpoint",
    "sign_note",
]
