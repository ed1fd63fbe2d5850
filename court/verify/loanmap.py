"""The loan map: a sparse Merkle tree from each loan's opaque key to the loan's head.

Every checkpoint written once the map exists carries the extension line
``loan-map/v1 <base64 root>``. The map at checkpoint size ``S`` holds, for every
loan key of a version 2 leaf with index ``< S``, the loan's head: the leaf of that
loan with the highest index, as ``(loan_sequence, leaf_index, leaf_hash)``. It is
a function of the log's leaves, so anyone replaying them recomputes the root
(:class:`LoanMap`), and a proof of a loan's head against the root shows that
no later record of that loan exists in the tree of ``S`` leaves.

Hashing (SHA-256, domain-separated tags)::

    EMPTY     = 32 zero bytes                         (a subtree without keys)
    leaf      = SHA-256("court-evidence/v1/loan-map-leaf" || 0x00 || loan_key(32)
                        || u64be(loan_sequence) || u64be(leaf_index) || leaf_hash(32))
    node(l,r) = EMPTY if l == r == EMPTY
                else SHA-256("court-evidence/v1/loan-map-node" || 0x00 || l || r)

Shape: a binary tree over the bits of the key, most significant bit of byte 0
first. A key's map leaf sits at depth ``d``, the smallest multiple of 4 such
that no other key in the map shares its first ``d`` bits (so ``d <= 256``);
below a shared prefix the tree is binary, a subtree without keys is EMPTY.
The map of one key is that key's leaf hash; the empty map's root is EMPTY.
Because depths are nibble-aligned the tree can be stored as radix-16 blocks
(:func:`block_hash`, :func:`block_siblings`), while proofs stay binary.

A proof (:class:`LoanHeadProof`) is the head and its ``d`` sibling hashes from
the leaf's sibling up to the root's children; ``d % 4 == 0``, ``d <= 256``.
Verification folds from the leaf hash upwards using key bit ``d - 1`` first.
Every function here is pure and bounded: a proof costs at most 257 hashes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from court.errors import CourtError
from court.evidence.fields import LeafError
from court.evidence.leaf import LEAF_VERSION, LEAF_VERSION_1, read_version
from court.evidence.leaf_v2 import decode_public_leaf
from court.verify.checkpoint import (
    Checkpoint,
    CheckpointError,
    parse_checkpoint,
    parse_checkpoint_body,
)
from court.verify.rfc6962 import leaf_hash as rfc6962_leaf_hash

__all__ = [
    "EMPTY",
    "KEY_SIZE",
    "MAP_LINE_PREFIX",
    "MAX_DEPTH",
    "LoanHead",
    "LoanHeadProof",
    "LoanMap",
    "LoanMapError",
    "block_hash",
    "block_siblings",
    "format_map_line",
    "head_of_leaf",
    "key_nibble",
    "map_leaf_hash",
    "map_node_hash",
    "map_root_of",
    "root_from_proof",
    "verify_loan_head",
]

EMPTY: Final = bytes(32)
"""The hash of a subtree without keys, and the root of the empty map."""
KEY_SIZE: Final = 32
MAX_DEPTH: Final = 256
"""A proof has at most this many siblings (the key's bit length)."""
MAP_LINE_PREFIX: Final = "loan-map/v1 "
"""The checkpoint extension line carrying the map root starts with this."""

_LEAF_TAG: Final = b"court-evidence/v1/loan-map-leaf\x00"
_NODE_TAG: Final = b"court-evidence/v1/loan-map-node\x00"
_HASH_SIZE: Final = 32
_MAX_UINT64: Final = (1 << 64) - 1
_NIBBLES: Final = 2 * KEY_SIZE  # 64: the deepest leaf sits below 64 nibbles
_MAP_LINE_FAMILY: Final = "loan-map/v1"


class LoanMapError(CourtError):
    """A loan map value, proof or checkpoint line is malformed or does not verify."""


# ------------------------------------------------------------------ data types


@dataclass(frozen=True, slots=True)
class LoanHead:
    """A loan's head: its last record in the log (sequence, leaf index, RFC 9162 leaf hash).

    ``loan_key`` and ``leaf_hash`` are 32 bytes, ``1 <= loan_sequence < 2**64``,
    ``0 <= leaf_index < 2**64`` (checked by :func:`map_leaf_hash`).
    """

    loan_key: bytes
    loan_sequence: int
    leaf_index: int
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class LoanHeadProof:
    """A loan's head and the sibling hashes from its map leaf up to the root.

    ``siblings`` are bottom-up (the leaf's sibling first); each is 32 bytes, or
    empty bytes standing for :data:`EMPTY` (as protobuf carries it).
    """

    head: LoanHead
    siblings: tuple[bytes, ...]


# ------------------------------------------------------------------ hashing


def _check_hash(what: str, value: object) -> bytes:
    if not isinstance(value, bytes):
        raise LoanMapError(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != _HASH_SIZE:
        raise LoanMapError(f"{what} is {len(value)} bytes long, want {_HASH_SIZE}")
    return value


def _check_uint64(what: str, value: object, minimum: int = 0) -> int:
    if type(value) is not int:
        raise LoanMapError(f"{what} must be an int, got {type(value).__name__}")
    if value < minimum or value > _MAX_UINT64:
        shown = str(value) if value.bit_length() <= 64 else f"of {value.bit_length()} bits"
        raise LoanMapError(f"{what} {shown} is outside {minimum}..2^64-1")
    return value


def map_leaf_hash(loan_key: bytes, loan_sequence: int, leaf_index: int, leaf_hash: bytes) -> bytes:
    """The map leaf hash of a loan's head.

    Preconditions (each violation raises :class:`LoanMapError` naming the value):
    ``loan_key`` and ``leaf_hash`` are 32 bytes, ``1 <= loan_sequence < 2**64``,
    ``0 <= leaf_index < 2**64``.
    """
    key = _check_hash("loan key", loan_key)
    seq = _check_uint64("loan sequence", loan_sequence, 1)
    index = _check_uint64("leaf index", leaf_index)
    lh = _check_hash("leaf hash", leaf_hash)
    return hashlib.sha256(
        _LEAF_TAG + key + seq.to_bytes(8, "big") + index.to_bytes(8, "big") + lh
    ).digest()


def _head_hash(head: LoanHead) -> bytes:
    if not isinstance(head, LoanHead):
        raise LoanMapError(f"a loan head must be a LoanHead, got {type(head).__name__}")
    return map_leaf_hash(head.loan_key, head.loan_sequence, head.leaf_index, head.leaf_hash)


def map_node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node; EMPTY when both children are EMPTY.

    Preconditions: both are 32 bytes (not checked here: the callers hold hashes
    they computed or checked).
    """
    if left == EMPTY and right == EMPTY:
        return EMPTY
    return hashlib.sha256(_NODE_TAG + left + right).digest()


def key_nibble(loan_key: bytes, depth: int) -> int:
    """Nibble ``depth`` (0..63) of a 32-byte key, most significant nibble of byte 0 first."""
    byte = loan_key[depth >> 1]
    return byte & 0x0F if depth & 1 else byte >> 4


def _check_block(children: Sequence[bytes]) -> None:
    if len(children) != 16:
        raise LoanMapError(f"a map block has 16 children, got {len(children)}")


def block_hash(children: Sequence[bytes]) -> bytes:
    """The hash of a radix-16 block: the 4-level binary subtree over its 16 child hashes.

    ``children[n]`` is the hash of the subtree below nibble ``n`` (EMPTY if it
    has no keys), each 32 bytes. At most 15 hashes.
    """
    _check_block(children)
    sha256 = hashlib.sha256
    level = list(children)
    while len(level) > 1:
        it = iter(level)
        level = [
            EMPTY if left == EMPTY and right == EMPTY else sha256(_NODE_TAG + left + right).digest()
            for left, right in zip(it, it, strict=True)
        ]
    return level[0]


def block_siblings(children: Sequence[bytes], nibble: int) -> list[bytes]:
    """The 4 sibling hashes, bottom-up, of child ``nibble`` inside a block of 16 children."""
    _check_block(children)
    if not 0 <= nibble < 16:
        raise LoanMapError(f"nibble {nibble} is outside 0..15")
    out: list[bytes] = []
    level = list(children)
    pos = nibble
    while len(level) > 1:
        out.append(level[pos ^ 1])
        level = [map_node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        pos >>= 1
    return out


# ------------------------------------------------------------------ proofs


def root_from_proof(proof: LoanHeadProof) -> bytes:
    """The map root that ``proof`` implies.

    Preconditions (each violation raises :class:`LoanMapError` naming it): the
    head's values as for :func:`map_leaf_hash`; ``siblings`` is a tuple or list
    of at most 256 values, a multiple of 4 of them, each 32 bytes or empty
    (EMPTY). Work is bounded: the length is checked before any hashing.
    """
    if not isinstance(proof, LoanHeadProof):
        raise LoanMapError(f"a loan head proof must be a LoanHeadProof, got {type(proof).__name__}")
    siblings = proof.siblings
    if not isinstance(siblings, tuple | list):
        raise LoanMapError("loan head proof siblings must be a sequence of hashes")
    depth = len(siblings)
    if depth > MAX_DEPTH:
        raise LoanMapError(f"loan head proof has {depth} siblings, more than {MAX_DEPTH}")
    if depth % 4:
        raise LoanMapError(
            f"loan head proof has {depth} siblings, not a multiple of 4 (leaves sit at "
            "nibble-aligned depths)"
        )
    hashes: list[bytes] = []
    for i, s in enumerate(siblings):
        if not isinstance(s, bytes):
            raise LoanMapError(
                f"loan head proof sibling #{i} must be bytes, got {type(s).__name__}"
            )
        if len(s) not in (0, _HASH_SIZE):
            raise LoanMapError(
                f"loan head proof sibling #{i} is {len(s)} bytes long, want 32 (or 0 for EMPTY)"
            )
        hashes.append(s or EMPTY)
    h = _head_hash(proof.head)
    key = int.from_bytes(proof.head.loan_key, "big")
    for i, s in enumerate(hashes):
        bit = (key >> (MAX_DEPTH - depth + i)) & 1  # key bit number depth-1-i from the top
        h = map_node_hash(s, h) if bit else map_node_hash(h, s)
    return h


def verify_loan_head(proof: LoanHeadProof, root: bytes) -> None:
    """Check that ``proof``'s head is the head of its loan in the map with ``root``.

    Same preconditions as :func:`root_from_proof`; ``root`` is 32 bytes. Returns
    ``None`` or raises :class:`LoanMapError`.
    """
    want = _check_hash("map root", root)
    got = root_from_proof(proof)
    if got != want:
        raise LoanMapError(
            f"Loan head proof does not match the map root: the proof of loan key "
            f"{proof.head.loan_key.hex()} leads to {got.hex()}, the checkpoint's map root is "
            f"{want.hex()}"
        )


# ------------------------------------------------------------ checkpoint line


def format_map_line(root: bytes) -> str:
    """The checkpoint extension line ``loan-map/v1 <base64 of the 32-byte root>``."""
    _check_hash("map root", root)
    return MAP_LINE_PREFIX + base64.b64encode(root).decode("ascii")


def map_root_of(checkpoint: Checkpoint | str | bytes) -> bytes | None:
    """The map root a checkpoint carries, or ``None`` if it has no ``loan-map/v1`` line.

    ``checkpoint`` is a parsed :class:`Checkpoint`, a signed checkpoint note, or
    a checkpoint body (the signed text). No signature is checked here. Raises
    :class:`LoanMapError` for an unparseable checkpoint, more than one map line,
    or a line that is not exactly the prefix and canonical base64 of 32 bytes.
    """
    if isinstance(checkpoint, Checkpoint):
        extensions = checkpoint.extensions
    elif isinstance(checkpoint, str | bytes):
        try:
            text = checkpoint.decode("utf-8") if isinstance(checkpoint, bytes) else checkpoint
            if "\n\n" in text:
                extensions = parse_checkpoint(text).extensions
            else:
                extensions = parse_checkpoint_body(text)[3]
        except (UnicodeDecodeError, CheckpointError) as exc:
            raise LoanMapError(f"checkpoint is malformed: {exc}") from None
    else:
        raise LoanMapError(f"checkpoint must be a Checkpoint, str or bytes, not {type(checkpoint)}")
    lines = [e for e in extensions if e.startswith(_MAP_LINE_FAMILY)]
    if not lines:
        return None
    if len(lines) > 1:
        raise LoanMapError(f"checkpoint has {len(lines)} loan-map/v1 lines, want at most one")
    line = lines[0]
    if not line.startswith(MAP_LINE_PREFIX):
        raise LoanMapError("checkpoint's loan-map/v1 line has no single space before the root")
    b64 = line[len(MAP_LINE_PREFIX) :]
    try:
        root = base64.b64decode(b64.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise LoanMapError("checkpoint's loan-map/v1 root is not valid base64") from None
    if base64.b64encode(root).decode("ascii") != b64:
        raise LoanMapError("checkpoint's loan-map/v1 root is not canonical base64")
    if len(root) != _HASH_SIZE:
        raise LoanMapError(f"checkpoint's loan-map/v1 root is {len(root)} bytes, want 32")
    return root


# ------------------------------------------------------------ log leaves


def head_of_leaf(leaf_index: int, leaf: bytes) -> LoanHead | None:
    """The loan head that leaf ``leaf_index`` makes: ``None`` for a version 1 leaf.

    Raises :class:`LoanMapError` for an index outside 0..2^64-1 or a leaf that is
    not a canonical leaf of a known version.
    """
    index = _check_uint64("leaf index", leaf_index)
    try:
        version, _ = read_version(leaf)
        if version == LEAF_VERSION_1:
            return None
        if version != LEAF_VERSION:
            raise LeafError("leaf version is not supported (only 1 and 2)")
        public = decode_public_leaf(leaf)
    except LeafError as exc:
        raise LoanMapError(f"leaf {index} is not a canonical evidence leaf: {exc}") from None
    return LoanHead(public.loan_key, public.loan_sequence, index, rfc6962_leaf_hash(bytes(leaf)))


# ------------------------------------------------------------ in-memory map


class _Block:
    """A radix-16 block: a key prefix shared by at least two keys of the map.

    ``hashes`` is the block's 4-level binary subtree as a heap: ``hashes[16 + n]``
    is child ``n``'s hash, ``hashes[i]`` for ``1 <= i < 16`` the node over
    ``hashes[2i]`` and ``hashes[2i + 1]``, ``hashes[1]`` the block's hash
    (``hashes[0]`` is unused). ``dirty`` holds the nibbles of the children
    changed since the hashes were computed: :func:`_hash_of` recomputes only
    their paths (4 hashes for one changed child, at most 15 for all of them).
    """

    __slots__ = ("children", "dirty", "hashes")

    def __init__(self) -> None:
        self.children: list[_Leaf | _Block | None] = [None] * 16
        self.hashes: list[bytes] = [EMPTY] * 32
        self.dirty: set[int] = set()


class _Leaf:
    __slots__ = ("hash", "head")

    def __init__(self, head: LoanHead) -> None:
        self.head = head
        self.hash = _head_hash(head)


def _hash_of(node: _Leaf | _Block | None) -> bytes:
    if node is None:
        return EMPTY
    if isinstance(node, _Leaf):
        return node.hash
    if node.dirty:
        _rehash(node)
    return node.hashes[1]


def _rehash(block: _Block) -> None:
    """Bring ``block.hashes`` up to date: the paths of its dirty children only."""
    h = block.hashes
    children = block.children
    need = [False] * 16  # the inner positions (1..15) above a dirty child
    for n in block.dirty:
        h[16 + n] = _hash_of(children[n])
        i = (16 + n) >> 1
        while i and not need[i]:
            need[i] = True
            i >>= 1
    block.dirty = set()
    sha256 = hashlib.sha256
    tag = _NODE_TAG
    for i in range(15, 0, -1):  # children (2i, 2i + 1) before their parent i
        if need[i]:
            left = h[2 * i]
            right = h[2 * i + 1]
            h[i] = (
                EMPTY if left == EMPTY and right == EMPTY else sha256(tag + left + right).digest()
            )


def _view(node: _Leaf | _Block) -> LoanHead | tuple[bytes | LoanHead | None, ...]:
    """A node as :meth:`LoanMap.node_at` gives it."""
    if isinstance(node, _Leaf):
        return node.head
    _hash_of(node)  # brings the children's hashes (hashes[16:]) up to date
    h = node.hashes
    return tuple(
        None if c is None else c.head if isinstance(c, _Leaf) else h[16 + n]
        for n, c in enumerate(node.children)
    )


class LoanMap:
    """The map held in memory: replay of a log (``audit-log``), tests, and the gateway's
    latest state.

    :meth:`update` takes heads in log order; a head whose leaf index is not
    above the loan's current head is refused (:class:`LoanMapError`). Each
    update costs one leaf hash and, at :meth:`root`, 4 hashes in each radix-16
    block on its path (about ``log16(loans) + 1`` blocks; a block keeps its inner
    hashes, and changed children share their common ancestors).
    """

    def __init__(self) -> None:
        self._top: _Leaf | _Block | None = None
        self._count = 0
        self._changed: dict[str, _Leaf | _Block] = {}  # path -> the node there now

    def __len__(self) -> int:
        """The number of loans in the map."""
        return self._count

    @classmethod
    def from_nodes(
        cls, nodes: Mapping[str, LoanHead | tuple[bytes | LoanHead | None, ...]]
    ) -> LoanMap:
        """The map whose nodes, as :meth:`node_at` gives them, are ``nodes`` (by path).

        For the gateway's start from its stored nodes: one leaf hash per head and
        at most 15 node hashes per block, no re-insertion. Every node is checked:
        each block's hash must be the hash its parent holds for it, each head's
        key must start with its path, every node must be reachable from the top
        (:class:`LoanMapError` otherwise). The caller compares :meth:`root` with
        the root it trusts; equal roots mean the nodes are the map's nodes.
        """
        m = cls()
        if not nodes:
            return m
        top = nodes.get("")
        if top is None:
            raise LoanMapError("the loan map's nodes have no top (path '')")
        seen = 0

        def build(path: str, node: LoanHead | tuple[bytes | LoanHead | None, ...]) -> _Block:
            nonlocal seen
            seen += 1
            if isinstance(node, LoanHead) or len(node) != 16:
                raise LoanMapError(f"the loan map node {path!r} is not a block of 16 children")
            block = _Block()
            for n, child in enumerate(node):
                if child is None:
                    continue
                below = path + "0123456789abcdef"[n]
                if isinstance(child, LoanHead):
                    if not child.loan_key.hex().startswith(below):
                        raise LoanMapError(
                            f"the loan map node {path!r} holds loan key "
                            f"{child.loan_key.hex()} under nibble {n}"
                        )
                    leaf = _Leaf(child)
                    m._count += 1
                    block.children[n] = leaf
                    continue
                sub = nodes.get(below)
                if sub is None:
                    raise LoanMapError(f"the loan map node {below!r} is missing")
                inner = build(below, sub)
                if inner.hashes[1] != child:
                    raise LoanMapError(
                        f"the loan map node {below!r} is not the node its parent holds "
                        f"(hash {inner.hashes[1].hex()}, the parent says {child.hex()})"
                    )
                block.children[n] = inner
            block.dirty = set(range(16))
            _hash_of(block)  # every hash of the block, from its children's
            return block

        if isinstance(top, LoanHead):
            m._top = _Leaf(top)
            m._count = 1
            seen = 1
        else:
            m._top = build("", top)
        if seen != len(nodes):
            raise LoanMapError(
                f"{len(nodes) - seen} of the loan map's {len(nodes)} nodes are not below its top"
            )
        return m

    def update(self, heads: Iterable[LoanHead]) -> None:
        """Set each head as its loan's head (in order; a later leaf index wins)."""
        for head in heads:
            leaf = _Leaf(head)  # checks the head's values
            self._top = self._insert(self._top, 0, leaf, "")

    def _insert(
        self, node: _Leaf | _Block | None, depth: int, leaf: _Leaf, path: str
    ) -> _Leaf | _Block:
        key = leaf.head.loan_key
        if node is None:
            self._count += 1
            if not path:
                self._changed[path] = leaf
            return leaf
        if isinstance(node, _Leaf):
            old = node.head
            if old.loan_key == key:
                if leaf.head.leaf_index <= old.leaf_index:
                    raise LoanMapError(
                        f"head of loan key {key.hex()} at leaf {leaf.head.leaf_index} is not "
                        f"after its current head at leaf {old.leaf_index}"
                    )
                if not path:
                    self._changed[path] = leaf
                return leaf
            # Two keys share this prefix: a block here, both keys one nibble deeper.
            block = _Block()
            old_nib = key_nibble(old.loan_key, depth)
            block.children[old_nib] = node
            block.dirty.add(old_nib)
            node = block
        self._changed[path] = node
        nib = key_nibble(key, depth)
        node.children[nib] = self._insert(
            node.children[nib], depth + 1, leaf, path + "0123456789abcdef"[nib]
        )
        node.dirty.add(nib)
        return node

    def root(self) -> bytes:
        """The map root (EMPTY for the empty map)."""
        return _hash_of(self._top)

    def head(self, loan_key: bytes) -> LoanHead | None:
        """The current head of a loan, or ``None``."""
        node = self._top
        depth = 0
        while isinstance(node, _Block):
            node = node.children[key_nibble(loan_key, depth)]
            depth += 1
        if node is not None and node.head.loan_key == loan_key:
            return node.head
        return None

    def prove(self, loan_key: bytes) -> LoanHeadProof | None:
        """The proof of a loan's head against :meth:`root`, or ``None`` if it has none."""
        _check_hash("loan key", loan_key)
        node = self._top
        per_block: list[list[bytes]] = []
        depth = 0
        while isinstance(node, _Block):
            nib = key_nibble(loan_key, depth)
            _hash_of(node)
            h = node.hashes
            pos = 16 + nib
            per_block.append([h[pos ^ 1], h[pos >> 1 ^ 1], h[pos >> 2 ^ 1], h[pos >> 3 ^ 1]])
            node = node.children[nib]
            depth += 1
        if node is None or node.head.loan_key != loan_key:
            return None
        siblings = [s for block in reversed(per_block) for s in block]
        return LoanHeadProof(node.head, tuple(siblings))

    def node_at(self, path: str) -> LoanHead | tuple[bytes | LoanHead | None, ...] | None:
        """What sits at a nibble path (lowercase hex, ``""`` the top): ``None``, a loan's
        head, or a block's 16 children, each a block's hash, a head or ``None``.

        The gateway stores these per version (:mod:`gateway.log.loanmap`).
        """
        node = self._top
        for ch in path:
            if not isinstance(node, _Block):
                return None
            node = node.children[int(ch, 16)]
        return None if node is None else _view(node)

    def take_changed_paths(self) -> list[str]:
        """The paths of the blocks (and the top, ``""``) changed since the last call,
        shortest first, and forget them. A head below the top lives in its parent block,
        so a change to it changes that block."""
        return [path for path, _ in self.take_changed_nodes()]

    def take_changed_nodes(
        self,
    ) -> list[tuple[str, LoanHead | tuple[bytes | LoanHead | None, ...]]]:
        """:meth:`take_changed_paths` with each path's node as :meth:`node_at` gives it."""
        changed = self._changed
        self._changed = {}
        return [(p, _view(changed[p])) for p in sorted(changed, key=lambda p: (len(p), p))]
