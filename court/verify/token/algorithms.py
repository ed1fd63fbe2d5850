"""Algorithms a token may name: digests by OID, and the SignerInfo's signature check."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from court.der import Tlv, decode_integer, decode_oid, read_children
from court.verify.x509chain import key_problem

if TYPE_CHECKING:
    from court.verify.token.parse import SignerInfo

__all__ = [
    "DIGEST_OIDS",
    "ECDSA_WITH",
    "ED25519",
    "IMPRINT_ALGORITHMS",
    "OID_CONTENT_TYPE",
    "OID_MESSAGE_DIGEST",
    "OID_SIGNED_DATA",
    "OID_SIGNING_CERTIFICATE",
    "OID_SIGNING_CERTIFICATE_V2",
    "OID_TST_INFO",
    "RSA_PKCS1_OIDS",
    "RSA_PSS",
    "WEAK_DIGESTS",
    "digest_name",
    "hash_data",
    "pss_parameters",
    "short",
    "signature_name",
    "verify_signature",
]

OID_SIGNED_DATA: Final = "1.2.840.113549.1.7.2"
OID_TST_INFO: Final = "1.2.840.113549.1.9.16.1.4"
OID_CONTENT_TYPE: Final = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST: Final = "1.2.840.113549.1.9.4"
OID_SIGNING_CERTIFICATE: Final = "1.2.840.113549.1.9.16.2.12"
OID_SIGNING_CERTIFICATE_V2: Final = "1.2.840.113549.1.9.16.2.47"

_HashFactory = Callable[[], hashes.HashAlgorithm]

# Digest algorithms by OID: (name, factory).
_DIGESTS: Final[dict[str, tuple[str, _HashFactory]]] = {
    "1.3.14.3.2.26": ("sha1", hashes.SHA1),
    "2.16.840.1.101.3.4.2.4": ("sha224", hashes.SHA224),
    "2.16.840.1.101.3.4.2.1": ("sha256", hashes.SHA256),
    "2.16.840.1.101.3.4.2.2": ("sha384", hashes.SHA384),
    "2.16.840.1.101.3.4.2.3": ("sha512", hashes.SHA512),
    "2.16.840.1.101.3.4.2.8": ("sha3-256", hashes.SHA3_256),
    "2.16.840.1.101.3.4.2.9": ("sha3-384", hashes.SHA3_384),
    "2.16.840.1.101.3.4.2.10": ("sha3-512", hashes.SHA3_512),
    "1.2.156.10197.1.401": ("sm3", hashes.SM3),
}
_DIGEST_OIDS: Final[dict[str, str]] = {name: oid for oid, (name, _) in _DIGESTS.items()}
#: Digest algorithms the court knows.
DIGEST_OIDS: Final[frozenset[str]] = frozenset(_DIGESTS)

#: Hash algorithms accepted for the message imprint.
IMPRINT_ALGORITHMS: Final[frozenset[str]] = frozenset({"sha256", "sha384", "sha512", "sm3"})
#: Digest algorithms too weak to protect the signed attributes.
WEAK_DIGESTS: Final[frozenset[str]] = frozenset({"sha1"})

_RSA_ENCRYPTION: Final = "1.2.840.113549.1.1.1"
RSA_PSS: Final = "1.2.840.113549.1.1.10"
_EC_PUBLIC_KEY: Final = "1.2.840.10045.2.1"
ED25519: Final = "1.3.101.112"
_MGF1: Final = "1.2.840.113549.1.1.8"
# Signature algorithms that name their hash.
_RSA_WITH: Final[dict[str, str]] = {
    "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
}
#: RSA PKCS#1 v1.5 algorithms, whose parameters are NULL (RFC 4055 5).
RSA_PKCS1_OIDS: Final[frozenset[str]] = frozenset({_RSA_ENCRYPTION, *_RSA_WITH})
ECDSA_WITH: Final[dict[str, str]] = {
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}


def hash_data(name: str, data: bytes) -> bytes:
    """``data`` hashed with the digest algorithm called ``name`` (a name of this module)."""
    h = hashes.Hash(_DIGESTS[_DIGEST_OIDS[name]][1]())
    h.update(data)
    return h.finalize()


def digest_name(oid: str) -> str | None:
    """The name of the digest algorithm ``oid``, or ``None`` when it is not known."""
    entry = _DIGESTS.get(oid)
    return entry[0] if entry else None


def short(data: bytes) -> str:
    """Hexadecimal ``data``, shortened in the middle when long."""
    text = data.hex()
    return text if len(text) <= 24 else f"{text[:12]}…{text[-8:]}"


def pss_parameters(parameters: Tlv | None) -> tuple[str | None, str, str | None, int, int]:
    """RSASSA-PSS-params (RFC 4055 3.1) with their defaults: (hash, mask generation OID,
    its hash, salt length, trailer field). Names are ``None`` for unknown algorithms."""
    hash_name: str | None = "sha1"
    mgf, mgf_hash = _MGF1, digest_name("1.3.14.3.2.26")  # mgf1SHA1
    salt, trailer = 20, 1
    for field in read_children(parameters.contents) if parameters is not None else []:
        [inner] = read_children(field.contents)
        if field.tag == 0xA0:
            hash_name = digest_name(decode_oid(read_children(inner.contents)[0]))
        elif field.tag == 0xA1:
            mgf_fields = read_children(inner.contents)
            mgf = decode_oid(mgf_fields[0])
            mgf_hash = None
            if len(mgf_fields) > 1 and mgf_fields[1].tag == 0x30:
                mgf_hash = digest_name(decode_oid(read_children(mgf_fields[1].contents)[0]))
        elif field.tag == 0xA2:
            salt = decode_integer(inner)
        else:
            trailer = decode_integer(inner)
    return hash_name, mgf, mgf_hash, salt, trailer


def verify_signature(
    cert: x509.Certificate, signer_info: SignerInfo, signed: bytes, digest: str
) -> str | None:
    """``None`` if the SignerInfo's signature over ``signed`` verifies with ``cert``'s key."""
    oid = signer_info.signature_algorithm.oid
    signature = signer_info.signature
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"the signer's public key cannot be loaded: {exc}"
    problem = key_problem(cert)  # the chain's rule: one verification costs little
    if problem is not None:
        return f"the signer's key is not accepted: {problem}"
    hash_algorithm = _DIGESTS[_DIGEST_OIDS[digest]][1]()
    try:
        if oid == ED25519:
            if not isinstance(key, ed25519.Ed25519PublicKey):
                return "signatureAlgorithm is Ed25519 but the signer key is not an Ed25519 key"
            key.verify(signature, signed)
            return None
        if oid in (_RSA_ENCRYPTION, *_RSA_WITH):
            implied = _RSA_WITH.get(oid)
            if implied is not None and implied != digest:
                return f"signatureAlgorithm uses {implied}, digestAlgorithm is {digest}"
            if not isinstance(key, rsa.RSAPublicKey):
                return "signatureAlgorithm is RSA but the signer key is not an RSA key"
            key.verify(signature, signed, padding.PKCS1v15(), hash_algorithm)
            return None
        if oid == RSA_PSS:
            pss_hash, mgf, mgf_hash, salt, trailer = pss_parameters(
                signer_info.signature_algorithm.parameters
            )
            if pss_hash != digest:
                return f"RSASSA-PSS hash {pss_hash} differs from digestAlgorithm {digest}"
            if mgf != _MGF1 or mgf_hash != digest:
                return "RSASSA-PSS mask generation is not MGF1 with the digest algorithm"
            if trailer != 1:
                return "RSASSA-PSS trailerField is not 1"
            if not isinstance(key, rsa.RSAPublicKey):
                return "signatureAlgorithm is RSASSA-PSS but the signer key is not an RSA key"
            if not 0 <= salt <= key.key_size // 8:
                return "RSASSA-PSS saltLength is longer than the key"
            pss = padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=salt)
            key.verify(signature, signed, pss, hash_algorithm)
            return None
        if oid in (_EC_PUBLIC_KEY, *ECDSA_WITH):
            implied = ECDSA_WITH.get(oid)
            if implied is not None and implied != digest:
                return f"signatureAlgorithm uses {implied}, digestAlgorithm is {digest}"
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return "signatureAlgorithm is ECDSA but the signer key is not an EC key"
            key.verify(signature, signed, ec.ECDSA(hash_algorithm))
            return None
    except InvalidSignature:
        return "signature does not verify with the signer's public key"
    except Exception as exc:  # malformed parameters, unsupported curve or hash, ...
        return f"signature cannot be verified: {type(exc).__name__}: {exc}"
    return f"unsupported signatureAlgorithm {oid}"


def signature_name(signer_info: SignerInfo, digest: str) -> str:
    """How a report names the SignerInfo's signature algorithm."""
    oid = signer_info.signature_algorithm.oid
    if oid == ED25519:
        return "Ed25519"
    if oid == RSA_PSS:
        return f"RSASSA-PSS/{digest}"
    if oid in (_RSA_ENCRYPTION, *_RSA_WITH):
        return f"RSA PKCS#1 v1.5/{digest}"
    return f"ECDSA/{digest}"
