"""Reading a token whose structure passed: the fields the checks need, from the wire.

Everything is read with :mod:`court.der` from the token's own bytes, after
:func:`~court.verify.token.structure.structure_problem` has typed every
element read here, so positions and identifiers are known; nothing is
re-encoded, and the work is linear in the token's size whatever it holds
(asn1crypto, which earlier read these fields, took seconds for a 27 KB token
with a few hundred attributes). Whatever the checks hash, verify or compare
byte for byte is the exact encoding from the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Final

from asn1crypto import cms, core, tsp

from court.der import (
    DerError,
    Tlv,
    decode_generalized_time,
    decode_integer,
    decode_oid,
    encode_oid,
    read_children,
    read_tlv,
)
from court.verify.token.algorithms import OID_SIGNED_DATA, OID_TST_INFO
from court.verify.token.structure import is_response, structure_problem

__all__ = [
    "Algorithm",
    "Attribute",
    "Parsed",
    "SignedData",
    "SignerInfo",
    "Status",
    "TimeStampResp",
    "TstInfo",
    "number_text",
    "parse",
]


class TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 TimeStampResp for asn1crypto (the notary's callers use it). asn1crypto's
    own class makes timeStampToken mandatory, so it cannot parse a rejection."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True, slots=True)
class Algorithm:
    """An AlgorithmIdentifier: its OID and its parameters element, if any."""

    oid: str
    parameters: Tlv | None


@dataclass(frozen=True, slots=True)
class Attribute:
    """A CMS Attribute: its type and the elements of its SET of values."""

    oid: str
    values: tuple[Tlv, ...]


@dataclass(frozen=True, slots=True)
class SignerInfo:
    """RFC 5652 5.3, as on the wire."""

    version: Tlv
    sid: Tlv
    digest_algorithm: Algorithm
    signed_attrs: Tlv | None  # the [0] IMPLICIT SET OF Attribute element
    attributes: tuple[Attribute, ...]  # the signed ones
    signature_algorithm: Algorithm
    signature: bytes


@dataclass(frozen=True, slots=True)
class SignedData:
    """RFC 5652 5.1, as on the wire."""

    version: Tlv
    digest_algorithms: tuple[Algorithm, ...]
    econtent_type: str
    econtent: bytes | None  # the eContent OCTET STRING's contents
    certificate_ids: tuple[int, ...]  # identifier octet of every CertificateChoices
    certificates: tuple[bytes, ...]  # the Certificate choices, in token order
    crl_ids: tuple[int, ...]  # identifier octet of every RevocationInfoChoice
    signer_infos: tuple[SignerInfo, ...]


@dataclass(frozen=True, slots=True)
class TstInfo:
    """RFC 3161 2.4.2: the fields the checks read."""

    version: int
    policy: str
    hash_algorithm: Algorithm
    hashed_message: bytes
    serial_number: int
    gen_time: datetime
    nonce: int | None
    tsa: Tlv | None  # the GeneralName inside [0] EXPLICIT


@dataclass(frozen=True, slots=True)
class Status:
    """PKIStatusInfo: the status, its free texts and the names of the failInfo bits set."""

    value: int
    texts: tuple[str, ...]
    fail_info: tuple[str, ...]

    @property
    def name(self) -> str:
        return _STATUS_NAMES.get(self.value, "unknown")


@dataclass(frozen=True, slots=True)
class Parsed:
    status: Status | None  # None: a bare token
    content_type: str | None  # None: a response without a token
    signed_data: SignedData | None  # when the content is SignedData
    tst_info: TstInfo | None  # when the eContent is a TSTInfo

    @property
    def cert_ders(self) -> tuple[bytes, ...]:
        return self.signed_data.certificates if self.signed_data else ()


_STATUS_NAMES: Final = {
    0: "granted",
    1: "granted_with_mods",
    2: "rejection",
    3: "waiting",
    4: "revocation_warning",
    5: "revocation_notification",
}
# PKIFailureInfo bits (RFC 3161 2.4.2), named as asn1crypto names them.
_FAIL_BITS: Final = {
    0: "bad_alg",
    2: "bad_request",
    5: "bad_data_format",
    14: "time_not_available",
    15: "unaccepted_policy",
    16: "unaccepted_extensions",
    17: "add_info_not_available",
    25: "system_failure",
}
_SIGNED_DATA_OID: Final = encode_oid(OID_SIGNED_DATA)


def number_text(value: int) -> str:
    """A decimal number for a report, or hexadecimal when it is too long to be a count."""
    return str(value) if -(10**9) < value < 10**9 else f"{value:#x}"


def _algorithm(element: Tlv) -> Algorithm:
    fields = read_children(element.contents)
    return Algorithm(decode_oid(fields[0]), fields[1] if len(fields) > 1 else None)


def _status(element: Tlv) -> Status:
    fields = read_children(element.contents)
    texts: list[str] = []
    fail: list[str] = []
    for field in fields[1:]:
        if field.tag == 0x30:  # statusString: SEQUENCE OF UTF8String
            texts = [t.contents.decode("utf-8") for t in read_children(field.contents)]
        else:  # failInfo BIT STRING: the first 32 named bits are read
            bits = field.contents[1:5]
            fail = [
                _FAIL_BITS.get(i, f"bit {i}")
                for i in range(len(bits) * 8)
                if bits[i // 8] & (0x80 >> (i % 8))
            ]
    return Status(decode_integer(fields[0]), tuple(texts), tuple(fail))


def _attributes(element: Tlv) -> tuple[Attribute, ...]:
    out = []
    for attribute in read_children(element.contents):
        oid, values = read_children(attribute.contents)[:2]
        out.append(Attribute(decode_oid(oid), tuple(read_children(values.contents))))
    return tuple(out)


def _signer_info(element: Tlv) -> SignerInfo:
    fields = read_children(element.contents)
    signed_attrs = fields[3] if fields[3].tag == 0xA0 else None
    rest = fields[4:] if signed_attrs is not None else fields[3:]
    return SignerInfo(
        version=fields[0],
        sid=fields[1],
        digest_algorithm=_algorithm(fields[2]),
        signed_attrs=signed_attrs,
        attributes=_attributes(signed_attrs) if signed_attrs is not None else (),
        signature_algorithm=_algorithm(rest[0]),
        signature=rest[1].contents,
    )


def _signed_data(element: Tlv) -> SignedData:
    fields = read_children(element.contents)
    tagged = {field.tag: field for field in fields[3:]}
    certificates = read_children(tagged[0xA0].contents) if 0xA0 in tagged else []
    crls = read_children(tagged[0xA1].contents) if 0xA1 in tagged else []
    encap = read_children(fields[2].contents)
    econtent = read_children(encap[1].contents)[0].contents if len(encap) > 1 else None
    return SignedData(
        version=fields[0],
        digest_algorithms=tuple(_algorithm(a) for a in read_children(fields[1].contents)),
        econtent_type=decode_oid(encap[0]),
        econtent=econtent,
        certificate_ids=tuple(c.tag for c in certificates),
        certificates=tuple(c.encoded for c in certificates if c.tag == 0x30),
        crl_ids=tuple(c.tag for c in crls),
        signer_infos=tuple(_signer_info(s) for s in read_children(tagged[0x31].contents)),
    )


def _tst_info(der: bytes) -> TstInfo:
    top, _ = read_tlv(der)
    fields = read_children(top.contents)
    imprint = read_children(fields[2].contents)
    optional = {field.tag: field for field in fields[5:]}
    return TstInfo(
        version=decode_integer(fields[0]),
        policy=decode_oid(fields[1]),
        hash_algorithm=_algorithm(imprint[0]),
        hashed_message=imprint[1].contents,
        serial_number=decode_integer(fields[3]),
        gen_time=decode_generalized_time(fields[4]),
        nonce=decode_integer(optional[0x02]) if 0x02 in optional else None,
        tsa=read_children(optional[0xA0].contents)[0] if 0xA0 in optional else None,
    )


def parse(token: bytes) -> Parsed | str:
    """The parsed token, or why it is not a well-formed one (the "DER well-formed" detail)."""
    problem = structure_problem(token)
    if problem is not None:
        return problem
    try:
        top, _ = read_tlv(token)
        status: Status | None = None
        content_info: Tlv | None = top
        if is_response(token):
            fields = read_children(top.contents)
            status = _status(fields[0])
            content_info = fields[1] if len(fields) > 1 else None
        if content_info is None:
            return Parsed(status, None, None, None)
        content_type, content = read_children(content_info.contents)[:2]
        if content_type.encoded != _SIGNED_DATA_OID:
            return Parsed(status, decode_oid(content_type), None, None)
        signed_data = _signed_data(read_children(content.contents)[0])
    except (DerError, UnicodeDecodeError, IndexError, KeyError, ValueError) as exc:
        return f"does not parse: {type(exc).__name__}: {exc}"
    tst_info: TstInfo | None = None
    econtent = signed_data.econtent
    if econtent is not None and signed_data.econtent_type == OID_TST_INFO:
        try:
            tst_info = _tst_info(econtent)
        except (DerError, IndexError, KeyError, ValueError) as exc:
            return f"TSTInfo does not parse: {type(exc).__name__}: {exc}"
    return Parsed(status, OID_SIGNED_DATA, signed_data, tst_info)
