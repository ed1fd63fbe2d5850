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
                                      (see "structure" below); the response, the SignedData
                                      and the TSTInfo all parse
Status granted                        PKIStatus 0 or 1 and a token is present (not run for a
                                      bare token, which has no status)
Content type id-ct-TSTInfo            ContentInfo is signedData whose eContentType is
                                      id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4), eContent
                                      present, TSTInfo version 1
Single signer                         exactly one SignerInfo
Signer certificate found              exactly one certificate (embedded, ``untrusted``,
                                      ``tsa_certificate`` or ``roots``) matches the
                                      SignerInfo's sid (issuerAndSerialNumber or
                                      subjectKeyIdentifier); never "the first certificate"
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
                                      issuers are CAs, path lengths respected
EKU timeStamping (critical, sole)     RFC 3161 2.3: extendedKeyUsage present, critical,
                                      containing only id-kp-timeStamping
TSA name matches signer               when TSTInfo carries ``tsa``, it names the signer
                                      (subject or subjectAltName; RFC 3161 2.4.2)
Imprint matches                       messageImprint equals the expected algorithm and digest
                                      (or the hash of ``data``)
Nonce matches                         when a nonce is expected
Policy matches                        when a policy is expected
TSA identity pinned                   when ``tsa_certificate`` / ``tsa_name`` are given
===================================== =====================================================

A check whose inputs an earlier failure made unavailable is ``not_run`` and
names that failure; checks that were not asked for (nonce, policy, pins) or do
not apply (status of a bare token, absent ``tsa`` field) are ``not_run`` with
a detail saying so. :attr:`TokenVerification.ok` is true only when nothing
failed and every check that always applies passed.

Nothing here raises for a bad token. ``ValueError`` is raised only for
programming errors: neither or both of ``digest`` and ``data``, an unknown
hash name, a digest of the wrong length, a malformed policy OID or pinned name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from court.der import encode_oid
from court.verify.result import Check, Checklist, Verdict
from court.verify.x509chain import build_chain, describe

__all__ = [
    "CHECK_CHAIN",
    "CHECK_CONTENT_TYPE",
    "CHECK_CONTENT_TYPE_ATTR",
    "CHECK_DER",
    "CHECK_EKU",
    "CHECK_IMPRINT",
    "CHECK_MESSAGE_DIGEST",
    "CHECK_NONCE",
    "CHECK_PIN",
    "CHECK_POLICY",
    "CHECK_SIGNATURE",
    "CHECK_SIGNER_FOUND",
    "CHECK_SIGNING_CERT",
    "CHECK_SINGLE_SIGNER",
    "CHECK_STATUS",
    "CHECK_TSA_NAME",
    "IMPRINT_ALGORITHMS",
    "TOKEN_CHECKS",
    "TokenVerification",
    "verify_timestamp",
]

CHECK_DER: Final = "DER well-formed"
CHECK_STATUS: Final = "Status granted"
CHECK_CONTENT_TYPE: Final = "Content type id-ct-TSTInfo"
CHECK_SINGLE_SIGNER: Final = "Single signer"
CHECK_SIGNER_FOUND: Final = "Signer certificate found"
CHECK_CONTENT_TYPE_ATTR: Final = "contentType attribute"
CHECK_MESSAGE_DIGEST: Final = "messageDigest attribute"
CHECK_SIGNATURE: Final = "Signature valid"
CHECK_SIGNING_CERT: Final = "signingCertificate matches signer"
CHECK_CHAIN: Final = "Chain valid at genTime"
CHECK_EKU: Final = "EKU timeStamping (critical, sole)"
CHECK_TSA_NAME: Final = "TSA name matches signer"
CHECK_IMPRINT: Final = "Imprint matches"
CHECK_NONCE: Final = "Nonce matches"
CHECK_POLICY: Final = "Policy matches"
CHECK_PIN: Final = "TSA identity pinned"

#: Every check of a token verification, in report order.
TOKEN_CHECKS: Final[tuple[str, ...]] = (
    CHECK_DER,
    CHECK_STATUS,
    CHECK_CONTENT_TYPE,
    CHECK_SINGLE_SIGNER,
    CHECK_SIGNER_FOUND,
    CHECK_CONTENT_TYPE_ATTR,
    CHECK_MESSAGE_DIGEST,
    CHECK_SIGNATURE,
    CHECK_SIGNING_CERT,
    CHECK_CHAIN,
    CHECK_EKU,
    CHECK_TSA_NAME,
    CHECK_IMPRINT,
    CHECK_NONCE,
    CHECK_POLICY,
    CHECK_PIN,
)

#: Checks that must pass for any token to be valid (the others may be not_run
#: because they were not asked for or do not apply).
_ALWAYS: Final[tuple[str, ...]] = (
    CHECK_DER,
    CHECK_CONTENT_TYPE,
    CHECK_SINGLE_SIGNER,
    CHECK_SIGNER_FOUND,
    CHECK_CONTENT_TYPE_ATTR,
    CHECK_MESSAGE_DIGEST,
    CHECK_SIGNATURE,
    CHECK_SIGNING_CERT,
    CHECK_CHAIN,
    CHECK_EKU,
    CHECK_IMPRINT,
)

# Checks that need the signer's certificate.
_NEED_SIGNER: Final[tuple[str, ...]] = (
    CHECK_SIGNATURE,
    CHECK_SIGNING_CERT,
    CHECK_CHAIN,
    CHECK_EKU,
    CHECK_TSA_NAME,
)

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

#: Hash algorithms accepted for the message imprint.
IMPRINT_ALGORITHMS: Final[frozenset[str]] = frozenset({"sha256", "sha384", "sha512", "sm3"})
# Digest algorithms too weak to protect the signed attributes.
_WEAK_DIGESTS: Final[frozenset[str]] = frozenset({"sha1"})

