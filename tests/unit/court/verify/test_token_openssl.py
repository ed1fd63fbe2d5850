"""court.verify.token against tokens made by stock ``openssl ts -reply``.

A session fixture makes, with the openssl command line, an EC P-256 and an
RSA-3072 PKI (root -> intermediate -> TSA, EKU timeStamping critical), an
``openssl ts`` configuration for each, and tokens for SHA-256/384/512
queries. They must verify. Then each tampering, done by rebuilding the DER
with asn1crypto so the token stays well-formed, must fail on the *named*
check it aims at. Tokens that openssl cannot make (RSA-PSS, Ed25519, a
subjectKeyIdentifier signer id, a bad EKU) are re-signed here with
``cryptography`` from an openssl token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from court.verify.result import CheckStatus
from court.verify.token import (
    CHECK_CHAIN,
    CHECK_CONTENT_TYPE,
    CHECK_CONTENT_TYPE_ATTR,
    CHECK_DER,
    CHECK_EKU,
    CHECK_IMPRINT,
    CHECK_MESSAGE_DIGEST,
    CHECK_NONCE,
    CHECK_PIN,
    CHECK_POLICY,
    CHECK_SIGNATURE,
    CHECK_SIGNER_FOUND,
    CHECK_SIGNING_CERT,
    CHECK_SINGLE_SIGNER,
    CHECK_STATUS,
    CHECK_TSA_NAME,
    TOKEN_CHECKS,
    TokenVerification,
    verify_timestamp,
)
from tests.support.openssl_tsa import (
    TSA_EXTENSIONS,
    Issued,
    KeyKind,
    TestPki,
    issue_certificate,
    make_dated_pki,
    make_query,
    make_reply,
    make_root_ca,
    make_tsa_pki,
    openssl_verify,
    write_tsa_config,
)

HELLO = b"hello"
POLICY = "1.2.3.4.1"
ALGORITHMS = ("sha256", "sha384", "sha512")


@dataclass(frozen=True)
class Token:
    der: bytes
    path: Path
    digest: bytes
    hash_name: str
    nonce: int | None


@dataclass(frozen=True)
class Made:
    """One PKI and the tokens openssl made with it."""

    kind: str
    pki: TestPki
    config: Path
    tokens: dict[str, Token]
    twin: Issued  # same issuer, serial, subject and key as the TSA cert; other validity

    @property
    def root(self) -> x509.Certificate:
        return self.pki.root.certificate

    @property
    def tsa(self) -> x509.Certificate:
        return self.pki.tsa.certificate

    def verify(self, der: bytes | None = None, **kwargs: Any) -> TokenVerification:
        """Verify ``der`` (default: the SHA-256 token) for "hello", chain supplied."""
        token = self.tokens["sha256"]
        options: dict[str, Any] = {
            "roots": [self.root],
            "untrusted": self.pki.untrusted,
            "digest": token.digest,
            "hash_algorithm": "sha256",
        }
        options.update(kwargs)
        return verify_timestamp(token.der if der is None else der, **options)


@dataclass(frozen=True)
class World:
    ec: Made
    rsa: Made
    folder: Path

    def made(self, kind: str) -> Made:
        return self.ec if kind == "ec" else self.rsa


def _nonce(query: Path) -> int | None:
    value = tsp.TimeStampReq.load(query.read_bytes())["nonce"].native
    return int(value) if value is not None else None


def _make(folder: Path, kind: str) -> Made:
    key_kind: KeyKind = "ec" if kind == "ec" else "rsa3072"
    pki = make_tsa_pki(folder, key_kind, label=f"{kind.upper()} Test")
    # EC: intermediate embedded, signingCertificateV2, SM3 allowed.
    # RSA: intermediate not embedded, OpenSSL's default ESSCertID v1 (SHA-1).
    config = write_tsa_config(
        folder / "tsa.cnf",
        policy=POLICY,
        digests=(*ALGORITHMS, "sm3") if kind == "ec" else ALGORITHMS,
        certs=pki.chain_pem if kind == "ec" else None,
        ess_cert_id_alg="sha256" if kind == "ec" else None,
    )
    # Made before the tokens so that it is valid at their genTime.
    assert pki.intermediate is not None
    twin = issue_certificate(
        folder / "twin", "tsa", issuer=pki.intermediate, subject=_subject(pki.tsa.certificate),
        extensions=TSA_EXTENSIONS, key=pki.tsa.key, days=400,
        serial=pki.tsa.certificate.serial_number, issuer_kind=key_kind,
    )  # fmt: skip
    tokens: dict[str, Token] = {}
    for hash_name in (*ALGORITHMS, "sm3") if kind == "ec" else ALGORITHMS:
        digest = hashlib.new(hash_name, HELLO).digest()
        query = make_query(folder / f"{hash_name}.tsq", digest=digest, hash_name=hash_name)
        out = folder / f"{hash_name}.tsr"
        der = make_reply(query, config=config, signer=pki.tsa, out=out)
        tokens[hash_name] = Token(der, out, digest, hash_name, _nonce(query))
    return Made(kind, pki, config, tokens, twin)


def _subject(cert: x509.Certificate) -> str:
    """OpenSSL -subj form of a certificate's subject."""
    return "".join(f"/{a.rfc4514_attribute_name}={a.value!s}" for a in cert.subject)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("openssl-tsa")
    return World(_make(folder / "ec", "ec"), _make(folder / "rsa", "rsa"), folder)


