"""Evidence records as the court reads them: the canonical leaf of the log."""

from __future__ import annotations

from court.evidence.leaf import (
    HASH_OIDS,
    KIND_NUMBERS,
    LEAF_VERSION,
    LeafError,
    LeafFields,
    decode_leaf,
    encode_leaf,
)

__all__ = [
    "HASH_OIDS",
    "KIND_NUMBERS",
    "LEAF_VERSION",
    "LeafError",
    "LeafFields",
    "decode_leaf",
    "encode_leaf",
]
