"""Signing checkpoints: exactly what the Go note tools produce, and what the court accepts."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.verify.checkpoint import (
    CheckpointError,
    parse_verifier_key,
    verify_checkpoint,
    verify_note,
)
from court.verify.merkle import verify_consistency, verify_inclusion
from court.verify.rfc6962 import EMPTY_ROOT, leaf_hash
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint, sign_note
from gateway.log.tree import CompactTree, MemoryNodeStore, consistency_proof, inclusion_proof

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / "fixtures" / "note" / "vectors.json").read_text(
        encoding="utf-8"
    )
)
PETER = VECTORS["peter_neumann"]
ORIGIN = "gateway.example/evidence-log"


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _peter_key() -> Ed25519PrivateKey:
    raw = base64.b64decode(PETER["signer_key"].split("+", 4)[4])
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_go_note_sign_bytes_are_reproduced() -> None:
    key = _peter_key()
    assert make_verifier_key("PeterNeumann", key.public_key()) == PETER["verifier_key"]
    assert sign_note(PETER["text"], key, "PeterNeumann") == PETER["signed_note"]


def test_verifier_key_uses_the_court_key_id(key: Ed25519PrivateKey) -> None:
    vkey = make_verifier_key(ORIGIN, key.public_key())
    parsed = parse_verifier_key(vkey)
    assert parsed.name == ORIGIN
    assert vkey.split("+")[1] == parsed.key_id.hex()


def test_sign_verify_round_trip(key: Ed25519PrivateKey) -> None:
    root = leaf_hash(b"x")
    note = sign_checkpoint(ORIGIN, 1, root, key, ORIGIN, extensions=("anchor 0xabc",))
    vkey = make_verifier_key(ORIGIN, key.public_key())
    cp = verify_checkpoint(note, vkey)
    assert (cp.origin, cp.size, cp.root_hash, cp.extensions) == (ORIGIN, 1, root, ("anchor 0xabc",))
    empty = verify_checkpoint(sign_checkpoint(ORIGIN, 0, EMPTY_ROOT, key, ORIGIN), vkey)
    assert (empty.size, empty.root_hash) == (0, EMPTY_ROOT)


def test_wrong_key_and_tampering_fail(key: Ed25519PrivateKey) -> None:
    root = leaf_hash(b"x")
    note = sign_checkpoint(ORIGIN, 7, root, key, ORIGIN)
    vkey = make_verifier_key(ORIGIN, key.public_key())
    other = make_verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(CheckpointError, match="key ID"):
        verify_checkpoint(note, other)
    with pytest.raises(CheckpointError, match="invalid signature"):
        verify_checkpoint(note.replace("\n7\n", "\n8\n"), vkey)
    other_root = base64.b64encode(leaf_hash(b"y")).decode()
    with pytest.raises(CheckpointError, match="invalid signature"):
        verify_checkpoint(note.replace(base64.b64encode(root).decode(), other_root), vkey)
    misnamed = sign_checkpoint("other.example/log", 7, root, key, ORIGIN)
    with pytest.raises(CheckpointError, match="origin"):
        verify_checkpoint(misnamed, vkey)


def test_bad_inputs_are_refused(key: Ed25519PrivateKey) -> None:
    root = leaf_hash(b"x")
    with pytest.raises(CheckpointError):
        sign_checkpoint(ORIGIN, 1, root[:31], key, ORIGIN)
    with pytest.raises(CheckpointError):
        sign_checkpoint(ORIGIN, -1, root, key, ORIGIN)
    with pytest.raises(CheckpointError):
        sign_checkpoint("a\nb", 1, root, key, ORIGIN)
    with pytest.raises(CheckpointError):
        sign_checkpoint(ORIGIN, 1, root, key, ORIGIN, extensions=("",))
    with pytest.raises(CheckpointError):
        sign_checkpoint(ORIGIN, 1, root, key, "bad name")
    with pytest.raises(CheckpointError):
        sign_note("no final newline", key, ORIGIN)
    with pytest.raises(CheckpointError):
        make_verifier_key("a+b", key.public_key())


def test_log_end_to_end(key: Ed25519PrivateKey) -> None:
    """Append, sign two checkpoints, prove inclusion and consistency against them."""
    vkey = make_verifier_key(ORIGIN, key.public_key())
    tree, store = CompactTree(), MemoryNodeStore()
    leaves = [f"entry {i}".encode() for i in range(300)]
    store.put_nodes(tree.append_leaves(leaf_hash(x) for x in leaves[:123]))
    old = verify_checkpoint(sign_checkpoint(ORIGIN, tree.size, tree.root(), key, ORIGIN), vkey)
    store.put_nodes(tree.append_leaves(leaf_hash(x) for x in leaves[123:]))
    new = verify_checkpoint(sign_checkpoint(ORIGIN, tree.size, tree.root(), key, ORIGIN), vkey)

    for index in (0, 77, 122):
        proof = inclusion_proof(store, index, old.size)
        verify_inclusion(index, old.size, leaf_hash(leaves[index]), proof, old.root_hash)
    proof = inclusion_proof(store, 299, new.size)
    verify_inclusion(299, new.size, leaf_hash(leaves[299]), proof, new.root_hash)
    verify_consistency(
        old.size,
        new.size,
        consistency_proof(store, old.size, new.size),
        old.root_hash,
        new.root_hash,
    )
    assert verify_note(sign_note("hello\n", key, ORIGIN), vkey).text == "hello\n"
