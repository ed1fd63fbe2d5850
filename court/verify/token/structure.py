"""The structure of a token: every element read holds exactly what its ASN.1 type allows.

asn1crypto reads the fields a type defines and silently ignores whatever follows
them: junk after the one element of a [0] EXPLICIT wrapper, after the last field
of a SEQUENCE, or after the TSTInfo inside the eContent OCTET STRING. Junk outside
the signed parts would not even break the signature, so the token bytes would be
malleable. Before asn1crypto sees the token, the raw bytes are therefore walked
(with :class:`court.der.Cursor`) against the ASN.1 definitions below (RFC 3161,
RFC 5652, RFC 5816/2634, RFC 5280 names and algorithm identifiers, RFC 4055
RSASSA-PSS parameters): every element read must hold exactly the fields its type
allows, in order, and nothing else. Only raw bytes are looked at; nothing is
re-encoded. Certificates and CRLs are left to cryptography, whose DER parser is
strict.

:func:`structure_problem` is the whole "DER well-formed" check of a token;
:func:`tst_info_problem` its part for the TSTInfo. The gateway's per-token
check of its own engine's tokens runs them too (gateway/tsa.py).
"""

from __future__ import annotations

from typing import Final

from court.der import (
    Body,
    Cursor,
    DerError,
    Ids,
    der_problem,
    each,
    encode_oid,
    one,
    read_header,
)
from court.verify.token.algorithms import (
    DIGEST_OIDS,
    ECDSA_WITH,
    ED25519,
    OID_CONTENT_TYPE,
    OID_MESSAGE_DIGEST,
    OID_SIGNED_DATA,
    OID_SIGNING_CERTIFICATE,
    OID_SIGNING_CERTIFICATE_V2,
    OID_TST_INFO,
    RSA_PKCS1_OIDS,
    RSA_PSS,
)

__all__ = [
    "CERTIFICATE_IDS",
    "CRL_IDS",
    "is_response",
    "structure_problem",
    "tst_info_problem",
]

_ID_BOOLEAN: Final = 0x01
_ID_INTEGER: Final = 0x02
_ID_BIT_STRING: Final = 0x03
_ID_OCTET_STRING: Final = 0x04
_ID_NULL: Final = 0x05
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
#: CertificateChoices (RFC 5652 10.2.2): certificate, then extendedCertificate [0],
#: v1AttrCert [1], v2AttrCert [2] and other [3], all IMPLICIT and constructed.
CERTIFICATE_IDS: Final = frozenset({0x30, 0xA0, 0xA1, 0xA2, 0xA3})
#: RevocationInfoChoice (RFC 5652 10.2.1): crl, other [1] IMPLICIT.
CRL_IDS: Final = frozenset({0x30, 0xA1})


def _oid_contents(dotted: str) -> bytes:
    return encode_oid(dotted)[2:]  # every OID compared here is shorter than 128 bytes


_OID_BODY_SIGNED_DATA: Final = _oid_contents(OID_SIGNED_DATA)
_OID_BODY_TST_INFO: Final = _oid_contents(OID_TST_INFO)
_OID_BODY_RSA_PSS: Final = _oid_contents(RSA_PSS)
# Algorithms whose parameters are absent or NULL.
_OID_BODIES_NULL_PARAMETERS: Final = frozenset(
    _oid_contents(oid) for oid in (*DIGEST_OIDS, *RSA_PKCS1_OIDS)
)
# Algorithms whose AlgorithmIdentifier must not carry parameters. (RSA and the
# SHA-2 digests allow both absent and NULL parameters, RFC 4055 / RFC 5754.)
_OID_BODIES_WITHOUT_PARAMETERS: Final = frozenset(
    _oid_contents(oid) for oid in (*ECDSA_WITH, ED25519)
)


