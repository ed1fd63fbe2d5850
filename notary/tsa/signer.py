"""The signer interface the engine uses, and its software-key implementation.

A signer owns a private key and the certificate that names it. The engine
asks it only for the DER pieces that describe it and for one signature per
token, so an HSM-backed signer (PKCS#11) can implement the same protocol.
"""

from __future__ import annotations

from typing import Protocol

from asn1crypto import algos
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}


class Signer(Protocol):
    """What the TSA engine needs from a signing key."""

    @property
    def certificate(self) -> x509.Certificate:
        """The TSA certificate of this key (EKU timeStamping)."""
        ...

    @property
    def digest_algorithm(self) -> str:
        """Name of the hash used for signed attributes: sha256, sha384 or sha512."""
        ...

    @property
    def signature_algorithm_der(self) -> bytes:
        """DER AlgorithmIdentifier of the signature (CMS signatureAlgorithm)."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Sign `data` (the DER signed attributes); return the CMS signature value."""
        ...


class KeySigner:
    """A software ECDSA or RSA (PKCS#1 v1.5) key held in memory."""

    def __init__(
        self,
        private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
        certificate: x509.Certificate,
        digest_algorithm: str = "sha256",
    ) -> None:
        if digest_algorithm not in DIGEST_SIZES:
            raise ValueError(f"unsupported signing digest {digest_algorithm}")
        cert_key = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        own_key = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if cert_key != own_key:
            raise ValueError("the private key does not match the TSA certificate")
        self._key = private_key
        self._certificate = certificate
        self._digest_algorithm = digest_algorithm
        hash_objects: dict[str, hashes.HashAlgorithm] = {
            "sha256": hashes.SHA256(),
            "sha384": hashes.SHA384(),
            "sha512": hashes.SHA512(),
        }
        self._hash = hash_objects[digest_algorithm]
        if isinstance(private_key, ec.EllipticCurvePrivateKey):
            self._ecdsa = ec.ECDSA(self._hash)
            algorithm = f"{digest_algorithm}_ecdsa"
        else:
            self._padding = padding.PKCS1v15()
            algorithm = f"{digest_algorithm}_rsa"
        self._signature_algorithm_der = bytes(
            algos.SignedDigestAlgorithm({"algorithm": algorithm}).dump()
        )

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    @property
    def digest_algorithm(self) -> str:
        return self._digest_algorithm

    @property
    def signature_algorithm_der(self) -> bytes:
        return self._signature_algorithm_der

    def sign(self, data: bytes) -> bytes:
        key = self._key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, self._ecdsa)
        return key.sign(data, self._padding, self._hash)
