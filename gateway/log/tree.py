"""The log's Merkle tree: appending leaves and building proofs from stored nodes.

Storage model
-------------
The log stores the hash of every *perfect* subtree as soon as it is complete.
A perfect subtree is a node ``(level, index)`` covering the ``2**level`` leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes.
Once written a node never changes, so the store is append-only like the log.
Appending leaf ``n`` completes node ``(0, n)`` and one more node per trailing
one bit of ``n`` (on average two nodes per leaf in total).

Any tree size's root, and every RFC 9162 inclusion and consistency proof, is
a function of O(log n) of those perfect nodes: non-perfect ("ephemeral")
subtrees on the right edge of a smaller tree are recomputed from the perfect
subtrees that cover them. Nothing here rehashes the leaves.

The planning functions (:func:`range_nodes`, :func:`inclusion_plan`,
:func:`consistency_plan`) are pure: they say which nodes to read and how to
combine them, so that a SQL store can fetch them in one query. The layout of
the proofs follows ``github.com/transparency-dev/merkle/proof``; they verify
with :mod:`court.verify.merkle`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from court.verify.rfc6962 import EMPTY_ROOT, HASH_SIZE, node_hash

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
    "inclusion_proofs",
    "range_nodes",
    "root_hash",
]

NodeID = tuple[int, int]
"""``(level, index)`` of a perfect subtree."""

Node = tuple[int, int, bytes]
"""``(level, index, hash)`` of a perfect subtree, as produced by appends."""

_NODE_PREFIX = b"\x01"


class MissingNodeError(LookupError):
    """A node a proof needs is not in the store (e.g. the size is beyond the log)."""


class NodeReader(Protocol):
    """Read access to the stored hashes of perfect subtrees."""

    def get_nodes(self, ids: Sequence[NodeID]) -> list[bytes]:
        """Return the hashes of the nodes ``ids``, in the same order.

        Raises :class:`MissingNodeError` if any of them is not stored.
        """
        ...


# ------------------------------------------------------------------ pure planning


def _check_size(name: str, value: int) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")


def range_nodes(begin: int, end: int) -> list[NodeID]:
    """Return the perfect subtrees that exactly cover the leaves ``[begin, end)``.

    This is the canonical (compact range) decomposition: left to right, each
    node as large as its alignment allows. For ``begin = 0`` there is one node
    per one bit of ``end``, largest first. Requires ``0 <= begin <= end``.
    """
    if begin < 0 or end < begin:
        raise ValueError(f"invalid leaf range [{begin}, {end})")
    out: list[NodeID] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        out.append((level, begin >> level))
        begin += 1 << level
    return out


def fold_root(hashes: Sequence[bytes]) -> bytes:
    """Combine the hashes of ``range_nodes(0, size)`` (left to right) into the root.

    The RFC 9162 tree hangs the smaller subtrees off the right edge, so the
    hashes are folded from the right. An empty sequence gives the empty root.
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


@dataclass(frozen=True, slots=True)
class ProofPlan:
    """Which stored nodes make up a proof, and how to turn them into it.

    ``ids`` are the perfect nodes to read, in proof order except that the
    slice ``ids[ephemeral_begin:ephemeral_end]`` (left to right, possibly
    empty) stands for a single proof hash: the ephemeral node on the right
    edge of the tree, the fold of those perfect subtrees.
    """

    ids: tuple[NodeID, ...]
    ephemeral_begin: int = 0
    ephemeral_end: int = 0

    def assemble(self, hashes: Sequence[bytes]) -> list[bytes]:
        """Turn the hashes of :attr:`ids` (same order) into the proof."""
        if len(hashes) != len(self.ids):
            raise ValueError(f"got {len(hashes)} node hashes for a plan of {len(self.ids)}")
        b, e = self.ephemeral_begin, self.ephemeral_end
        if e - b <= 1:
            return list(hashes)
        return [*hashes[:b], fold_root(hashes[b:e]), *hashes[e:]]


def _path_plan(index: int, level: int, size: int, seed: Sequence[NodeID] = ()) -> ProofPlan:
    """Plan the proof that node ``(level, index)`` is in the tree of ``size`` leaves.

    Requires the node to be complete within ``size``. Proof order: siblings
    on the path up to the *fork* (where the paths to the node and to leaf
    ``size`` diverge), then the ephemeral node right of the fork if any, then
    the perfect subtrees left of the fork, nearest first.
    """
    inner = _inner(index, level, size)
    tail = _tail_plan(index, level, inner, size)
    ids: list[NodeID] = list(seed)
    ids.extend((level + i, (index >> i) ^ 1) for i in range(inner))
    eph_begin = len(ids)
    ids.extend(tail.ids)
    return ProofPlan(tuple(ids), eph_begin + tail.ephemeral_begin, eph_begin + tail.ephemeral_end)


