"""Verification of RFC 9162 Merkle inclusion and consistency proofs.

These are the checks a court runs on a log proof. They follow the semantics of
``github.com/transparency-dev/merkle/proof`` (``RootFromInclusionProof``,
``VerifyInclusion``, ``RootFromConsistencyProof``, ``VerifyConsistency``) exactly,
which is what its published test vectors check:

* a proof must have exactly the length its (index, size) decomposition
  requires; a longer or shorter proof is rejected before any hashing;
* ``leaf_index >= tree_size`` is rejected;
* a consistency proof from ``size1 = 0`` is always rejected, even ``0 -> 0``
  with equal roots (a proof from the empty tree proves nothing);
* ``size1 == size2`` is accepted only with an empty proof and equal roots
  (compared byte for byte, as the Go code does);
* ``size1 < size2`` with an empty proof is rejected.

On top of that, every hash that enters the hashing (leaf hash, proof hashes,
``root1`` of a consistency proof) must be exactly 32 bytes. The Go code only
checks the leaf hash; checking the others too rejects nothing that could verify
there except proofs whose bytes were re-split between adjacent hashes.

Integers are unsigned 64-bit, as in the Go API: a negative or larger value, or
a non-``int``, is reported as a :class:`ProofError`, never as a crash. Every
failure raises :class:`ProofError` (or its subclass :class:`RootMismatchError`)
with a message naming what is wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from court.errors import CourtError
from court.verify.rfc6962 import HASH_SIZE

__all__ = [
    "ProofError",
    "RootMismatchError",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]

_MAX_UINT64 = (1 << 64) - 1
_NODE_PREFIX = b"\x01"


class ProofError(CourtError):
    """A Merkle inclusion or consistency proof failed verification."""


class RootMismatchError(ProofError):
    """A well-formed proof leads to a root hash other than the expected one."""

    def __init__(self, what: str, size: int, computed: bytes, expected: bytes) -> None:
        super().__init__(
            f"{what}: computed root hash at tree size {size} is {computed.hex()}, "
            f"expected {expected.hex() or '(empty)'}"
        )
        self.size = size
        self.computed = computed
        self.expected = expected


# --------------------------------------------------------------------------- checks


def _check_uint64(name: str, value: object) -> int:
    if type(value) is not int:
        raise ProofError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0 or value > _MAX_UINT64:
        # Not the digits of a huge value: str() refuses more than 4,300 of them.
        shown = str(value) if value.bit_length() <= 64 else f"of {value.bit_length()} bits"
        raise ProofError(f"{name} {shown} is outside the unsigned 64-bit range")
    return value


def _check_hash(what: str, value: object) -> bytes:
    if not isinstance(value, bytes):
        raise ProofError(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes long, want {HASH_SIZE}")
    return value


def _check_proof(kind: str, proof: Sequence[bytes]) -> list[bytes]:
    if isinstance(proof, (bytes, str)) or not isinstance(proof, Sequence):
        raise ProofError(f"{kind} proof must be a sequence of hashes")
    return [_check_hash(f"{kind} proof hash #{i}", h) for i, h in enumerate(proof)]


# ------------------------------------------------------------------- proof shape


def _decomp_incl_proof(index: int, size: int) -> tuple[int, int]:
    """Split the inclusion proof of ``index`` in a tree of ``size`` leaves.

    Returns ``(inner, border)``: the number of proof hashes below the level where
    the paths to ``index`` and ``size - 1`` meet, and the number above it (the
    left siblings along the right border). Requires ``0 <= index < size``.
    """
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Hash ``seed`` up through ``proof``, ``index`` giving left/right at each level."""
    sha256 = hashlib.sha256
    for i, h in enumerate(proof):
        if (index >> i) & 1 == 0:
            seed = sha256(_NODE_PREFIX + seed + h).digest()
        else:
            seed = sha256(_NODE_PREFIX + h + seed).digest()
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Like :func:`_chain_inner` but only folds in siblings on the left.

    The result is the hash of the earlier (smaller) version of the subtree.
    """
    sha256 = hashlib.sha256
    for i, h in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = sha256(_NODE_PREFIX + h + seed).digest()
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    """Fold left-side subtree hashes along the right border of the tree."""
    sha256 = hashlib.sha256
    for h in proof:
        seed = sha256(_NODE_PREFIX + h + seed).digest()
    return seed


# -------------------------------------------------------------------- inclusion


def root_from_inclusion_proof(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """Return the root hash that ``proof`` implies for the tree of ``tree_size``.

    Preconditions (each violation raises :class:`ProofError`):
    ``0 <= leaf_index < tree_size < 2**64``; ``leaf_hash`` is the 32-byte Merkle
    leaf hash, already ``SHA-256(0x00 || leaf)``; ``proof`` is the RFC 9162 audit
    path ordered from the leaf towards the root, of exactly the length the
    (index, size) pair requires, each hash 32 bytes.
    """
    index = _check_uint64("leaf index", leaf_index)
    size = _check_uint64("tree size", tree_size)
    if index >= size:
        raise ProofError(f"leaf index {index} is beyond tree size {size}")
    seed = _check_hash("leaf hash", leaf_hash)
    inner, border = _decomp_incl_proof(index, size)
    hashes = _check_proof("inclusion", proof)
    if len(hashes) != inner + border:
        raise ProofError(
            f"inclusion proof has {len(hashes)} hashes, want {inner + border} "
            f"for leaf {index} in a tree of size {size}"
        )
    res = _chain_inner(seed, hashes[:inner], index)
    return _chain_border_right(res, hashes[inner:])


def verify_inclusion(
    leaf_index: int,
    tree_size: int,
    leaf_hash: bytes,
    proof: Sequence[bytes],
    root: bytes,
) -> None:
    """Check that the leaf with ``leaf_hash`` is at ``leaf_index`` in the tree ``root``.

    Same preconditions as :func:`root_from_inclusion_proof`; ``root`` is the
    expected root hash of the tree of ``tree_size`` leaves. Returns ``None`` on
    success and raises :class:`ProofError` (:class:`RootMismatchError` when the
    proof is well-formed but leads elsewhere) otherwise.
    """
    computed = root_from_inclusion_proof(leaf_index, tree_size, leaf_hash, proof)
    if not isinstance(root, bytes):
        raise ProofError(f"root hash must be bytes, got {type(root).__name__}")
    if computed != root:
        raise RootMismatchError("inclusion proof does not match", tree_size, computed, root)


# ------------------------------------------------------------------ consistency


def root_from_consistency_proof(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> bytes:
    """Check ``proof`` against ``root1`` and return the root it implies for ``size2``.

    Preconditions (each violation raises :class:`ProofError`):
    ``0 < size1 <= size2 < 2**64``. If ``size1 == size2`` the proof must be empty
    and ``root1`` is returned unchanged. Otherwise the proof is the RFC 9162
    consistency proof of exactly the required length, each hash 32 bytes, and
    ``root1`` (32 bytes) must be the root the proof implies for ``size1``.
    A proof from ``size1 = 0`` is always rejected, including ``0 -> 0``.
    """
    s1 = _check_uint64("size1", size1)
    s2 = _check_uint64("size2", size2)
    if s2 < s1:
        raise ProofError(f"size2 ({s2}) < size1 ({s1})")
    if s1 == 0:
        raise ProofError("consistency proof from an empty tree (size1 = 0) is meaningless")
    hashes = _check_proof("consistency", proof)
    if s1 == s2:
        if hashes:
            raise ProofError(f"size1 = size2 = {s1}, but the proof is not empty")
        if not isinstance(root1, bytes):
            raise ProofError(f"root1 must be bytes, got {type(root1).__name__}")
        return root1
    if not hashes:
        raise ProofError(f"empty consistency proof between different sizes {s1} and {s2}")
    old_root = _check_hash("root1", root1)

    inner, border = _decomp_incl_proof(s1 - 1, s2)
    shift = (s1 & -s1).bit_length() - 1  # trailing zero bits of size1
    inner -= shift  # shift < inner because size1 < size2

    # The proof starts with the root of the largest perfect subtree ending at
    # size1, unless size1 is a power of two: then that subtree is the old tree
    # itself and the verifier already holds its root.
    if s1 == 1 << shift:
        seed, start = old_root, 0
    else:
        seed, start = hashes[0], 1
    if len(hashes) != start + inner + border:
        raise ProofError(
            f"consistency proof has {len(hashes)} hashes, want {start + inner + border} "
            f"from size {s1} to size {s2}"
        )
    rest = hashes[start:]
    mask = (s1 - 1) >> shift  # chain from level `shift` upwards

    hash1 = _chain_inner_right(seed, rest[:inner], mask)
    hash1 = _chain_border_right(hash1, rest[inner:])
    if hash1 != old_root:
        raise RootMismatchError("consistency proof does not match root1", s1, hash1, old_root)

    hash2 = _chain_inner(seed, rest[:inner], mask)
    return _chain_border_right(hash2, rest[inner:])


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree ``root2`` of ``size2`` leaves extends the tree ``root1``.

    Same preconditions as :func:`root_from_consistency_proof`. Returns ``None``
    on success and raises :class:`ProofError` (:class:`RootMismatchError` when a
    computed root differs from the given one) otherwise.
    """
    computed = root_from_consistency_proof(size1, size2, proof, root1)
    if not isinstance(root2, bytes):
        raise ProofError(f"root2 must be bytes, got {type(root2).__name__}")
    if computed != root2:
        raise RootMismatchError("consistency proof does not match root2", size2, computed, root2)
