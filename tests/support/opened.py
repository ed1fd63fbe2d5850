"""The record a receipt's leaf stands for, opened with the receipt's own opening."""

from __future__ import annotations

from court.evidence.leaf_v2 import PublicLeaf
from court.evidence.opening import OpenedLeaf, decode_any_leaf, open_leaf
from court.receipts import receipt_opening
from evidence_gateway.v1 import common_pb2


def opened(receipt: common_pb2.Receipt) -> OpenedLeaf:
    """The opened record of a version 2 receipt (fails the test for anything else)."""
    leaf = decode_any_leaf(bytes(receipt.leaf))
    opening = receipt_opening(receipt)
    assert isinstance(leaf, PublicLeaf), "the gateway writes version 2 leaves"
    assert opening is not None, "a version 2 receipt carries its opening"
    return open_leaf(leaf, opening)
