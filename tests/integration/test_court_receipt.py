"""`court-verify receipt` on a receipt issued by a real `gateway serve` process.

A lender submits a document's digest over gRPC and archives the receipt as
the serialized protobuf; a court later verifies that file with the
court-verify executable, holding only the document, the TSA's root
certificate and the log's verifier key (the gateway keeps running here only
to issue receipts; the verification never talks to it).
"""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from court.verify.receipt import ANCHOR_CHECKS, CHECK_LEAF_DIGEST, NEWER_CHECKS, RECEIPT_CHECKS
from court.verify.token import CHECK_IMPRINT, TOKEN_CHECKS
from evidence_gateway.v1 import common_pb2, evidence_service_pb2_grpc
from evidence_gateway.v1 import evidence_service_pb2 as ev
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.grpc_client import submission
from tests.support.procs import BIN

# Token checks that apply only when asked for (nonce, policy, pinned TSA) or
# when a newer checkpoint is given: they are printed as not run.
_NOT_ASKED = {"Nonce matches", "Policy matches", "TSA identity pinned", "Status granted"}
_NO_NEWER = set(NEWER_CHECKS) | set(ANCHOR_CHECKS)  # and no anchor asked for


@dataclass
class Gateway:
    pki: Path
    evidence: evidence_service_pb2_grpc.EvidenceServiceStub


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("gateway")
    pki = folder / "data" / "pki"
    make_pki(pki)
    proc = GatewayProcess(write_config(folder), folder)
    proc.start()
    channel: grpc.Channel = proc.channel()
    try:
        yield Gateway(pki=pki, evidence=evidence_service_pb2_grpc.EvidenceServiceStub(channel))
    finally:
        channel.close()
        assert proc.stop() == 0, proc.log_path.read_text()


def court_verify(gw: Gateway, receipt: Path, *what: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "court-verify"),
            "receipt",
            str(receipt),
            *what,
            "--ca",
            str(gw.pki / "root-ca.pem"),
            "--log-key",
            str(gw.pki / "log.vkey"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def submit(gw: Gateway, document: bytes) -> common_pb2.Receipt:
    s = submission(f"loan-{uuid.uuid4().hex[:12]}", digest=hashlib.sha256(document).digest())
    request = ev.SubmitEvidenceRequest(submission=s)
    receipt: common_pb2.Receipt = gw.evidence.SubmitEvidence(request, timeout=30).receipt
    return receipt


def archive(gw: Gateway, document: bytes, folder: Path) -> tuple[common_pb2.Receipt, Path]:
    """Submit the document's digest and write the receipt as a lender's system would."""
    receipt = submit(gw, document)
    path = folder / "receipt.pb"
    path.write_bytes(receipt.SerializeToString())
    return receipt, path


def lines_by_check(stdout: str) -> dict[str, str]:
    """Check name -> its mark (PASS, FAIL, ----), from the printed report."""
    names = (*TOKEN_CHECKS, *RECEIPT_CHECKS)
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        mark, _, rest = line.partition("  ")
        for name in names:
            if rest == name or rest.startswith(name + " "):
                found[name] = mark
    return found


def test_archived_receipt_verifies_offline(gw: Gateway, tmp_path: Path) -> None:
    document = b"loan contract %s, signed" % uuid.uuid4().hex.encode()
    (tmp_path / "contract.pdf").write_bytes(document)
    receipt, path = archive(gw, document, tmp_path)
    for _ in range(2):  # the log grows after the receipt was issued
        submit(gw, uuid.uuid4().bytes)

    result = court_verify(gw, path, "--file", str(tmp_path / "contract.pdf"))
    assert result.returncode == 0, result.stdout + result.stderr
    marks = lines_by_check(result.stdout)
    assert set(marks) == set(TOKEN_CHECKS) | set(RECEIPT_CHECKS), result.stdout
    for name, mark in marks.items():
        wanted = "----" if name in _NOT_ASKED | _NO_NEWER else "PASS"
        assert mark == wanted, f"{name}: {mark}\n{result.stdout}"
    last = result.stdout.splitlines()[-1]
    assert last.startswith(f"VALID: entry {receipt.entry_id} ")

    digest = hashlib.sha256(document).hexdigest()
    by_digest = court_verify(gw, path, "--digest", digest)
    assert by_digest.returncode == 0, by_digest.stdout + by_digest.stderr


def test_another_document_is_invalid_and_names_the_check(gw: Gateway, tmp_path: Path) -> None:
    _, path = archive(gw, b"the real settlement agreement", tmp_path)
    (tmp_path / "forged.pdf").write_bytes(b"a forged settlement agreement")
    result = court_verify(gw, path, "--file", str(tmp_path / "forged.pdf"))
    assert result.returncode == 1, result.stdout + result.stderr
    marks = lines_by_check(result.stdout)
    assert {name for name, mark in marks.items() if mark == "FAIL"} == {
        CHECK_IMPRINT,
        CHECK_LEAF_DIGEST,
    }
    assert result.stdout.splitlines()[-1] == f"INVALID: {CHECK_IMPRINT}"


def test_a_file_that_is_not_a_receipt_is_an_input_error(gw: Gateway, tmp_path: Path) -> None:
    path = tmp_path / "not-a-receipt.pb"
    path.write_bytes(b"\x0a\xff")  # a truncated length-delimited field
    result = court_verify(gw, path, "--digest", "00" * 32)
    assert result.returncode == 2
    assert "not a serialized evidence_gateway.v1.Receipt" in result.stderr
