"""ADVERSARIAL (issue 10 review): `court-verify audit-log` against a hostile gateway.

(Second finding, at the end: a gateway that lists only its early checkpoints
hides the later ones whose loan-map roots do not follow from the leaves, and
audit-log says VALID: it never compares the listing with the latest
checkpoint, GetCheckpoint's, which receipts and bundles carry.)

A gateway that keeps answering ListCheckpoints with a next_page_token (an
endless listing, the same checkpoint again and again, or empty pages) must not
keep the auditor busy forever: DESIGN.md says the verifier's work is bounded
whatever its input. Expected to FAIL until the paging loop demands progress
(strictly growing sizes, no empty page with a token) or has a bound.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from court.audit_log import audit_log
from court.gateway_rpc import GatewayTarget
from court.verify.checkpoint import parse_verifier_key
from evidence_gateway.v1 import common_pb2, log_service_pb2, log_service_pb2_grpc
from tests.support import replay_log
from tests.support.replay_log import ReplayLog

_DEADLINE = 10.0


class _HostileLog(log_service_pb2_grpc.LogServiceServicer):
    def __init__(self, log: ReplayLog, mode: str) -> None:
        self.log = log
        self.mode = mode
        self.pages = 0

    def ListCheckpoints(self, request: Any, context: Any) -> Any:
        self.pages += 1
        if self.mode == "prefix":  # the first two checkpoints only, then "that's all"
            return log_service_pb2.ListCheckpointsResponse(
                checkpoints=[common_pb2.Checkpoint(signed_note=n) for n in self.log.checkpoints[:2]]
            )
        if self.mode == "empty":
            return log_service_pb2.ListCheckpointsResponse(next_page_token="again")
        # "repeat": the latest checkpoint, then "more" forever
        return log_service_pb2.ListCheckpointsResponse(
            checkpoints=[common_pb2.Checkpoint(signed_note=self.log.checkpoints[-1])],
            next_page_token="more",
        )

    def GetCheckpoint(self, request: Any, context: Any) -> Any:
        return log_service_pb2.GetCheckpointResponse(
            checkpoint=common_pb2.Checkpoint(signed_note=self.log.checkpoints[-1])
        )

    def GetConsistencyProof(self, request: Any, context: Any) -> Any:
        from court.verify.rfc6962 import leaf_hash
        from gateway.log.tree import CompactTree, MemoryNodeStore, consistency_proof

        nodes, tree = MemoryNodeStore(), CompactTree()
        nodes.put_nodes(tree.append_leaves([leaf_hash(x) for x in self.log.leaves]))
        hashes = consistency_proof(nodes, request.from_size, request.to_size)
        return log_service_pb2.GetConsistencyProofResponse(
            consistency_proof=common_pb2.ConsistencyProof(
                from_size=request.from_size, to_size=request.to_size, hashes=hashes
            )
        )

    def GetEntries(self, request: Any, context: Any) -> Any:
        return log_service_pb2.GetEntriesResponse(
            entries=[
                log_service_pb2.LogEntry(leaf_index=i, leaf=self.log.leaves[i])
                for i in range(request.start, min(request.end, len(self.log.leaves)))
            ]
        )


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[tuple[_HostileLog, str]]:
    log = replay_log.build()
    if request.param == "prefix":  # the latest checkpoint signs a map root of nothing
        from tests.support.merkle_reference import mth

        size = len(log.leaves)
        log.checkpoints[-1] = log.sign(size, mth(log.leaves), b"\x42" * 32)
    servicer = _HostileLog(log, request.param)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    log_service_pb2_grpc.add_LogServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None).wait()


@pytest.mark.parametrize("served", ["repeat", "empty"], indirect=True)
def test_an_endless_checkpoint_listing_does_not_keep_the_auditor_busy(
    served: tuple[_HostileLog, str],
) -> None:
    servicer, address = served
    target = GatewayTarget(address, insecure_loopback=True, timeout=5.0)
    key = parse_verifier_key(servicer.log.vkey)
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(audit_log(target, 0, key, io.StringIO(), as_json=False))
        except Exception as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(_DEADLINE)
    pages = servicer.pages
    # whatever happens: stopping the server (fixture) makes the worker's next call fail
    assert not worker.is_alive(), (
        f"audit-log still paging after {_DEADLINE:g}s: {pages} ListCheckpoints pages asked for"
    )
    assert outcome and outcome[0] is not True, outcome


@pytest.mark.parametrize("served", ["prefix"], indirect=True)
def test_a_listing_that_stops_before_the_latest_checkpoint_is_not_valid(
    served: tuple[_HostileLog, str],
) -> None:
    servicer, address = served
    target = GatewayTarget(address, insecure_loopback=True, timeout=5.0)
    out = io.StringIO()
    ok = audit_log(target, 0, parse_verifier_key(servicer.log.vkey), out, as_json=False)
    # today: VALID, the latest checkpoint (size 20, a map root that does not follow from
    # the leaves) was never listed, hence never audited
    assert not ok, out.getvalue()