_RSA_ENCRYPTION: Final = "1.2.840.113549.1.1.1"
_RSA_PSS: Final = "1.2.840.113549.1.1.10"
_EC_PUBLIC_KEY: Final = "1.2.840.10045.2.1"
_ED25519: Final = "1.3.101.112"
_MGF1: Final = "1.2.840.113549.1.1.8"
# Signature algorithms that name their hash.
_RSA_WITH: Final[dict[str, str]] = {
    "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
}
_ECDSA_WITH: Final[dict[str, str]] = {
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, slots=True)
class TokenVerification:
    """Outcome of :func:`verify_timestamp`: the named checks and what the token says.

    The token fields are filled whenever the TSTInfo parsed, even when the
    token is invalid (so a report can say what a bad token claims).
    """

    verdict: Verdict
    gen_time: datetime | None = None
    serial_number: int | None = None
    policy: str | None = None
    hash_algorithm: str | None = None
    imprint: bytes | None = None
    nonce: int | None = None
    tsa_name: str | None = None
    signer: x509.Certificate | None = None
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no check failed and every always-applicable check passed."""
        return self.verdict.ok and all(
            name in self.verdict and self.verdict[name].passed for name in _ALWAYS
        )

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.verdict.checks

    @property
    def failures(self) -> tuple[Check, ...]:
        return self.verdict.failures

    @property
    def first_failure(self) -> Check | None:
        return self.verdict.first_failure

    def check(self, name: str) -> Check:
        """The check called ``name`` (``KeyError`` if there is none)."""
        return self.verdict[name]


# --------------------------------------------------------------------------- DER

_MAX_DEPTH: Final = 64
# Universal tags that may use the constructed form in DER.
_CONSTRUCTED_UNIVERSAL: Final = frozenset({8, 11, 16, 17})


class _DerError(Exception):
    pass


def _read_tlv(data: bytes, pos: int, end: int) -> tuple[int, bool, int, int, int]:
    """Read one TLV header at ``pos``: (class, constructed, tag, content start, content end)."""
    if pos >= end:
        raise _DerError(f"truncated: no tag at offset {pos}")
    first = data[pos]
    pos += 1
    tag_class = first >> 6
    constructed = bool(first & 0x20)
    tag = first & 0x1F
    if tag == 0x1F:
        tag = 0
        leading = True
        while True:
            if pos >= end:
                raise _DerError("truncated tag")
            byte = data[pos]
            pos += 1
            if leading and byte == 0x80:
                raise _DerError(f"non-minimal tag encoding at offset {pos - 1}")
            leading = False
            tag = (tag << 7) | (byte & 0x7F)
            if tag > 0xFFFFFFF:
                raise _DerError("tag number too large")
            if not byte & 0x80:
                break
        if tag < 0x1F:
            raise _DerError(f"non-minimal tag encoding at offset {pos}")
    if pos >= end:
        raise _DerError(f"truncated: no length at offset {pos}")
    length = data[pos]
    pos += 1
    if length == 0x80:
        raise _DerError(f"indefinite length at offset {pos - 1} (BER, not DER)")
    if length > 0x80:
        count = length & 0x7F
        if count > 4:
            raise _DerError(f"length of {count} bytes at offset {pos - 1} is too long")
        if pos + count > end:
            raise _DerError("truncated length")
        if data[pos] == 0:
            raise _DerError(f"non-minimal length at offset {pos - 1}")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80:
            raise _DerError(f"non-minimal length at offset {pos - 1}")
        pos += count
    if pos + length > end:
        raise _DerError(
            f"truncated: element at offset {pos} claims {length} bytes, {end - pos} remain"
        )
    return tag_class, constructed, tag, pos, pos + length


def _check_primitive(tag: int, content: bytes, offset: int) -> None:
    if tag == 0:
        raise _DerError(f"universal tag 0 at offset {offset}")
    if tag == 1 and (len(content) != 1 or content[0] not in (0x00, 0xFF)):
        raise _DerError(f"non-DER BOOLEAN at offset {offset}")
    if tag in (2, 10):
        if not content:
            raise _DerError(f"empty INTEGER at offset {offset}")
        if len(content) > 1 and (
            (content[0] == 0x00 and content[1] < 0x80)
            or (content[0] == 0xFF and content[1] >= 0x80)
        ):
            raise _DerError(f"non-minimal INTEGER at offset {offset}")
    if tag == 5 and content:
        raise _DerError(f"NULL with content at offset {offset}")
    if tag == 3 and (not content or content[0] > 7 or (len(content) == 1 and content[0] != 0)):
        raise _DerError(f"malformed BIT STRING at offset {offset}")


def _walk(data: bytes, pos: int, end: int, depth: int) -> None:
    while pos < end:
        tag_class, constructed, tag, start, stop = _read_tlv(data, pos, end)
        if tag_class == 0:
            if constructed and tag not in _CONSTRUCTED_UNIVERSAL:
                raise _DerError(f"constructed form of universal type {tag} at offset {pos} (BER)")
            if not constructed and tag in (16, 17):
                raise _DerError(f"primitive SEQUENCE/SET at offset {pos}")
            if not constructed:
                _check_primitive(tag, data[start:stop], pos)
        if constructed:
            if depth >= _MAX_DEPTH:
                raise _DerError(f"nesting deeper than {_MAX_DEPTH}")
            _walk(data, start, stop, depth + 1)
        pos = stop


def der_problem(data: bytes) -> str | None:
    """``None`` if ``data`` is exactly one structurally valid DER element, else why not."""
    try:
        _, _, _, _, stop = _read_tlv(data, 0, len(data))
        if stop != len(data):
            return f"{len(data) - stop} trailing byte(s) after the DER element"
        _walk(data, 0, len(data), 0)
    except _DerError as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- structure
#
# asn1crypto reads the fields a type defines and silently ignores whatever follows
# them: junk after the one element of a [0] EXPLICIT wrapper, after the last field
# of a SEQUENCE, or after the TSTInfo inside the eContent OCTET STRING. Junk outside
# the signed parts would not even break the signature, so the token bytes would be
# malleable. Before asn1crypto sees the token, the raw bytes are therefore walked
# against the ASN.1 definitions below (RFC 3161, RFC 5652, RFC 5816/2634, RFC 5280
# names and algorithm identifiers, RFC 4055 RSASSA-PSS parameters): every element
# read must hold exactly the fields its type allows, in order, and nothing else.
# Only raw bytes are looked at; nothing is re-encoded. Certificates and CRLs are
# left to cryptography, whose DER parser is strict.

_ID_BOOLEAN: Final = 0x01
_ID_INTEGER: Final = 0x02
_ID_BIT_STRING: Final = 0x03
_ID_OCTET_STRING: Final = 0x04
_ID_OID: Final = 0x06
_ID_UTF8_STRING: Final = 0x0C
_ID_GENERALIZED_TIME: Final = 0x18
_ID_SEQUENCE: Final = 0x30
_ID_SET: Final = 0x31
_ID_CONTEXT_0: Final = 0xA0  # [0] constructed
_ID_CONTEXT_1: Final = 0xA1
_ID_CONTEXT_2: Final = 0xA2
_ID_CONTEXT_3: Final = 0xA3
_ID_IMPLICIT_0: Final = 0x80  # [0] primitive
_ID_IMPLICIT_1: Final = 0x81
_ID_DIRECTORY_NAME: Final = 0xA4  # GeneralName directoryName [4] EXPLICIT Name
# GeneralName: otherName [0], rfc822Name [1], dNSName [2], x400Address [3],
# directoryName [4], ediPartyName [5], URI [6], iPAddress [7], registeredID [8].
_GENERAL_NAME_IDS: Final = frozenset({0xA0, 0x81, 0x82, 0xA3, 0xA4, 0xA5, 0x86, 0x87, 0x88})


def _oid_contents(dotted: str) -> bytes:
    return encode_oid(dotted)[2:]  # every OID compared here is shorter than 128 bytes


_OID_BODY_SIGNED_DATA: Final = _oid_contents(OID_SIGNED_DATA)
_OID_BODY_TST_INFO: Final = _oid_contents(OID_TST_INFO)
_OID_BODY_RSA_PSS: Final = _oid_contents(_RSA_PSS)
# Algorithms whose AlgorithmIdentifier must not carry parameters. (RSA and the
# SHA-2 digests allow both absent and NULL parameters, RFC 4055 / RFC 5754.)
_OID_BODIES_WITHOUT_PARAMETERS: Final = frozenset(
    _oid_contents(oid) for oid in (*_ECDSA_WITH, _ED25519)
)

_Ids = Collection[int] | None  # identifier octets an element may have; None: any
_Body = Callable[["_Elements"], object]


class _Elements:
    """A strict cursor over the elements inside one element's contents.

    :meth:`take` consumes the next element if it has an expected identifier and
    checks its contents with a body function (which gets its own cursor, and
    whatever that cursor has not consumed when the body returns is an error);
    :meth:`done` fails when anything is left.
    """

    __slots__ = ("data", "end", "last", "pos", "where")

    def __init__(self, data: bytes, start: int, end: int, where: str) -> None:
        self.data = data
        self.pos = start
        self.end = end
        self.where = where
        self.last = ""

    def peek(self) -> int | None:
        """The identifier octet of the next element (``None`` at the end)."""
        return self.data[self.pos] if self.pos < self.end else None

    def take(
        self, label: str, ids: _Ids, body: _Body | None = None, *, optional: bool = False
    ) -> bytes | None:
        """Consume the next element as ``label``; return its contents (``None``: absent)."""
        ident = self.peek()
        if ident is None or (ids is not None and ident not in ids):
            if optional:
                return None
            found = "nothing" if ident is None else f"identifier 0x{ident:02x}"
            raise _DerError(f"{self.where}: expected {label}, found {found}")
        _, _, _, start, stop = _read_tlv(self.data, self.pos, self.end)
        self.pos = stop
        self.last = label
        if body is not None:
            where = f"{self.where}.{label}" if self.where else label
            inner = _Elements(self.data, start, stop, where)
            body(inner)
            inner.done()
        return self.data[start:stop]

    def done(self) -> None:
        if self.pos < self.end:
            after = f"after {self.last}" if self.last else "where nothing is allowed"
            raise _DerError(
                f"{self.where}: {self.end - self.pos} trailing byte(s) {after} "
                "that its ASN.1 type does not allow"
            )


def _one(label: str, ids: _Ids, body: _Body | None = None) -> _Body:
    """Body of an EXPLICIT wrapper (or an OCTET STRING): exactly one element."""

    def check(c: _Elements) -> None:
        c.take(label, ids, body)

    return check


def _each(label: str, ids: _Ids, body: _Body | None = None, *, nonempty: bool = False) -> _Body:
    """Body of a SET OF / SEQUENCE OF: every element is an ``ids`` element.

    ``nonempty`` for a ``SIZE (1..MAX)`` type.
    """

    def check(c: _Elements) -> None:
        if nonempty and c.peek() is None:
            raise _DerError(f"{c.where}: empty, but its type requires at least one {label}")
        index = 0
        while c.peek() is not None:
            c.take(f"{label}[{index}]", ids, body)
            index += 1

    return check


def _shape_algorithm(c: _Elements) -> None:
    """AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }."""
    oid = c.take("algorithm", (_ID_OID,))
    if oid in _OID_BODIES_WITHOUT_PARAMETERS:
        if c.peek() is not None:
            raise _DerError(
                f"{c.where}: has parameters, which ECDSA and Ed25519 signature algorithms "
                "must omit (RFC 5758 3.2, RFC 8410 3)"
            )
    elif oid == _OID_BODY_RSA_PSS:
        c.take("parameters", (_ID_SEQUENCE,), _shape_pss_parameters, optional=True)
    else:
        c.take("parameters", None, optional=True)


def _shape_pss_parameters(c: _Elements) -> None:
    """RSASSA-PSS-params (RFC 4055): four optional [n] EXPLICIT fields."""
    c.take(
        "hashAlgorithm",
        (_ID_CONTEXT_0,),
        _one("hashAlgorithm", (_ID_SEQUENCE,), _shape_algorithm),
        optional=True,
    )
    c.take(
        "maskGenAlgorithm",
        (_ID_CONTEXT_1,),
        _one("maskGenAlgorithm", (_ID_SEQUENCE,), _shape_algorithm),
        optional=True,
    )
    c.take("saltLength", (_ID_CONTEXT_2,), _one("saltLength", (_ID_INTEGER,)), optional=True)
    c.take("trailerField", (_ID_CONTEXT_3,), _one("trailerField", (_ID_INTEGER,)), optional=True)


def _shape_attribute_type_and_value(c: _Elements) -> None:
    c.take("type", (_ID_OID,))
    c.take("value", None)


_shape_name = _each(
    "rdn", (_ID_SET,), _each("attribute", (_ID_SEQUENCE,), _shape_attribute_type_and_value)
)


def _shape_other_name(c: _Elements) -> None:
    c.take("type-id", (_ID_OID,))
    c.take("value", (_ID_CONTEXT_0,), _one("value", None))


def _shape_general_name(c: _Elements) -> None:
    """One GeneralName; the structured choices are walked, the strings are primitive."""
    ident = c.peek()
    if ident == _ID_DIRECTORY_NAME:
        c.take("directoryName", (ident,), _one("Name", (_ID_SEQUENCE,), _shape_name))
    elif ident == _ID_CONTEXT_0:
        c.take("otherName", (ident,), _shape_other_name)
    else:
        c.take("GeneralName", _GENERAL_NAME_IDS)


def _shape_issuer_serial(c: _Elements) -> None:
    """IssuerSerial (RFC 5035) ::= SEQUENCE { issuer GeneralNames, serialNumber INTEGER }."""
    c.take("issuer", (_ID_SEQUENCE,), _each("GeneralName", _GENERAL_NAME_IDS, None))
    c.take("serialNumber", (_ID_INTEGER,))


def _shape_ess_cert_id(c: _Elements) -> None:
    c.take("certHash", (_ID_OCTET_STRING,))
    c.take("issuerSerial", (_ID_SEQUENCE,), _shape_issuer_serial, optional=True)


def _shape_ess_cert_id_v2(c: _Elements) -> None:
    c.take("hashAlgorithm", (_ID_SEQUENCE,), _shape_algorithm, optional=True)
    _shape_ess_cert_id(c)


def _shape_signing_certificate(cert_id: _Body) -> _Body:
    def check(c: _Elements) -> None:
        c.take("certs", (_ID_SEQUENCE,), _each("certId", (_ID_SEQUENCE,), cert_id))
        c.take("policies", (_ID_SEQUENCE,), optional=True)

    return check


# Attribute values the checks read: (identifier, body) of each value.
_ATTRIBUTE_VALUES: Final[dict[bytes, tuple[_Ids, _Body | None]]] = {
    _oid_contents(OID_CONTENT_TYPE): ((_ID_OID,), None),
    _oid_contents(OID_MESSAGE_DIGEST): ((_ID_OCTET_STRING,), None),
    _oid_contents(OID_SIGNING_CERTIFICATE): (
        (_ID_SEQUENCE,),
        _shape_signing_certificate(_shape_ess_cert_id),
    ),
    _oid_contents(OID_SIGNING_CERTIFICATE_V2): (
        (_ID_SEQUENCE,),
        _shape_signing_certificate(_shape_ess_cert_id_v2),
    ),
}


def _shape_attribute(c: _Elements) -> None:
    """Attribute ::= SEQUENCE { attrType OID, attrValues SET OF AttributeValue }."""
    oid = c.take("attrType", (_ID_OID,))
    ids, body = _ATTRIBUTE_VALUES.get(oid or b"", (None, None))
    c.take("attrValues", (_ID_SET,), _each("value", ids, body))


def _shape_issuer_and_serial_number(c: _Elements) -> None:
    c.take("issuer", (_ID_SEQUENCE,), _shape_name)
    c.take("serialNumber", (_ID_INTEGER,))


def _shape_signer_info(c: _Elements) -> None:
    """SignerInfo (RFC 5652 5.3)."""
    c.take("version", (_ID_INTEGER,))
    if c.peek() == _ID_SEQUENCE:
        c.take("sid", (_ID_SEQUENCE,), _shape_issuer_and_serial_number)
    else:
        c.take("sid", (_ID_IMPLICIT_0,))  # subjectKeyIdentifier
    c.take("digestAlgorithm", (_ID_SEQUENCE,), _shape_algorithm)
    # SignedAttributes / UnsignedAttributes ::= SET SIZE (1..MAX) OF Attribute
    attributes = _each("attribute", (_ID_SEQUENCE,), _shape_attribute, nonempty=True)
    c.take("signedAttrs", (_ID_CONTEXT_0,), attributes, optional=True)
    c.take("signatureAlgorithm", (_ID_SEQUENCE,), _shape_algorithm)
    c.take("signature", (_ID_OCTET_STRING,))
    c.take("unsignedAttrs", (_ID_CONTEXT_1,), attributes, optional=True)


def _shape_accuracy(c: _Elements) -> None:
    c.take("seconds", (_ID_INTEGER,), optional=True)
    c.take("millis", (_ID_IMPLICIT_0,), optional=True)
    c.take("micros", (_ID_IMPLICIT_1,), optional=True)


def _shape_extension(c: _Elements) -> None:
    c.take("extnID", (_ID_OID,))
    c.take("critical", (_ID_BOOLEAN,), optional=True)
    c.take("extnValue", (_ID_OCTET_STRING,))


def _shape_tst_info(c: _Elements) -> None:
    """TSTInfo (RFC 3161 2.4.2)."""
    c.take("version", (_ID_INTEGER,))
    c.take("policy", (_ID_OID,))
    c.take("messageImprint", (_ID_SEQUENCE,), _shape_message_imprint)
    c.take("serialNumber", (_ID_INTEGER,))
    c.take("genTime", (_ID_GENERALIZED_TIME,))
    c.take("accuracy", (_ID_SEQUENCE,), _shape_accuracy, optional=True)
    c.take("ordering", (_ID_BOOLEAN,), optional=True)
    c.take("nonce", (_ID_INTEGER,), optional=True)
    c.take("tsa", (_ID_CONTEXT_0,), _shape_general_name, optional=True)
    c.take(
        "extensions",
        (_ID_CONTEXT_1,),
        _each("extension", (_ID_SEQUENCE,), _shape_extension),
        optional=True,
    )


def _shape_message_imprint(c: _Elements) -> None:
    c.take("hashAlgorithm", (_ID_SEQUENCE,), _shape_algorithm)
    c.take("hashedMessage", (_ID_OCTET_STRING,))


def _shape_tst_info_octets(c: _Elements) -> None:
    """The eContent OCTET STRING of a token: exactly one DER TSTInfo, nothing after."""
    problem = der_problem(c.data[c.pos : c.end])
    if problem is not None:
        raise _DerError(f"TSTInfo: {problem}")
    c.take("TSTInfo", (_ID_SEQUENCE,), _shape_tst_info)


def _shape_encapsulated_content_info(c: _Elements) -> None:
    """EncapsulatedContentInfo ::= SEQUENCE { eContentType OID,
    eContent [0] EXPLICIT OCTET STRING OPTIONAL }."""
    oid = c.take("eContentType", (_ID_OID,))
    octets = _shape_tst_info_octets if oid == _OID_BODY_TST_INFO else None
    content = _one("OCTET STRING", (_ID_OCTET_STRING,), octets)
    c.take("eContent", (_ID_CONTEXT_0,), content, optional=True)


def _shape_signed_data(c: _Elements) -> None:
    """SignedData (RFC 5652 5.1)."""
    c.take("version", (_ID_INTEGER,))
    c.take(
        "digestAlgorithms", (_ID_SET,), _each("digestAlgorithm", (_ID_SEQUENCE,), _shape_algorithm)
    )
    c.take("encapContentInfo", (_ID_SEQUENCE,), _shape_encapsulated_content_info)
    c.take("certificates", (_ID_CONTEXT_0,), optional=True)  # cryptography parses each one
    c.take("crls", (_ID_CONTEXT_1,), optional=True)  # not read
    c.take("signerInfos", (_ID_SET,), _each("signerInfo", (_ID_SEQUENCE,), _shape_signer_info))


def _shape_content_info(c: _Elements) -> None:
    """ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY }."""
    oid = c.take("contentType", (_ID_OID,))
    if oid == _OID_BODY_SIGNED_DATA:
        c.take("content", (_ID_CONTEXT_0,), _one("SignedData", (_ID_SEQUENCE,), _shape_signed_data))
    else:  # the content-type check names the wrong type
        c.take("content", (_ID_CONTEXT_0,), _one("content", None))


def _shape_pki_status_info(c: _Elements) -> None:
    c.take("status", (_ID_INTEGER,))
    c.take("statusString", (_ID_SEQUENCE,), _each("text", (_ID_UTF8_STRING,)), optional=True)
    c.take("failInfo", (_ID_BIT_STRING,), optional=True)


def _shape_time_stamp_resp(c: _Elements) -> None:
    """TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }."""
    c.take("status", (_ID_SEQUENCE,), _shape_pki_status_info)
    c.take("timeStampToken", (_ID_SEQUENCE,), _shape_content_info, optional=True)


def _structure_problem(data: bytes, *, response: bool) -> str | None:
    """``None`` if every element of the (already :func:`der_problem`-clean) TimeStampResp
    or bare ContentInfo ``data`` that we read holds exactly what its ASN.1 type allows."""
    top = _Elements(data, 0, len(data), "")
    try:
        if response:
            top.take("TimeStampResp", (_ID_SEQUENCE,), _shape_time_stamp_resp)
        else:
            top.take("ContentInfo", (_ID_SEQUENCE,), _shape_content_info)
        top.done()
    except _DerError as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- parsing


class TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 TimeStampResp. asn1crypto's own class makes timeStampToken
    mandatory, so it cannot parse a rejection (which carries no token)."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True, slots=True)
class _Parsed:
    response: TimeStampResp | None
    content_info: cms.ContentInfo | None
    tst_info: tsp.TSTInfo | None
    # Exact bytes from the token. asn1crypto re-encodes a structure once reading
    # it has materialised a DEFAULT value, so everything that is hashed or
    # signature-checked is taken from the wire before any field is read.
    tst_der: bytes | None
    cert_ders: tuple[bytes, ...]
    signed_attrs_der: bytes | None  # first SignerInfo's [0] IMPLICIT signedAttrs


_SIGNED_DATA_FIELDS: Final = (
    "version",
    "digest_algorithms",
    "encap_content_info",
    "certificates",
    "crls",
    "signer_infos",
)


def _parse(token: bytes) -> _Parsed | str:
    problem = der_problem(token)
    if problem is not None:
        return problem
    # The outer SEQUENCE of a TimeStampResp starts with PKIStatusInfo (a SEQUENCE);
    # that of a ContentInfo with contentType (an OBJECT IDENTIFIER).
    _, _, _, start, stop = _read_tlv(token, 0, len(token))
    if token[0] != 0x30 or start >= stop:
        return "neither a TimeStampResp nor a ContentInfo (not a non-empty SEQUENCE)"
    if token[start] not in (0x30, 0x06):
        return "neither a TimeStampResp nor a ContentInfo"
    is_response = token[start] == 0x30
    # asn1crypto ignores what follows the fields it knows: the raw bytes are
    # walked against the ASN.1 types first (see "structure" above).
    problem = _structure_problem(token, response=is_response)
    if problem is not None:
        return problem
    response: TimeStampResp | None = None
    content_info: cms.ContentInfo | None
    cert_ders: tuple[bytes, ...] = ()
    signed_attrs_der: bytes | None = None
    tst_der: bytes | None = None
    try:
        if is_response:
            response = TimeStampResp.load(token, strict=True)
            _ = response["status"].native
            tst_token = response["time_stamp_token"]
            content_info = None if isinstance(tst_token, core.Void) else tst_token
        else:
            content_info = cms.ContentInfo.load(token, strict=True)
        if content_info is not None:
            content = content_info["content"]
            if content_info["content_type"].dotted != OID_SIGNED_DATA:
                _ = content.native
            else:
                certificates = content["certificates"]
                if not isinstance(certificates, core.Void):
                    cert_ders = tuple(
                        bytes(c.chosen.dump()) for c in certificates if c.name == "certificate"
                    )
                signer_infos = content["signer_infos"]
                if len(signer_infos) > 0:
                    attrs = signer_infos[0]["signed_attrs"]
                    if not isinstance(attrs, core.Void):
                        signed_attrs_der = bytes(attrs.dump())
                encap = content["encap_content_info"]
                if not isinstance(encap["content"], core.Void):
                    tst_der = bytes(encap["content"].contents)
                for name in _SIGNED_DATA_FIELDS:  # now force a full parse
                    _ = content[name].native
    except Exception as exc:
        return f"does not parse: {type(exc).__name__}: {exc}"

    tst_info: tsp.TSTInfo | None = None
    if tst_der is not None and content_info is not None:
        if content_info["content"]["encap_content_info"]["content_type"].dotted != OID_TST_INFO:
            tst_der = None
        else:
            problem = der_problem(tst_der)
            if problem is not None:
                return f"TSTInfo: {problem}"
            try:
                tst_info = tsp.TSTInfo.load(tst_der, strict=True)
                _ = tst_info.native
            except Exception as exc:
                return f"TSTInfo does not parse: {type(exc).__name__}: {exc}"
            gen_time = tst_info["gen_time"].native
            if not isinstance(gen_time, datetime) or gen_time.tzinfo is None:
                return f"TSTInfo genTime {gen_time!r} is not a UTC time"
    return _Parsed(response, content_info, tst_info, tst_der, cert_ders, signed_attrs_der)


# --------------------------------------------------------------------------- helpers


def _hash(name: str, data: bytes) -> bytes:
    factory = _DIGESTS[_DIGEST_OIDS[name]][1]
    h = hashes.Hash(factory())
    h.update(data)
    return h.finalize()


def _digest_name(oid: str) -> str | None:
    entry = _DIGESTS.get(oid)
    return entry[0] if entry else None


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _names_equal(a: asn1_x509.Name, b: asn1_x509.Name) -> bool:
    """RFC 5280 name comparison (asn1crypto normalises case and spaces)."""
    try:
        return bool(a == b)
    except Exception:
        return bool(a.dump() == b.dump())


def _name_text(name: asn1_x509.Name) -> str:
    """RFC 4514 text of an asn1crypto Name (falls back to asn1crypto's rendering)."""
    try:
        rdns = [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(x509.ObjectIdentifier(a["type"].dotted), a["value"].native)
                    for a in rdn
                ]
            )
            for rdn in name.chosen
        ]
        return x509.Name(rdns).rfc4514_string()
    except Exception:
        return str(name.human_friendly)


