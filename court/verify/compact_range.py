"""The RFC 9162 tree root of a stream of leaves, in O(log n) memory.

:class:`RootBuilder` keeps the roots of the perfect subtrees the leaves so far
decompose into (the tree's right border, at most 64 hashes) and folds them
into the root on demand: replaying a log to recompute each checkpoint's root
(`court-verify audit-log`) never holds the leaves.
"""

from __future__ import annotations

from court.verify.rfc6962 import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = ["RootBuilder"]


class RootBuilder:
    """Append leaf hashes in order; :meth:`root` is the Merkle tree hash of them all."""

    __slots__ = ("_border", "size")

    def __init__(self) -> None:
        self.size = 0
        #: (height, hash) of the perfect subtrees, left to right, heights decreasing.
        self._border: list[tuple[int, bytes]] = []

    def append(self, leaf_hash: bytes) -> None:
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        height, value = 0, leaf_hash
        while self._border and self._border[-1][0] == height:
            _, left = self._border.pop()
            value = node_hash(left, value)
            height += 1
        self._border.append((height, value))
        self.size += 1

    def root(self) -> bytes:
        """MTH of the leaves appended so far (SHA-256("") for none)."""
        if not self._border:
            return EMPTY_ROOT
        value = self._border[-1][1]
        for _, left in reversed(self._border[:-1]):
            value = node_hash(left, value)
        return value
