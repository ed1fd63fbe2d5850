"""RFC 6962 / RFC 9162 hashing: prefixes, empty root, the reference tree."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from court.verify.rfc6962 import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash

REFERENCE = (
    Path(__file__).resolve().parents[3] / "fixtures" / "merkle" / "reference-tree-8-leaves.json"
)


def _reference() -> dict[str, object]:
    data: dict[str, object] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert len(EMPTY_ROOT) == HASH_SIZE == 32


def test_leaf_and_node_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    # Domain separation: a leaf can never be mistaken for a node and vice versa.
    assert leaf_hash(left + right) != node_hash(left, right)
    assert node_hash(left, right) != node_hash(right, left)


def test_leaf_hashes_of_the_reference_tree() -> None:
    ref = _reference()
    inputs = [bytes.fromhex(h) for h in ref["leaf_inputs_hex"]]  # type: ignore[attr-defined]
    want = [bytes.fromhex(h) for h in ref["leaf_hashes_hex"]]  # type: ignore[attr-defined]
    assert [leaf_hash(d) for d in inputs] == want


def test_small_roots_of_the_reference_tree() -> None:
    ref = _reference()
    roots = {int(k): bytes.fromhex(v) for k, v in ref["root_by_tree_size_hex"].items()}  # type: ignore[attr-defined]
    lh = [bytes.fromhex(h) for h in ref["leaf_hashes_hex"]]  # type: ignore[attr-defined]
    assert roots[0] == EMPTY_ROOT
    assert roots[1] == lh[0]
    assert roots[2] == node_hash(lh[0], lh[1])
    assert roots[3] == node_hash(node_hash(lh[0], lh[1]), lh[2])
    assert roots[4] == node_hash(node_hash(lh[0], lh[1]), node_hash(lh[2], lh[3]))
