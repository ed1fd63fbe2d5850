"""`make bench` for the canonical leaf: what a private (version 2) leaf costs per record.

The ledger seals every record (:func:`gateway.leaves.seal`: the private
record with its salt, the loan key, the public leaf) in its commit stage, and
reads rebuild each opening (:func:`gateway.leaves.opening_of`); a court opens
each leaf (:func:`court.evidence.opening.open_leaf`). Each is timed in
interleaved rounds beside the version 1 leaf the ledger wrote before
(:func:`court.evidence.leaf.encode_leaf`), and the medians are printed with
their ratio to it (the machine is shared: compare figures of one run).
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from court.evidence.leaf import LeafFields, encode_leaf
from court.evidence.leaf_v2 import decode_public_leaf
from court.evidence.opening import open_leaf
from gateway.leaves import new_salt, opening_of, seal
from gateway.model import EvidenceKind, Submission
from gateway.store.base import StoredOpening

ROUNDS = 15
PER_ROUND = 2000

_S = Submission(
    institution="bank-a",
    request_id="r-1",
    loan_ref="loan-2024-000123",
    kind=EvidenceKind.COLLECTION_CALL,
    hash_algorithm="sha256",
    digest=hashlib.sha256(b"call recording").digest(),
    occurred_at=datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
    metadata=(("agency", "a-17"), ("channel", "phone")),
)
_RECEIVED = datetime(2026, 1, 1, 9, 30, 1, 123000, tzinfo=UTC)
_TOKEN = os.urandom(1450)  # the size of a real token; only its SHA-256 is in the leaf
_PREVIOUS = os.urandom(32)
_ENTRY_ID = "01jh5x3k7m2n8p4q6r9s0t1v2w"
_OPENING = StoredOpening("bank-a", "bank-a", new_salt(), new_salt())


def _v1() -> bytes:
    return encode_leaf(
        LeafFields(
            entry_id=_ENTRY_ID,
            institution=_S.institution,
            loan_ref=_S.loan_ref,
            kind=str(_S.kind),
            hash_algorithm=_S.hash_algorithm,
            digest=_S.digest,
            occurred_at=_S.occurred_at,
            received_at=_RECEIVED,
            token_sha256=hashlib.sha256(_TOKEN).digest(),
            loan_sequence=2,
            metadata=_S.metadata,
            previous_leaf_hash=_PREVIOUS,
        )
    )


def _seal() -> bytes:
    opening = StoredOpening("bank-a", "bank-a", new_salt(), _OPENING.loan_salt)
    return seal(
        _S,
        opening,
        entry_id=_ENTRY_ID,
        received_at=_RECEIVED,
        token=_TOKEN,
        loan_sequence=2,
        previous_leaf_hash=_PREVIOUS,
    )


_SEALED = decode_public_leaf(
    seal(
        _S,
        _OPENING,
        entry_id=_ENTRY_ID,
        received_at=_RECEIVED,
        token=_TOKEN,
        loan_sequence=2,
        previous_leaf_hash=_PREVIOUS,
    )
)
_LEAF_OPENING = opening_of(_S, _OPENING)


def _median_us(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    for _ in range(PER_ROUND):
        fn()
    return (time.perf_counter_ns() - start) / PER_ROUND / 1000


def main() -> None:
    cases: dict[str, Callable[[], object]] = {
        "version 1 leaf (encode_leaf)": _v1,
        "version 2 leaf (seal: record, loan key, leaf)": _seal,
        "version 2 opening for a read (opening_of)": lambda: opening_of(_S, _OPENING),
        "version 2 opening checked (open_leaf)": lambda: open_leaf(_SEALED, _LEAF_OPENING),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(ROUNDS):  # interleaved, so that load on the machine hits every case alike
        for name, fn in cases.items():
            times[name].append(_median_us(fn))
    base = statistics.median(times["version 1 leaf (encode_leaf)"])
    print(f"leaf cost per record, median of {ROUNDS} rounds of {PER_ROUND}:")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"  {name:48} {median:7.1f} us  ({median / base:.2f} x version 1)")


if __name__ == "__main__":
    main()
