"""LogService.GetAnchor and the anchor in VerifyEvidence, over real gRPC on the real ledger.

The anchors are written to the store as the anchoring worker writes them
(``add_anchor``, then ``update_anchor`` once confirmed), for checkpoints the
ledger signed; no chain is involved here (tests/integration/test_anchor_court.py
runs the same against anvil).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import replace
from datetime import UTC, datetime

import grpc
import pytest
from sqlalchemy import text

from court.verify.merkle import verify_consistency
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.anchor.model import AnchorStatus, StoredAnchor, checkpoint_hash
from gateway.api.verification import ALL_CHECKS, CHECK_ANCHORED
from tests.support.grpc_client import error_fields, submission
from tests.unit.gateway.api.conftest import Harness

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
LOG_ID = hashlib.sha256(b"the log's verifier key").digest()


def grow(h: Harness, *batches: int) -> list[str]:
    """Submit batches of these sizes (one checkpoint each); the entry ids, in log order."""
    ids: list[str] = []
    for n in batches:
        response = h.evidence.BatchSubmitEvidence(
            ev.BatchSubmitEvidenceRequest(submissions=[submission(f"l{i}") for i in range(n)])
        )
        ids += [r.receipt.entry_id for r in response.results]
    return ids


def anchor(h: Harness, size: int, *, chain: str = "besu", block: int = 40) -> StoredAnchor:
    """Store a confirmed anchor of the ledger's checkpoint of ``size``."""
    stored = h.store.inner.checkpoint_at(size)
    assert stored is not None, f"no checkpoint of size {size}"
    a = h.store.inner.add_anchor(
        StoredAnchor(
            id=None,
            chain_name=chain,
            chain_id=1337,
            contract=CONTRACT,
            log_id=LOG_ID,
            tree_size=size,
            root_hash=stored.root,
            checkpoint_note=stored.note,
            checkpoint_hash=checkpoint_hash(stored.note),
            previous_size=0,
            consistency_proof=(),
            tx_hash=hashlib.sha256(f"tx {chain} {size}".encode()).digest(),
            nonce=size,
            status=AnchorStatus.PENDING,
            submitted_at=datetime(2026, 3, 1, tzinfo=UTC),
        )
    )
    done = replace(
        a,
        status=AnchorStatus.CONFIRMED,
        block_number=block,
        block_hash=hashlib.sha256(f"block {block}".encode()).digest(),
        anchor_number=size % 7,
        confirmed_at=datetime(2026, 3, 1, 0, 0, 5, tzinfo=UTC),
    )
    h.store.inner.update_anchor(done)
    return done


def test_the_first_anchor_covering_a_size_with_the_proof_from_a_held_checkpoint(
    harness: Harness,
) -> None:
    grow(harness, 2, 3, 4)  # checkpoints of sizes 2, 5 and 9
    at5 = anchor(harness, 5, block=40)
    anchor(harness, 9, block=41)
    got = harness.log.GetAnchor(lg.GetAnchorRequest(tree_size=2, from_tree_size=2))
    a = got.anchor
    assert (a.chain_name, a.chain_id, a.contract, a.log_id) == ("besu", 1337, CONTRACT, LOG_ID)
    assert (a.tree_size, a.root_hash, a.checkpoint_hash) == (5, at5.root_hash, at5.checkpoint_hash)
    assert (a.anchor_number, a.block_number, a.block_hash) == (5, 40, at5.block_hash)
    assert a.transaction_hash == at5.tx_hash
    assert a.checkpoint.signed_note == at5.checkpoint_note and a.checkpoint.size == 5
    assert a.confirmed_at.ToDatetime(tzinfo=UTC) == at5.confirmed_at
    proof = got.consistency_proof
    assert (proof.from_size, proof.to_size) == (2, 5)
    held = harness.store.inner.checkpoint_at(2)
    assert held is not None
    verify_consistency(2, 5, list(proof.hashes), held.root, a.root_hash)  # raises if wrong


def test_a_leaf_index_is_covered_by_a_larger_size(harness: Harness) -> None:
    grow(harness, 2, 3, 4)
    anchor(harness, 5)
    anchor(harness, 9, block=41)
    assert harness.log.GetAnchor(lg.GetAnchorRequest(leaf_index=4)).anchor.tree_size == 5
    got = harness.log.GetAnchor(lg.GetAnchorRequest(leaf_index=5, from_tree_size=9))
    assert got.anchor.tree_size == 9
    assert (got.consistency_proof.from_size, got.consistency_proof.to_size) == (9, 9)
    assert list(got.consistency_proof.hashes) == []
    plain = harness.log.GetAnchor(lg.GetAnchorRequest(tree_size=9))
    assert not plain.HasField("consistency_proof")


def test_a_named_chain(harness: Harness) -> None:
    grow(harness, 2, 3, 4)
    anchor(harness, 5, chain="besu")
    anchor(harness, 9, chain="fisco")
    assert harness.log.GetAnchor(lg.GetAnchorRequest(tree_size=1)).anchor.chain_name == "besu"
    fisco = harness.log.GetAnchor(lg.GetAnchorRequest(tree_size=1, chain="fisco"))
    assert (fisco.anchor.chain_name, fisco.anchor.tree_size) == ("fisco", 9)


