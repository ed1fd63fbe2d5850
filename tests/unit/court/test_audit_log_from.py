"""`court-verify audit-log --from N` when the log has no checkpoint of size N or more yet.

An incremental audit with nothing new is not a tampered log: exit 0, `Checkpoints listed`
not run ("no checkpoint of size ≥ N; the latest is M"), only the latest checkpoint's
signature checked and no leaf read. A latest checkpoint the log key did not sign still
fails. Against an in-process LogService that answers as the gateway does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.cli import main
from court.verify.checkpoint import parse_checkpoint
from court.verify.log_audit import AUDIT_CHECKS, CHECK_LISTED, CHECK_SIGNATURES, CHECK_TREE
from evidence_gateway.v1 import common_pb2, log_service_pb2, log_service_pb2_grpc
from gateway.log.checkpoint import sign_checkpoint
from tests.support import replay_log
from tests.support.replay_log import ORIGIN, ReplayLog

LATEST = replay_log.SIZES[-1]


class _Log(log_service_pb2_grpc.LogServiceServicer):
    """ListCheckpoints and GetCheckpoint as the gateway answers them; counts leaf reads."""

    def __init__(self, log: ReplayLog, latest: str) -> None:
        self.log = log
        self.latest = latest
        self.entry_calls = 0

    def ListCheckpoints(self, request: Any, context: Any) -> Any:
        notes = [n for n in self.log.checkpoints if parse_checkpoint(n).size >= request.from_size]
        return log_service_pb2.ListCheckpointsResponse(
            checkpoints=[common_pb2.Checkpoint(signed_note=n) for n in notes]
        )

    def GetCheckpoint(self, request: Any, context: Any) -> Any:
        return log_service_pb2.GetCheckpointResponse(
            checkpoint=common_pb2.Checkpoint(signed_note=self.latest)
        )

    def GetEntries(self, request: Any, context: Any) -> Any:
        self.entry_calls += 1
        return log_service_pb2.GetEntriesResponse(
            entries=[
                log_service_pb2.LogEntry(leaf_index=i, leaf=self.log.leaves[i])
                for i in range(request.start, min(request.end, len(self.log.leaves)))
            ]
        )


def _serve(servicer: _Log) -> Iterator[tuple[_Log, str]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    log_service_pb2_grpc.add_LogServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None).wait()


@pytest.fixture
def honest() -> Iterator[tuple[_Log, str]]:
    log = replay_log.build()
    yield from _serve(_Log(log, log.checkpoints[-1]))


@pytest.fixture
def forged_latest() -> Iterator[tuple[_Log, str]]:
    """The latest checkpoint is signed by another key (same origin, same size and root)."""
    log = replay_log.build()
    other = Ed25519PrivateKey.from_private_bytes(b"\x09" * 32)
    real = parse_checkpoint(log.checkpoints[-1])
    forged = sign_checkpoint(ORIGIN, real.size, real.root_hash, other, ORIGIN)
    yield from _serve(_Log(log, forged))


def _audit(
    served: tuple[_Log, str], from_size: int, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    servicer, address = served
    vkey = tmp_path / "log.vkey"
    vkey.write_text(servicer.log.vkey + "\n")
    args = ["audit-log", "--gateway", address, "--insecure-loopback", "--log-key", str(vkey)]
    code = main([*args, "--from", str(from_size), "--json"])
    return code, json.loads(capsys.readouterr().out)


def _checks(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in report["checks"]}


def test_nothing_new_is_not_run_and_exit_0(
    honest: tuple[_Log, str], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _audit(honest, LATEST + 1, tmp_path, capsys)
    assert code == 0, report
    assert report["outcome"] == "valid"
    checks = _checks(report)
    assert list(checks) == list(AUDIT_CHECKS)
    reason = f"no checkpoint of size ≥ {LATEST + 1}; the latest is {LATEST}"
    assert checks[CHECK_LISTED] == {"name": CHECK_LISTED, "status": "not_run", "detail": reason}
    assert checks[CHECK_SIGNATURES]["status"] == "passed"
    others = [c for name, c in checks.items() if name != CHECK_SIGNATURES]
    assert all(c["status"] == "not_run" for c in others), others
    assert report["summary"].startswith(f"NOTHING NEW: {reason}")
    assert honest[0].entry_calls == 0  # no leaf was read for nothing


def test_from_the_latest_size_audits_it(
    honest: tuple[_Log, str], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _audit(honest, LATEST, tmp_path, capsys)
    assert code == 0, report
    checks = _checks(report)
    assert checks[CHECK_LISTED]["status"] == "passed"
    assert checks[CHECK_LISTED]["detail"].startswith(f"1 checkpoint, sizes {LATEST} to {LATEST}")
    assert checks[CHECK_SIGNATURES]["detail"] == "1 checkpoint signed by the log key"
    assert checks[CHECK_TREE]["detail"] == "1 checkpoint root equals the replayed tree's"
    assert report["summary"].startswith("VALID: the log")
    assert honest[0].entry_calls > 0


def test_nothing_new_with_a_latest_checkpoint_of_another_key_fails(
    forged_latest: tuple[_Log, str], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _audit(forged_latest, LATEST + 1, tmp_path, capsys)
    assert code == 1, report
    assert report["outcome"] == "invalid"
    assert _checks(report)[CHECK_SIGNATURES]["status"] == "failed"
    assert report["summary"].startswith(f"INVALID: {CHECK_SIGNATURES}")