KINDS = pytest.mark.parametrize("kind", ["ec", "rsa"])


# --------------------------------------------------------------------------- DER surgery


def _response(der: bytes) -> tsp.TimeStampResp:
    return tsp.TimeStampResp.load(der)


def _signed_data(resp: tsp.TimeStampResp) -> cms.SignedData:
    return resp["time_stamp_token"]["content"]


def edit_tst(der: bytes, edit: Callable[[tsp.TSTInfo], None]) -> bytes:
    """Change the TSTInfo (not the signature): re-encode eContent."""
    resp = _response(der)
    encap = _signed_data(resp)["encap_content_info"]
    tst = tsp.TSTInfo.load(encap["content"].contents)
    edit(tst)
    encap["content"] = core.ParsableOctetString(tst.dump(force=True))
    return bytes(resp.dump())


def edit_signed_data(der: bytes, edit: Callable[[cms.SignedData], None]) -> bytes:
    resp = _response(der)
    edit(_signed_data(resp))
    return bytes(resp.dump())


def flip_last(value: bytes) -> bytes:
    return value[:-1] + bytes([value[-1] ^ 0x01])


def asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def set_certificates(der: bytes, certs: list[x509.Certificate]) -> bytes:
    def edit(sd: cms.SignedData) -> None:
        sd["certificates"] = cms.CertificateSet(
            [cms.CertificateChoices(name="certificate", value=asn1_cert(c)) for c in certs]
        )

    return edit_signed_data(der, edit)


def embedded(der: bytes) -> list[x509.Certificate]:
    return [
        x509.load_der_x509_certificate(c.chosen.dump())
        for c in _signed_data(_response(der))["certificates"]
    ]


