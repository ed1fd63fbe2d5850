"""A hostile time-stamp token: a valid signature, and many CA certificates that issue each other.

The attacker's TSA certificate is issued under the name ``CN=Hostile CA`` by
key K. The token embeds ``cas`` self-issued CA certificates, all with that
name and key K, so each of them verifies as the issuer of the TSA certificate
and of every other one. The court's trust anchor carries the same name but
another key: no path reaches it, and a path search that tries every ordering
of the hostile certificates never ends in time (8 took 18 s, 12 hours).

:func:`heavy_key_token` is the same attack with costly keys instead of many
orderings: its would-be issuers carry RSA-3072 keys whose public exponent is as
long as the modulus, so each signature check is a private-key-sized operation
(45 ms; 16 of them took 0.5 s before such keys were refused).

Used by the token and chain tests and by ``make bench`` (bench/token.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import random
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from court.der import TAG_SEQUENCE, encode_length, read_children, read_tlv, tlv
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.signer import KeySigner

__all__ = [
    "CA_NAME",
    "HostileToken",
    "add_certificates",
    "big_exponent_key",
    "heavy_key_token",
    "hostile_token",
]

CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hostile CA")])
DOCUMENT = b"a loan contract"
_NOW = dt.datetime.now(dt.UTC)
_YEAR = dt.timedelta(days=365)


@dataclass(frozen=True)
class HostileToken:
    """The token, the digest it stamps and the court's trust anchor."""

    token: bytes
    digest: bytes
    root: x509.Certificate
    cas: tuple[x509.Certificate, ...]


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    signer: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    serial: int,
    *,
    ca: bool,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(CA_NAME)
        .public_key(key)
        .serial_number(serial)
        .not_valid_before(_NOW - _YEAR)
        .not_valid_after(_NOW + _YEAR)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(signer, hashes.SHA256())


class _Counter:
    def __init__(self) -> None:
        self._next = itertools.count(1)

    def next_serial(self) -> int:
        return next(self._next)


def add_certificates(token: bytes, certificates: list[bytes]) -> bytes:
    """``token`` (a bare ContentInfo) with ``certificates`` appended to its [0] certificates.

    The certificates field is not signed: the signature still verifies. Every
    enclosing length is re-framed; no other byte changes.
    """
    content_info, _ = read_tlv(token)
    content_type, wrapper = read_children(content_info.contents)
    [signed_data] = read_children(wrapper.contents)
    fields = read_children(signed_data.contents)
    [at] = [i for i, f in enumerate(fields) if f.tag == 0xA0]
    parts = [f.encoded for f in fields]
    parts[at] = tlv(0xA0, fields[at].contents + b"".join(certificates))
    body = tlv(TAG_SEQUENCE, b"".join(parts))
    inner = content_type.encoded + bytes((0xA0,)) + encode_length(len(body)) + body
    return tlv(TAG_SEQUENCE, inner)


def hostile_token(cas: int) -> HostileToken:
    """A bare token whose TSA certificate has ``cas`` embedded would-be issuers (see above)."""
    key = ec.generate_private_key(ec.SECP256R1())
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hostile TSA")])
    tsa_cert = _certificate(tsa_subject, tsa_key.public_key(), key, 1, ca=False)
    hostile = tuple(
        _certificate(CA_NAME, key.public_key(), key, 100 + i, ca=True) for i in range(cas)
    )
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _certificate(CA_NAME, root_key.public_key(), root_key, 2, ca=True)
    engine = TimeStampAuthority(KeySigner(tsa_key, tsa_cert), _Counter())
    digest = hashlib.sha256(DOCUMENT).digest()
    token = engine.issue("sha256", digest).token
    token = add_certificates(token, [c.public_bytes(Encoding.DER) for c in hostile])
    return HostileToken(token, digest, root, hostile)


def big_exponent_key(bits: int = 3072, seed: int = 1) -> rsa.RSAPublicKey:
    """An RSA public key (no private key exists for it) whose exponent has ``bits - 1`` bits.

    The modulus's top 16 bits are set so that any ``bits``-bit signature is below it
    and OpenSSL performs the whole modular exponentiation.
    """
    rng = random.Random(seed)
    n = rng.getrandbits(bits) | (0xFFFF << (bits - 16)) | 1
    e = rng.getrandbits(bits - 1) | (1 << (bits - 2)) | 1
    return rsa.RSAPublicNumbers(e, n).public_key()


def heavy_key_token(cas: int) -> HostileToken:
    """A bare token whose TSA certificate (signed with RSA-3072) has ``cas`` embedded
    would-be issuers named like it, each with a :func:`big_exponent_key`."""
    ca_key = rsa.generate_private_key(65537, 3072)
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hostile TSA")])
    tsa_cert = _certificate(tsa_subject, tsa_key.public_key(), ca_key, 1, ca=False)
    heavy = tuple(
        _certificate(CA_NAME, big_exponent_key(seed=i), ca_key, 100 + i, ca=True)
        for i in range(cas)
    )
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _certificate(CA_NAME, root_key.public_key(), root_key, 2, ca=True)
    engine = TimeStampAuthority(KeySigner(tsa_key, tsa_cert), _Counter())
    digest = hashlib.sha256(DOCUMENT).digest()
    token = engine.issue("sha256", digest).token
    token = add_certificates(token, [c.public_bytes(Encoding.DER) for c in heavy])
    return HostileToken(token, digest, root, heavy)
