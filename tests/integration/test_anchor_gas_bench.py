"""The anchoring gas benchmark on a real anvil: every anchor lands with the checkpoint's root
and the consistency proof from the previous anchor; its cost follows the proof's length,
not the number of entries the anchor covers."""

from __future__ import annotations

from bench.anchor_gas import LONGEST, calldata_gas, measure, verification_gas
from gateway.anchor.chain import ChainClient
from tests.support.anvil import Anvil


def test_calldata_gas_follows_eip_2028() -> None:
    assert calldata_gas(b"") == 0
    assert calldata_gas(b"\x00\x01\x00\xff") == 4 + 16 + 4 + 16


def test_gas_per_anchor_follows_the_proof_not_the_entries(anvil: Anvil) -> None:
    # 8 -> 16 covers 8 entries, 16 -> 5,000 covers 4,984, 5,000 -> 5,008 covers 8 again
    first, figures = measure(anvil, [8, 16, 5_000, 5_008])
    assert (first.anchor_number, first.tree_size, first.proof_length) == (0, 1, 0)
    assert [f.anchor_number for f in figures] == [1, 2, 3, 4]
    assert [f.tree_size for f in figures] == [8, 16, 5_000, 5_008]
    # The proofs' lengths (RFC 9162): 1 -> 8 and 8 -> 16 are paths of power-of-two trees.
    lengths = [f.proof_length for f in figures]
    assert lengths[:2] == [3, 1]
    assert all(1 <= f.proof_length <= (f.tree_size - 1).bit_length() + 1 for f in figures)
    # Each proof hash costs calldata (32 bytes) and one or two SHA-256 calls: more hashes,
    # more gas; and the cost does not grow with the entries covered (8 -> 16 covers 8
    # entries with one hash and is cheaper than 1 -> 8, which covers 7 with three).
    by_length = sorted(figures, key=lambda f: f.proof_length)
    assert [f.gas_used for f in by_length] == sorted(f.gas_used for f in by_length)
    assert figures[1].gas_used < figures[0].gas_used
    per_hash = (figures[2].other_gas - figures[1].other_gas) / (lengths[2] - lengths[1])
    assert 0 < per_hash < 2_500  # SHA-256 precompile calls and a loop turn: no storage


def test_the_longest_proof_bounds_the_verification(anvil: Anvil) -> None:
    """65 hashes (2^64 - 3 -> 2^64 - 1) is the longest proof there is; verifying it costs
    more than a shorter one, and a bounded amount (well under a block's gas)."""
    address = ChainClient(anvil.rpc_url, account=anvil.dev_accounts[0]).deploy()
    longest = verification_gas(anvil, address, *LONGEST)
    shorter = verification_gas(anvil, address, 10, 5_000, 13)
    empty = verification_gas(anvil, address, 4, 8, 1)  # 4 -> 8: the old root plus one hash
    assert empty < shorter < longest < 200_000