_SIG_NAMES = {"sha256": "sha256", "sha384": "sha384", "sha512": "sha512", "sha1": "sha1"}
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def resign(
    der: bytes,
    *,
    signer: Issued,
    certs: list[x509.Certificate] | None = None,
    digest: str = "sha256",
    pss: bool = False,
    sid: str = "issuer_and_serial_number",
    content_type_attr: str = "tst_info",
    tst_edit: Callable[[tsp.TSTInfo], None] | None = None,
) -> bytes:
    """Rebuild the SignerInfo of an openssl token and sign it with ``signer``'s key.

    Signed attributes: contentType, messageDigest, signingCertificateV2
    (SHA-256, with issuerSerial). ``certs`` (default: the signer's
    certificate) replaces the certificate bag.
    """
    cert = signer.certificate
    key = signer.private_key()
    cert_der = cert.public_bytes(Encoding.DER)
    a_cert = asn1_cert(cert)
    resp = _response(der)
    sd = _signed_data(resp)
    encap = sd["encap_content_info"]
    tst_der = bytes(encap["content"].contents)
    # A re-signed token is a new token: genTime is now (the signer may be newer
    # than the openssl token).
    tst = tsp.TSTInfo.load(tst_der)
    tst["gen_time"] = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if tst_edit is not None:
        tst_edit(tst)
    tst_der = tst.dump(force=True)
    encap["content"] = core.ParsableOctetString(tst_der)
    ess = tsp.SigningCertificateV2(
        {
            "certs": [
                {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "cert_hash": hashlib.sha256(cert_der).digest(),
                    "issuer_serial": {
                        "issuer": [
                            asn1_x509.GeneralName(name="directory_name", value=a_cert.issuer)
                        ],
                        "serial_number": a_cert.serial_number,
                    },
                }
            ]
        }
    )
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [content_type_attr]},
            {"type": "message_digest", "values": [hashlib.new(digest, tst_der).digest()]},
            {"type": "signing_certificate_v2", "values": [ess]},
        ]
    )
    to_sign = attrs.dump()
    hash_algorithm = _HASHES[digest]()
    signature_algorithm: dict[str, Any]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(to_sign)
        signature_algorithm = {"algorithm": "ed25519"}
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(to_sign, ec.ECDSA(hash_algorithm))
        signature_algorithm = {"algorithm": f"{_SIG_NAMES[digest]}_ecdsa"}
    elif isinstance(key, rsa.RSAPrivateKey) and pss:
        salt = hash_algorithm.digest_size
        signature = key.sign(
            to_sign, padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=salt), hash_algorithm
        )
        signature_algorithm = {
            "algorithm": "rsassa_pss",
            "parameters": {
                "hash_algorithm": {"algorithm": digest},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": digest}},
                "salt_length": salt,
                "trailer_field": "trailer_field_bc",
            },
        }
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(to_sign, padding.PKCS1v15(), hash_algorithm)
        signature_algorithm = {"algorithm": f"{_SIG_NAMES[digest]}_rsa"}
    else:  # pragma: no cover - test helper misuse
        raise TypeError(type(key))
    if sid == "subject_key_identifier":
        signer_id = cms.SignerIdentifier(name=sid, value=a_cert.key_identifier)
        version = "v3"
    else:
        signer_id = cms.SignerIdentifier(
            name=sid,
            value={"issuer": a_cert.issuer, "serial_number": a_cert.serial_number},
        )
        version = "v1"
    signer_info = cms.SignerInfo(
        {
            "version": version,
            "sid": signer_id,
            "digest_algorithm": {"algorithm": digest},
            "signed_attrs": attrs,
            "signature_algorithm": signature_algorithm,
            "signature": signature,
        }
    )
    sd["signer_infos"] = cms.SignerInfos([signer_info])
    sd["digest_algorithms"] = cms.DigestAlgorithms([{"algorithm": digest}])
    bag = [cert] if certs is None else certs
    sd["certificates"] = cms.CertificateSet(
        [cms.CertificateChoices(name="certificate", value=asn1_cert(c)) for c in bag]
    )
    return bytes(resp.dump())


def failed_names(result: TokenVerification) -> list[str]:
    return [c.name for c in result.failures]


def assert_valid(result: TokenVerification) -> None:
    assert result.failures == (), [(c.name, c.detail) for c in result.failures]
    assert result.ok


def assert_fails(result: TokenVerification, *names: str) -> None:
    assert not result.ok
    assert failed_names(result) == list(names), [(c.name, c.detail) for c in result.failures]


# --------------------------------------------------------------------------- valid tokens


