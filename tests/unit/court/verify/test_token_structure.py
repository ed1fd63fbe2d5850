"""court.verify.token: junk inside a token's elements fails "DER well-formed".

asn1crypto reads the fields an ASN.1 type defines and ignores whatever follows
them, so a token with bytes appended inside the ContentInfo, its [0] EXPLICIT
wrapper, the SignedData, a SignerInfo, the eContent OCTET STRING or the TSTInfo
used to verify (outside the signed parts) or fail on a later check (inside
them). Real tokens, from our notary engine and from stock ``openssl ts``, are
edited here with the strict TLV reader (every enclosing length re-framed, nothing
else re-encoded) and each edit must fail the DER check, naming the element.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from court.der import Tlv, der_problem, encode_length, read_children, read_tlv
from court.verify.result import CheckStatus
from court.verify.token import (
    CHECK_DER,
    CHECK_SIGNER_ID,
    TOKEN_CHECKS,
    TokenVerification,
    verify_timestamp,
)
from court.verify.token import parse as parse_module
from notary.pki import load_tsa_signing_material
from tests.support.openssl_tsa import make_query, make_reply, make_tsa_pki, write_tsa_config
from tests.support.tsa import make_engine

DOCUMENT = b"settlement agreement, loan 42"
DIGEST = hashlib.sha256(DOCUMENT).digest()

# A step into a constructed element: a child index (negative counts from the end)
# or the identifier octet of the first child that has it.
Step = int | bytes
TlvPath = tuple[Step, ...]


@dataclass(frozen=True)
class Source:
    """A granted response from one TSA and what verifies it."""

    name: str
    response: bytes
    roots: tuple[x509.Certificate, ...]
    untrusted: tuple[x509.Certificate, ...]

    @property
    def token(self) -> bytes:
        """The bare TimeStampToken: the response's second element, byte for byte."""
        return _children(_element(self.response))[1].encoded

    def verify(self, der: bytes) -> TokenVerification:
        return verify_timestamp(
            der, roots=self.roots, untrusted=self.untrusted, digest=DIGEST, hash_algorithm="sha256"
        )


@pytest.fixture(scope="module")
def engine_source(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Source:
    engine = make_engine(pki_p256, tmp_path_factory.mktemp("tsa-state"))
    roots = tuple(load_tsa_signing_material(pki_p256)[2])
    return Source("notary", engine.issue("sha256", DIGEST).response, roots, ())


def _openssl_source(folder: Path, kind: str) -> Source:
    key_kind = "ec" if kind == "ec" else "rsa2048"
    pki = make_tsa_pki(folder, key_kind, label=f"Junk {kind}")  # type: ignore[arg-type]
    # EC: intermediate embedded and signingCertificateV2; RSA: OpenSSL's default
    # ESSCertID (v1) and no intermediate embedded.
    config = write_tsa_config(
        folder / "tsa.cnf",
        certs=pki.chain_pem if kind == "ec" else None,
        ess_cert_id_alg="sha256" if kind == "ec" else None,
    )
    query = make_query(folder / "q.tsq", digest=DIGEST)
    response = make_reply(query, config=config, signer=pki.tsa, out=folder / "r.tsr")
    return Source(f"openssl-{kind}", response, (pki.root.certificate,), tuple(pki.untrusted))


@pytest.fixture(scope="module")
def openssl_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Source]:
    folder = tmp_path_factory.mktemp("openssl-junk")
    return {kind: _openssl_source(folder / kind, kind) for kind in ("ec", "rsa")}


SOURCES = ["notary", "openssl-ec", "openssl-rsa"]


@pytest.fixture(params=SOURCES)
def source(
    request: pytest.FixtureRequest, engine_source: Source, openssl_sources: dict[str, Source]
) -> Source:
    name: str = request.param
    return engine_source if name == "notary" else openssl_sources[name.removeprefix("openssl-")]


# --------------------------------------------------------------------------- TLV surgery


def _element(der: bytes) -> Tlv:
    element, end = read_tlv(der)
    assert end == len(der)
    return element


def _children(element: Tlv) -> list[Tlv]:
    return read_children(element.contents)


