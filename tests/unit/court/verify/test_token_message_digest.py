"""court.verify.token: the "messageDigest attribute" check, on its own.

The signature covers the signed attributes, not the TSTInfo: only the
messageDigest attribute ties the two. Each token here is one of our notary's,
changed so that this is the only thing wrong (the signed attributes are signed
again with the TSA's key where they change), and it must fail exactly
"messageDigest attribute".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from court.der import TAG_OCTET_STRING, TAG_SEQUENCE, TAG_SET, Tlv, encode_oid, read_children, tlv
from court.verify.token import CHECK_MESSAGE_DIGEST, TokenVerification, verify_timestamp
from notary.pki import load_tsa_signing_material
from tests.support.token_surgery import element_at, replace
from tests.support.tsa import make_engine

DIGEST = hashlib.sha256(b"a settlement agreement").digest()
OID_MESSAGE_DIGEST = encode_oid("1.2.840.113549.1.9.4")

# Paths inside a bare token (ContentInfo).
SIGNED_DATA = (1, 0)
TST_INFO = (*SIGNED_DATA, 2, 1, 0, 0)  # encapContentInfo, [0], OCTET STRING, TSTInfo
TST_SERIAL = (*TST_INFO, 3)
SIGNER_INFO = (*SIGNED_DATA, -1, 0)
SIGNED_ATTRS = (*SIGNER_INFO, 3)
SIGNATURE = (*SIGNER_INFO, 5)


class Token:
    def __init__(self, der: bytes, key: ec.EllipticCurvePrivateKey, roots: list[x509.Certificate]):
        self.der = der
        self.key = key
        self.roots = roots

    def verify(self, der: bytes) -> TokenVerification:
        return verify_timestamp(der, roots=self.roots, digest=DIGEST, hash_algorithm="sha256")

    def resigned(self, edit: Callable[[list[Tlv]], list[bytes]]) -> bytes:
        """The token with its signed attributes edited by ``edit`` and signed again."""
        attributes = read_children(element_at(self.der, SIGNED_ATTRS).contents)
        body = b"".join(sorted(edit(attributes)))  # DER: a SET OF is sorted
        signature = self.key.sign(tlv(TAG_SET, body), ec.ECDSA(hashes.SHA256()))
        der = replace(self.der, SIGNATURE, tlv(TAG_OCTET_STRING, signature))
        return replace(der, SIGNED_ATTRS, tlv(0xA0, body))


@pytest.fixture(scope="module")
def token(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Token:
    engine = make_engine(pki_p256, tmp_path_factory.mktemp("serials"))
    key, _, roots = load_tsa_signing_material(pki_p256)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return Token(engine.issue("sha256", DIGEST).token, key, roots)


def message_digest(*values: bytes) -> bytes:
    return tlv(
        TAG_SEQUENCE,
        OID_MESSAGE_DIGEST + tlv(TAG_SET, b"".join(tlv(TAG_OCTET_STRING, v) for v in values)),
    )


def is_message_digest(attribute: Tlv) -> bool:
    return attribute.contents.startswith(OID_MESSAGE_DIGEST)


def others(attributes: list[Tlv]) -> list[bytes]:
    return [a.encoded for a in attributes if not is_message_digest(a)]


def assert_fails_only_message_digest(result: TokenVerification, words: str) -> None:
    assert not result.ok
    assert [c.name for c in result.failures] == [CHECK_MESSAGE_DIGEST], result.failures
    assert words in result.check(CHECK_MESSAGE_DIGEST).detail


def test_controls(token: Token) -> None:
    """The token is valid, and signing its attributes again changes nothing else."""
    assert token.verify(token.der).ok
    same = token.resigned(lambda attributes: [a.encoded for a in attributes])
    assert same != token.der and token.verify(same).ok


def test_changed_tst_info_fails_only_message_digest(token: Token) -> None:
    """A TSTInfo field changed (the serial number): the signature still verifies."""
    serial = element_at(token.der, TST_SERIAL)
    assert len(serial.contents) > 1
    # The last octet: changing the first could make the INTEGER non-minimal (0x01 -> 0x00
    # before an octet below 0x80), which fails "DER well-formed" instead.
    changed = serial.contents[:-1] + bytes([serial.contents[-1] ^ 0x01])
    result = token.verify(replace(token.der, TST_SERIAL, tlv(serial.tag, changed)))
    assert_fails_only_message_digest(result, "messageDigest ")
    assert "but sha256(eContent) = " in result.check(CHECK_MESSAGE_DIGEST).detail


def test_message_digest_of_other_content_fails(token: Token) -> None:
    other = hashlib.sha256(b"another TSTInfo").digest()
    result = token.verify(token.resigned(lambda a: [*others(a), message_digest(other)]))
    assert_fails_only_message_digest(result, f"messageDigest {other.hex()[:12]}")


def test_missing_message_digest_fails(token: Token) -> None:
    result = token.verify(token.resigned(others))
    assert_fails_only_message_digest(result, "no messageDigest attribute")


def test_two_message_digest_attributes_fail(token: Token) -> None:
    def twice(attributes: list[Tlv]) -> list[bytes]:
        [own] = [a.encoded for a in attributes if is_message_digest(a)]
        return [*others(attributes), own, message_digest(bytes(32))]

    result = token.verify(token.resigned(twice))
    assert_fails_only_message_digest(result, "2 messageDigest attributes")


def test_message_digest_with_two_values_fails(token: Token) -> None:
    tst = element_at(token.der, TST_INFO).encoded
    right = hashlib.sha256(tst).digest()
    result = token.verify(token.resigned(lambda a: [*others(a), message_digest(right, bytes(32))]))
    assert_fails_only_message_digest(result, "has 2 values")