@KINDS
@pytest.mark.parametrize("hash_name", ALGORITHMS)
def test_openssl_tokens_verify(world: World, kind: str, hash_name: str) -> None:
    made = world.made(kind)
    token = made.tokens[hash_name]
    tsa_subject = made.tsa.subject.rfc4514_string()
    result = verify_timestamp(
        token.der,
        roots=[made.root],
        untrusted=made.pki.untrusted,
        digest=token.digest,
        hash_algorithm=hash_name,
        nonce=token.nonce,
        policy=POLICY,
        tsa_certificate=made.tsa,
        tsa_name=tsa_subject,
    )
    assert_valid(result)
    assert all(c.status is CheckStatus.PASSED for c in result.checks), result.checks
    assert [c.name for c in result.checks] == list(TOKEN_CHECKS)
    assert result.hash_algorithm == hash_name
    assert result.imprint == token.digest
    assert result.nonce == token.nonce is not None
    assert result.policy == POLICY
    assert result.signer == made.tsa
    assert result.tsa_name == tsa_subject
    assert result.gen_time is not None
    assert abs(result.gen_time - dt.datetime.now(dt.UTC)) < dt.timedelta(hours=1)
    ess = "ESSCertIDv2 (sha256)" if kind == "ec" else "ESSCertID (sha1)"
    assert ess in result.check(CHECK_SIGNING_CERT).detail
    scheme = "ECDSA/sha256" if kind == "ec" else "RSA PKCS#1 v1.5/sha256"
    assert scheme in result.check(CHECK_SIGNATURE).detail
    # Same token given the data instead of the digest.
    assert_valid(made.verify(token.der, digest=None, hash_algorithm=None, data=HELLO))
    # OpenSSL agrees.
    assert openssl_verify(
        token.path, ca_file=made.pki.root.cert, untrusted=made.pki.chain_pem, digest=token.digest
    )


def test_rsa_token_needs_the_intermediate_it_does_not_embed(world: World) -> None:
    result = world.rsa.verify(untrusted=[])
    assert_fails(result, CHECK_CHAIN)
    # The EC token embeds its intermediate: the root alone is enough.
    assert_valid(world.ec.verify(untrusted=[]))


def test_sm3_imprint(world: World) -> None:
    token = world.ec.tokens["sm3"]
    assert_valid(world.ec.verify(token.der, digest=token.digest, hash_algorithm="sm3"))
    assert_valid(world.ec.verify(token.der, digest=None, hash_algorithm=None, data=HELLO))
    wrong = world.ec.verify(token.der, digest=hashlib.sha256(HELLO).digest())
    assert_fails(wrong, CHECK_IMPRINT)
    assert "sm3" in wrong.check(CHECK_IMPRINT).detail


def test_bare_token_is_accepted(world: World) -> None:
    token = world.ec.tokens["sha256"]
    query = world.folder / "bare.tsq"
    make_query(query, digest=token.digest)
    bare = make_reply(query, config=world.ec.config, signer=world.ec.pki.tsa,
                      out=world.folder / "bare.tst", token_only=True)  # fmt: skip
    assert cms.ContentInfo.load(bare)["content_type"].native == "signed_data"
    result = world.ec.verify(bare, nonce=_nonce(query))
    assert_valid(result)
    assert result.check(CHECK_STATUS).status is CheckStatus.NOT_RUN
    assert "bare" in result.check(CHECK_STATUS).detail


def test_token_without_certificates_needs_the_tsa_certificate(world: World) -> None:
    made = world.rsa
    token = made.tokens["sha256"]
    query = world.folder / "nocert.tsq"
    make_query(query, digest=token.digest, cert_req=False)
    der = make_reply(query, config=made.config, signer=made.pki.tsa, out=world.folder / "nocert")
    assert embedded(der) == []
    assert_valid(made.verify(der))  # the TSA cert comes from `untrusted`
    assert_valid(made.verify(der, untrusted=made.pki.untrusted[1:], tsa_certificate=made.tsa))
    missing = made.verify(der, untrusted=made.pki.untrusted[1:])
    assert_fails(missing, CHECK_SIGNER_FOUND)
    assert "0 embedded" in missing.check(CHECK_SIGNER_FOUND).detail