def test_nothing_covers_it_yet(harness: Harness) -> None:
    grow(harness, 2, 3, 4)
    anchor(harness, 5)
    anchor(harness, 2, chain="fisco")
    for request in (
        lg.GetAnchorRequest(tree_size=6),
        lg.GetAnchorRequest(leaf_index=5),
        lg.GetAnchorRequest(tree_size=3, chain="fisco"),
    ):
        with pytest.raises(grpc.RpcError) as info:
            harness.log.GetAnchor(request)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert "no confirmed anchor" in str(info.value.details())
        assert "retry later" in str(info.value.details())


def test_a_chain_the_gateway_never_anchored_on_is_the_callers_mistake(harness: Harness) -> None:
    """Not NOT_FOUND "retry later" (it never comes true): INVALID_ARGUMENT naming the field
    and the chains there are."""
    grow(harness, 2, 3, 4)
    anchor(harness, 5, chain="besu")
    anchor(harness, 9, chain="fisco")
    for name, expected in (
        ("consortium", "no chain named 'consortium'; this gateway anchors on: besu, fisco"),
        ("bad name!", "is not a chain name (1 to 64 letters, digits, '-' or '_')"),
        ("c" * 65, "is not a chain name"),
    ):
        with pytest.raises(grpc.RpcError) as info:
            harness.log.GetAnchor(lg.GetAnchorRequest(tree_size=1, chain=name))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_fields(info.value) == ["chain"]
        assert str(info.value.details()).startswith("chain: " + expected), info.value.details()


def test_a_pending_anchor_is_not_served(harness: Harness) -> None:
    grow(harness, 3)
    a = anchor(harness, 3)
    harness.store.inner.update_anchor(replace(a, status=AnchorStatus.PENDING))
    with pytest.raises(grpc.RpcError) as info:
        harness.log.GetAnchor(lg.GetAnchorRequest(tree_size=3))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ["target"]),
        ({"tree_size": 0}, ["tree_size"]),
        ({"tree_size": 10}, ["tree_size"]),
        ({"leaf_index": 9}, ["leaf_index"]),
        ({"tree_size": 1, "from_tree_size": 10}, ["from_tree_size"]),
        ({"tree_size": 2, "from_tree_size": 6}, ["from_tree_size"]),  # beyond the anchored 5
        ({"tree_size": 1, "chain": "c" * 129}, ["chain"]),
        (
            {"tree_size": 0, "chain": "c" * 129, "from_tree_size": 10},
            ["tree_size", "chain", "from_tree_size"],
        ),
    ],
)
def test_bad_requests_name_the_field(
    harness: Harness, fields: dict[str, object], expected: list[str]
) -> None:
    grow(harness, 2, 3, 4)
    anchor(harness, 5)
    with pytest.raises(grpc.RpcError) as info:
        harness.log.GetAnchor(lg.GetAnchorRequest(**fields))  # type: ignore[arg-type]
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == expected


def _statuses(response: vf.VerifyEvidenceResponse) -> dict[str, int]:
    return {c.name: c.status for c in response.checks}


def test_verify_evidence_carries_the_anchor_and_checks_it(harness: Harness) -> None:
    ids = grow(harness, 2, 3, 4)
    request = vf.VerifyEvidenceRequest(entry_id=ids[3])
    before = harness.verification.VerifyEvidence(request)
    assert before.verdict == vf.VERDICT_VALID
    assert [c.name for c in before.checks] == list(ALL_CHECKS)
    assert _statuses(before)[CHECK_ANCHORED] == vf.CHECK_STATUS_NOT_RUN
    assert not before.material.HasField("anchor")
    assert not before.material.HasField("anchor_consistency_proof")

    at5 = anchor(harness, 5)
    response = harness.verification.VerifyEvidence(request)
    assert response.verdict == vf.VERDICT_VALID, response.checks
    assert _statuses(response)[CHECK_ANCHORED] == vf.CHECK_STATUS_PASSED
    material = response.material
    assert material.anchor.tree_size == 5
    assert material.anchor.checkpoint.signed_note == at5.checkpoint_note
    proof = material.anchor_consistency_proof
    assert (proof.from_size, proof.to_size) == (5, material.checkpoint.size) == (5, 9)
    verify_consistency(5, 9, list(proof.hashes), at5.root_hash, material.checkpoint.root_hash)

    # Leaf 5 is beyond the anchor of size 5: not anchored yet.
    later = harness.verification.VerifyEvidence(vf.VerifyEvidenceRequest(entry_id=ids[5]))
    assert _statuses(later)[CHECK_ANCHORED] == vf.CHECK_STATUS_NOT_RUN
    assert later.verdict == vf.VERDICT_VALID


def test_verify_evidence_fails_an_anchor_whose_root_was_changed(harness: Harness) -> None:
    ids = grow(harness, 2, 3, 4)
    anchor(harness, 5)
    store = harness.store.inner  # its lock held, as in test_verification_service
    with store._serial or contextlib.nullcontext(), store.engine.begin() as db:
        changed = db.execute(text("UPDATE anchors SET root_hash = :r"), {"r": b"\x07" * 32})
        assert changed.rowcount == 1
    response = harness.verification.VerifyEvidence(vf.VerifyEvidenceRequest(entry_id=ids[0]))
    assert response.verdict == vf.VERDICT_INVALID
    check = next(c for c in response.checks if c.name == CHECK_ANCHORED)
    assert check.status == vf.CHECK_STATUS_FAILED
    assert "07" * 32 in check.detail
