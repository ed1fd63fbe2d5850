"""The versioned, stored loan map (gateway.log.loanmap) against the court's LoanMap.

The rows each batch writes go to an in-memory table; after many batches every
loan's head is proven at several old versions from those rows alone, and must
equal the proof of a court LoanMap rebuilt from the heads known at that version.
"""

from __future__ import annotations

import hashlib
import random
import re

import pytest

from court.verify.checkpoint import format_checkpoint_body
from court.verify.loanmap import (
    EMPTY,
    LoanHead,
    LoanMap,
    LoanMapError,
    format_map_line,
    verify_loan_head,
)
from gateway.log.loanmap import VersionedLoanMap, decode_node, encode_node, prove


class RowTable:
    """The ``loan_map_blocks`` table in memory, with the store's two reads."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], bytes] = {}
        self.reads = 0

    def add(self, rows: list[tuple[str, int, bytes]]) -> None:
        for path, version, body in rows:
            assert (path, version) not in self.rows
            self.rows[(path, version)] = body

    def map_block(self, path: str, version: int) -> bytes | None:
        self.reads += 1
        found = [v for (p, v) in self.rows if p == path and v <= version]
        return self.rows[(path, max(found))] if found else None

    def map_blocks(self, version: int) -> list[tuple[str, bytes]]:
        paths = sorted({p for (p, v) in self.rows if v <= version})
        out = []
        for p in paths:
            body = self.map_block(p, version)
            assert body is not None
            out.append((p, body))
        return out

    def entries_range(self, start: int, end: int) -> list[tuple[int, bytes]]:
        raise AssertionError("not built from leaves here")


def _key(rng: random.Random) -> bytes:
    # Shared prefixes make deep blocks: a quarter of the keys start with the same 3 bytes.
    if rng.random() < 0.25:
        return b"\xab\xcd\xef" + rng.randbytes(29)
    return rng.randbytes(32)


def _note(size: int, root: bytes) -> str:
    return format_checkpoint_body("example.org/log", size, b"\x01" * 32, [format_map_line(root)])


def test_proofs_at_old_versions_equal_the_court_maps() -> None:
    rng = random.Random(7)
    table = RowTable()
    m = VersionedLoanMap()
    keys: list[bytes] = []
    heads: dict[bytes, LoanHead] = {}
    history: dict[int, dict[bytes, LoanHead]] = {0: {}}
    roots: dict[int, bytes] = {0: EMPTY}
    size = 0
    for _ in range(40):  # batches
        batch = []
        for _ in range(rng.randint(1, 30)):
            if keys and rng.random() < 0.5:
                key = rng.choice(keys)
            else:
                key = _key(rng)
                keys.append(key)
            seq = heads[key].loan_sequence + 1 if key in heads else 1
            h = LoanHead(key, seq, size, hashlib.sha256(size.to_bytes(8, "big")).digest())
            heads[key] = h
            batch.append(h)
            size += 1
        table.add(m.apply(batch, size))
        history[size] = dict(heads)
        roots[size] = m.root()
    versions = sorted(history)
    for version in [versions[0], versions[1], versions[7], versions[20], versions[-1]]:
        court = LoanMap()
        court.update(sorted(history[version].values(), key=lambda h: h.leaf_index))
        assert court.root() == roots[version]
        for key in keys:
            stored = prove(table, key, version)
            assert stored == court.prove(key)
            if stored is not None:
                verify_loan_head(stored, roots[version])
        # a key never seen has no head
        assert prove(table, b"\x00" * 32, version) is None
    # the proof reads one row per radix-16 block on the key's path (its leaf is in the last)
    table.reads = 0
    proof = prove(table, keys[0], versions[-1])
    assert proof is not None and table.reads == len(proof.siblings) // 4 >= 2
    # and the map loads back from the rows of any version, checked against its line
    for version in (versions[5], versions[-1]):
        again = VersionedLoanMap.load(table, version, _note(version, roots[version]))
        assert again.root() == roots[version] and len(again) == len(history[version])


def test_rows_per_batch_are_the_changed_nodes_only() -> None:
    m = VersionedLoanMap()
    rng = random.Random(3)
    m.apply([LoanHead(rng.randbytes(32), 1, i, bytes(32)) for i in range(4096)], 4096)
    key = rng.randbytes(32)
    rows = m.apply([LoanHead(key, 1, 4096, bytes(32))], 4097)
    # the top and one block per level down to the new key's leaf (log16(4097) ~ 3 levels)
    assert [p for p, _, _ in rows] == [key.hex()[:n] for n in range(len(rows))]
    assert all(v == 4097 for _, v, _ in rows) and 2 <= len(rows) <= 5


def test_a_damaged_row_is_caught_when_loading() -> None:
    table = RowTable()
    m = VersionedLoanMap()
    heads = [LoanHead(bytes([i]) * 32, 1, i, bytes([i]) * 32) for i in range(20)]
    table.add(m.apply(heads, 20))
    path = "0"  # keys 0x00.. to 0x0f..: the block below the top's first nibble
    node = decode_node(table.rows[(path, 20)])
    assert isinstance(node, tuple) and isinstance(node[5], LoanHead)
    changed = list(node)
    old = node[5]
    changed[5] = LoanHead(old.loan_key, old.loan_sequence + 1, old.leaf_index, old.leaf_hash)
    table.rows[(path, 20)] = encode_node(tuple(changed))
    damaged = (
        "stored loan map of size 20 is damaged: the loan map node '0' is not the node its parent"
    )
    with pytest.raises(LoanMapError, match=re.escape(damaged)):
        VersionedLoanMap.load(table, 20, _note(20, m.root()))


def test_node_bodies_round_trip_and_malformed_ones_are_refused() -> None:
    m = LoanMap()
    m.update(LoanHead(bytes([i * 16]) + bytes(31), 1, i, bytes(32)) for i in range(3))
    top = m.node_at("")
    assert isinstance(top, tuple)
    body = encode_node(top)
    assert decode_node(body) == top
    single = LoanHead(bytes(32), 2, 9, b"\x01" * 32)
    assert decode_node(encode_node(single)) == single
    for bad, message in [
        (b"", "unknown kind or too short"),
        (b"\x03" + body[1:], "unknown kind"),
        (body[:-1], "bytes, want"),
        (body + b"\x00", "bytes, want"),
        (b"\x02\x00\x00\x00\x01", "inconsistent child masks"),
        (b"\x02\x00\x00\x00\x00", "inconsistent child masks"),
    ]:
        with pytest.raises(LoanMapError, match=message):
            decode_node(bad)