def test_openssl_rejection_fails_status(world: World) -> None:
    query = world.folder / "sha1.tsq"
    make_query(query, digest=hashlib.sha1(HELLO).digest(), hash_name="sha1")
    der = make_reply(query, config=world.ec.config, signer=world.ec.pki.tsa,
                     out=world.folder / "rejected", expect_granted=False)  # fmt: skip
    result = world.ec.verify(der)
    assert_fails(result, CHECK_STATUS)
    assert "PKIStatus 2" in result.check(CHECK_STATUS).detail
    assert all(c.status is CheckStatus.NOT_RUN for c in result.checks[2:])


# --------------------------------------------------------------------------- tampering


@KINDS
def test_flipped_imprint_fails_message_digest(world: World, kind: str) -> None:
    made = world.made(kind)

    def flip(tst: tsp.TSTInfo) -> None:
        imprint = tst["message_imprint"]
        imprint["hashed_message"] = flip_last(imprint["hashed_message"].native)

    result = made.verify(edit_tst(made.tokens["sha256"].der, flip))
    assert_fails(result, CHECK_MESSAGE_DIGEST, CHECK_IMPRINT)
    assert result.check(CHECK_SIGNATURE).passed  # the signed attributes are untouched


@KINDS
def test_flipped_signature_fails_signature(world: World, kind: str) -> None:
    made = world.made(kind)

    def flip(sd: cms.SignedData) -> None:
        signer_info = sd["signer_infos"][0]
        signer_info["signature"] = flip_last(signer_info["signature"].native)

    result = made.verify(edit_signed_data(made.tokens["sha256"].der, flip))
    assert_fails(result, CHECK_SIGNATURE)


@KINDS
def test_changed_gen_time_fails_message_digest(world: World, kind: str) -> None:
    made = world.made(kind)
    original = made.verify()
    assert original.gen_time is not None
    later = original.gen_time + dt.timedelta(hours=1)

    def postdate(tst: tsp.TSTInfo) -> None:
        tst["gen_time"] = later

    result = made.verify(edit_tst(made.tokens["sha256"].der, postdate))
    assert_fails(result, CHECK_MESSAGE_DIGEST)
    assert result.gen_time == later


@KINDS
def test_swapped_certificate_signer_not_found(world: World, kind: str) -> None:
    made = world.made(kind)
    other = made.pki.untrusted[1]  # the intermediate CA certificate
    der = set_certificates(made.tokens["sha256"].der, [other])
    result = made.verify(der, untrusted=[other])
    assert_fails(result, CHECK_SIGNER_FOUND)
    for name in (CHECK_SIGNATURE, CHECK_SIGNING_CERT, CHECK_CHAIN, CHECK_EKU, CHECK_TSA_NAME):
        assert result.check(name).status is CheckStatus.NOT_RUN
        assert CHECK_SIGNER_FOUND in result.check(name).detail


@KINDS
def test_reissued_certificate_fails_signing_certificate(world: World, kind: str) -> None:
    """Same issuer, serial, subject and key, other validity: only the ESS hash tells."""
    made = world.made(kind)
    twin_cert = made.twin.certificate
    assert twin_cert != made.tsa and twin_cert.public_key() == made.tsa.public_key()
    der = set_certificates(made.tokens["sha256"].der, [twin_cert, *made.pki.untrusted[1:]])
    result = made.verify(der, untrusted=made.pki.untrusted[1:])
    assert_fails(result, CHECK_SIGNING_CERT)
    assert result.check(CHECK_SIGNATURE).passed
    assert result.signer == twin_cert


