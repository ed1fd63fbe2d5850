"""court.verify.token: the fields RFC 5652 and RFC 3161 fix outside the signature are checked.

SignedData version, SignerInfo version, the digestAlgorithms set and the
signer identifier are not covered by the token's signature: each test here
changes one of them in a real token of our notary (TLV surgery, every other
byte kept) and the token must fail exactly the check named for that field.
Before these checks existed, every one of these tokens verified.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography import x509

from court.der import (
    TAG_SEQUENCE,
    TAG_SET,
    encode_integer,
    encode_oid,
    read_children,
    tlv,
)
from court.verify.token import (
    CHECK_DER,
    CHECK_DIGEST_ALGORITHMS,
    CHECK_SIGNED_DATA_VERSION,
    CHECK_SIGNER_FOUND,
    CHECK_SIGNER_ID,
    CHECK_SIGNER_INFO_VERSION,
    TokenVerification,
    verify_timestamp,
)
from notary.pki import load_tsa_signing_material
from tests.support.token_surgery import element_at, replace
from tests.support.tsa import make_engine

DIGEST = hashlib.sha256(b"a repayment record").digest()

# Paths (child indexes) inside a bare token (ContentInfo).
SIGNED_DATA = (1, 0)
SD_VERSION = (*SIGNED_DATA, 0)
DIGEST_ALGORITHMS = (*SIGNED_DATA, 1)
SIGNER_INFO = (*SIGNED_DATA, -1, 0)
SI_VERSION = (*SIGNER_INFO, 0)
SID = (*SIGNER_INFO, 1)
SID_ISSUER = (*SID, 0)


def _algorithm(name: str) -> bytes:
    oids = {"sha256": "2.16.840.1.101.3.4.2.1", "sha384": "2.16.840.1.101.3.4.2.2"}
    oids["sha512"] = "2.16.840.1.101.3.4.2.3"
    return tlv(TAG_SEQUENCE, encode_oid(oids[name]))


class Token:
    """A real bare token of our notary and what verifies it."""

    def __init__(self, der: bytes, roots: list[x509.Certificate]) -> None:
        self.der = der
        self.roots = roots

    def verify(self, der: bytes) -> TokenVerification:
        return verify_timestamp(der, roots=self.roots, digest=DIGEST, hash_algorithm="sha256")


@pytest.fixture(scope="module")
def token(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Token:
    engine = make_engine(pki_p256, tmp_path_factory.mktemp("serials"))
    return Token(engine.issue("sha256", DIGEST).token, load_tsa_signing_material(pki_p256)[2])


def assert_fails_only(result: TokenVerification, name: str, words: str) -> None:
    assert not result.ok
    assert [c.name for c in result.failures] == [name], result.failures
    assert words in result.check(name).detail, result.check(name).detail


def test_the_untouched_token_passes_every_field_check(token: Token) -> None:
    result = token.verify(token.der)
    assert result.ok, result.failures
    for name in (
        CHECK_SIGNED_DATA_VERSION,
        CHECK_SIGNER_INFO_VERSION,
        CHECK_DIGEST_ALGORITHMS,
        CHECK_SIGNER_ID,
    ):
        assert result.check(name).passed
    assert element_at(token.der, SD_VERSION).encoded == encode_integer(3)
    assert replace(token.der, SID, element_at(token.der, SID).encoded) == token.der


@pytest.mark.parametrize("version", [0, 1, 2, 4, 5, 300])
def test_signed_data_version_other_than_3_fails(token: Token, version: int) -> None:
    result = token.verify(replace(token.der, SD_VERSION, encode_integer(version)))
    assert_fails_only(result, CHECK_SIGNED_DATA_VERSION, f"SignedData version {version}, but 3")


def test_signed_data_version_follows_the_certificate_formats(token: Token) -> None:
    """An ``other`` certificate format ([3]) makes 5 the only right version (RFC 5652 5.1)."""
    certificates = (*SIGNED_DATA, 3)
    bag = element_at(token.der, certificates)
    assert bag.tag == 0xA0
    other = tlv(0xA3, encode_oid("1.2.3.4") + tlv(TAG_SEQUENCE, b""))
    with_other = replace(token.der, certificates, tlv(0xA0, bag.contents + other))
    assert_fails_only(token.verify(with_other), CHECK_SIGNED_DATA_VERSION, "but 5 is")
    assert token.verify(replace(with_other, SD_VERSION, encode_integer(5))).ok


@pytest.mark.parametrize("version", [0, 2, 3, 4])
def test_signer_info_version_must_be_1_with_issuer_and_serial(token: Token, version: int) -> None:
    result = token.verify(replace(token.der, SI_VERSION, encode_integer(version)))
    words = f"SignerInfo version {version} with the sid issuerAndSerialNumber: RFC 5652 5.3 "
    assert_fails_only(result, CHECK_SIGNER_INFO_VERSION, words + "requires 1")


def test_signer_info_version_must_be_3_with_a_key_identifier(token: Token) -> None:
    tsa = x509.load_der_x509_certificate(
        read_children(element_at(token.der, (*SIGNED_DATA, 3)).contents)[0].encoded
    )
    key_id = tsa.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    by_key = replace(token.der, SID, tlv(0x80, key_id))
    assert_fails_only(token.verify(by_key), CHECK_SIGNER_INFO_VERSION, "requires 3")
    # Version 3 with the key identifier is a valid token: which sid form is used
    # stays malleable (docs/token-checks.md), the receipt pins the token's hash.
    assert token.verify(replace(by_key, SI_VERSION, encode_integer(3))).ok


@pytest.mark.parametrize(
    ("algorithms", "words"),
    [
        ([], "lists nothing, not the signer's digestAlgorithm sha256"),
        (["sha384"], "lists sha384, not the signer's"),
        (["sha256", "sha512"], "lists 2 algorithms (sha256, sha512); the one signer uses only"),
        (["sha256", "sha256"], "lists 2 algorithms"),
    ],
)
def test_digest_algorithms_must_be_the_signers(
    token: Token, algorithms: list[str], words: str
) -> None:
    new = tlv(TAG_SET, b"".join(_algorithm(a) for a in algorithms))
    result = token.verify(replace(token.der, DIGEST_ALGORITHMS, new))
    assert_fails_only(result, CHECK_DIGEST_ALGORITHMS, words)


def test_digest_algorithm_without_null_parameters_is_the_same_algorithm(token: Token) -> None:
    """Absent and NULL parameters both name SHA-256 (RFC 5754); the OID decides."""
    ours = element_at(token.der, DIGEST_ALGORITHMS)
    bare = _algorithm("sha256")
    with_null = tlv(TAG_SEQUENCE, encode_oid("2.16.840.1.101.3.4.2.1") + b"\x05\x00")
    other = bare if b"\x05\x00" in ours.contents else with_null
    assert tlv(TAG_SET, other) != ours.encoded
    result = token.verify(replace(token.der, DIGEST_ALGORITHMS, tlv(TAG_SET, other)))
    assert result.check(CHECK_DIGEST_ALGORITHMS).passed


def _recase(name: bytes) -> bytes:
    """The Name with the first letter of its first UTF8String/PrintableString value
    changed to the other case: the same name for RFC 5280 7.1, other bytes."""
    for at in range(len(name) - 2):
        if name[at] in (0x0C, 0x13) and chr(name[at + 2]).isalpha():
            letter = name[at + 2 : at + 3]
            return name[: at + 2] + letter.swapcase() + name[at + 3 :]
    raise AssertionError("no string value to re-case")


def test_signer_identifier_must_be_the_certificates_bytes(token: Token) -> None:
    issuer = element_at(token.der, SID_ISSUER).encoded
    result = token.verify(replace(token.der, SID_ISSUER, _recase(issuer)))
    assert result.check(CHECK_SIGNER_FOUND).passed  # the same name, compared as RFC 5280 does
    assert_fails_only(result, CHECK_SIGNER_ID, "byte for byte")


def test_signer_identifier_names_the_certificate_and_nothing_else(token: Token) -> None:
    """A sid naming another serial finds no certificate: the identifier check is not run."""
    serial = element_at(token.der, (*SID, 1))
    other = encode_integer(int.from_bytes(serial.contents, "big") + 1)
    result = token.verify(replace(token.der, (*SID, 1), other))
    assert [c.name for c in result.failures] == [CHECK_SIGNER_FOUND]
    assert "'Signer certificate found' failed" in result.check(CHECK_SIGNER_ID).detail


@pytest.mark.parametrize("path", [(*DIGEST_ALGORITHMS, 0), (*SIGNER_INFO, 2)])
def test_digest_algorithm_parameters_other_than_null_fail_der(
    token: Token, path: tuple[int, ...]
) -> None:
    """SHA-2 parameters are absent or NULL (RFC 5754): anything else would be malleable."""
    odd = tlv(TAG_SEQUENCE, encode_oid("2.16.840.1.101.3.4.2.1") + b"\x04\x00")
    result = token.verify(replace(token.der, path, odd))
    assert [c.name for c in result.failures] == [CHECK_DER]
    assert "parameters other than NULL" in result.check(CHECK_DER).detail
