"""Our tokens pass verifiers we did not write: stock `openssl ts -verify`, trailofbits'
rfc3161-client, and our court verifier — for P-256 and RSA-3072, SHA-256/384/512."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

from court.verify.token import verify_timestamp
from notary.tsa.engine import TimeStampAuthority
from tests.support.tsa import make_engine, make_request

DOCUMENT = "借款合同 loan contract #2026-0042".encode()
HASHES = ("sha256", "sha384", "sha512")
KEY_TYPES = ("p256", "rsa3072")


@pytest.fixture(scope="module")
def engines(
    pki_p256: Path, pki_rsa3072: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[TimeStampAuthority, Path]]:
    state = tmp_path_factory.mktemp("serials")
    return {
        "p256": (make_engine(pki_p256, state / "p256"), pki_p256),
        "rsa3072": (make_engine(pki_rsa3072, state / "rsa"), pki_rsa3072),
    }


def _openssl_verify(
    tmp: Path, pki: Path, reply: bytes, query: bytes
) -> subprocess.CompletedProcess[str]:
    (tmp / "r.tsr").write_bytes(reply)
    (tmp / "q.tsq").write_bytes(query)
    return subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-in",
            str(tmp / "r.tsr"),
            "-queryfile",
            str(tmp / "q.tsq"),
            "-CAfile",
            str(pki / "root-ca.pem"),
            "-untrusted",
            str(pki / "tsa.pem"),
        ],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("hash_name", HASHES)
@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_openssl_accepts_our_tokens(
    engines: dict[str, tuple[TimeStampAuthority, Path]],
    key_type: str,
    hash_name: str,
    tmp_path: Path,
) -> None:
    engine, pki = engines[key_type]
    query = make_request(DOCUMENT, hash_name=hash_name, nonce=0x5EED)
    result = _openssl_verify(tmp_path, pki, engine.respond(query), query)
    assert result.stdout.strip() == "Verification: OK", result.stderr


def test_openssl_rejects_our_token_for_another_document(
    engines: dict[str, tuple[TimeStampAuthority, Path]], tmp_path: Path
) -> None:
    engine, pki = engines["p256"]
    reply = engine.respond(make_request(DOCUMENT))
    other = make_request(b"another document")
    result = _openssl_verify(tmp_path, pki, reply, other)
    assert "Verification: FAILED" in result.stdout
    assert "message imprint mismatch" in result.stderr


def test_openssl_verifies_token_only_with_data(
    engines: dict[str, tuple[TimeStampAuthority, Path]], tmp_path: Path
) -> None:
    """The bare token (as the gateway stores it) with `-token_in -data`."""
    engine, pki = engines["p256"]
    issued = engine.issue("sha256", hashlib.sha256(DOCUMENT).digest())
    (tmp_path / "token.der").write_bytes(issued.token)
    (tmp_path / "doc").write_bytes(DOCUMENT)
    result = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-token_in",
            "-in",
            str(tmp_path / "token.der"),
            "-data",
            str(tmp_path / "doc"),
            "-CAfile",
            str(pki / "root-ca.pem"),
            "-untrusted",
            str(pki / "tsa.pem"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "Verification: OK", result.stderr


def _certs(pki: Path) -> tuple[x509.Certificate, x509.Certificate]:
    root = x509.load_pem_x509_certificate((pki / "root-ca.pem").read_bytes())
    tsa = x509.load_pem_x509_certificate((pki / "tsa.pem").read_bytes())
    return root, tsa


@pytest.mark.parametrize("hash_name", HASHES)
@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_rfc3161_client_accepts_our_tokens(
    engines: dict[str, tuple[TimeStampAuthority, Path]], key_type: str, hash_name: str
) -> None:
    engine, pki = engines[key_type]
    root, tsa = _certs(pki)
    reply = engine.respond(make_request(DOCUMENT, hash_name=hash_name, nonce=77))
    response = decode_timestamp_response(reply)
    verifier = VerifierBuilder().tsa_certificate(tsa).add_root_certificate(root).nonce(77).build()
    assert verifier.verify_message(response, DOCUMENT) is True
    with pytest.raises(VerificationError):
        verifier.verify_message(response, DOCUMENT + b".")


@pytest.mark.parametrize("hash_name", HASHES)
@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_court_verifier_accepts_our_tokens(
    engines: dict[str, tuple[TimeStampAuthority, Path]], key_type: str, hash_name: str
) -> None:
    engine, pki = engines[key_type]
    root, tsa = _certs(pki)
    reply = engine.respond(make_request(DOCUMENT, hash_name=hash_name, nonce=78))
    result = verify_timestamp(
        reply,
        roots=[root],
        data=DOCUMENT,
        nonce=78,
        tsa_certificate=tsa,
        policy=engine.config.policy,
    )
    assert result.ok, [c for c in result.checks if not c.passed]
    assert result.nonce == 78
    assert result.hash_algorithm == hash_name
    bad = verify_timestamp(reply, roots=[root], data=DOCUMENT + b".")
    assert not bad.ok
    assert bad.first_failure is not None and bad.first_failure.name == "Imprint matches"
