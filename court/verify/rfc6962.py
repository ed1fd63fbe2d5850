"""RFC 6962 / RFC 9162 Merkle tree hashing with SHA-256.

``leaf = SHA-256(0x00 || data)``, ``node = SHA-256(0x01 || left || right)`` and the
root of the empty tree is ``SHA-256("")`` (RFC 9162 section 2.1.1).
"""

from __future__ import annotations

import hashlib

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "leaf_hash", "node_hash"]

HASH_SIZE = 32
"""Size in bytes of every leaf, node and root hash."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the root hash of the tree with no leaves."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Return the Merkle leaf hash of ``data``: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()