def _shape_algorithm(c: Cursor) -> None:
    """AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }."""
    oid = c.value("algorithm", (_ID_OID,))
    if oid in _OID_BODIES_WITHOUT_PARAMETERS:
        if c.peek() is not None:
            raise DerError(
                f"{c.where}: has parameters, which ECDSA and Ed25519 signature algorithms "
                "must omit (RFC 5758 3.2, RFC 8410 3)"
            )
    elif oid in _OID_BODIES_NULL_PARAMETERS:
        if c.peek() not in (None, _ID_NULL):
            raise DerError(
                f"{c.where}: has parameters other than NULL, which digest and RSA PKCS#1 "
                "algorithms do not take (RFC 5754 2, RFC 4055 5)"
            )
        c.take("parameters", (_ID_NULL,), optional=True)
    elif oid == _OID_BODY_RSA_PSS:
        c.take("parameters", (_ID_SEQUENCE,), _shape_pss_parameters, optional=True)
    else:
        c.take("parameters", None, optional=True)


def _shape_pss_parameters(c: Cursor) -> None:
    """RSASSA-PSS-params (RFC 4055): four optional [n] EXPLICIT fields."""
    c.take(
        "hashAlgorithm",
        (_ID_CONTEXT_0,),
        one("hashAlgorithm", (_ID_SEQUENCE,), _shape_algorithm),
        optional=True,
    )
    c.take(
        "maskGenAlgorithm",
        (_ID_CONTEXT_1,),
        one("maskGenAlgorithm", (_ID_SEQUENCE,), _shape_algorithm),
        optional=True,
    )
    c.take("saltLength", (_ID_CONTEXT_2,), one("saltLength", (_ID_INTEGER,)), optional=True)
    c.take("trailerField", (_ID_CONTEXT_3,), one("trailerField", (_ID_INTEGER,)), optional=True)


def _shape_attribute_type_and_value(c: Cursor) -> None:
    c.take("type", (_ID_OID,))
    c.take("value", None)


_shape_name = each(
    "rdn", (_ID_SET,), each("attribute", (_ID_SEQUENCE,), _shape_attribute_type_and_value)
)


def _shape_other_name(c: Cursor) -> None:
    c.take("type-id", (_ID_OID,))
    c.take("value", (_ID_CONTEXT_0,), one("value", None))


def _shape_general_name(c: Cursor) -> None:
    """One GeneralName; the structured choices are walked, the strings are primitive."""
    ident = c.peek()
    if ident == _ID_DIRECTORY_NAME:
        c.take("directoryName", (ident,), one("Name", (_ID_SEQUENCE,), _shape_name))
    elif ident == _ID_CONTEXT_0:
        c.take("otherName", (ident,), _shape_other_name)
    else:
        c.take("GeneralName", _GENERAL_NAME_IDS)


def _shape_issuer_serial(c: Cursor) -> None:
    """IssuerSerial (RFC 5035) ::= SEQUENCE { issuer GeneralNames, serialNumber INTEGER }."""
    c.take("issuer", (_ID_SEQUENCE,), each("GeneralName", _GENERAL_NAME_IDS, None))
    c.take("serialNumber", (_ID_INTEGER,))


def _shape_ess_cert_id(c: Cursor) -> None:
    c.take("certHash", (_ID_OCTET_STRING,))
    c.take("issuerSerial", (_ID_SEQUENCE,), _shape_issuer_serial, optional=True)


def _shape_ess_cert_id_v2(c: Cursor) -> None:
    c.take("hashAlgorithm", (_ID_SEQUENCE,), _shape_algorithm, optional=True)
    _shape_ess_cert_id(c)


def _shape_signing_certificate(cert_id: Body) -> Body:
    def check(c: Cursor) -> None:
        c.take("certs", (_ID_SEQUENCE,), each("certId", (_ID_SEQUENCE,), cert_id))
        c.take("policies", (_ID_SEQUENCE,), optional=True)

    return check


