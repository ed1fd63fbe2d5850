"""Kill test: SIGKILL the gateway while clients submit; nothing acknowledged is lost.

Each round: clients submit continuously (unary calls, batches and a stream,
concurrently) to a real `gateway serve` process; at a random moment the
gateway gets SIGKILL; it is restarted on the same data folder. Then every
entry that was acknowledged before the kill is there with the same leaf
index, leaf and token, resubmitting it returns the same receipt, and a
consistency proof from the last checkpoint seen before the kill to the new
latest checkpoint verifies. The rounds share one data folder, so each
recovery starts from a log that was itself recovered.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_consistency, verify_inclusion
from court.verify.rfc6962 import leaf_hash
from evidence_gateway.v1 import common_pb2, evidence_service_pb2_grpc, log_service_pb2_grpc
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.grpc_client import submission
from tests.support.procs import descendants

ROUNDS = 20


@dataclass
class Acked:
    """What the clients saw acknowledged before the kill."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    receipts: list[tuple[common_pb2.EvidenceSubmission, common_pb2.Receipt]] = field(
        default_factory=list
    )
    checkpoint: common_pb2.Checkpoint | None = None

    def add(self, s: common_pb2.EvidenceSubmission, r: common_pb2.Receipt) -> None:
        with self.lock:
            self.receipts.append((s, r))
            if self.checkpoint is None or r.checkpoint.size > self.checkpoint.size:
                self.checkpoint = r.checkpoint


@dataclass
class Rig:
    proc: GatewayProcess
    vkey: str
    rng: random.Random
    last_size: int = 0


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    folder = tmp_path_factory.mktemp("kill")
    pki = folder / "data" / "pki"
    make_pki(pki)
    proc = GatewayProcess(write_config(folder, max_batch=200, max_wait_ms=2), folder)
    proc.start()
    seed = random.randrange(2**32)
    print(f"kill test seed {seed}")
    try:
        yield Rig(proc, (pki / "log.vkey").read_text().strip(), random.Random(seed))
    finally:
        proc.stop()


def _unary(stub: evidence_service_pb2_grpc.EvidenceServiceStub, acked: Acked, loan: str) -> None:
    while True:
        s = submission(loan)
        try:
            r = stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=s), timeout=10).receipt
        except grpc.RpcError:
            return
        acked.add(s, r)


def _batch(stub: evidence_service_pb2_grpc.EvidenceServiceStub, acked: Acked, loan: str) -> None:
    while True:
        items = [submission(f"{loan}-{i % 3}") for i in range(25)]
        try:
            response = stub.BatchSubmitEvidence(
                ev.BatchSubmitEvidenceRequest(submissions=items), timeout=10
            )
        except grpc.RpcError:
            return
        for s, result in zip(items, response.results, strict=True):
            assert result.HasField("receipt"), result.error
            acked.add(s, result.receipt)


def _stream(stub: evidence_service_pb2_grpc.EvidenceServiceStub, acked: Acked, loan: str) -> None:
    sent: dict[str, common_pb2.EvidenceSubmission] = {}

    def requests() -> Iterator[ev.SubmitEvidenceStreamRequest]:
        while True:
            s = submission(loan)
            sent[s.request_id] = s
            yield ev.SubmitEvidenceStreamRequest(submission=s)

    try:
        for response in stub.SubmitEvidenceStream(requests(), timeout=30):
            assert response.HasField("receipt"), response.error
            acked.add(sent.pop(response.request_id), response.receipt)
    except grpc.RpcError:
        return


