"""LogService.GetTrustInfo: the material a verifier needs, enough to check a receipt."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from court.receipts import receipt_copies, receipt_opening
from court.verify.receipt import verify_receipt
from court.verify.token import verify_timestamp
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as pb
from gateway.config import GatewayConfig
from gateway.server import load_tsa_trust, trust_info
from notary.pki import init_pki, load_log_verifier_key
from notary.tsa.config import DEFAULT_POLICY_OID
from tests.support.grpc_client import submission
from tests.unit.gateway.api.conftest import Harness

ALL_ALGORITHMS = [
    common_pb2.HASH_ALGORITHM_SHA256,
    common_pb2.HASH_ALGORITHM_SHA384,
    common_pb2.HASH_ALGORITHM_SHA512,
    common_pb2.HASH_ALGORITHM_SM3,
]


def _der(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


def test_trust_info_names_the_log_key_the_tsa_chain_policy_and_algorithms(
    harness: Harness, pki_p256: Path
) -> None:
    info = harness.log.GetTrustInfo(pb.GetTrustInfoRequest())
    vkey = load_log_verifier_key(pki_p256)
    assert info.log_verifier_key == vkey.line
    assert info.log_origin == vkey.origin
    (tsa,) = info.time_stamp_authorities
    assert tsa.source == pb.TIME_STAMP_AUTHORITY_SOURCE_IN_PROCESS
    assert list(tsa.certificate_chain) == [
        _der(pki_p256 / "tsa.pem"),
        _der(pki_p256 / "root-ca.pem"),
    ]
    assert list(tsa.policy_oids) == [DEFAULT_POLICY_OID]
    assert list(info.hash_algorithms) == ALL_ALGORITHMS


def test_trust_info_alone_verifies_a_receipt(harness: Harness) -> None:
    s = submission()
    receipt = harness.evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=s)).receipt
    info = harness.log.GetTrustInfo(pb.GetTrustInfoRequest())
    chains = [
        [x509.load_der_x509_certificate(c) for c in t.certificate_chain]
        for t in info.time_stamp_authorities
    ]
    roots = [chain[-1] for chain in chains]
    untrusted = [c for chain in chains for c in chain[:-1]]
    result = verify_receipt(
        leaf=receipt.leaf,
        token=receipt.timestamp_token,
        checkpoint=receipt.checkpoint.signed_note,
        leaf_index=receipt.leaf_index,
        tree_size=receipt.inclusion_proof.tree_size,
        inclusion_proof=list(receipt.inclusion_proof.hashes),
        copies=receipt_copies(receipt),
        opening=receipt_opening(receipt),
        log_verifier_key=info.log_verifier_key,
        roots=roots,
        untrusted=untrusted,
        digest=s.digest,
        hash_algorithm="sha256",
    )
    assert result.ok, result.first_failure
    (policy,) = info.time_stamp_authorities[0].policy_oids
    token = verify_timestamp(
        receipt.timestamp_token,
        roots=roots,
        untrusted=untrusted,
        digest=s.digest,
        hash_algorithm="sha256",
        policy=policy,
    )
    assert token.ok, token.first_failure


def test_http_tsas_give_one_chain_per_configured_anchor(pki_p256: Path, tmp_path: Path) -> None:
    init_pki(tmp_path / "other")
    bundle = tmp_path / "anchors.pem"
    bundle.write_bytes(
        (pki_p256 / "root-ca.pem").read_bytes() + (tmp_path / "other" / "root-ca.pem").read_bytes()
    )
    config = GatewayConfig(
        listen="127.0.0.1:0",
        data_dir=tmp_path,
        insecure_dev=True,
        tsa_pki_dir=pki_p256,
        tsa_urls=("http://127.0.0.1:3180/", "http://127.0.0.1:3181/"),
        tsa_ca_files=(bundle,),
    )
    roots, untrusted = load_tsa_trust(config)
    vkey = load_log_verifier_key(pki_p256)
    info = trust_info(config, roots, untrusted, vkey.line)
    assert [t.chain for t in info.tsas] == [
        (_der(pki_p256 / "root-ca.pem"),),
        (_der(tmp_path / "other" / "root-ca.pem"),),
    ]
    assert {t.source.value for t in info.tsas} == {"http"}
    assert all(t.policies == () for t in info.tsas)
    assert info.log_origin == vkey.origin
