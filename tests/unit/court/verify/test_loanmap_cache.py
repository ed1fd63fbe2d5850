"""The loan map's cached hashes and its rebuild from nodes (court.verify.loanmap).

A block keeps the hashes inside its 4-level subtree and recomputes only the
paths of changed children; here, after random batches (with roots taken only
now and then, so several batches' changes pile up), every block's hash that
the map holds must equal one recomputed from scratch from the heads, and
:meth:`LoanMap.from_nodes` must give back the same map, which then moves on
exactly as the original does. Damaged node sets are refused, naming the node.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from court.verify.loanmap import (
    EMPTY,
    LoanHead,
    LoanMap,
    LoanMapError,
    block_hash,
    map_leaf_hash,
    verify_loan_head,
)

_PREFIXES = [b"", b"\xab", b"\xab\xcd", b"\x00" * 31]
_HEX = "0123456789abcdef"

Node = LoanHead | tuple[bytes | LoanHead | None, ...]


@st.composite
def _keys(draw: st.DrawFn) -> bytes:
    prefix = draw(st.sampled_from(_PREFIXES))
    return prefix + draw(st.binary(min_size=32 - len(prefix), max_size=32 - len(prefix)))


def _leaf(h: LoanHead) -> bytes:
    return map_leaf_hash(h.loan_key, h.loan_sequence, h.leaf_index, h.leaf_hash)


def _fresh_hash(m: LoanMap, path: str) -> bytes:
    """The hash of the node at ``path``, recomputed from the heads below it; asserts on
    the way that every block child hash the map holds equals the recomputed one."""
    node = m.node_at(path)
    if node is None:
        return EMPTY
    if isinstance(node, LoanHead):
        return _leaf(node)
    children = []
    for n, child in enumerate(node):
        if child is None:
            children.append(EMPTY)
        elif isinstance(child, LoanHead):
            children.append(_leaf(child))
        else:
            fresh = _fresh_hash(m, path + _HEX[n])
            assert child == fresh, f"cached hash of block {path + _HEX[n]!r} is stale"
            children.append(fresh)
    return block_hash(children)


def _all_nodes(m: LoanMap) -> dict[str, Node]:
    out: dict[str, Node] = {}
    todo = [""]
    while todo:
        path = todo.pop()
        node = m.node_at(path)
        if node is None:
            continue
        out[path] = node
        if isinstance(node, tuple):
            todo += [path + _HEX[n] for n, c in enumerate(node) if isinstance(c, bytes)]
    return out


def _heads(batches: list[list[bytes]]) -> list[list[LoanHead]]:
    seq: dict[bytes, int] = {}
    out = []
    index = 0
    for batch in batches:
        heads = []
        for key in batch:
            seq[key] = seq.get(key, 0) + 1
            heads.append(
                LoanHead(key, seq[key], index, hashlib.sha256(index.to_bytes(8, "big")).digest())
            )
            index += 1
        out.append(heads)
    return out


@settings(max_examples=120, deadline=None)
@given(
    batches=st.lists(st.lists(_keys(), min_size=0, max_size=20), min_size=1, max_size=6),
    looks=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_cached_hashes_equal_a_recomputation(batches: list[list[bytes]], looks: list[bool]) -> None:
    m = LoanMap()
    for heads, look in zip(_heads(batches), looks, strict=False):
        m.update(heads)
        if look:  # otherwise the changes of several batches pile up before a root
            assert m.root() == _fresh_hash(m, "")
    assert m.root() == _fresh_hash(m, "")


@settings(max_examples=80, deadline=None)
@given(
    first=st.lists(_keys(), min_size=0, max_size=30),
    then=st.lists(_keys(), min_size=1, max_size=15),
)
def test_from_nodes_rebuilds_the_same_map(first: list[bytes], then: list[bytes]) -> None:
    before, after = _heads([first, then])
    m = LoanMap()
    m.update(before)
    loaded = LoanMap.from_nodes(_all_nodes(m))
    assert loaded.root() == m.root() and len(loaded) == len(m)
    assert loaded.take_changed_paths() == []  # nothing to write again
    for h in before:
        assert loaded.prove(h.loan_key) == m.prove(h.loan_key)
    m.update(after)
    loaded.update(after)
    assert loaded.root() == m.root() == _fresh_hash(loaded, "")
    for h in after:
        proof = loaded.prove(h.loan_key)
        assert proof is not None and proof == m.prove(h.loan_key)
        verify_loan_head(proof, m.root())


def _sample() -> tuple[LoanMap, dict[str, Node]]:
    m = LoanMap()
    keys = [bytes([0xA0 + i % 3, (i // 3) << 4]) + bytes(30) for i in range(12)]
    m.update(LoanHead(k, 1, i, bytes([i]) * 32) for i, k in enumerate(keys))
    nodes = _all_nodes(m)
    assert {"", "a", "a0", "a1", "a2"} <= set(nodes)
    return m, nodes


def test_from_nodes_of_nothing_and_of_one_loan() -> None:
    assert LoanMap.from_nodes({}).root() == EMPTY
    one = LoanHead(b"\x01" * 32, 3, 7, b"\x02" * 32)
    m = LoanMap.from_nodes({"": one})
    assert len(m) == 1 and m.root() == _leaf(one) and m.head(one.loan_key) == one


def test_damaged_nodes_are_refused() -> None:
    _, nodes = _sample()
    for change, message in [
        (lambda n: n.pop(""), "have no top"),
        (lambda n: n.pop("a1"), "node 'a1' is missing"),
        (lambda n: n.__setitem__("b", n["a1"]), "1 of the loan map's .* nodes are not below"),
        (lambda n: n.__setitem__("a", n["a"][:15]), "node 'a' is not a block of 16"),
        (lambda n: n.__setitem__("a1", n["a2"]), "node 'a1' holds loan key a2"),
        (lambda n: n.__setitem__("a", n["a1"]), "node 'a' holds loan key a1"),
    ]:
        bad = dict(nodes)
        change(bad)
        with pytest.raises(LoanMapError, match=message):
            LoanMap.from_nodes(bad)


def test_a_changed_head_shows_in_its_parents_hash() -> None:
    _, nodes = _sample()
    block = nodes["a1"]
    assert isinstance(block, tuple)
    changed = list(block)
    n, old = next((n, c) for n, c in enumerate(changed) if isinstance(c, LoanHead))
    changed[n] = LoanHead(old.loan_key, old.loan_sequence + 1, old.leaf_index, old.leaf_hash)
    nodes["a1"] = tuple(changed)
    with pytest.raises(LoanMapError, match="node 'a1' is not the node its parent holds"):
        LoanMap.from_nodes(nodes)
