"""GetTrustInfo of a real `gateway serve` gives a court all it needs to check a receipt.

A court (or a lender's engineer) fetches the log's verifier key and the TSA's
certificate chain from the gateway instead of copying the operator's files,
writes them out, and `court-verify receipt` accepts a real receipt with
them; the token is issued under the policy the answer names. Both TSA set-ups
run: the in-process engine, and a real `notary serve` over HTTP.
"""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from court.verify.token import verify_timestamp
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc, log_service_pb2_grpc
from evidence_gateway.v1 import log_service_pb2 as pb
from notary.tsa.config import DEFAULT_POLICY_OID
from tests.support.gateway_proc import GatewayProcess, make_pki
from tests.support.grpc_client import submission
from tests.support.procs import BIN, notary_server


@dataclass
class Gateway:
    source: str
    pki: Path
    channel: grpc.Channel


@pytest.fixture(scope="module", params=["in_process", "http"])
def gw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp(f"trust-{request.param}")
    pki = folder / "data" / "pki"
    make_pki(pki)
    lines = ['listen = "127.0.0.1:0"', 'data_dir = "data"', "health_poll_seconds = 0.2"]
    with ExitStack() as stack:
        if request.param == "http":
            url = stack.enter_context(notary_server(pki, folder / "notary-state"))
            lines += ["[tsa]", f'urls = ["{url}"]', 'ca_files = ["data/pki/root-ca.pem"]']
        config = folder / "gateway.toml"
        config.write_text("\n".join(lines) + "\n")
        proc = GatewayProcess(config, folder)
        stack.callback(proc.stop)  # also when start() fails half-way
        proc.start()
        channel = stack.enter_context(proc.channel())
        yield Gateway(request.param, pki, channel)


def _pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)


def _der_of(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


def test_trust_info_from_the_gateway_verifies_a_real_receipt(gw: Gateway, tmp_path: Path) -> None:
    info = log_service_pb2_grpc.LogServiceStub(gw.channel).GetTrustInfo(
        pb.GetTrustInfoRequest(), timeout=10
    )
    (tsa,) = info.time_stamp_authorities
    if gw.source == "in_process":
        assert tsa.source == pb.TIME_STAMP_AUTHORITY_SOURCE_IN_PROCESS
        assert list(tsa.certificate_chain) == [
            _der_of(gw.pki / "tsa.pem"),
            _der_of(gw.pki / "root-ca.pem"),
        ]
        assert list(tsa.policy_oids) == [DEFAULT_POLICY_OID]
    else:
        assert tsa.source == pb.TIME_STAMP_AUTHORITY_SOURCE_HTTP
        assert list(tsa.certificate_chain) == [_der_of(gw.pki / "root-ca.pem")]
        assert list(tsa.policy_oids) == []
    assert info.log_verifier_key == (gw.pki / "log.vkey").read_text().strip()
    assert info.log_verifier_key.startswith(info.log_origin + "+")

    # What a court writes down from the answer: no file of the operator's is used.
    (tmp_path / "log.vkey").write_text(info.log_verifier_key + "\n")
    (tmp_path / "root.pem").write_bytes(_pem(tsa.certificate_chain[-1]))
    untrusted = b"".join(_pem(der) for der in tsa.certificate_chain[:-1])
    (tmp_path / "untrusted.pem").write_bytes(untrusted)

    document = b"loan contract %s" % uuid.uuid4().hex.encode()
    (tmp_path / "contract.pdf").write_bytes(document)
    s = submission(digest=hashlib.sha256(document).digest())
    evidence = evidence_service_pb2_grpc.EvidenceServiceStub(gw.channel)
    receipt = evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=s), timeout=30).receipt
    (tmp_path / "receipt.pb").write_bytes(receipt.SerializeToString())

    extra = ["--untrusted", str(tmp_path / "untrusted.pem")] if untrusted else []
    result = subprocess.run(
        [
            str(BIN / "court-verify"),
            "receipt",
            str(tmp_path / "receipt.pb"),
            "--file",
            str(tmp_path / "contract.pdf"),
            "--ca",
            str(tmp_path / "root.pem"),
            *extra,
            "--log-key",
            str(tmp_path / "log.vkey"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"VALID: entry {receipt.entry_id} ")

    # The token is issued under the policy GetTrustInfo names (notary serve's
    # default policy is the engine's: GetTrustInfo pins none for HTTP TSAs).
    token = verify_timestamp(
        receipt.timestamp_token,
        roots=[x509.load_der_x509_certificate(tsa.certificate_chain[-1])],
        untrusted=[x509.load_der_x509_certificate(c) for c in tsa.certificate_chain[:-1]],
        digest=s.digest,
        hash_algorithm="sha256",
        policy=tsa.policy_oids[0] if tsa.policy_oids else DEFAULT_POLICY_OID,
    )
    assert token.ok, token.first_failure
