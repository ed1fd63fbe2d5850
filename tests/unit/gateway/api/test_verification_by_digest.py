"""VerifyEvidence by digest when more than 1,000 records share the digest (real ledger).

The receipt's record is looked up by its entry id, however many records
share the digest; the other entry ids are bounded and say when they are cut.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.api.convert import receipt_to_proto
from gateway.model import Receipt
from tests.support.ledger_env import sub
from tests.unit.gateway.api.conftest import Harness

LISTED = 1000  # other_entry_ids lists at most this many (verification_service.proto)
SAME = b"the same contract, registered again and again"
COPIES = LISTED + 100


@pytest.fixture
def logged(start_harness: Callable[..., Harness]) -> tuple[Harness, list[Receipt], Receipt]:
    """A real ledger holding COPIES records of one digest, then one of another."""
    h = start_harness(max_batch=600)
    items = [sub(i, loan=f"L-{i % 40}", data=SAME) for i in range(COPIES)]
    receipts: list[Receipt] = []
    for start in range(0, COPIES, 550):
        results = h.run(h.ledger.submit(items[start : start + 550]))
        receipts += [r for r in results if isinstance(r, Receipt)]  # type: ignore[attr-defined]
    assert len(receipts) == COPIES
    (alone,) = h.run(h.ledger.submit([sub("alone", data=b"another contract")]))  # type: ignore[misc]
    assert isinstance(alone, Receipt)
    return h, receipts, alone


def _by_digest(
    h: Harness, data: bytes, receipt: Receipt | None = None
) -> vf.VerifyEvidenceResponse:
    request = vf.VerifyEvidenceRequest(
        digest=vf.Digest(
            hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256, value=hashlib.sha256(data).digest()
        )
    )
    if receipt is not None:
        request.receipt.CopyFrom(receipt_to_proto(receipt))
    # The records are bank-a's (tests.support.ledger_env.sub): bank-a asks.
    return h.verification.VerifyEvidence(request, metadata=(("x-institution", "bank-a"),))


def test_receipt_beyond_the_first_thousand_is_found_and_valid(
    logged: tuple[Harness, list[Receipt], Receipt],
) -> None:
    h, receipts, _ = logged
    late = receipts[LISTED + 50]
    response = _by_digest(h, SAME, late)
    assert response.verdict == vf.VERDICT_VALID, response.checks
    assert response.record.receipt.entry_id == late.entry_id
    assert list(response.other_entry_ids) == [r.entry_id for r in receipts[:LISTED]]
    assert response.other_entry_ids_truncated


def test_without_a_receipt_the_earliest_is_verified_and_the_list_says_it_is_cut(
    logged: tuple[Harness, list[Receipt], Receipt],
) -> None:
    h, receipts, _ = logged
    response = _by_digest(h, SAME)
    assert response.verdict == vf.VERDICT_VALID, response.checks
    assert response.record.receipt.entry_id == receipts[0].entry_id
    expected = [r.entry_id for r in receipts[1 : LISTED + 1]]
    assert list(response.other_entry_ids) == expected
    assert response.other_entry_ids_truncated


def test_a_receipt_of_another_digest_is_not_found(
    logged: tuple[Harness, list[Receipt], Receipt],
) -> None:
    h, receipts, alone = logged
    assert _by_digest(h, SAME, alone).verdict == vf.VERDICT_NOT_FOUND
    assert _by_digest(h, b"another contract", receipts[0]).verdict == vf.VERDICT_NOT_FOUND
    single = _by_digest(h, b"another contract", alone)
    assert single.verdict == vf.VERDICT_VALID, single.checks
    assert list(single.other_entry_ids) == []
    assert not single.other_entry_ids_truncated