@pytest.mark.parametrize("round_no", range(ROUNDS))
def test_sigkill_loses_nothing_acknowledged(rig: Rig, round_no: int) -> None:
    acked = Acked()
    channel = rig.proc.channel()
    stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
    loan = f"kill-{round_no}"
    workers = [
        threading.Thread(target=fn, args=(stub, acked, f"{loan}-{n}"), daemon=True)
        for n, fn in enumerate((_unary, _unary, _unary, _batch, _stream))
    ]
    for worker in workers:
        worker.start()
    # Kill at a random moment, once the clients are under way.
    deadline = time.monotonic() + 10
    while len(acked.receipts) < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rig.rng.uniform(0.0, 0.4))
    left = rig.proc.kill()
    assert not left, f"processes outlived the killed gateway: {left}"
    for worker in workers:
        worker.join(15)
        assert not worker.is_alive()
    channel.close()
    with acked.lock:
        receipts = list(acked.receipts)
        seen = acked.checkpoint
    assert receipts and seen is not None, rig.proc.log_path.read_text()

    rig.proc.start()
    with rig.proc.channel() as channel:
        evidence = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
        log = log_service_pb2_grpc.LogServiceStub(channel)

        # Every acknowledged entry is there, unchanged.
        for s, r in receipts:
            record = evidence.GetEvidence(ev.GetEvidenceRequest(entry_id=r.entry_id)).record
            assert record.receipt.leaf_index == r.leaf_index
            assert record.receipt.leaf == r.leaf
            assert record.receipt.timestamp_token == r.timestamp_token
            assert record.submission.owner == "dev-bank"  # an empty owner: the submitter
            record.submission.owner = ""
            assert record.submission == s
        # Resubmitting acknowledged items returns their original receipts (idempotency survives).
        for s, r in rig.rng.sample(receipts, min(5, len(receipts))):
            again = evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=s)).receipt
            assert (again.entry_id, again.leaf_index) == (r.entry_id, r.leaf_index)

        # The log after the restart extends the last checkpoint seen before the kill.
        latest = log.GetCheckpoint(lg.GetCheckpointRequest()).checkpoint
        new = verify_checkpoint(latest.signed_note, rig.vkey)
        old = verify_checkpoint(seen.signed_note, rig.vkey)
        assert new.size >= old.size >= rig.last_size
        proof = log.GetConsistencyProof(
            lg.GetConsistencyProofRequest(from_size=old.size, to_size=new.size)
        ).consistency_proof
        verify_consistency(old.size, new.size, list(proof.hashes), old.root_hash, new.root_hash)
        # And a sample of acknowledged leaves are included in the new tree.
        for _, r in rig.rng.sample(receipts, min(5, len(receipts))):
            inc = log.GetInclusionProof(
                lg.GetInclusionProofRequest(leaf_index=r.leaf_index, tree_size=new.size)
            ).inclusion_proof
            verify_inclusion(
                r.leaf_index, new.size, leaf_hash(r.leaf), list(inc.hashes), new.root_hash
            )
    print(f"round {round_no}: {len(receipts)} acknowledged; checkpoint {old.size} -> {new.size}")
    rig.last_size = new.size


def test_sigkill_takes_the_tsa_workers_along(tmp_path: Path) -> None:
    """The gateway's TSA worker processes (and multiprocessing's resource tracker) end with it."""
    make_pki(tmp_path / "data" / "pki")
    proc = GatewayProcess(write_config(tmp_path, sections={"tsa": {"processes": 2}}), tmp_path)
    proc.start()
    try:
        family = descendants(proc.proc.pid if proc.proc else 0)
        workers = [cmd for cmd in family.values() if "multiprocessing" in cmd]
        assert len(workers) >= 2, family  # the two workers (and the tracker)
    finally:
        left = proc.kill()
    assert not left, f"processes outlived the killed gateway: {left}"


def test_a_gateway_that_fails_to_start_is_not_left_running(tmp_path: Path) -> None:
    make_pki(tmp_path / "data" / "pki")
    proc = GatewayProcess(write_config(tmp_path), tmp_path)
    with pytest.raises(RuntimeError, match="did not start"):
        proc.start(timeout=0.0)  # gives up before the gateway has printed its address
    assert proc.proc is not None and proc.proc.poll() is not None  # killed, not orphaned