def _index(children: Sequence[Tlv], step: Step) -> int:
    if isinstance(step, int):
        return step % len(children)
    matches = [i for i, child in enumerate(children) if child.tag == step[0]]
    assert matches, f"no child with identifier {step.hex()}"
    return matches[0]


def append_inside(der: bytes, path: TlvPath, junk: bytes) -> bytes:
    """``der`` with ``junk`` appended to the contents of the element at ``path``.

    Every enclosing element gets its length re-framed; no other byte changes.
    """
    element = _element(der)
    if path:
        children = _children(element)
        at = _index(children, path[0])
        parts = [child.encoded for child in children]
        parts[at] = append_inside(parts[at], path[1:], junk)
        contents = b"".join(parts)
    else:
        contents = element.contents + junk
    return bytes((element.tag,)) + encode_length(len(contents)) + contents


# Paths inside a bare token (a ContentInfo); a response adds the step 1 in front.
CONTENT_INFO: TlvPath = ()
CONTENT: TlvPath = (1,)  # [0] EXPLICIT
SIGNED_DATA: TlvPath = (1, 0)
ENCAP: TlvPath = (*SIGNED_DATA, 2)
E_CONTENT: TlvPath = (*ENCAP, 1)  # [0] EXPLICIT
OCTETS: TlvPath = (*E_CONTENT, 0)
TST_INFO: TlvPath = (*OCTETS, 0)
SIGNER_INFO: TlvPath = (*SIGNED_DATA, -1, 0)

NULL = b"\x05\x00"
INTEGER = b"\x02\x01\x00"

# Where junk goes and what the DER check's detail must then name. Junk at the
# UNSIGNED_PLACES lies outside everything the signature covers: without the
# structure check such a token still verified (the malleability a reviewer
# demonstrated). Junk at the SIGNED_PLACES used to fail a later check instead.
UNSIGNED_PLACES = [
    pytest.param(CONTENT_INFO, "2 trailing byte(s) after content that", id="ContentInfo"),
    pytest.param(
        CONTENT, "content: 2 trailing byte(s) after SignedData", id="[0]-after-SignedData"
    ),
    pytest.param(SIGNED_DATA, "SignedData: 2 trailing byte(s) after signerInfos", id="SignedData"),
    pytest.param(ENCAP, "encapContentInfo: 2 trailing byte(s) after eContent", id="encap"),
    pytest.param(E_CONTENT, "eContent: 2 trailing byte(s) after OCTET STRING", id="eContent-[0]"),
    pytest.param(SIGNER_INFO, "signerInfo[0]: 2 trailing byte(s) after signature", id="SignerInfo"),
    pytest.param((*SIGNER_INFO, 1), "sid: 2 trailing byte(s) after serialNumber", id="sid"),
    pytest.param(
        (*SIGNER_INFO, 1, 0, 0, 0), "issuer.rdn[0].attribute[0]: 2 trailing", id="sid-issuer-name"
    ),
    pytest.param((*SIGNER_INFO, -2), "signatureAlgorithm: ", id="signatureAlgorithm"),
    pytest.param((*SIGNER_INFO, 2), "digestAlgorithm: 2 trailing", id="digestAlgorithm"),
]
SIGNED_PLACES = [
    pytest.param(OCTETS, "TSTInfo: 2 trailing byte(s) after the DER element", id="OCTET-STRING"),
    pytest.param(TST_INFO, "TSTInfo: 2 trailing byte(s) after tsa", id="TSTInfo"),
    pytest.param((*TST_INFO, b"\xa0"), "tsa: 2 trailing byte(s) after directoryName", id="tsa-[0]"),
    pytest.param(
        (*TST_INFO, b"\xa0", 0), "directoryName: 2 trailing byte(s) after Name", id="tsa-[4]"
    ),
    pytest.param((*TST_INFO, 2), "messageImprint: 2 trailing", id="messageImprint"),
    pytest.param((*TST_INFO, 5), "accuracy: 2 trailing byte(s) after seconds", id="accuracy"),
    pytest.param(
        (*SIGNER_INFO, b"\xa0", 0), "signedAttrs.attribute[0]: 2 trailing", id="attribute"
    ),
]


def _paths(source: Source, bare: bool, path: TlvPath) -> tuple[bytes, TlvPath]:
    return (source.token, path) if bare else (source.response, (1, *path))


