"""The gateway's loan map: :class:`court.verify.loanmap.LoanMap`, kept per version in the store.

The hashing, the shape and the proofs are the court's (:mod:`court.verify.loanmap`,
``docs/loan-map.md``); this module only stores them. The map is stored as
radix-16 nodes, one row per node and version (``loan_map_blocks``): the
version is the size of the checkpoint whose map first has that body, and a
batch writes a row only for the nodes it changed (the top, and each block on
the path of a loan whose head moved), in the batch's own transaction. The map
at any checkpoint size ``S`` is therefore, for every path, the row with the
largest version not above ``S``, and a loan's head is proven against any
checkpoint that carries the map line (:func:`prove`), not only the latest.

A node's body::

    top leaf (the map of one loan):  0x01 || head
    block (a prefix of >= 2 loans):  0x02 || u16be(present) || u16be(leaves)
                                     || for each present nibble n, ascending:
                                        head if bit n of leaves else block hash(32)
    head = loan_key(32) || u64be(loan_sequence) || u64be(leaf_index) || leaf_hash(32)

Bit ``n`` (``1 << n``) of ``present`` says child ``n`` is not EMPTY. A leaf
below the top lives in its parent block, so a loan's proof reads one row per
radix-16 level (about ``log16(loans) + 1`` rows).

The writer keeps the latest map in memory (:class:`VersionedLoanMap`): loaded
at start from the latest row of every path (:meth:`LoanMap.from_nodes`: every
block's hash checked against its parent's, the top against that checkpoint's
``loan-map/v1`` root), or, for a log whose latest checkpoint
has no map line (a database made before the map existed), built from the
stored version 2 leaves; then every node is written with the next checkpoint,
the first to carry the line.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable
from typing import Protocol

from court.verify.loanmap import (
    EMPTY,
    MAX_DEPTH,
    LoanHead,
    LoanHeadProof,
    LoanMap,
    LoanMapError,
    block_siblings,
    head_of_leaf,
    key_nibble,
    map_leaf_hash,
    map_root_of,
)

__all__ = [
    "BUILD_PAGE",
    "LoanMapStore",
    "MapBlockReader",
    "VersionedLoanMap",
    "decode_node",
    "encode_node",
    "prove",
]

log = logging.getLogger(__name__)

BUILD_PAGE = 5000
"""Leaves read per store call when the map is built from the log."""

_TOP_LEAF = 1
_BLOCK = 2
_HEAD = struct.Struct(">32sQQ32s")
_MASKS = struct.Struct(">BHH")
_HASH = 32
_HEX = "0123456789abcdef"

Node = LoanHead | tuple[bytes | LoanHead | None, ...]


class MapBlockReader(Protocol):
    """Reads one stored map node (:meth:`gateway.store.base.Store.map_block`)."""

    def map_block(self, path: str, version: int) -> bytes | None: ...


class LoanMapStore(MapBlockReader, Protocol):
    """What loading the map reads (a :class:`gateway.store.base.Store`)."""

    def map_blocks(self, version: int) -> list[tuple[str, bytes]]: ...

    def entries_range(self, start: int, end: int) -> list[tuple[int, bytes]]: ...


# ------------------------------------------------------------------ encoding


def _head_bytes(h: LoanHead) -> bytes:
    return _HEAD.pack(h.loan_key, h.loan_sequence, h.leaf_index, h.leaf_hash)


def encode_node(node: Node) -> bytes:
    """The stored body of a node as :meth:`LoanMap.node_at` gives it (see the module doc)."""
    if isinstance(node, LoanHead):
        return bytes([_TOP_LEAF]) + _head_bytes(node)
    present = leaves = 0
    parts: list[bytes] = []
    bit = 1
    for child in node:
        if child is not None:
            present |= bit
            if isinstance(child, bytes):
                parts.append(child)
            else:
                leaves |= bit
                parts.append(_head_bytes(child))
        bit <<= 1
    return _MASKS.pack(_BLOCK, present, leaves) + b"".join(parts)


def _read_head(body: bytes, pos: int) -> LoanHead:
    key, seq, index, lh = _HEAD.unpack_from(body, pos)
    return LoanHead(key, seq, index, lh)


def decode_node(body: bytes) -> Node:
    """The node a stored body holds; :class:`LoanMapError` for a malformed body."""
    if len(body) == 1 + _HEAD.size and body[0] == _TOP_LEAF:
        return _read_head(body, 1)
    if len(body) < _MASKS.size or body[0] != _BLOCK:
        raise LoanMapError("a stored loan map node is malformed (unknown kind or too short)")
    _, present, leaves = _MASKS.unpack_from(body)
    if leaves & ~present or not present:
        raise LoanMapError("a stored loan map block has inconsistent child masks")
    want = _MASKS.size + sum(
        _HEAD.size if leaves >> n & 1 else _HASH for n in range(16) if present >> n & 1
    )
    if len(body) != want:
        raise LoanMapError(f"a stored loan map block is {len(body)} bytes, want {want}")
    children: list[bytes | LoanHead | None] = []
    pos = _MASKS.size
    for n in range(16):
        if not present >> n & 1:
            children.append(None)
        elif leaves >> n & 1:
            children.append(_read_head(body, pos))
            pos += _HEAD.size
        else:
            children.append(body[pos : pos + _HASH])
            pos += _HASH
    return tuple(children)


def _child_hash(child: bytes | LoanHead | None) -> bytes:
    if child is None:
        return EMPTY
    if isinstance(child, LoanHead):
        return map_leaf_hash(child.loan_key, child.loan_sequence, child.leaf_index, child.leaf_hash)
    return child


# ------------------------------------------------------------------ proofs


def prove(reader: MapBlockReader, loan_key: bytes, version: int) -> LoanHeadProof | None:
    """The proof of a loan's head in the map of checkpoint size ``version``, or ``None``
    if the loan has no head there. Reads one stored node per radix-16 level.

    Preconditions: ``loan_key`` is 32 bytes and ``version`` is the size of a
    checkpoint that carries the map line (the caller checks both). Raises
    :class:`LoanMapError` if the stored nodes are malformed or missing.
    """
    per_block: list[list[bytes]] = []
    path = ""
    for depth in range(MAX_DEPTH // 4):
        body = reader.map_block(path, version)
        if body is None:
            if depth == 0:
                return None  # the empty map
            raise LoanMapError(f"the loan map node {path!r} at size {version} is not stored")
        node = decode_node(body)
        if isinstance(node, LoanHead):
            if depth:
                raise LoanMapError(f"the stored loan map node {path!r} is a leaf below the top")
            return LoanHeadProof(node, ()) if node.loan_key == loan_key else None
        nibble = key_nibble(loan_key, depth)
        per_block.append(block_siblings([_child_hash(c) for c in node], nibble))
        child = node[nibble]
        if child is None:
            return None
        if isinstance(child, LoanHead):
            if child.loan_key != loan_key:
                return None
            return LoanHeadProof(child, tuple(s for b in reversed(per_block) for s in b))
        path += _HEX[nibble]
    raise LoanMapError("the stored loan map is deeper than 64 levels")


# ------------------------------------------------------------------ the writer's map


class VersionedLoanMap:
    """The latest map, in memory, and the rows each batch must write."""

    def __init__(self) -> None:
        self._map = LoanMap()
        self._map.take_changed_paths()

    def root(self) -> bytes:
        return self._map.root()

    def __len__(self) -> int:
        return len(self._map)

    @classmethod
    def load(cls, store: LoanMapStore, size: int, note: str) -> VersionedLoanMap:
        """The map of the checkpoint of ``size`` (signed ``note``).

        With a map line: from the stored nodes of that version, checked against
        the line (:class:`LoanMapError` if they differ: the database is damaged).
        Without (the log predates the map): built from the leaves below ``size``;
        every node is then written with the next checkpoint.
        """
        root = map_root_of(note)
        m = cls()
        if root is None:
            log.warning("loan map: building it from the %d leaves of the log (one time)", size)
            for start in range(0, size, BUILD_PAGE):
                leaves = store.entries_range(start, min(size, start + BUILD_PAGE))
                m._map.update(h for i, leaf in leaves if (h := head_of_leaf(i, leaf)) is not None)
            return m  # every node stays "changed": all are written with the next checkpoint
        rows = store.map_blocks(size)
        try:
            m._map = LoanMap.from_nodes({path: decode_node(body) for path, body in rows})
        except LoanMapError as exc:
            raise LoanMapError(f"the stored loan map of size {size} is damaged: {exc}") from None
        if m.root() != root:
            raise LoanMapError(
                f"the stored loan map of size {size} has root {m.root().hex()}, its checkpoint "
                f"says {root.hex()}"
            )
        return m

    def apply(self, heads: Iterable[LoanHead], version: int) -> list[tuple[str, int, bytes]]:
        """Move the heads forward; return the rows ``(path, version, body)`` to write
        with the checkpoint of size ``version`` (whose map line is :meth:`root`)."""
        self._map.update(heads)
        return [(path, version, encode_node(node)) for path, node in self._map.take_changed_nodes()]

    def prove(self, loan_key: bytes) -> LoanHeadProof | None:
        """The proof of a loan's head in the latest map (tests)."""
        return self._map.prove(loan_key)