@KINDS
def test_extra_signer_info_fails_single_signer(world: World, kind: str) -> None:
    made = world.made(kind)

    def add(sd: cms.SignedData) -> None:
        first = sd["signer_infos"][0]
        sd["signer_infos"] = cms.SignerInfos([first, cms.SignerInfo.load(first.dump())])

    result = made.verify(edit_signed_data(made.tokens["sha256"].der, add))
    assert_fails(result, CHECK_SINGLE_SIGNER)
    for name in (CHECK_SIGNER_FOUND, CHECK_MESSAGE_DIGEST, CHECK_SIGNATURE, CHECK_CHAIN):
        assert result.check(name).status is CheckStatus.NOT_RUN
    assert result.check(CHECK_IMPRINT).passed


def test_injected_spoof_certificates(world: World) -> None:
    """The spoof (GHSA-3xxc-pwj6-jgrj) rebuilt on our own openssl token."""
    made = world.ec
    folder = world.folder / "spoof"
    spoofed = make_root_ca(folder, "spoofed", subject="/CN=Spoofed TSA").certificate
    fake_ca = make_root_ca(folder, "fake-ca", subject="/CN=Nonexistent CA")
    decoy = issue_certificate(
        folder, "decoy", issuer=fake_ca, subject="/O=EC Test PKI/CN=EC Test TSA",
        extensions=TSA_EXTENSIONS,
    ).certificate  # fmt: skip
    assert decoy.subject == made.tsa.subject and decoy.public_key() != made.tsa.public_key()
    token = made.tokens["sha256"].der
    der = set_certificates(token, [spoofed, decoy, *embedded(token)])

    result = made.verify(der)
    assert_valid(result)
    assert result.signer == made.tsa
    assert_fails(made.verify(der, tsa_name="CN=Spoofed TSA"), CHECK_PIN)
    assert_fails(made.verify(der, tsa_certificate=spoofed), CHECK_PIN)
    assert_fails(made.verify(der, tsa_certificate=decoy), CHECK_PIN)
    assert_valid(
        made.verify(der, tsa_name="CN=EC Test TSA,O=EC Test PKI", tsa_certificate=made.tsa)
    )
    # A decoy that also copies issuer and serial makes the signer ambiguous: refused.
    fake_intermediate = make_root_ca(
        folder, "fake-int", subject="/O=EC Test PKI/CN=EC Test Intermediate CA"
    )
    clone = issue_certificate(
        folder, "clone", issuer=fake_intermediate, subject="/O=EC Test PKI/CN=EC Test TSA",
        extensions=TSA_EXTENSIONS, serial=made.tsa.serial_number,
    ).certificate  # fmt: skip
    assert clone.issuer == made.tsa.issuer and clone.serial_number == made.tsa.serial_number
    ambiguous = made.verify(set_certificates(token, [clone, *embedded(token)]))
    assert_fails(ambiguous, CHECK_SIGNER_FOUND)
    assert "ambiguous" in ambiguous.check(CHECK_SIGNER_FOUND).detail


@KINDS
def test_wrong_expected_digest_fails_imprint(world: World, kind: str) -> None:
    made = world.made(kind)
    assert_fails(made.verify(digest=hashlib.sha256(b"other").digest()), CHECK_IMPRINT)
    assert_fails(made.verify(data=b"other", digest=None, hash_algorithm=None), CHECK_IMPRINT)
    other_algorithm = made.verify(digest=hashlib.sha384(HELLO).digest(), hash_algorithm="sha384")
    assert_fails(other_algorithm, CHECK_IMPRINT)
    assert "expected sha384" in other_algorithm.check(CHECK_IMPRINT).detail


@KINDS
def test_wrong_nonce_and_policy(world: World, kind: str) -> None:
    made = world.made(kind)
    nonce = made.tokens["sha256"].nonce
    assert nonce is not None
    assert_fails(made.verify(nonce=nonce + 1), CHECK_NONCE)
    assert_fails(made.verify(policy="1.2.3.4.2"), CHECK_POLICY)
    assert_valid(made.verify(nonce=nonce, policy=POLICY))