def _short(data: bytes) -> str:
    text = data.hex()
    return text if len(text) <= 24 else f"{text[:12]}…{text[-8:]}"


def _attributes(signer_info: cms.SignerInfo, oid: str) -> list[Any]:
    """Values of every signed attribute with ``oid`` (one list entry per attribute)."""
    attrs = signer_info["signed_attrs"]
    if isinstance(attrs, core.Void):
        return []
    return [list(a["values"]) for a in attrs if a["type"].dotted == oid]


def _single_value(signer_info: cms.SignerInfo, oid: str, label: str) -> tuple[Any, str | None]:
    found = _attributes(signer_info, oid)
    if not found:
        return None, f"no {label} attribute among the signed attributes"
    if len(found) > 1:
        return None, f"{len(found)} {label} attributes (exactly one allowed)"
    if len(found[0]) != 1:
        return None, f"{label} attribute has {len(found[0])} values (exactly one allowed)"
    return found[0][0], None


@dataclass(frozen=True, slots=True)
class _Candidate:
    cert: x509.Certificate
    asn1: asn1_x509.Certificate  # for reading names; never re-dumped
    der: bytes  # the exact encoding
    source: str


def _candidates(
    embedded: Sequence[bytes],
    supplied: Sequence[tuple[x509.Certificate, str]],
) -> tuple[list[_Candidate], int]:
    """Distinct candidate certificates (by DER) and how many could not be loaded."""
    out: list[_Candidate] = []
    seen: set[bytes] = set()
    unloadable = 0
    entries: list[tuple[bytes, x509.Certificate | None, str]]
    entries = [(der, None, "embedded") for der in embedded]
    entries += [(_der(cert), cert, source) for cert, source in supplied]
    for der, given, source in entries:
        if der in seen:
            continue
        seen.add(der)
        try:
            cert = given if given is not None else x509.load_der_x509_certificate(der)
            asn1_cert = asn1_x509.Certificate.load(der)
            _ = asn1_cert.native
        except Exception:
            unloadable += 1
            continue
        out.append(_Candidate(cert, asn1_cert, der, source))
    return out, unloadable


