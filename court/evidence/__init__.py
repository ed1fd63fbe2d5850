"""Evidence records as the court reads them: the canonical leaf of the log and its opening."""

from __future__ import annotations

from court.evidence.leaf import (
    HASH_OIDS,
    KIND_NUMBERS,
    LEAF_VERSION,
    LEAF_VERSION_1,
    LeafError,
    LeafFields,
    decode_leaf,
    encode_leaf,
)
from court.evidence.leaf_v2 import (
    PrivateRecord,
    PublicLeaf,
    decode_private_record,
    decode_public_leaf,
    derive_loan_key,
    encode_private_record,
    encode_public_leaf,
    record_commitment,
)
from court.evidence.opening import (
    LeafOpening,
    OpenedLeaf,
    OpeningError,
    OpeningProblem,
    decode_any_leaf,
    open_leaf,
    opened_v1,
)

__all__ = [
    "HASH_OIDS",
    "KIND_NUMBERS",
    "LEAF_VERSION",
    "LEAF_VERSION_1",
    "LeafError",
    "LeafFields",
    "LeafOpening",
    "OpenedLeaf",
    "OpeningError",
    "OpeningProblem",
    "PrivateRecord",
    "PublicLeaf",
    "decode_any_leaf",
    "decode_leaf",
    "decode_private_record",
    "decode_public_leaf",
    "derive_loan_key",
    "encode_leaf",
    "encode_private_record",
    "encode_public_leaf",
    "open_leaf",
    "opened_v1",
    "record_commitment",
]
