"""court.verify.token against the trailofbits/rfc3161-client test vectors.

One test per row of the vectors table (see tests/fixtures/rfc3161-client/
README.md): real tokens from a local sigstore TSA, timestamp.sigstage.dev,
the sigstore-conformance mock TSA and timestamp.identrust.com.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography import x509

from court.verify.result import CheckStatus
from court.verify.token import (
    CHECK_CHAIN,
    CHECK_DER,
    CHECK_IMPRINT,
    CHECK_NONCE,
    CHECK_PIN,
    CHECK_POLICY,
    CHECK_SIGNATURE,
    CHECK_SIGNER_FOUND,
    CHECK_SIGNING_CERT,
    TOKEN_CHECKS,
    TokenVerification,
    verify_timestamp,
)
from court.verify.x509chain import build_chain

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "rfc3161-client"
HELLO = b"hello"
TEST_TSA_NAME = "CN=Test TSA Timestamping,O=local"


def read(rel: str) -> bytes:
    return (FIXTURES / rel).read_bytes()


def pem_chain(folder: str) -> list[x509.Certificate]:
    """ts_chain.pem of a folder: leaf first, root last."""
    return x509.load_pem_x509_certificates(read(f"{folder}/ts_chain.pem"))


def request(rel: str) -> tsp.TimeStampReq:
    return tsp.TimeStampReq.load(read(rel), strict=True)


def failed_names(result: TokenVerification) -> list[str]:
    return [c.name for c in result.failures]


def assert_valid(result: TokenVerification) -> None:
    assert result.failures == (), [(c.name, c.detail) for c in result.failures]
    assert result.ok
    assert [c.name for c in result.checks] == list(TOKEN_CHECKS)


def assert_fails_only(result: TokenVerification, *names: str) -> None:
    assert not result.ok
    assert failed_names(result) == list(names), [(c.name, c.detail) for c in result.failures]


def verify_test_tsa(rel: str, **kwargs: object) -> TokenVerification:
    chain = pem_chain("test_tsa")
    options: dict[str, object] = {"roots": [chain[-1]], "untrusted": chain, "data": HELLO}
    options.update(kwargs)
    return verify_timestamp(read(rel), **options)  # type: ignore[arg-type]


def verify_sigstage(rel: str, **kwargs: object) -> TokenVerification:
    chain = pem_chain("sigstage")
    options: dict[str, object] = {"roots": [chain[-1]], "untrusted": chain, "data": HELLO}
    options.update(kwargs)
    return verify_timestamp(read(rel), **options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- provenance


def test_fixture_checksums_match_sha256sums() -> None:
    lines = read("SHA256SUMS").decode().splitlines()
    assert len(lines) == 22
    for line in lines:
        expected, rel = line.split(maxsplit=1)
        assert hashlib.sha256(read(rel.removeprefix("./"))).hexdigest() == expected, rel


# --------------------------------------------------------------------------- requests


def test_requests_parse() -> None:
    req = request("test_tsa/request.der")
    assert req["nonce"].native == 0x36A44F9F4A391FD3
    assert req["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha512"
    assert req["message_imprint"]["hashed_message"].native == hashlib.sha512(HELLO).digest()
    assert req["cert_req"].native is True
    assert req["req_policy"].native is None
    assert request("test_tsa/other_request.der")["nonce"].native == 0xB17470D29BFE1226
    assert request("sigstage/request.der")["nonce"].native == 0x34CFA9899986D2F5


def test_a_request_is_not_a_token() -> None:
    result = verify_timestamp(read("test_tsa/request.der"), roots=[], data=HELLO)
    assert_fails_only(result, CHECK_DER)
    assert all(c.status is CheckStatus.NOT_RUN for c in result.checks[1:])


# --------------------------------------------------------------------------- test_tsa


def test_test_tsa_response_is_valid() -> None:
    result = verify_test_tsa("test_tsa/response.tsr", tsa_name=TEST_TSA_NAME)
    assert_valid(result)
    assert result.gen_time == dt.datetime(2024, 10, 8, 15, 40, 32, tzinfo=dt.UTC)
    assert result.serial_number == 693290210947147715387173185458430793885588677084
    assert result.policy == "1.3.6.1.4.1.57264.2"
    assert result.hash_algorithm == "sha512"
    assert result.imprint == hashlib.sha512(HELLO).digest()
    assert result.nonce == 0x36A44F9F4A391FD3
    assert result.tsa_name == TEST_TSA_NAME
    assert result.signer is not None
    assert result.signer.subject.rfc4514_string() == TEST_TSA_NAME
    assert [c.subject.rfc4514_string() for c in result.chain] == [
        TEST_TSA_NAME,
        "CN=Test TSA Intermediate,O=local",
        "CN=Test TSA Root,O=local",
    ]


def test_test_tsa_response_against_its_request() -> None:
    req = request("test_tsa/request.der")
    result = verify_test_tsa(
        "test_tsa/response.tsr",
        data=None,
        digest=req["message_imprint"]["hashed_message"].native,
        hash_algorithm=req["message_imprint"]["hash_algorithm"]["algorithm"].native,
        nonce=req["nonce"].native,
        policy="1.3.6.1.4.1.57264.2",
    )
    assert_valid(result)
    assert result.check(CHECK_NONCE).passed
    assert result.check(CHECK_POLICY).passed


def test_test_tsa_response_wrong_message() -> None:
    result = verify_test_tsa("test_tsa/response.tsr", data=b"not-the-correct-message")
    assert_fails_only(result, CHECK_IMPRINT)


def test_test_tsa_response_wrong_nonce_and_policy() -> None:
    result = verify_test_tsa("test_tsa/response.tsr", nonce=0xABCD, policy="1.1")
    assert_fails_only(result, CHECK_NONCE, CHECK_POLICY)


def test_test_tsa_response_without_intermediate_fails_the_chain() -> None:
    chain = pem_chain("test_tsa")
    result = verify_timestamp(read("test_tsa/response.tsr"), roots=[chain[-1]], data=HELLO)
    assert_fails_only(result, CHECK_CHAIN)
    assert "Test TSA Intermediate" in result.check(CHECK_CHAIN).detail


def test_test_tsa_response_without_roots_fails_the_chain() -> None:
    chain = pem_chain("test_tsa")
    result = verify_timestamp(read("test_tsa/response.tsr"), roots=[], untrusted=chain, data=HELLO)
    assert_fails_only(result, CHECK_CHAIN)


def test_injected_certs_signature_valid_and_real_name_pins() -> None:
    result = verify_test_tsa("test_tsa/response-injected-certs.tsr", tsa_name=TEST_TSA_NAME)
    assert_valid(result)
    assert result.signer == pem_chain("test_tsa")[0]
    assert "embedded" in result.check(CHECK_SIGNER_FOUND).detail


def test_injected_certs_spoofed_name_pin_fails() -> None:
    """GHSA-3xxc-pwj6-jgrj: the signer is found by issuer+serial, not by position."""
    result = verify_test_tsa("test_tsa/response-injected-certs.tsr", tsa_name="CN=Spoofed TSA")
    assert_fails_only(result, CHECK_PIN)
    assert "Spoofed TSA" in result.check(CHECK_PIN).detail


def test_injected_certs_spoofed_certificate_pin_fails() -> None:
    from asn1crypto import tsp as asn1_tsp

    token = asn1_tsp.TimeStampResp.load(read("test_tsa/response-injected-certs.tsr"))
    embedded = [
        x509.load_der_x509_certificate(c.chosen.dump())
        for c in token["time_stamp_token"]["content"]["certificates"]
    ]
    spoofed, decoy = embedded[0], embedded[1]
    assert spoofed.subject.rfc4514_string() == "CN=Spoofed TSA"
    assert decoy.subject.rfc4514_string() == TEST_TSA_NAME and decoy.issuer == decoy.subject
    for pin in (spoofed, decoy):
        result = verify_test_tsa("test_tsa/response-injected-certs.tsr", tsa_certificate=pin)
        assert_fails_only(result, CHECK_PIN)
    real = verify_test_tsa(
        "test_tsa/response-injected-certs.tsr", tsa_certificate=pem_chain("test_tsa")[0]
    )
    assert_valid(real)


def test_other_response_parses_but_does_not_verify() -> None:
    result = verify_test_tsa(
        "test_tsa/other_response.tsr", nonce=request("test_tsa/other_request.der")["nonce"].native
    )
    assert result.check(CHECK_DER).passed
    assert result.nonce == 0xDE10A2FD76C22477
    assert result.gen_time == dt.datetime(2024, 10, 31, 13, 31, 44, tzinfo=dt.UTC)
    assert_fails_only(result, CHECK_CHAIN, CHECK_NONCE)
    assert result.serial_number != verify_test_tsa("test_tsa/response.tsr").serial_number


# --------------------------------------------------------------------------- sigstage


@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
def test_sigstage_responses_are_valid(algorithm: str) -> None:
    leaf = pem_chain("sigstage")[0]
    result = verify_sigstage(f"sigstage/response-{algorithm}.tsr", tsa_certificate=leaf)
    assert_valid(result)
    assert result.hash_algorithm == algorithm
    assert result.imprint == hashlib.new(algorithm, HELLO).digest()
    assert result.gen_time is not None and result.gen_time.date() == dt.date(2025, 5, 9)
    # The same imprint given as a digest.
    by_digest = verify_sigstage(
        f"sigstage/response-{algorithm}.tsr",
        data=None,
        digest=hashlib.new(algorithm, HELLO).digest(),
        hash_algorithm=algorithm,
    )
    assert_valid(by_digest)


def test_sigstage_no_embedded_cert_valid_with_cert_supplied() -> None:
    assert_valid(verify_sigstage("sigstage/response-no-embedded-cert.tsr"))
    # Supplying the leaf as the pinned certificate is enough to find the signer.
    chain = pem_chain("sigstage")
    pinned = verify_timestamp(
        read("sigstage/response-no-embedded-cert.tsr"),
        roots=[chain[-1]],
        tsa_certificate=chain[0],
        data=HELLO,
    )
    assert_valid(pinned)


def test_sigstage_no_embedded_cert_without_cert_signer_not_found() -> None:
    chain = pem_chain("sigstage")
    result = verify_timestamp(
        read("sigstage/response-no-embedded-cert.tsr"), roots=[chain[-1]], data=HELLO
    )
    assert_fails_only(result, CHECK_SIGNER_FOUND)
    for name in (CHECK_SIGNATURE, CHECK_SIGNING_CERT, CHECK_CHAIN):
        assert result.check(name).status is CheckStatus.NOT_RUN
    assert result.signer is None


def test_sigstage_invalid_signature_fails_on_the_signature() -> None:
    result = verify_sigstage("sigstage/response-invalid-signature.tsr")
    assert_fails_only(result, CHECK_SIGNATURE)
    assert result.check(CHECK_CHAIN).passed  # a chain-only verifier would accept it


def test_sigstage_request_is_not_the_request_of_any_response() -> None:
    req = request("sigstage/request.der")
    for algorithm in ("sha256", "sha384", "sha512"):
        result = verify_sigstage(f"sigstage/response-{algorithm}.tsr", nonce=req["nonce"].native)
        assert_fails_only(result, CHECK_NONCE)


# --------------------------------------------------------------------------- sigstore.mock


def test_sigstore_mock_expired_token_valid_at_gen_time() -> None:
    chain = pem_chain("sigstore.mock")
    result = verify_timestamp(
        read("sigstore.mock/response-expired.tsr"),
        roots=[chain[-1]],
        untrusted=chain,
        data=read("sigstore.mock/payload"),
        nonce=1234567890,
    )
    assert_valid(result)
    assert result.gen_time == dt.datetime(2023, 2, 1, tzinfo=dt.UTC)
    assert result.serial_number == -0x21524111  # DER DE AD BE EF: a negative INTEGER
    assert result.tsa_name is None
    assert result.imprint == hashlib.sha256(read("sigstore.mock/payload")).digest()
    # The same chain checked at "now" or at 2025-07-21 is expired.
    assert result.signer is not None
    for when in (dt.datetime.now(dt.UTC), dt.datetime(2025, 7, 21, tzinfo=dt.UTC)):
        late = build_chain(result.signer, roots=[chain[-1]], intermediates=chain, at=when)
        assert not late.ok
        assert "expired" in late.detail


# --------------------------------------------------------------------------- identrust


def test_identrust_token_valid_at_gen_time_with_der_root_only() -> None:
    root = x509.load_der_x509_certificate(read("identrust/ts_chain.pem"))  # DER despite .pem
    result = verify_timestamp(read("identrust/issue-104.tsr"), roots=[root], data=HELLO)
    assert_valid(result)
    assert result.gen_time == dt.datetime(2025, 3, 11, 8, 52, 8, tzinfo=dt.UTC)
    assert result.policy == "2.16.840.1.113839.0.6.13.3"
    assert "ESSCertID (sha1)" in result.check(CHECK_SIGNING_CERT).detail
    assert "RSA PKCS#1 v1.5" in result.check(CHECK_SIGNATURE).detail
    assert [c.subject.rfc4514_string() for c in result.chain] == [
        "CN=TrustID Timestamp Authority,O=IdenTrust,C=US",
        "CN=TrustID Timestamping CA 3,O=IdenTrust,C=US",
        "CN=IdenTrust Commercial Root CA 1,O=IdenTrust,C=US",
    ]
    assert result.signer is not None
    late = build_chain(
        result.signer,
        roots=[root],
        intermediates=result.chain[1:2],
        at=dt.datetime(2026, 1, 18, tzinfo=dt.UTC),
    )
    assert not late.ok
    assert "expired" in late.detail
