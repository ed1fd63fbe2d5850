"""The log's tree: appends, stored nodes, roots and proofs from stored nodes.

Every root and proof is compared with the naive RFC 9162 reference and
checked with the court's verifier; proofs must be built from O(log n) stored
nodes read in one call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from court.verify.merkle import ProofError, verify_consistency, verify_inclusion
from court.verify.rfc6962 import EMPTY_ROOT, leaf_hash
from gateway.log.tree import (
    CompactTree,
    MemoryNodeStore,
    MissingNodeError,
    NodeID,
    consistency_plan,
    consistency_proof,
    inclusion_plan,
    inclusion_proof,
    inclusion_proofs,
    range_nodes,
    root_hash,
)
from tests.support import merkle_reference as ref

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "merkle"


def _leaves(n: int, salt: int = 0) -> list[bytes]:
    return [f"leaf {salt}/{i}".encode() * (i % 3) for i in range(n)]


def _build(
    leaves: Sequence[bytes], batches: Sequence[int] = ()
) -> tuple[CompactTree, MemoryNodeStore]:
    """Append ``leaves`` in batches of the given sizes (the rest in one batch)."""
    tree, store = CompactTree(), MemoryNodeStore()
    hashes = [leaf_hash(x) for x in leaves]
    pos = 0
    for b in batches:
        store.put_nodes(tree.append_leaves(hashes[pos : pos + b]))
        pos = min(pos + b, len(hashes))
    store.put_nodes(tree.append_leaves(hashes[pos:]))
    return tree, store


class CountingReader:
    """Wraps a store and records every get_nodes call."""

    def __init__(self, store: MemoryNodeStore) -> None:
        self.store = store
        self.calls: list[int] = []

    def get_nodes(self, ids: Sequence[NodeID]) -> list[bytes]:
        self.calls.append(len(ids))
        return self.store.get_nodes(ids)


def _max_nodes(size: int) -> int:
    return 2 * max(size, 1).bit_length() + 2


# ----------------------------------------------------------------- fixtures


def test_reference_tree_roots_at_every_size() -> None:
    data = json.loads((FIXTURES / "reference-tree-8-leaves.json").read_text(encoding="utf-8"))
    inputs = [bytes.fromhex(h) for h in data["leaf_inputs_hex"]]
    roots = {int(k): bytes.fromhex(v) for k, v in data["root_by_tree_size_hex"].items()}
    tree, store = CompactTree(), MemoryNodeStore()
    assert tree.root() == roots[0] == EMPTY_ROOT
    for i, x in enumerate(inputs):
        store.put_nodes(tree.append_leaves([leaf_hash(x)]))
        assert tree.root() == roots[i + 1]
    for size, root in roots.items():
        assert root_hash(store, size) == root


# ------------------------------------------------------- exhaustive, small


def test_all_proofs_of_small_trees_match_the_reference() -> None:
    n = 20
    leaves = _leaves(n)
    _, store = _build(leaves, batches=[1, 2, 3, 5])
    for size in range(n + 1):
        assert root_hash(store, size) == ref.mth(leaves[:size])
        for index in range(size):
            proof = inclusion_proof(store, index, size)
            assert proof == ref.path(index, leaves[:size]), (index, size)
        for size1 in range(1, size + 1):
            proof = consistency_proof(store, size1, size)
            assert proof == ref.proof(size1, leaves[:size]), (size1, size)


@pytest.mark.parametrize(("index", "size1", "size2"), [(5, 6, 13), (0, 1, 8), (12, 7, 13)])
def test_every_single_byte_change_fails(index: int, size1: int, size2: int) -> None:
    leaves = _leaves(size2)
    _, store = _build(leaves)
    lh, root1, root2 = leaf_hash(leaves[index]), root_hash(store, size1), root_hash(store, size2)
    incl = inclusion_proof(store, index, size2)
    cons = consistency_proof(store, size1, size2)
    verify_inclusion(index, size2, lh, incl, root2)
    verify_consistency(size1, size2, cons, root1, root2)

    def mutations(parts: list[bytes]) -> list[list[bytes]]:
        out = []
        for i, part in enumerate(parts):
            for pos in range(len(part)):
                changed = bytearray(part)
                changed[pos] ^= 0x01
                out.append([*parts[:i], bytes(changed), *parts[i + 1 :]])
        return out

    for p in mutations([*incl, root2, lh]):
        with pytest.raises(ProofError):
            verify_inclusion(index, size2, p[-1], p[:-2], p[-2])
    for p in mutations([*cons, root1, root2]):
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, p[:-2], p[-2], p[-1])


# ----------------------------------------------------- hypothesis properties


@st.composite
def _log(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    size = draw(st.integers(1, 300))
    batches = draw(st.lists(st.integers(0, 64), max_size=8))
    return _leaves(size, salt=draw(st.integers(0, 3))), batches


@settings(max_examples=100, deadline=None)
@given(_log(), st.data())
def test_inclusion_proofs_match_reference_verify_and_flips_fail(
    log: tuple[list[bytes], list[int]], data: st.DataObject
) -> None:
    leaves, batches = log
    tree, store = _build(leaves, batches)
    assert tree.size == len(leaves)
    assert tree.root() == ref.mth(leaves)
    for _ in range(3):
        size = data.draw(st.integers(1, len(leaves)), label="size")
        index = data.draw(st.integers(0, size - 1), label="index")
        reader = CountingReader(store)
        proof = inclusion_proof(reader, index, size)
        assert len(reader.calls) <= 1
        assert sum(reader.calls) <= _max_nodes(size)
        root = root_hash(store, size)
        assert root == ref.mth(leaves[:size])
        assert proof == ref.path(index, leaves[:size])
        lh = leaf_hash(leaves[index])
        verify_inclusion(index, size, lh, proof, root)

        parts = [*proof, root, lh]
        which = data.draw(st.integers(0, len(parts) - 1), label="which")
        pos = data.draw(st.integers(0, 31), label="byte")
        changed = bytearray(parts[which])
        changed[pos] ^= data.draw(st.integers(1, 255), label="xor")
        parts[which] = bytes(changed)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, parts[-1], parts[:-2], parts[-2])


@settings(max_examples=100, deadline=None)
@given(_log(), st.data())
def test_consistency_proofs_match_reference_verify_and_flips_fail(
    log: tuple[list[bytes], list[int]], data: st.DataObject
) -> None:
    leaves, batches = log
    _, store = _build(leaves, batches)
    for _ in range(3):
        size2 = data.draw(st.integers(1, len(leaves)), label="size2")
        size1 = data.draw(st.integers(1, size2), label="size1")
        reader = CountingReader(store)
        proof = consistency_proof(reader, size1, size2)
        assert len(reader.calls) <= 1
        assert sum(reader.calls) <= _max_nodes(size2)
        assert proof == ref.proof(size1, leaves[:size2])
        root1, root2 = root_hash(store, size1), root_hash(store, size2)
        assert (root1, root2) == (ref.mth(leaves[:size1]), ref.mth(leaves[:size2]))
        verify_consistency(size1, size2, proof, root1, root2)

        parts = [*proof, root1, root2]
        which = data.draw(st.integers(0, len(parts) - 1), label="which")
        pos = data.draw(st.integers(0, 31), label="byte")
        changed = bytearray(parts[which])
        changed[pos] ^= data.draw(st.integers(1, 255), label="xor")
        parts[which] = bytes(changed)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, parts[:-2], parts[-2], parts[-1])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 200), st.lists(st.integers(0, 50), max_size=6))
def test_appends_store_every_perfect_subtree_once(size: int, batches: list[int]) -> None:
    leaves = _leaves(size)
    hashes = [leaf_hash(x) for x in leaves]
    tree = CompactTree()
    produced = []
    pos = 0
    for b in [*batches, size]:
        produced += tree.append_leaves(hashes[pos : pos + b])
        pos = min(pos + b, size)
    ids = [(lv, ix) for lv, ix, _ in produced]
    assert len(ids) == len(set(ids)) == 2 * size - size.bit_count()
    for level, index, h in produced:
        start = index << level
        assert start + (1 << level) <= size
        assert h == ref.mth(leaves[start : start + (1 << level)])
    # The frontier is exactly the range decomposition of [0, size).
    assert [(lv, ix) for lv, ix, _ in tree.frontier()] == range_nodes(0, size)


# ------------------------------------------------------------ compact tree


def test_resume_from_store_gives_the_same_tree() -> None:
    leaves = _leaves(77)
    full, full_store = _build(leaves)
    part, store = _build(leaves[:45])
    resumed = CompactTree.from_reader(store, 45)
    assert resumed.root() == part.root() == ref.mth(leaves[:45])
    store.put_nodes(resumed.append_leaves([leaf_hash(x) for x in leaves[45:]]))
    assert resumed.root() == full.root()
    assert len(store) == len(full_store)
    assert CompactTree.from_reader(store, 0).root() == EMPTY_ROOT


def test_append_is_all_or_nothing() -> None:
    tree = CompactTree()
    tree.append_leaves([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])
    before = (tree.size, tree.root())
    with pytest.raises(ValueError, match="32-byte"):
        tree.append_leaves([leaf_hash(b"d"), b"short"])
    with pytest.raises(ValueError):
        tree.append_leaves(["not bytes" * 4])  # type: ignore[list-item]
    assert (tree.size, tree.root()) == before
    assert tree.append_leaves([]) == []


def test_compact_tree_constructor_checks_the_frontier() -> None:
    with pytest.raises(ValueError):
        CompactTree(3, [b"x" * 32])
    with pytest.raises(ValueError):
        CompactTree(1, [b"x" * 31])
    with pytest.raises(ValueError):
        CompactTree(-1)
    assert CompactTree(1, [b"x" * 32]).root() == b"x" * 32


# ------------------------------------------------------------------- store


def test_memory_store_is_write_once() -> None:
    store = MemoryNodeStore()
    store.put_nodes([(0, 0, b"a" * 32)])
    store.put_nodes([(0, 0, b"a" * 32)])  # idempotent re-put is fine
    with pytest.raises(ValueError, match="already stored"):
        store.put_nodes([(0, 0, b"b" * 32)])
    assert store.get_nodes([(0, 0)]) == [b"a" * 32]


def test_sizes_beyond_the_store_are_missing_nodes() -> None:
    _, store = _build(_leaves(10))
    with pytest.raises(MissingNodeError):
        root_hash(store, 11)
    with pytest.raises(MissingNodeError):
        inclusion_proof(store, 3, 12)
    with pytest.raises(MissingNodeError):
        consistency_proof(store, 3, 16)


# ---------------------------------------------------------- preconditions


def test_preconditions_raise_value_error() -> None:
    with pytest.raises(ValueError, match="beyond"):
        inclusion_plan(5, 5)
    with pytest.raises(ValueError):
        inclusion_plan(-1, 5)
    with pytest.raises(ValueError, match="empty tree"):
        consistency_plan(0, 5)
    with pytest.raises(ValueError, match="size1"):
        consistency_plan(6, 5)
    with pytest.raises(ValueError):
        range_nodes(5, 4)
    assert consistency_plan(7, 7).ids == ()
    _, store = _build(_leaves(4))
    assert consistency_proof(store, 4, 4) == []


# ------------------------------------------------------------- O(log n)


@pytest.mark.parametrize("size", [1, 2, 3, 1000, 2**20 + 1, 2**40 - 1, 2**63 + 12345, 2**64 - 1])
def test_plans_are_logarithmic_at_any_size(size: int) -> None:
    bound = _max_nodes(size)
    for index in {0, size // 3, size // 2, size - 1}:
        ids = inclusion_plan(index, size).ids
        assert len(ids) <= bound
        assert all((ix + 1) << lv <= size for lv, ix in ids)  # only complete nodes
    for size1 in {1, max(1, size // 3), size - 1 or 1, size}:
        ids = consistency_plan(size1, size).ids
        assert len(ids) <= bound
        assert all((ix + 1) << lv <= size for lv, ix in ids)
    assert len(range_nodes(0, size)) == size.bit_count()


def test_proof_for_a_large_tree_reads_few_nodes() -> None:
    _, store = _build(_leaves(5000))
    reader = CountingReader(store)
    proof = inclusion_proof(reader, 1234, 4999)
    assert len(reader.calls) == 1 and reader.calls[0] <= _max_nodes(4999)
    verify_inclusion(1234, 4999, leaf_hash(_leaves(5000)[1234]), proof, root_hash(store, 4999))
    reader.calls.clear()
    proof = consistency_proof(reader, 777, 4999)
    assert len(reader.calls) == 1 and reader.calls[0] <= _max_nodes(4999)
    verify_consistency(777, 4999, proof, root_hash(store, 777), root_hash(store, 4999))


# ------------------------------------------------------------ batched proofs


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 300), picks=st.lists(st.integers(0, 10**6), max_size=40))
def test_batched_inclusion_proofs_equal_the_single_ones_from_one_read(
    size: int, picks: list[int]
) -> None:
    _, store = _build(_leaves(300))
    indexes = [p % size for p in picks]
    reader = CountingReader(store)
    proofs = inclusion_proofs(reader, indexes, size)
    assert proofs == [inclusion_proof(store, i, size) for i in indexes]
    assert len(reader.calls) == (1 if any(inclusion_plan(i, size).ids for i in indexes) else 0)


def test_batched_inclusion_proofs_check_their_arguments() -> None:
    _, store = _build(_leaves(10))
    with pytest.raises(ValueError, match="beyond"):
        inclusion_proofs(store, [3, 10], 10)
    with pytest.raises(ValueError):
        inclusion_proofs(store, [-1], 10)
    with pytest.raises(MissingNodeError):
        inclusion_proofs(store, [3], 12)
    assert inclusion_proofs(store, [], 10) == []
