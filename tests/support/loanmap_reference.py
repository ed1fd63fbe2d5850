"""A deliberately naive loan map, straight from the definition in docs/loan-map.md.

The whole binary tree is recomputed from the full set of heads on every call,
bit by bit, with no radix-16 blocks, no caching and no shortcut: a subtree
with no keys is EMPTY; at a depth that is a multiple of 4, a subtree with one
key is that key's leaf; otherwise the keys are split on the next bit. Tests
compare :mod:`court.verify.loanmap` with it; it must stay independent of the
code under test, so it does its own hashing with hashlib.

Run as ``python -m tests.support.loanmap_reference OUT.json`` it writes the
fixed vectors of ``tests/fixtures/loanmap/``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path

EMPTY = b"\x00" * 32
Head = tuple[int, int, bytes]  # (loan_sequence, leaf_index, leaf_hash)


def leaf(key: bytes, head: Head) -> bytes:
    seq, index, lh = head
    data = (
        b"court-evidence/v1/loan-map-leaf\x00"
        + key
        + seq.to_bytes(8, "big")
        + index.to_bytes(8, "big")
        + lh
    )
    return hashlib.sha256(data).digest()


def node(left: bytes, right: bytes) -> bytes:
    if left == EMPTY and right == EMPTY:
        return EMPTY
    return hashlib.sha256(b"court-evidence/v1/loan-map-node\x00" + left + right).digest()


def bit(key: bytes, i: int) -> int:
    """Bit i of the key, bit 0 the most significant bit of byte 0."""
    return (key[i // 8] >> (7 - i % 8)) & 1


def subtree(depth: int, heads: Mapping[bytes, Head]) -> bytes:
    if not heads:
        return EMPTY
    if depth % 4 == 0 and len(heads) == 1:
        ((key, head),) = heads.items()
        return leaf(key, head)
    assert depth < 256
    zeros = {k: h for k, h in heads.items() if bit(k, depth) == 0}
    ones = {k: h for k, h in heads.items() if bit(k, depth) == 1}
    return node(subtree(depth + 1, zeros), subtree(depth + 1, ones))


def root(heads: Mapping[bytes, Head]) -> bytes:
    return subtree(0, heads)


def proof(key: bytes, heads: Mapping[bytes, Head]) -> list[bytes]:
    """The siblings of ``key``'s leaf, bottom-up (``key`` must be in ``heads``)."""
    assert key in heads
    top_down: list[bytes] = []
    depth = 0
    current = dict(heads)
    while not (depth % 4 == 0 and len(current) == 1):
        mine = {k: h for k, h in current.items() if bit(k, depth) == bit(key, depth)}
        other = {k: h for k, h in current.items() if bit(k, depth) != bit(key, depth)}
        top_down.append(subtree(depth + 1, other))
        current = mine
        depth += 1
    return list(reversed(top_down))


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def make_vectors() -> dict[str, object]:
    """Small maps with shapes worth pinning: empty, one key, shallow and deep splits."""

    def k(hexdigits: str) -> bytes:
        return bytes.fromhex(hexdigits.ljust(64, "0"))

    def lh(n: int) -> bytes:
        return hashlib.sha256(b"leaf %d" % n).digest()

    cases: list[tuple[str, dict[bytes, Head]]] = [
        ("empty map", {}),
        ("one key", {k("a5"): (1, 0, lh(0))}),
        ("two keys, different first nibble", {k("10"): (1, 0, lh(0)), k("f0"): (3, 7, lh(7))}),
        (
            "two keys sharing the first nibble, differing in its last bit",
            {k("20"): (1, 0, lh(0)), k("30"): (2, 1, lh(1))},
        ),
        (
            "three keys, one deep pair",
            {k("abcd"): (1, 0, lh(0)), k("abce"): (1, 1, lh(1)), k("01"): (5, 9, lh(9))},
        ),
        (
            "two keys differing only in the last bit (depth 256)",
            {k("77" * 31 + "00"): (1, 0, lh(0)), k("77" * 31 + "01"): (2, 4, lh(4))},
        ),
        (
            "large values",
            {k("ff" * 32): ((1 << 64) - 1, (1 << 64) - 1, lh(1)), k("00" * 32): (1, 0, lh(2))},
        ),
    ]
    out = []
    for name, heads in cases:
        out.append(
            {
                "name": name,
                "heads": [
                    {
                        "loanKey": key.hex(),
                        "loanSequence": h[0],
                        "leafIndex": h[1],
                        "leafHash": h[2].hex(),
                        "mapLeafHash": leaf(key, h).hex(),
                        "proof": [_b64(s) for s in proof(key, heads)],
                    }
                    for key, h in sorted(heads.items())
                ],
                "root": _b64(root(heads)),
            }
        )
    return {"about": "loan-map/v1 vectors; see README.md", "cases": out}


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(make_vectors(), indent=2) + "\n", encoding="utf-8")
