"""`court-verify bundle` on a bundle of a record a real `gateway serve` registered,
after that gateway process was stopped: verification needs no gateway.

The bundle is assembled from what the gateway answered over gRPC while it ran
(tests/support/bundle_builder.py); the court-verify executable then runs with
the gateway gone, holding only the bundle, the document and the trust
directory (the TSA root and log.vkey).
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import grpc

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc
from notary.pki import load_tsa_signing_material
from tests.support.bundle_builder import bundle_from_receipt, write
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.grpc_client import submission
from tests.support.procs import BIN


def test_a_bundle_verifies_with_the_gateway_stopped(tmp_path: Path) -> None:
    pki = tmp_path / "data" / "pki"
    make_pki(pki)
    proc = GatewayProcess(write_config(tmp_path), tmp_path)
    proc.start()
    address = proc.address
    document = b"loan contract " + uuid.uuid4().bytes
    channel: grpc.Channel = proc.channel()
    try:
        stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
        s = submission(f"loan-{uuid.uuid4().hex[:12]}", digest=hashlib.sha256(document).digest())
        receipt = stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=s), timeout=30).receipt
    finally:
        channel.close()
        assert proc.stop() == 0, proc.log_path.read_text()

    # the gateway is gone: its port accepts nothing
    host, port = address.rsplit(":", 1)
    with socket.socket() as probe:
        probe.settimeout(2)
        assert probe.connect_ex((host, int(port))) != 0

    tsa_cert = load_tsa_signing_material(pki)[1]
    from cryptography.hazmat.primitives.serialization import Encoding

    bundle = write(
        bundle_from_receipt(receipt, [tsa_cert.public_bytes(Encoding.DER)]), tmp_path / "b.json"
    )
    trust = tmp_path / "trust"
    trust.mkdir()
    shutil.copy(pki / "log.vkey", trust / "log.vkey")
    shutil.copy(pki / "root-ca.pem", trust / "root-ca.pem")
    doc = tmp_path / "contract.pdf"
    doc.write_bytes(document)

    def verify(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "court-verify"), "bundle", str(bundle), "--trust", str(trust), *extra],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = verify("--file", str(doc))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("VALID: entry " + receipt.entry_id)
    doc.write_bytes(document + b" ")
    done = verify("--file", str(doc))
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == "INVALID: Imprint matches"