def _matches_sid(candidate: _Candidate, sid: cms.SignerIdentifier) -> bool:
    try:
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            return candidate.asn1.serial_number == ias["serial_number"].native and _names_equal(
                candidate.asn1.issuer, ias["issuer"]
            )
        if sid.name == "subject_key_identifier":
            return bool(candidate.asn1.key_identifier == sid.chosen.native)
    except Exception:
        return False
    return False


def _describe_sid(sid: cms.SignerIdentifier) -> str:
    try:
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            return f"issuer {_name_text(ias['issuer'])!r}, serial {ias['serial_number'].native:x}"
        return f"subjectKeyIdentifier {bytes(sid.chosen.native).hex()}"
    except Exception:
        return "an unreadable signer identifier"


# --------------------------------------------------------------------------- signature


def _verify_signature(
    cert: x509.Certificate, signer_info: cms.SignerInfo, signed: bytes, digest_name: str
) -> str | None:
    """``None`` if the SignerInfo's signature over ``signed`` verifies with ``cert``'s key."""
    algorithm = signer_info["signature_algorithm"]
    oid = algorithm["algorithm"].dotted
    signature = bytes(signer_info["signature"].native)
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"the signer's public key cannot be loaded: {exc}"
    hash_algorithm = _DIGESTS[_DIGEST_OIDS[digest_name]][1]()
    try:
        if oid == _ED25519:
            if not isinstance(key, ed25519.Ed25519PublicKey):
                return "signatureAlgorithm is Ed25519 but the signer key is not an Ed25519 key"
            key.verify(signature, signed)
            return None
        if oid in (_RSA_ENCRYPTION, *_RSA_WITH):
            implied = _RSA_WITH.get(oid)
            if implied is not None and implied != digest_name:
                return f"signatureAlgorithm uses {implied}, digestAlgorithm is {digest_name}"
            if not isinstance(key, rsa.RSAPublicKey):
                return "signatureAlgorithm is RSA but the signer key is not an RSA key"
            key.verify(signature, signed, padding.PKCS1v15(), hash_algorithm)
            return None
        if oid == _RSA_PSS:
            params = algorithm["parameters"]
            pss_hash = _digest_name(params["hash_algorithm"]["algorithm"].dotted)
            mgf = params["mask_gen_algorithm"]
            mgf_hash = _digest_name(mgf["parameters"]["algorithm"].dotted)
            if pss_hash != digest_name:
                return f"RSASSA-PSS hash {pss_hash} differs from digestAlgorithm {digest_name}"
            if mgf["algorithm"].dotted != _MGF1 or mgf_hash != digest_name:
                return "RSASSA-PSS mask generation is not MGF1 with the digest algorithm"
            if int(params["trailer_field"]) != 1:
                return "RSASSA-PSS trailerField is not 1"
            if not isinstance(key, rsa.RSAPublicKey):
                return "signatureAlgorithm is RSASSA-PSS but the signer key is not an RSA key"
            pss = padding.PSS(
                mgf=padding.MGF1(hash_algorithm), salt_length=int(params["salt_length"])
            )
            key.verify(signature, signed, pss, hash_algorithm)
            return None
        if oid in (_EC_PUBLIC_KEY, *_ECDSA_WITH):
            implied = _ECDSA_WITH.get(oid)
            if implied is not None and implied != digest_name:
                return f"signatureAlgorithm uses {implied}, digestAlgorithm is {digest_name}"
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return "signatureAlgorithm is ECDSA but the signer key is not an EC key"
            key.verify(signature, signed, ec.ECDSA(hash_algorithm))
            return None
    except InvalidSignature:
        return "signature does not verify with the signer's public key"
    except Exception as exc:  # malformed parameters, unsupported curve or hash, ...
        return f"signature cannot be verified: {type(exc).__name__}: {exc}"
    return f"unsupported signatureAlgorithm {oid}"