def _inner(index: int, level: int, size: int) -> int:
    """How many levels node ``(level, index)``'s path climbs before the fork."""
    return (index ^ (size >> level)).bit_length() - 1


def _tail_plan(index: int, level: int, inner: int, size: int) -> ProofPlan:
    """The part of a proof above the fork: the ephemeral node right of it (if any),
    then the perfect subtrees left of it, nearest first (see :func:`_path_plan`)."""
    fork_level = level + inner
    fork_index = index >> inner
    right = range_nodes((fork_index + 1) << fork_level, size)
    left = range_nodes(0, fork_index << fork_level)[::-1]
    return ProofPlan((*right, *left), 0, len(right))


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """Plan the inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

    Requires ``0 <= index < size``; raises :class:`ValueError` otherwise.
    """
    _check_size("index", index)
    _check_size("size", size)
    if index >= size:
        raise ValueError(f"leaf index {index} is beyond tree size {size}")
    return _path_plan(index, 0, size)


def consistency_plan(size1: int, size2: int) -> ProofPlan:
    """Plan the consistency proof from the tree of ``size1`` to that of ``size2``.

    Requires ``0 < size1 <= size2`` (a proof from the empty tree is meaningless
    and verifiers reject it); raises :class:`ValueError` otherwise. Equal sizes
    give the empty proof.
    """
    _check_size("size1", size1)
    _check_size("size2", size2)
    if size1 > size2:
        raise ValueError(f"size1 {size1} > size2 {size2}")
    if size1 == 0:
        raise ValueError("consistency proof from an empty tree is meaningless")
    if size1 == size2:
        return ProofPlan(())
    # The largest perfect subtree ending at size1; the proof is its hash followed
    # by its inclusion proof in the tree of size2. When size1 is a power of two
    # that subtree is the whole old tree, whose root the verifier already has.
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    seed: tuple[NodeID, ...] = () if index == 0 else ((level, index),)
    return _path_plan(index, level, size2, seed)


# ----------------------------------------------------------- proofs from a store


def inclusion_proof(reader: NodeReader, index: int, size: int) -> list[bytes]:
    """Build the RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size``.

    Requires ``0 <= index < size <= `` the number of leaves stored in
    ``reader``. One :meth:`NodeReader.get_nodes` call of O(log size) nodes.
    """
    plan = inclusion_plan(index, size)
    if not plan.ids:
        return []
    return plan.assemble(reader.get_nodes(plan.ids))


def inclusion_proofs(reader: NodeReader, indexes: Sequence[int], size: int) -> list[list[bytes]]:
    """The inclusion proofs of the leaves ``indexes`` in the tree of ``size``, in order:
    each the same as :func:`inclusion_proof`'s, from one :meth:`NodeReader.get_nodes`
    call of the union of their nodes.

    A proof is the siblings up to the fork with leaf ``size``, then what lies right
    and left of the fork; leaves sharing a fork share that part, which is planned,
    read and folded once (a dossier's thousands of proofs share most of it).
    """
    _check_size("size", size)
    paths: list[tuple[list[NodeID], tuple[int, int]]] = []
    forks: dict[tuple[int, int], ProofPlan] = {}
    for index in indexes:
        _check_size("index", index)
        if index >= size:
            raise ValueError(f"leaf index {index} is beyond tree size {size}")
        inner = _inner(index, 0, size)
        fork = (inner, index >> inner)
        if fork not in forks:
            forks[fork] = _tail_plan(index, 0, inner, size)
        paths.append(([(i, (index >> i) ^ 1) for i in range(inner)], fork))
    wanted = list(
        dict.fromkeys(
            [
                *(i for siblings, _ in paths for i in siblings),
                *(i for tail in forks.values() for i in tail.ids),
            ]
        )
    )
    if not wanted:
        return [[] for _ in paths]
    nodes = dict(zip(wanted, reader.get_nodes(wanted), strict=True))
    tails = {fork: tail.assemble([nodes[i] for i in tail.ids]) for fork, tail in forks.items()}
    return [[*(nodes[i] for i in siblings), *tails[fork]] for siblings, fork in paths]


