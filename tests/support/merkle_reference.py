"""A deliberately naive RFC 9162 Merkle tree, straight from section 2.1.

Recursive definitions of MTH (2.1.1), PATH (2.1.3.1) and PROOF/SUBPROOF
(2.1.4.1) over the full list of leaf inputs, written for obviousness rather
than speed (every call rehashes everything below it). Tests compare the real
implementation with it; it must stay independent of the code under test, so
it does its own hashing with hashlib.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(entries: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaf inputs ``entries``."""
    n = len(entries)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + entries[0])
    k = _k(n)
    return _h(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf m, from the leaf up."""
    n = len(entries)
    assert 0 <= m < n
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, entries[:k]), mth(entries[k:])]
    return [*path(m - k, entries[k:]), mth(entries[:k])]


def proof(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]): the consistency proof from the first m leaves (0 < m <= n)."""
    assert 0 < m <= len(entries)
    return _subproof(m, entries, True)


def _subproof(m: int, entries: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [mth(entries)]
    k = _k(n)
    if m <= k:
        return [*_subproof(m, entries[:k], b), mth(entries[k:])]
    return [*_subproof(m - k, entries[k:], False), mth(entries[:k])]