def _signature_name(signer_info: cms.SignerInfo, digest_name: str) -> str:
    oid = signer_info["signature_algorithm"]["algorithm"].dotted
    if oid == _ED25519:
        return "Ed25519"
    if oid == _RSA_PSS:
        return f"RSASSA-PSS/{digest_name}"
    if oid in (_RSA_ENCRYPTION, *_RSA_WITH):
        return f"RSA PKCS#1 v1.5/{digest_name}"
    return f"ECDSA/{digest_name}"


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True, slots=True)
class _Expected:
    algorithm: str | None  # None: hash `data` with the token's algorithm
    digest: bytes | None
    data: bytes | None


def _expected_imprint(
    digest: bytes | None, hash_algorithm: str | None, data: bytes | None
) -> _Expected:
    if (digest is None) == (data is None):
        raise ValueError("give exactly one of digest= and data=: a token is valid *for* something")
    if hash_algorithm is not None:
        hash_algorithm = hash_algorithm.lower()
        if hash_algorithm not in IMPRINT_ALGORITHMS:
            raise ValueError(
                f"hash_algorithm must be one of {sorted(IMPRINT_ALGORITHMS)}, "
                f"got {hash_algorithm!r}"
            )
    if digest is not None:
        if hash_algorithm is None:
            raise ValueError("hash_algorithm is required with digest=")
        size = len(_hash(hash_algorithm, b""))
        if len(digest) != size:
            raise ValueError(f"a {hash_algorithm} digest has {size} bytes, got {len(digest)}")
        return _Expected(hash_algorithm, bytes(digest), None)
    assert data is not None
    if hash_algorithm is not None:
        return _Expected(hash_algorithm, _hash(hash_algorithm, bytes(data)), None)
    return _Expected(None, None, bytes(data))


