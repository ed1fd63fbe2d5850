"""The anchoring gas benchmark on a real anvil: every anchor lands with the checkpoint's root,
and its cost apart from calldata bytes is the same whatever the tree size."""

from __future__ import annotations

from bench.anchor_gas import calldata_gas, measure
from tests.support.anvil import Anvil


def test_calldata_gas_follows_eip_2028() -> None:
    assert calldata_gas(b"") == 0
    assert calldata_gas(b"\x00\x01\x00\xff") == 4 + 16 + 4 + 16


def test_gas_per_anchor_does_not_grow_with_the_log(anvil: Anvil) -> None:
    first, figures = measure(anvil, [10, 300, 5_000])
    assert first.anchor_number == 0 and first.tree_size == 1
    assert [f.anchor_number for f in figures] == [1, 2, 3]
    assert [f.tree_size for f in figures] == [10, 300, 5_000]
    assert len({f.other_gas for f in figures}) == 1
    assert first.other_gas > figures[0].other_gas  # the list is created once, by the first
    assert max(f.gas_used for f in figures) - min(f.gas_used for f in figures) < 200
