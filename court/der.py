"""Minimal DER primitives, shared by the court library, the notary and the gateway.

They live here, in the pure ``court`` package, so that the court can decode what
the server encodes without importing it.

Writing: the notary engine assembles tokens from pre-encoded constant pieces and a few
per-token fields, so it needs only TLV framing and INTEGER / GeneralizedTime
encoders. Reading: a strict TLV reader that accepts DER only (definite, minimal
lengths; minimal INTEGER and OID encodings). asn1crypto is lenient (it accepts
BER) and costs more per request than the token's signature, so the request
path uses this reader; tests compare it with asn1crypto's parse.
"""

from __future__ import annotations

from court.errors import CourtError

__all__ = [
    "TAG_BOOLEAN",
    "TAG_ENUMERATED",
    "TAG_GENERALIZED_TIME",
    "TAG_INTEGER",
    "TAG_NULL",
    "TAG_OCTET_STRING",
    "TAG_OID",
    "TAG_SEQUENCE",
    "TAG_SET",
    "TAG_UTF8_STRING",
    "DerError",
    "Tlv",
    "decode_integer",
    "decode_oid",
    "encode_integer",
    "encode_length",
    "encode_oid",
    "generalized_time_ms",
    "read_children",
    "read_tlv",
    "tlv",
]

# Universal tags (class 0), as the first identifier octet.
TAG_BOOLEAN = 0x01
TAG_INTEGER = 0x02
TAG_OCTET_STRING = 0x04
TAG_NULL = 0x05
TAG_OID = 0x06
TAG_ENUMERATED = 0x0A
TAG_UTF8_STRING = 0x0C
TAG_GENERALIZED_TIME = 0x18
TAG_SEQUENCE = 0x30
TAG_SET = 0x31


class DerError(CourtError, ValueError):
    """The input is not valid DER for the expected structure."""


def encode_length(n: int) -> bytes:
    """DER length octets for a content of `n` bytes (n >= 0)."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One DER TLV with a single-octet identifier."""
    return bytes((tag,)) + encode_length(len(content)) + content


def encode_integer(value: int) -> bytes:
    """A DER INTEGER (two's complement, minimal octets)."""
    # Octets for the magnitude bits plus a sign bit; for negatives, ~value's bits
    # (-128 is 0x80 in one octet, -129 needs two).
    length = (value if value >= 0 else ~value).bit_length() // 8 + 1
    return tlv(TAG_INTEGER, value.to_bytes(length, "big", signed=True))


def encode_oid(dotted: str) -> bytes:
    """A DER OBJECT IDENTIFIER from its dotted form (at least two arcs)."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40) or min(arcs) < 0:
        raise ValueError(f"not an OBJECT IDENTIFIER: {dotted!r}")
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(TAG_OID, bytes(body))


def generalized_time_ms(epoch_ms: int, second_prefix: str) -> bytes:
    """A DER GeneralizedTime with millisecond precision.

    `second_prefix` is "YYYYMMDDHHMMSS" for the UTC second holding `epoch_ms`.
    DER forbids trailing zeros in the fraction and a bare decimal point.
    """
    frac = epoch_ms % 1000
    text = f"{second_prefix}.{frac:03d}".rstrip("0").rstrip(".") + "Z"
    raw = text.encode("ascii")
    return bytes((TAG_GENERALIZED_TIME, len(raw))) + raw


class Tlv:
    """One parsed DER element: identifier octet, its whole encoding and its contents."""

    __slots__ = ("contents", "encoded", "tag")

    def __init__(self, tag: int, encoded: bytes, contents: bytes) -> None:
        self.tag = tag
        self.encoded = encoded
        self.contents = contents


def read_tlv(data: bytes, pointer: int = 0) -> tuple[Tlv, int]:
    """Read one DER element at `pointer`; return it and the offset after it.

    Rejects what DER forbids or what nothing we parse uses: truncation,
    indefinite lengths, non-minimal length octets, multi-octet tag numbers.
    """
    end = len(data)
    if pointer + 2 > end:
        raise DerError("truncated element header")
    identifier = data[pointer]
    if identifier & 0x1F == 0x1F:
        raise DerError("high tag numbers are not expected here")
    first = data[pointer + 1]
    start = pointer + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError("indefinite length is not allowed in DER")
    else:
        count = first & 0x7F
        if count > 4 or start + count > end:
            raise DerError("length octets are truncated or too long")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
        if length < 0x80 or data[pointer + 2] == 0:
            raise DerError("length is not minimally encoded")
    stop = start + length
    if stop > end:
        raise DerError("element is truncated")
    return Tlv(identifier, data[pointer:stop], data[start:stop]), stop


def read_children(contents: bytes) -> list[Tlv]:
    """All elements inside a constructed element's contents, in order."""
    children = []
    pointer = 0
    while pointer < len(contents):
        child, pointer = read_tlv(contents, pointer)
        children.append(child)
    return children


def decode_integer(element: Tlv) -> int:
    """A DER INTEGER's value; rejects empty and non-minimal encodings."""
    body = element.contents
    if not body:
        raise DerError("empty INTEGER")
    if len(body) > 1 and (
        (body[0] == 0x00 and body[1] < 0x80) or (body[0] == 0xFF and body[1] >= 0x80)
    ):
        raise DerError("INTEGER is not minimally encoded")
    return int.from_bytes(body, "big", signed=True)


def decode_oid(element: Tlv) -> str:
    """An OBJECT IDENTIFIER in dotted form; rejects non-minimal sub-identifiers."""
    body = element.contents
    if not body or body[-1] & 0x80:
        raise DerError("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    start = True
    for octet in body:
        if start and octet == 0x80:
            raise DerError("OBJECT IDENTIFIER sub-identifier is not minimally encoded")
        value = (value << 7) | (octet & 0x7F)
        start = not octet & 0x80
        if start:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in head + arcs[1:])