# Attribute values the checks read: (identifier, body) of each value.
_ATTRIBUTE_VALUES: Final[dict[bytes, tuple[Ids, Body | None]]] = {
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


def _shape_attribute(c: Cursor) -> None:
    """Attribute ::= SEQUENCE { attrType OID, attrValues SET OF AttributeValue }."""
    oid = c.value("attrType", (_ID_OID,))
    ids, body = _ATTRIBUTE_VALUES.get(oid, (None, None))
    c.take("attrValues", (_ID_SET,), each("value", ids, body))


def _shape_issuer_and_serial_number(c: Cursor) -> None:
    c.take("issuer", (_ID_SEQUENCE,), _shape_name)
    c.take("serialNumber", (_ID_INTEGER,))


def _shape_signer_info(c: Cursor) -> None:
    """SignerInfo (RFC 5652 5.3)."""
    c.take("version", (_ID_INTEGER,))
    if c.peek() == _ID_SEQUENCE:
        c.take("sid", (_ID_SEQUENCE,), _shape_issuer_and_serial_number)
    else:
        c.take("sid", (_ID_IMPLICIT_0,))  # subjectKeyIdentifier
    c.take("digestAlgorithm", (_ID_SEQUENCE,), _shape_algorithm)
    # SignedAttributes / UnsignedAttributes ::= SET SIZE (1..MAX) OF Attribute
    attributes = each("attribute", (_ID_SEQUENCE,), _shape_attribute, nonempty=True)
    c.take("signedAttrs", (_ID_CONTEXT_0,), attributes, optional=True)
    c.take("signatureAlgorithm", (_ID_SEQUENCE,), _shape_algorithm)
    c.take("signature", (_ID_OCTET_STRING,))
    c.take("unsignedAttrs", (_ID_CONTEXT_1,), attributes, optional=True)


def _shape_accuracy(c: Cursor) -> None:
    c.take("seconds", (_ID_INTEGER,), optional=True)
    c.take("millis", (_ID_IMPLICIT_0,), optional=True)
    c.take("micros", (_ID_IMPLICIT_1,), optional=True)


def _shape_extension(c: Cursor) -> None:
    c.take("extnID", (_ID_OID,))
    c.take("critical", (_ID_BOOLEAN,), optional=True)
    c.take("extnValue", (_ID_OCTET_STRING,))


def _shape_tst_info(c: Cursor) -> None:
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
        each("extension", (_ID_SEQUENCE,), _shape_extension),
        optional=True,
    )


def _shape_message_imprint(c: Cursor) -> None:
    c.take("hashAlgorithm", (_ID_SEQUENCE,), _shape_algorithm)
    c.take("hashedMessage", (_ID_OCTET_STRING,))


def _shape_tst_info_octets(c: Cursor) -> None:
    """The eContent OCTET STRING of a token: exactly one DER TSTInfo, nothing after."""
    problem = der_problem(c.data[c.pos : c.end])
    if problem is not None:
        raise DerError(f"TSTInfo: {problem}")
    c.take("TSTInfo", (_ID_SEQUENCE,), _shape_tst_info)


def _shape_encapsulated_content_info(c: Cursor) -> None:
    """EncapsulatedContentInfo ::= SEQUENCE { eContentType OID,
    eContent [0] EXPLICIT OCTET STRING OPTIONAL }."""
    oid = c.value("eContentType", (_ID_OID,))
    octets = _shape_tst_info_octets if oid == _OID_BODY_TST_INFO else None
    content = one("OCTET STRING", (_ID_OCTET_STRING,), octets)
    c.take("eContent", (_ID_CONTEXT_0,), content, optional=True)


