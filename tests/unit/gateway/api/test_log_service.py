"""LogService over real gRPC, on the real ledger (SQLite, in-process TSA)."""

from __future__ import annotations

import grpc
import pytest

from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_consistency, verify_inclusion
from court.verify.rfc6962 import leaf_hash
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from tests.support.grpc_client import error_fields, submission
from tests.unit.gateway.api.conftest import Harness


def fill(h: Harness, n: int) -> list[bytes]:
    response = h.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(submissions=[submission(f"l{i % 3}") for i in range(n)])
    )
    return [r.receipt.leaf for r in response.results]


def test_checkpoint_is_signed_and_parsed(harness: Harness) -> None:
    empty = harness.log.GetCheckpoint(lg.GetCheckpointRequest()).checkpoint
    assert empty.size == 0
    fill(harness, 5)
    cp = harness.log.GetCheckpoint(lg.GetCheckpointRequest()).checkpoint
    verified = verify_checkpoint(cp.signed_note, harness.vkey)
    assert (verified.size, verified.root_hash, verified.origin) == (5, cp.root_hash, cp.origin)


def test_inclusion_proof_by_index_and_by_hash(harness: Harness) -> None:
    leaves = fill(harness, 7)
    latest = harness.log.GetInclusionProof(lg.GetInclusionProofRequest(leaf_index=3))
    assert latest.checkpoint.size == 7
    proof = latest.inclusion_proof
    verify_inclusion(3, 7, leaf_hash(leaves[3]), list(proof.hashes), latest.checkpoint.root_hash)
    by_hash = harness.log.GetInclusionProof(
        lg.GetInclusionProofRequest(leaf_hash=leaf_hash(leaves[2]), tree_size=5)
    )
    assert not by_hash.HasField("checkpoint")
    assert by_hash.inclusion_proof.leaf_index == 2 and by_hash.inclusion_proof.tree_size == 5


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({}, ["leaf"]),
        ({"leaf_hash": b"\0" * 31}, ["leaf_hash"]),
        ({"leaf_index": 4}, ["leaf_index"]),
        ({"leaf_index": 0, "tree_size": 9}, ["tree_size"]),
    ],
)
def test_inclusion_proof_bad_input(
    harness: Harness, request_fields: dict[str, object], expected: list[str]
) -> None:
    fill(harness, 4)
    with pytest.raises(grpc.RpcError) as info:
        harness.log.GetInclusionProof(lg.GetInclusionProofRequest(**request_fields))  # type: ignore[arg-type]
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == expected


def test_inclusion_proof_unknown_or_later_hash_is_not_found(harness: Harness) -> None:
    leaves = fill(harness, 4)
    for request in (
        lg.GetInclusionProofRequest(leaf_hash=b"\1" * 32),
        lg.GetInclusionProofRequest(leaf_hash=leaf_hash(leaves[3]), tree_size=2),
    ):
        with pytest.raises(grpc.RpcError) as info:
            harness.log.GetInclusionProof(request)
        assert info.value.code() is grpc.StatusCode.NOT_FOUND


def test_consistency_proof(harness: Harness) -> None:
    fill(harness, 3)
    old = harness.log.GetCheckpoint(lg.GetCheckpointRequest()).checkpoint
    fill(harness, 6)
    response = harness.log.GetConsistencyProof(lg.GetConsistencyProofRequest(from_size=old.size))
    assert response.consistency_proof.to_size == 9 == response.checkpoint.size
    verify_consistency(
        3, 9, list(response.consistency_proof.hashes), old.root_hash, response.checkpoint.root_hash
    )
    same = harness.log.GetConsistencyProof(lg.GetConsistencyProofRequest(from_size=9, to_size=9))
    assert list(same.consistency_proof.hashes) == [] and not same.HasField("checkpoint")


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({"from_size": 0}, ["from_size"]),
        ({"from_size": 3, "to_size": 2}, ["from_size"]),
        ({"from_size": 1, "to_size": 5}, ["to_size"]),
    ],
)
def test_consistency_proof_bad_input(
    harness: Harness, request_fields: dict[str, object], expected: list[str]
) -> None:
    fill(harness, 4)
    with pytest.raises(grpc.RpcError) as info:
        harness.log.GetConsistencyProof(lg.GetConsistencyProofRequest(**request_fields))  # type: ignore[arg-type]
    assert error_fields(info.value) == expected


def test_get_entries_returns_a_prefix_of_at_most_1000(harness: Harness) -> None:
    leaves = fill(harness, 1000) + fill(harness, 5)
    first = harness.log.GetEntries(lg.GetEntriesRequest(start=0, end=1005)).entries
    assert len(first) == 1000
    assert [e.leaf_index for e in first] == list(range(1000))
    rest = harness.log.GetEntries(lg.GetEntriesRequest(start=1000, end=1005)).entries
    assert [e.leaf for e in rest] == leaves[1000:]


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [({"start": 2, "end": 2}, ["start"]), ({"start": 0, "end": 5}, ["end"])],
)
def test_get_entries_bad_input(
    harness: Harness, request_fields: dict[str, object], expected: list[str]
) -> None:
    fill(harness, 3)
    with pytest.raises(grpc.RpcError) as info:
        harness.log.GetEntries(lg.GetEntriesRequest(**request_fields))  # type: ignore[arg-type]
    assert error_fields(info.value) == expected