def consistency_proof(reader: NodeReader, size1: int, size2: int) -> list[bytes]:
    """Build the RFC 9162 consistency proof between tree sizes ``size1`` and ``size2``.

    Requires ``0 < size1 <= size2 <= `` the number of leaves stored in
    ``reader``. One :meth:`NodeReader.get_nodes` call of O(log size2) nodes.
    """
    plan = consistency_plan(size1, size2)
    if not plan.ids:
        return []
    return plan.assemble(reader.get_nodes(plan.ids))


def root_hash(reader: NodeReader, size: int) -> bytes:
    """Return the root hash of the tree of the first ``size`` leaves.

    Requires ``0 <= size <=`` the number of leaves stored in ``reader``.
    """
    _check_size("size", size)
    ids = range_nodes(0, size)
    return fold_root(reader.get_nodes(ids) if ids else [])


# ---------------------------------------------------------------- appending


class CompactTree:
    """The right edge of the log: the perfect subtrees covering ``[0, size)``.

    It is all that is needed to append leaves and compute the current root.
    Appending returns every node that became complete, for the store.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Start from ``size`` leaves whose :func:`range_nodes` hashes are ``hashes``."""
        _check_size("size", size)
        if len(hashes) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} frontier hashes, got {len(hashes)}"
            )
        for h in hashes:
            if not isinstance(h, bytes) or len(h) != HASH_SIZE:
                raise ValueError("frontier hashes must be 32-byte bytes")
        self._size = size
        self._stack: list[bytes] = list(hashes)

    @classmethod
    def from_reader(cls, reader: NodeReader, size: int) -> CompactTree:
        """Load the frontier of the tree of ``size`` leaves (O(log size) reads)."""
        _check_size("size", size)
        ids = range_nodes(0, size)
        return cls(size, reader.get_nodes(ids) if ids else [])

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def frontier(self) -> list[Node]:
        """The perfect subtrees covering ``[0, size)``, left to right."""
        return [
            (lv, ix, h) for (lv, ix), h in zip(range_nodes(0, self._size), self._stack, strict=True)
        ]

    def root(self) -> bytes:
        """Root hash of the current tree (the empty root for size 0)."""
        return fold_root(self._stack)

    def append_leaves(self, leaf_hashes: Iterable[bytes]) -> list[Node]:
        """Append leaves (their 32-byte Merkle leaf hashes) in order.

        Returns the new perfect nodes as ``(level, index, hash)``: each leaf as
        ``(0, leaf_index, leaf_hash)`` followed by the interior nodes it
        completes. All-or-nothing: if a hash is malformed nothing is appended
        and :class:`ValueError` is raised.
        """
        out: list[Node] = []
        put = out.append
        stack = self._stack.copy()
        pop = stack.pop
        push = stack.append
        sha256 = hashlib.sha256
        prefix = _NODE_PREFIX
        size = self._size
        for h in leaf_hashes:
            if h.__class__ is not bytes or len(h) != HASH_SIZE:
                raise ValueError(f"leaf hash #{size - self._size} is not a 32-byte bytes value")
            idx = size
            put((0, idx, h))
            level = 0
            while idx & 1:
                h = sha256(prefix + pop() + h).digest()
                idx >>= 1
                level += 1
                put((level, idx, h))
            push(h)
            size += 1
        self._stack = stack
        self._size = size
        return out


# ------------------------------------------------------------------ in memory


class MemoryNodeStore:
    """An in-memory :class:`NodeReader`: the reference for the SQL node store.

    Nodes are write-once: storing a different hash under an existing
    ``(level, index)`` raises :class:`ValueError`, since it would rewrite history.
    """

    __slots__ = ("_nodes",)

    def __init__(self) -> None:
        self._nodes: dict[NodeID, bytes] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def put_nodes(self, nodes: Iterable[Node]) -> None:
        """Store nodes produced by :meth:`CompactTree.append_leaves`."""
        store = self._nodes
        new = {(level, index): h for level, index, h in nodes}
        for key in new.keys() & store.keys():
            if store[key] != new[key]:
                raise ValueError(f"node {key} is already stored with another hash")
        store.update(new)

    def get_nodes(self, ids: Sequence[NodeID]) -> list[bytes]:
        """Return the hashes of ``ids`` in order; :class:`MissingNodeError` if absent."""
        store = self._nodes
        try:
            return [store[i] for i in ids]
        except KeyError as exc:
            raise MissingNodeError(f"node {exc.args[0]} is not stored") from None