def verify_timestamp(
    token: bytes,
    *,
    roots: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate] = (),
    digest: bytes | None = None,
    hash_algorithm: str | None = None,
    data: bytes | None = None,
    nonce: int | None = None,
    policy: str | None = None,
    tsa_certificate: x509.Certificate | None = None,
    tsa_name: str | None = None,
) -> TokenVerification:
    """Verify an RFC 3161 token for a digest (or data); see the module docstring.

    ``token`` is a DER ``TimeStampResp`` or a bare ``TimeStampToken``.
    ``roots`` are the trust anchors; ``untrusted`` are extra certificates
    (intermediates, or the TSA certificate when the token embeds none) used to
    find the signer and build the path. ``digest`` + ``hash_algorithm`` is the
    expected message imprint; alternatively ``data`` is hashed with the token's
    imprint algorithm (or with ``hash_algorithm`` if given). ``nonce``,
    ``policy`` (dotted OID), ``tsa_certificate`` (the signer must be exactly
    this certificate) and ``tsa_name`` (RFC 4514; the signer's subject must
    equal it) are checked when given. The chain is validated at genTime.
    """
    expected = _expected_imprint(digest, hash_algorithm, data)
    if policy is not None:
        x509.ObjectIdentifier(policy)  # ValueError on a malformed OID
    pinned_name = x509.Name.from_rfc4514_string(tsa_name) if tsa_name is not None else None
    return _Run(
        token=bytes(token),
        roots=tuple(roots),
        untrusted=tuple(untrusted),
        expected=expected,
        nonce=nonce,
        policy=policy,
        tsa_certificate=tsa_certificate,
        tsa_name=tsa_name,
        pinned_name=pinned_name,
    ).run()