def test_wrong_trust_anchor_fails_chain(world: World) -> None:
    result = world.ec.verify(roots=[world.rsa.root], untrusted=world.rsa.pki.untrusted)
    assert_fails(result, CHECK_CHAIN)


@pytest.mark.parametrize(
    ("offset_days", "words"), [(-1000, "has expired"), (+1000, "is not yet valid")]
)
def test_certificates_not_valid_at_gen_time_fail_chain(
    world: World, offset_days: int, words: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    start = now + dt.timedelta(days=offset_days)
    folder = world.folder / f"dated{offset_days}"
    pki = make_dated_pki(folder, not_before=start, not_after=start + dt.timedelta(days=365))
    config = write_tsa_config(folder / "tsa.cnf", policy=POLICY)
    digest = hashlib.sha256(HELLO).digest()
    der = make_reply(make_query(folder / "q.tsq", digest=digest), config=config,
                     signer=pki.tsa, out=folder / "r.tsr")  # fmt: skip
    result = verify_timestamp(
        der, roots=[pki.root.certificate], digest=digest, hash_algorithm="sha256"
    )
    assert_fails(result, CHECK_CHAIN)
    assert words in result.check(CHECK_CHAIN).detail
    assert result.check(CHECK_SIGNATURE).passed


def test_econtent_type_changed_fails_content_type(world: World) -> None:
    def retype(sd: cms.SignedData) -> None:
        sd["encap_content_info"]["content_type"] = "data"

    result = world.ec.verify(edit_signed_data(world.ec.tokens["sha256"].der, retype))
    assert_fails(result, CHECK_CONTENT_TYPE)
    assert all(c.status is CheckStatus.NOT_RUN for c in result.checks[3:])


# --------------------------------------------------------------------------- re-signed


def test_resigned_token_is_valid(world: World) -> None:
    """The re-signing helper itself produces valid tokens (control for the tests below)."""
    made = world.ec
    assert_valid(made.verify(resign(made.tokens["sha256"].der, signer=made.pki.tsa)))


def test_rsa_pss_signature(world: World) -> None:
    made = world.rsa
    for digest in ("sha256", "sha512"):
        der = resign(made.tokens["sha256"].der, signer=made.pki.tsa, pss=True, digest=digest)
        result = made.verify(der)
        assert_valid(result)
        assert f"RSASSA-PSS/{digest}" in result.check(CHECK_SIGNATURE).detail
    bad = resign(made.tokens["sha256"].der, signer=made.pki.tsa, pss=True)
    bad = edit_signed_data(bad, lambda sd: _flip_signature(sd))
    assert_fails(made.verify(bad), CHECK_SIGNATURE)


def _flip_signature(sd: cms.SignedData) -> None:
    signer_info = sd["signer_infos"][0]
    signer_info["signature"] = flip_last(signer_info["signature"].native)


def _issue_tsa(world: World, name: str, *, kind: KeyKind = "ec", extensions: str) -> Issued:
    intermediate = world.ec.pki.intermediate
    assert intermediate is not None
    return issue_certificate(
        world.folder / name, "tsa", issuer=intermediate, kind=kind,
        subject="/O=EC Test PKI/CN=EC Test TSA", extensions=extensions,
    )  # fmt: skip


def test_ed25519_signature(world: World) -> None:
    signer = _issue_tsa(world, "ed25519", kind="ed25519", extensions=TSA_EXTENSIONS)
    der = resign(world.ec.tokens["sha256"].der, signer=signer, digest="sha512")
    result = world.ec.verify(der)
    assert_valid(result)
    assert "Ed25519" in result.check(CHECK_SIGNATURE).detail
    assert result.signer == signer.certificate
    tampered = edit_signed_data(der, _flip_signature)
    assert_fails(world.ec.verify(tampered), CHECK_SIGNATURE)


def test_subject_key_identifier_signer_id(world: World) -> None:
    made = world.ec
    der = resign(made.tokens["sha256"].der, signer=made.pki.tsa, sid="subject_key_identifier")
    result = made.verify(der)
    assert_valid(result)
    assert "subjectKeyIdentifier" in result.check(CHECK_SIGNER_FOUND).detail


def test_content_type_attribute_must_be_tst_info(world: World) -> None:
    made = world.ec
    der = resign(made.tokens["sha256"].der, signer=made.pki.tsa, content_type_attr="data")
    result = made.verify(der)
    assert_fails(result, CHECK_CONTENT_TYPE_ATTR)
    assert result.check(CHECK_SIGNATURE).passed


def test_weak_signer_digest_is_refused(world: World) -> None:
    made = world.ec
    der = resign(made.tokens["sha256"].der, signer=made.pki.tsa, digest="sha1")
    result = made.verify(der)
    assert_fails(result, CHECK_MESSAGE_DIGEST, CHECK_SIGNATURE)
    assert "too weak" in result.check(CHECK_SIGNATURE).detail


@pytest.mark.parametrize(
    ("eku_line", "words"),
    [
        ("extendedKeyUsage = timeStamping", "not critical"),
        ("extendedKeyUsage = critical, timeStamping, codeSigning", "alone"),
        ("", "no extendedKeyUsage"),
    ],
)
def test_bad_eku_fails_eku(world: World, eku_line: str, words: str) -> None:
    extensions = TSA_EXTENSIONS.replace("extendedKeyUsage = critical, timeStamping", eku_line)
    slug = hashlib.sha256(eku_line.encode()).hexdigest()[:8]
    signer = _issue_tsa(world, f"eku-{slug}", extensions=extensions)
    result = world.ec.verify(resign(world.ec.tokens["sha256"].der, signer=signer))
    assert_fails(result, CHECK_EKU)
    assert words in result.check(CHECK_EKU).detail


def test_tsa_field_must_name_the_signer(world: World) -> None:
    made = world.ec

    def rename(tst: tsp.TSTInfo) -> None:
        name = asn1_x509.Name.build({"common_name": "Somebody Else"})
        tst["tsa"] = asn1_x509.GeneralName(name="directory_name", value=name)

    der = resign(made.tokens["sha256"].der, signer=made.pki.tsa, tst_edit=rename)
    result = made.verify(der)
    assert_fails(result, CHECK_TSA_NAME)
    assert result.tsa_name == "CN=Somebody Else"


# --------------------------------------------------------------------------- fuzzing


def _span(haystack: bytes, needle: bytes) -> range:
    start = haystack.find(needle)
    assert start >= 0 and haystack.find(needle, start + 1) < 0
    return range(start, start + len(needle))


@pytest.fixture(scope="session")
def fuzz_target(world: World) -> Iterator[tuple[Made, bytes, range, range, range]]:
    made = world.ec
    der = made.tokens["sha256"].der
    sd = _signed_data(_response(der))
    signer_info = sd["signer_infos"][0]
    signature = _span(der, signer_info["signature"].native)
    tst = _span(der, sd["encap_content_info"]["content"].contents)
    attrs = _span(der, signer_info["signed_attrs"].contents)
    yield made, der, signature, tst, attrs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_tokens_never_raise_and_flips_in_signed_parts_never_verify(
    fuzz_target: tuple[Made, bytes, range, range, range], data: st.DataObject
) -> None:
    made, der, signature, tst, attrs = fuzz_target
    position = data.draw(st.integers(0, len(der) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="mask")
    flipped = der[:position] + bytes([der[position] ^ mask]) + der[position + 1 :]
    result = made.verify(flipped)  # must not raise
    assert len(result.checks) == len(TOKEN_CHECKS)
    if position in signature or position in tst or position in attrs:
        assert not result.ok
    if position in signature:
        assert result.failures
        assert result.failures[0].name in (CHECK_DER, CHECK_SIGNATURE)
    cut = data.draw(st.integers(0, len(der) - 1), label="cut")
    truncated = made.verify(der[:cut])
    assert not truncated.ok
    assert failed_names(truncated) == [CHECK_DER]
