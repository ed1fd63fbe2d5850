"""Court-side verification of RFC 3161 time-stamp tokens (pure).

:func:`verify_timestamp` takes a DER ``TimeStampResp`` or a bare
``TimeStampToken`` (a CMS ``ContentInfo``) and runs every check a court needs,
each one separately and named, in this order:

===================================== =====================================================
check                                 what passes
===================================== =====================================================
DER well-formed                       strict DER (definite minimal lengths, no trailing
                                      bytes, canonical BOOLEAN/INTEGER/NULL); every element
                                      read holds exactly what its ASN.1 type allows: one
                                      element in each [n] EXPLICIT wrapper, one TSTInfo and
                                      nothing else in the eContent OCTET STRING, no element
                                      after the last field of the TimeStampResp, ContentInfo,
                                      SignedData, SignerInfo, TSTInfo and what they contain
                                      (:mod:`.structure`); the response, the SignedData and
                                      the TSTInfo all parse
Status granted                        PKIStatus 0 or 1 and a token is present (not run for a
                                      bare token, which has no status)
Content type id-ct-TSTInfo            ContentInfo is signedData whose eContentType is
                                      id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4), eContent
                                      present, TSTInfo version 1
SignedData version                    the version RFC 5652 5.1 fixes: 3 (eContentType is
                                      not id-data), 4 or 5 for other certificate formats
Single signer                         exactly one SignerInfo
SignerInfo version                    1 with an issuerAndSerialNumber sid, 3 with a
                                      subjectKeyIdentifier (RFC 5652 5.3)
digestAlgorithms lists the signer's   the SignedData's digestAlgorithms set is exactly the
                                      SignerInfo's digestAlgorithm
Signer certificate found              exactly one certificate (embedded, ``untrusted``,
                                      ``tsa_certificate`` or ``roots``) matches the
                                      SignerInfo's sid (issuerAndSerialNumber, names compared
                                      as RFC 5280 does, or subjectKeyIdentifier); never "the
                                      first certificate"
Signer identifier exact               the sid is byte for byte that certificate's issuer and
                                      serialNumber (or its subjectKeyIdentifier)
contentType attribute                 one signed contentType attribute, id-ct-TSTInfo
messageDigest attribute               one signed messageDigest attribute equal to the hash
                                      of eContent under the SignerInfo's digestAlgorithm
Signature valid                       signature over the DER SET of the signed attributes,
                                      with the signer's key: RSA PKCS#1 v1.5, RSA-PSS,
                                      ECDSA (any curve), Ed25519
signingCertificate matches signer     ESSCertIDv2 (RFC 5816, default SHA-256) and/or
                                      ESSCertID (SHA-1) hash the signer certificate, and
                                      issuerSerial, when present, names it
Chain valid at genTime                a path from the signer to one of ``roots``, every
                                      signature good, every certificate valid at genTime,
                                      issuers are CAs, path lengths respected; the search is
                                      bounded (:mod:`court.verify.x509chain`)
EKU timeStamping (critical, sole)     RFC 3161 2.3: extendedKeyUsage present, critical,
                                      containing only id-kp-timeStamping
TSA name matches signer               when TSTInfo carries ``tsa``, it names the signer
                                      (subject or subjectAltName; RFC 3161 2.4.2)
Imprint matches                       messageImprint equals the expected algorithm and digest
                                      (or the hash of ``data`` under the token's algorithm,
                                      which must be SHA-256, SHA-384, SHA-512 or SM3)
Nonce matches                         when a nonce is expected
Policy matches                        when a policy is expected
TSA identity pinned                   when ``tsa_certificate`` / ``tsa_name`` are given
===================================== =====================================================

A check whose inputs an earlier failure made unavailable is ``not_run`` and
names that failure; checks that were not asked for (nonce, policy, pins) or do
not apply (status of a bare token, absent ``tsa`` field) are ``not_run`` with
a detail saying so. :attr:`TokenVerification.ok` is true only when nothing
failed and every check that always applies passed. docs/token-checks.md says
what of a token these checks leave malleable.

Nothing here raises for a bad token. ``ValueError`` is raised only for
programming errors: neither or both of ``digest`` and ``data``, an unknown
hash name, a digest of the wrong length, a malformed policy OID or pinned name.

The package, by concern: :mod:`.structure` (the "DER well-formed" walk),
:mod:`.parse` (reading the parts), :mod:`.checks` (the CMS envelope and the
signature), :mod:`.identity` (who signed), :mod:`.expected` (what the court
asked for), :mod:`.verify` (the run), :mod:`.result` (names and result).
"""

from __future__ import annotations

from court.verify.token.algorithms import IMPRINT_ALGORITHMS
from court.verify.token.parse import TimeStampResp
from court.verify.token.result import (
    CHECK_CHAIN,
    CHECK_CONTENT_TYPE,
    CHECK_CONTENT_TYPE_ATTR,
    CHECK_DER,
    CHECK_DIGEST_ALGORITHMS,
    CHECK_EKU,
    CHECK_IMPRINT,
    CHECK_MESSAGE_DIGEST,
    CHECK_NONCE,
    CHECK_PIN,
    CHECK_POLICY,
    CHECK_SIGNATURE,
    CHECK_SIGNED_DATA_VERSION,
    CHECK_SIGNER_FOUND,
    CHECK_SIGNER_ID,
    CHECK_SIGNER_INFO_VERSION,
    CHECK_SIGNING_CERT,
    CHECK_SINGLE_SIGNER,
    CHECK_STATUS,
    CHECK_TSA_NAME,
    TOKEN_CHECKS,
    TokenVerification,
)
from court.verify.token.structure import structure_problem
from court.verify.token.verify import verify_timestamp

__all__ = [
    "CHECK_CHAIN",
    "CHECK_CONTENT_TYPE",
    "CHECK_CONTENT_TYPE_ATTR",
    "CHECK_DER",
    "CHECK_DIGEST_ALGORITHMS",
    "CHECK_EKU",
    "CHECK_IMPRINT",
    "CHECK_MESSAGE_DIGEST",
    "CHECK_NONCE",
    "CHECK_PIN",
    "CHECK_POLICY",
    "CHECK_SIGNATURE",
    "CHECK_SIGNED_DATA_VERSION",
    "CHECK_SIGNER_FOUND",
    "CHECK_SIGNER_ID",
    "CHECK_SIGNER_INFO_VERSION",
    "CHECK_SIGNING_CERT",
    "CHECK_SINGLE_SIGNER",
    "CHECK_STATUS",
    "CHECK_TSA_NAME",
    "IMPRINT_ALGORITHMS",
    "TOKEN_CHECKS",
    "TimeStampResp",
    "TokenVerification",
    "structure_problem",
    "verify_timestamp",
]