def _shape_signed_data(c: Cursor) -> None:
    """SignedData (RFC 5652 5.1)."""
    c.take("version", (_ID_INTEGER,))
    c.take(
        "digestAlgorithms", (_ID_SET,), each("digestAlgorithm", (_ID_SEQUENCE,), _shape_algorithm)
    )
    c.take("encapContentInfo", (_ID_SEQUENCE,), _shape_encapsulated_content_info)
    # CertificateChoices: a Certificate (parsed by cryptography) or an [0]..[3] IMPLICIT
    # alternative (not read); RevocationInfoChoice: a CertificateList or [1] other (not read).
    c.take("certificates", (_ID_CONTEXT_0,), each("certificate", CERTIFICATE_IDS), optional=True)
    c.take("crls", (_ID_CONTEXT_1,), each("crl", CRL_IDS), optional=True)
    c.take("signerInfos", (_ID_SET,), each("signerInfo", (_ID_SEQUENCE,), _shape_signer_info))


def _shape_content_info(c: Cursor) -> None:
    """ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY }."""
    oid = c.value("contentType", (_ID_OID,))
    if oid == _OID_BODY_SIGNED_DATA:
        c.take("content", (_ID_CONTEXT_0,), one("SignedData", (_ID_SEQUENCE,), _shape_signed_data))
    else:  # the content-type check names the wrong type
        c.take("content", (_ID_CONTEXT_0,), one("content", None))


def _shape_pki_status_info(c: Cursor) -> None:
    c.take("status", (_ID_INTEGER,))
    c.take("statusString", (_ID_SEQUENCE,), each("text", (_ID_UTF8_STRING,)), optional=True)
    c.take("failInfo", (_ID_BIT_STRING,), optional=True)


def _shape_time_stamp_resp(c: Cursor) -> None:
    """TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }."""
    c.take("status", (_ID_SEQUENCE,), _shape_pki_status_info)
    c.take("timeStampToken", (_ID_SEQUENCE,), _shape_content_info, optional=True)


def tst_info_problem(data: bytes) -> str | None:
    """``None`` if ``data`` (an eContent OCTET STRING's contents) is exactly one DER TSTInfo
    whose every element holds what its ASN.1 type allows, else why not.

    This is the part of :func:`structure_problem` that reads the TSTInfo; the
    gateway's per-token check of its own engine's tokens runs it on every token.
    """
    cursor = Cursor(data, where="eContent")
    try:
        _shape_tst_info_octets(cursor)
        cursor.done()
    except DerError as exc:
        return str(exc)
    return None


def is_response(data: bytes) -> bool:
    """Whether DER ``data`` (a non-empty SEQUENCE) is a TimeStampResp rather than a ContentInfo.

    A TimeStampResp starts with PKIStatusInfo (a SEQUENCE), a ContentInfo with
    its contentType (an OBJECT IDENTIFIER).
    """
    _, _, start, _ = read_header(data, 0, len(data))
    return data[start] == _ID_SEQUENCE


def structure_problem(data: bytes, *, bare: bool = False) -> str | None:
    """``None`` if ``data`` is one DER TimeStampResp or bare TimeStampToken (a ContentInfo)
    whose every element holds exactly what its ASN.1 type allows, else why not.

    This is the whole "DER well-formed" check of a token: strict DER throughout
    (:func:`court.der.check_der`), then the typed walk. With ``bare``, only a
    ContentInfo is accepted. Work and recursion are linear in ``len(data)``.
    """
    problem = der_problem(data)
    if problem is not None:
        return problem
    _, _, start, stop = read_header(data, 0, len(data))
    if data[0] != _ID_SEQUENCE or start >= stop:
        return "neither a TimeStampResp nor a ContentInfo (not a non-empty SEQUENCE)"
    if data[start] not in (_ID_SEQUENCE, _ID_OID) or (bare and data[start] != _ID_OID):
        return "neither a TimeStampResp nor a ContentInfo" if not bare else "not a ContentInfo"
    top = Cursor(data, 0, len(data), "")
    try:
        if data[start] == _ID_SEQUENCE:
            top.take("TimeStampResp", (_ID_SEQUENCE,), _shape_time_stamp_resp)
        else:
            top.take("ContentInfo", (_ID_SEQUENCE,), _shape_content_info)
        top.done()
    except DerError as exc:
        return str(exc)
    return None