class _Run:
    """One verification: holds the inputs, the checklist and what has been learnt."""

    def __init__(
        self,
        *,
        token: bytes,
        roots: tuple[x509.Certificate, ...],
        untrusted: tuple[x509.Certificate, ...],
        expected: _Expected,
        nonce: int | None,
        policy: str | None,
        tsa_certificate: x509.Certificate | None,
        tsa_name: str | None,
        pinned_name: x509.Name | None,
    ) -> None:
        self.token = token
        self.roots = roots
        self.untrusted = untrusted
        self.expected = expected
        self.nonce = nonce
        self.policy = policy
        self.tsa_certificate = tsa_certificate
        self.tsa_name = tsa_name
        self.pinned_name = pinned_name
        self.checks = Checklist()
        self.fields: dict[str, Any] = {}
        self.signer: _Candidate | None = None
        self.chain: tuple[x509.Certificate, ...] = ()

    def result(self) -> TokenVerification:
        return TokenVerification(
            verdict=self.checks.verdict(),
            signer=self.signer.cert if self.signer else None,
            chain=self.chain,
            **self.fields,
        )

    def rest(self, after: str) -> list[str]:
        return list(TOKEN_CHECKS[TOKEN_CHECKS.index(after) + 1 :])

    def run(self) -> TokenVerification:
        """Run every check; an unexpected exception fails the check it interrupted."""
        try:
            return self._run()
        except Exception as exc:  # fail closed, never raise for a bad token
            pending = [name for name in TOKEN_CHECKS if self.checks.get(name) is None]
            if not pending:  # pragma: no cover - every check was already recorded
                raise
            self.checks.failed(pending[0], f"could not be checked: {type(exc).__name__}: {exc}")
            self.checks.blocked(pending[1:], pending[0])
            return self.result()

    def _run(self) -> TokenVerification:
        c = self.checks
        parsed = _parse(self.token)
        if isinstance(parsed, str):
            c.failed(CHECK_DER, parsed)
            c.blocked(self.rest(CHECK_DER), CHECK_DER)
            return self.result()
        kind = "TimeStampResp" if parsed.response is not None else "bare TimeStampToken"
        c.passed(CHECK_DER, f"{kind}, {len(self.token)} bytes")

        if parsed.tst_info is not None:
            self._read_fields(parsed.tst_info)

        if not self._check_status(parsed):
            c.blocked(self.rest(CHECK_STATUS), CHECK_STATUS)
            return self.result()
        if not self._check_content_type(parsed):
            c.blocked(self.rest(CHECK_CONTENT_TYPE), CHECK_CONTENT_TYPE)
            return self.result()
        assert parsed.content_info is not None
        assert parsed.tst_info is not None and parsed.tst_der is not None
        signed_data = parsed.content_info["content"]

        signer_info = self._check_single_signer(signed_data)
        if signer_info is None:
            blocked = [CHECK_SIGNER_FOUND, CHECK_CONTENT_TYPE_ATTR, CHECK_MESSAGE_DIGEST]
            c.blocked([*blocked, *_NEED_SIGNER], CHECK_SINGLE_SIGNER)
        else:
            self._check_signer_found(parsed.cert_ders, signer_info)
            self._check_content_type_attr(signer_info)
            self._check_message_digest(signer_info, parsed.tst_der)
            if self.signer is None:
                c.blocked(_NEED_SIGNER, CHECK_SIGNER_FOUND)
            else:
                self._check_signature(signer_info, parsed.tst_der, parsed.signed_attrs_der)
                self._check_signing_certificate(signer_info)
                self._check_chain(parsed.cert_ders, parsed.tst_info)
                self._check_eku()
                self._check_tsa_name(parsed.tst_info)
        self._check_imprint(parsed.tst_info)
        self._check_nonce(parsed.tst_info)
        self._check_policy(parsed.tst_info)
        self._check_pin()
        return self.result()

    # -- fields

    def _read_fields(self, tst: tsp.TSTInfo) -> None:
        imprint = tst["message_imprint"]
        oid = imprint["hash_algorithm"]["algorithm"].dotted
        tsa = tst["tsa"]
        tsa_text: str | None = None
        if not isinstance(tsa, core.Void):
            try:
                tsa_text = (
                    _name_text(tsa.chosen)
                    if tsa.name == "directory_name"
                    else f"{tsa.name}:{tsa.native}"
                )
            except Exception:
                tsa_text = str(tsa.native)
        self.fields = {
            "gen_time": tst["gen_time"].native.astimezone(UTC),
            "serial_number": int(tst["serial_number"]),
            "policy": tst["policy"].dotted,
            "hash_algorithm": _digest_name(oid) or oid,
            "imprint": bytes(imprint["hashed_message"].native),
            "nonce": tst["nonce"].native,
            "tsa_name": tsa_text,
        }

    # -- the checks

    def _check_status(self, parsed: _Parsed) -> bool:
        c = self.checks
        response = parsed.response
        if response is None:
            c.not_run(CHECK_STATUS, "bare TimeStampToken: there is no PKIStatusInfo to check")
            return True
        status_info = response["status"]
        value = int(status_info["status"])
        if value not in (0, 1):
            texts = status_info["status_string"].native or []
            fail_info = status_info["fail_info"].native
            extra = "; ".join(str(t) for t in texts)
            c.failed(
                CHECK_STATUS,
                f"PKIStatus {value} ({status_info['status'].native})"
                + (f": {extra}" if extra else "")
                + (f"; failInfo {sorted(fail_info)}" if fail_info else ""),
            )
            return parsed.content_info is not None
        if parsed.content_info is None:
            c.failed(CHECK_STATUS, f"PKIStatus {value} but the response carries no timeStampToken")
            return False
        c.passed(CHECK_STATUS, f"PKIStatus {value} ({status_info['status'].native})")
        return True

    def _check_content_type(self, parsed: _Parsed) -> bool:
        c = self.checks
        ci = parsed.content_info
        assert ci is not None
        if ci["content_type"].dotted != OID_SIGNED_DATA:
            c.failed(
                CHECK_CONTENT_TYPE,
                f"ContentInfo contentType is {ci['content_type'].dotted}, not signedData",
            )
            return False
        encap = ci["content"]["encap_content_info"]
        econtent_type = encap["content_type"].dotted
        if econtent_type != OID_TST_INFO:
            c.failed(CHECK_CONTENT_TYPE, f"eContentType is {econtent_type}, not id-ct-TSTInfo")
            return False
        if parsed.tst_info is None:
            c.failed(CHECK_CONTENT_TYPE, "eContentType is id-ct-TSTInfo but eContent is absent")
            return False
        version = int(parsed.tst_info["version"])
        if version != 1:
            c.failed(CHECK_CONTENT_TYPE, f"TSTInfo version is {version}, not 1")
            return False
        c.passed(CHECK_CONTENT_TYPE, f"SignedData with eContentType id-ct-TSTInfo ({OID_TST_INFO})")
        return True

    def _check_single_signer(self, signed_data: cms.SignedData) -> cms.SignerInfo | None:
        infos = signed_data["signer_infos"]
        if len(infos) != 1:
            self.checks.failed(
                CHECK_SINGLE_SIGNER, f"{len(infos)} SignerInfos; a time-stamp token has exactly one"
            )
            return None
        self.checks.passed(CHECK_SINGLE_SIGNER, "one SignerInfo")
        signer_info: cms.SignerInfo = infos[0]
        return signer_info

    def _check_signer_found(self, embedded: Sequence[bytes], signer_info: cms.SignerInfo) -> None:
        sid = signer_info["sid"]
        supplied: list[tuple[x509.Certificate, str]] = [(u, "supplied") for u in self.untrusted]
        if self.tsa_certificate is not None:
            supplied.append((self.tsa_certificate, "pinned"))
        supplied.extend((r, "trust anchor") for r in self.roots)
        candidates, unloadable = _candidates(embedded, supplied)
        matches = [cand for cand in candidates if _matches_sid(cand, sid)]
        where = f"{len(embedded)} embedded and {len(supplied)} supplied certificate(s)"
        if unloadable:
            where += f", {unloadable} unreadable"
        if not matches:
            self.checks.failed(
                CHECK_SIGNER_FOUND, f"no certificate among {where} matches {_describe_sid(sid)}"
            )
            return
        if len(matches) > 1:
            self.checks.failed(
                CHECK_SIGNER_FOUND,
                f"{len(matches)} different certificates match {_describe_sid(sid)}: ambiguous",
            )
            return
        self.signer = matches[0]
        self.checks.passed(
            CHECK_SIGNER_FOUND,
            f"{describe(self.signer.cert)} ({self.signer.source}) matches {sid.name} "
            f"{_describe_sid(sid)}",
        )

    def _check_content_type_attr(self, signer_info: cms.SignerInfo) -> None:
        value, problem = _single_value(signer_info, OID_CONTENT_TYPE, "contentType")
        if problem is not None:
            self.checks.failed(CHECK_CONTENT_TYPE_ATTR, problem)
            return
        self.checks.record(
            CHECK_CONTENT_TYPE_ATTR,
            value.dotted == OID_TST_INFO,
            f"contentType attribute is {value.dotted}"
            + ("" if value.dotted == OID_TST_INFO else ", not id-ct-TSTInfo"),
        )

    def _digest_algorithm(self, signer_info: cms.SignerInfo) -> tuple[str | None, str]:
        oid = signer_info["digest_algorithm"]["algorithm"].dotted
        name = _digest_name(oid)
        if name is None:
            return None, f"unsupported digestAlgorithm {oid}"
        if name in _WEAK_DIGESTS:
            return None, f"digestAlgorithm {name} is too weak to protect the signed attributes"
        return name, name

    def _check_message_digest(self, signer_info: cms.SignerInfo, tst_der: bytes) -> None:
        c = self.checks
        name, why = self._digest_algorithm(signer_info)
        if name is None:
            c.failed(CHECK_MESSAGE_DIGEST, why)
            return
        value, problem = _single_value(signer_info, OID_MESSAGE_DIGEST, "messageDigest")
        if problem is not None:
            c.failed(CHECK_MESSAGE_DIGEST, problem)
            return
        claimed = bytes(value.native)
        actual = _hash(name, tst_der)
        if claimed == actual:
            c.passed(CHECK_MESSAGE_DIGEST, f"{name}(eContent) = {_short(actual)}")
        else:
            c.failed(
                CHECK_MESSAGE_DIGEST,
                f"messageDigest {_short(claimed)} but {name}(eContent) = {_short(actual)}",
            )

    def _check_signature(
        self, signer_info: cms.SignerInfo, tst_der: bytes, signed_attrs_der: bytes | None
    ) -> None:
        c = self.checks
        assert self.signer is not None
        name, why = self._digest_algorithm(signer_info)
        if name is None:
            c.failed(CHECK_SIGNATURE, why)
            return
        if signed_attrs_der is None:
            signed = tst_der
            over = "eContent (no signed attributes)"
        else:
            # [0] IMPLICIT SET OF Attribute: the signature covers it re-tagged as a SET.
            signed = b"\x31" + signed_attrs_der[1:]
            over = "signed attributes"
        problem = _verify_signature(self.signer.cert, signer_info, signed, name)
        if problem is None:
            c.passed(
                CHECK_SIGNATURE,
                f"{_signature_name(signer_info, name)} signature over the {over} verifies "
                f"with the key of {describe(self.signer.cert)}",
            )
        else:
            c.failed(CHECK_SIGNATURE, problem)

    def _check_signing_certificate(self, signer_info: cms.SignerInfo) -> None:
        c = self.checks
        assert self.signer is not None
        signer = self.signer
        der = signer.der
        found: list[str] = []
        for oid, label in (
            (OID_SIGNING_CERTIFICATE_V2, "ESSCertIDv2"),
            (OID_SIGNING_CERTIFICATE, "ESSCertID"),
        ):
            if not _attributes(signer_info, oid):
                continue
            value, problem = _single_value(signer_info, oid, label)
            if problem is not None:
                c.failed(CHECK_SIGNING_CERT, problem)
                return
            try:
                problem, detail = _ess_cert_id(value, label, der, signer.asn1)
            except Exception as exc:
                problem, detail = f"{label} cannot be read: {exc}", ""
            if problem is not None:
                c.failed(CHECK_SIGNING_CERT, problem)
                return
            found.append(detail)
        if not found:
            c.failed(
                CHECK_SIGNING_CERT,
                "neither signingCertificateV2 nor signingCertificate among the signed attributes",
            )
            return
        c.passed(CHECK_SIGNING_CERT, "; ".join(found))

    def _check_chain(self, embedded: Sequence[bytes], tst: tsp.TSTInfo) -> None:
        assert self.signer is not None
        if not self.roots:
            self.checks.failed(CHECK_CHAIN, "no trust anchors were given")
            return
        gen_time: datetime = tst["gen_time"].native
        intermediates: list[x509.Certificate] = []
        for der in embedded:
            try:
                intermediates.append(x509.load_der_x509_certificate(der))
            except Exception:
                continue
        intermediates.extend(self.untrusted)
        try:
            result = build_chain(
                self.signer.cert, roots=self.roots, intermediates=intermediates, at=gen_time
            )
        except Exception as exc:  # defensive: a malformed certificate must not crash us
            self.checks.failed(CHECK_CHAIN, f"path building failed: {type(exc).__name__}: {exc}")
            return
        if result.ok:
            self.chain = result.path
        self.checks.record(CHECK_CHAIN, result.ok, result.detail)

    def _check_eku(self) -> None:
        c = self.checks
        assert self.signer is not None
        try:
            eku = self.signer.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        except x509.ExtensionNotFound:
            c.failed(CHECK_EKU, "the signer certificate has no extendedKeyUsage extension")
            return
        except Exception as exc:
            c.failed(CHECK_EKU, f"the signer's extensions cannot be parsed: {exc}")
            return
        usages = [u.dotted_string for u in eku.value]
        if not eku.critical:
            c.failed(CHECK_EKU, "extendedKeyUsage is not critical")
        elif usages != [ExtendedKeyUsageOID.TIME_STAMPING.dotted_string]:
            c.failed(CHECK_EKU, f"extendedKeyUsage is {usages}, must be id-kp-timeStamping alone")
        else:
            c.passed(CHECK_EKU, "critical extendedKeyUsage: id-kp-timeStamping only")

    def _check_tsa_name(self, tst: tsp.TSTInfo) -> None:
        c = self.checks
        assert self.signer is not None
        tsa = tst["tsa"]
        if isinstance(tsa, core.Void):
            c.not_run(CHECK_TSA_NAME, "TSTInfo has no tsa field")
            return
        asn1 = self.signer.asn1
        try:
            if tsa.name == "directory_name":
                ok = _names_equal(tsa.chosen, asn1.subject)
            else:
                san = asn1.subject_alt_name_value
                ok = san is not None and any(
                    g.name == tsa.name and g.native == tsa.native for g in san
                )
        except Exception as exc:
            c.failed(CHECK_TSA_NAME, f"tsa field cannot be compared: {exc}")
            return
        shown = self.fields.get("tsa_name")
        c.record(
            CHECK_TSA_NAME,
            ok,
            f"tsa {shown!r} "
            + ("names" if ok else "does not name")
            + f" the signer {describe(self.signer.cert)}",
        )

    def _check_imprint(self, tst: tsp.TSTInfo) -> None:
        c = self.checks
        token_alg: str = self.fields["hash_algorithm"]
        token_hash: bytes = self.fields["imprint"]
        expected = self.expected
        if expected.algorithm is None:
            if token_alg not in IMPRINT_ALGORITHMS:
                c.failed(CHECK_IMPRINT, f"imprint hash algorithm {token_alg} is not accepted")
                return
            assert expected.data is not None
            want_alg, want = token_alg, _hash(token_alg, expected.data)
        else:
            assert expected.digest is not None
            want_alg, want = expected.algorithm, expected.digest
        if token_alg != want_alg:
            c.failed(CHECK_IMPRINT, f"token imprint uses {token_alg}, expected {want_alg}")
        elif token_hash != want:
            c.failed(
                CHECK_IMPRINT,
                f"token imprint {want_alg}:{_short(token_hash)}, "
                f"expected {want_alg}:{_short(want)}",
            )
        else:
            c.passed(CHECK_IMPRINT, f"{want_alg}:{token_hash.hex()}")

    def _check_nonce(self, tst: tsp.TSTInfo) -> None:
        if self.nonce is None:
            self.checks.not_run(CHECK_NONCE, "no nonce expected")
            return
        got = self.fields["nonce"]
        if got is None:
            self.checks.failed(CHECK_NONCE, f"token has no nonce, expected {self.nonce:#x}")
            return
        self.checks.record(
            CHECK_NONCE,
            got == self.nonce,
            f"token nonce {got:#x}, expected {self.nonce:#x}",
        )

    def _check_policy(self, tst: tsp.TSTInfo) -> None:
        if self.policy is None:
            self.checks.not_run(CHECK_POLICY, "no policy expected")
            return
        got = self.fields["policy"]
        self.checks.record(
            CHECK_POLICY, got == self.policy, f"token policy {got}, expected {self.policy}"
        )

    def _check_pin(self) -> None:
        c = self.checks
        if self.tsa_certificate is None and self.pinned_name is None:
            c.not_run(CHECK_PIN, "no TSA certificate or name pinned")
            return
        if self.signer is None:
            failed = CHECK_SIGNER_FOUND if c.is_failed(CHECK_SIGNER_FOUND) else CHECK_SINGLE_SIGNER
            c.blocked([CHECK_PIN], failed)
            return
        signer = self.signer
        problems: list[str] = []
        notes: list[str] = []
        if self.tsa_certificate is not None:
            if _der(self.tsa_certificate) == signer.der:
                notes.append("signer is the pinned certificate")
            else:
                problems.append(
                    f"signer {describe(signer.cert)} (serial {signer.cert.serial_number:x}) is not "
                    f"the pinned certificate {describe(self.tsa_certificate)} "
                    f"(serial {self.tsa_certificate.serial_number:x})"
                )
        if self.pinned_name is not None:
            pinned = asn1_x509.Name.load(self.pinned_name.public_bytes())
            if _names_equal(pinned, signer.asn1.subject):
                notes.append(f"signer subject is {self.tsa_name!r}")
            else:
                problems.append(
                    f"signer subject {describe(signer.cert)!r} is not the pinned {self.tsa_name!r}"
                )
        if problems:
            c.failed(CHECK_PIN, "; ".join(problems))
        else:
            c.passed(CHECK_PIN, "; ".join(notes))