def assert_only_der_fails(result: TokenVerification, words: str) -> None:
    assert not result.ok
    assert [c.name for c in result.failures] == [CHECK_DER]
    assert [c.name for c in result.checks] == list(TOKEN_CHECKS)
    assert all(c.status is CheckStatus.NOT_RUN for c in result.checks[1:])
    assert words in result.check(CHECK_DER).detail, result.check(CHECK_DER).detail


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("bare", [False, True], ids=["response", "bare"])
def test_untouched_tokens_verify_and_the_surgery_is_exact(source: Source, bare: bool) -> None:
    """Control: the real token verifies, and appending nothing changes no byte."""
    der, path = _paths(source, bare, SIGNER_INFO)
    assert source.verify(der).ok, source.verify(der).failures
    assert append_inside(der, path, b"") == der


@pytest.mark.parametrize("bare", [False, True], ids=["response", "bare"])
@pytest.mark.parametrize(("path", "words"), UNSIGNED_PLACES + SIGNED_PLACES)
def test_junk_inside_an_element_fails_der(
    source: Source, bare: bool, path: TlvPath, words: str
) -> None:
    der, where = _paths(source, bare, path)
    assert_only_der_fails(source.verify(append_inside(der, where, NULL)), words)


def test_junk_between_set_of_elements_fails_der(source: Source) -> None:
    der, where = _paths(source, False, (*SIGNED_DATA, 1))
    result = source.verify(append_inside(der, where, NULL))
    assert_only_der_fails(result, "digestAlgorithms: expected digestAlgorithm[1], found")


@pytest.mark.parametrize("junk", [INTEGER, b"\xa2\x00", b"\x31\x00", b"\x04\x03abc"])
@pytest.mark.parametrize(
    "path", [CONTENT_INFO, CONTENT, SIGNED_DATA, E_CONTENT, TST_INFO, SIGNER_INFO]
)
def test_any_kind_of_junk_fails_der(source: Source, path: TlvPath, junk: bytes) -> None:
    der, where = _paths(source, False, path)
    result = source.verify(append_inside(der, where, junk))
    assert_only_der_fails(result, "trailing byte(s)")


def test_junk_after_the_response_token_and_in_the_status_fails_der(source: Source) -> None:
    after_token = source.verify(append_inside(source.response, (), NULL))
    assert_only_der_fails(after_token, "TimeStampResp: 2 trailing byte(s) after timeStampToken")
    in_status = source.verify(append_inside(source.response, (0,), NULL))
    assert_only_der_fails(in_status, "TimeStampResp.status: 2 trailing byte(s) after status")


def test_empty_attribute_sets_fail_der(source: Source) -> None:
    """SignedAttributes and UnsignedAttributes are SET SIZE (1..MAX): an empty [1] is junk."""
    der, where = _paths(source, False, SIGNER_INFO)
    result = source.verify(append_inside(der, where, b"\xa1\x00"))
    assert_only_der_fails(result, "unsignedAttrs: empty")


@pytest.mark.parametrize(("path", "words"), UNSIGNED_PLACES)
def test_without_the_structure_check_unsigned_junk_would_verify(
    source: Source, monkeypatch: pytest.MonkeyPatch, path: TlvPath, words: str
) -> None:
    """The tests above aim at real malleability: only the typed walk refuses these tokens.

    Without it (strict DER alone), the fields read would be the same and the
    token would verify. (Junk inside the sid's issuer name is also caught by
    "Signer identifier exact", which compares the sid with the certificate
    byte for byte.)
    """
    monkeypatch.setattr(parse_module, "structure_problem", lambda data, **_: der_problem(data))
    der, where = _paths(source, False, path)
    result = source.verify(append_inside(der, where, NULL))
    expected = [CHECK_SIGNER_ID] if words.startswith("issuer.rdn") else []
    assert [c.name for c in result.failures] == expected


def test_ecdsa_signature_algorithm_with_parameters_fails_der(engine_source: Source) -> None:
    """ecdsa-with-SHA256 has no parameters (RFC 5758): adding a NULL is junk too."""
    result = engine_source.verify(append_inside(engine_source.token, (*SIGNER_INFO, -2), NULL))
    assert_only_der_fails(result, "signatureAlgorithm: has parameters")
    assert "RFC 5758" in result.check(CHECK_DER).detail