def _ess_cert_id(
    value: Any, label: str, signer_der: bytes, signer: asn1_x509.Certificate
) -> tuple[str | None, str]:
    certs = value["certs"]
    if len(certs) == 0:
        return f"{label} lists no certificates", ""
    first = certs[0]
    if label == "ESSCertIDv2":
        oid = first["hash_algorithm"]["algorithm"].dotted
        name = _digest_name(oid)
        if name is None:
            return f"{label} uses unsupported hash algorithm {oid}", ""
    else:
        name = "sha1"
    claimed = bytes(first["cert_hash"].native)
    actual = _hash(name, signer_der)
    if claimed != actual:
        return (
            f"{label} {name} hash {_short(claimed)} is not the hash of the signer certificate "
            f"({_short(actual)})",
            "",
        )
    issuer_serial = first["issuer_serial"]
    if isinstance(issuer_serial, core.Void):
        return None, f"{label} ({name}) hash matches the signer certificate"
    if issuer_serial["serial_number"].native != signer.serial_number:
        return f"{label} issuerSerial serial does not match the signer certificate", ""
    directory_names = [g.chosen for g in issuer_serial["issuer"] if g.name == "directory_name"]
    if not any(_names_equal(n, signer.issuer) for n in directory_names):
        return f"{label} issuerSerial issuer does not match the signer certificate's issuer", ""
    return None, f"{label} ({name}) hash and issuerSerial match the signer certificate"
