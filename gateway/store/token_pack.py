"""A time-stamp token without its certificates, and the form a token takes in the store.

Every token of one TSA carries the same ``certificates [0] IMPLICIT
CertificateSet`` (its signer's certificate, often its intermediates): most of
a token's bytes. The store keeps each such set once and each token without it
(:mod:`gateway.store.token_sets`); reading puts the set back, and the token
read is byte for byte the token written. Pure functions, no SQL:

* :func:`strip` cuts the set out of a TimeStampToken (a CMS ContentInfo of
  signedData: ``SEQUENCE { contentType, [0] EXPLICIT SignedData }``, the set
  being SignedData's fourth field), and returns ``None`` for anything it would
  not give back exactly: no set, another shape, trailing bytes, or lengths that
  are not minimal DER (the three enclosing lengths are re-encoded minimally by
  :func:`splice`). It checks ``splice(*strip(t)) == t`` itself.
* :func:`splice` puts a set back in front of SignedData's fourth field.
* :func:`deflate` / :func:`inflate`: a stripped token as raw DEFLATE (RFC 1951)
  with a preset dictionary, the *template* of its certificate set (one stripped
  token of that set, stored once beside it): the tokens of one TSA differ only
  in their serial number, times, imprint, message digest and signature, so
  about 190 of a stripped token's 845 bytes remain. :func:`deflate` checks
  that :func:`inflate` gives the token back.
* :func:`encode` / :func:`decode`: the bytes of the ``entries.token`` column.

Both walks read a constant number of DER headers (:func:`court.der.read_header`),
whatever the token's size, and copy it once or twice.

The column holds, unambiguously:

* a token as received, when its first octet is not ``0x00``: every DER element
  starts with its identifier octet, and ``0x00`` (universal class, tag number
  0) is reserved and forbidden in DER; a TimeStampToken starts with ``0x30``;
* ``0x00 0x00`` then the token, for a token that itself starts with ``0x00``
  (no DER token does; kept so that any bytes round-trip);
* ``0x00``, the certificate set's number as a DER INTEGER (``0x02 ...``), then
  the stripped token;
* ``0x00 0x01``, the certificate set's number as a DER INTEGER, then the
  stripped token deflated against that set's template (:func:`deflate`).
"""

from __future__ import annotations

import functools
import zlib
from typing import Final, NamedTuple

from court.der import (
    TAG_INTEGER,
    TAG_SEQUENCE,
    DerError,
    decode_integer,
    encode_integer,
    encode_length,
    read_header,
    read_tlv,
)

__all__ = [
    "DEFLATED",
    "MARK",
    "MAX_INFLATED",
    "Stored",
    "decode",
    "deflate",
    "encode",
    "inflate",
    "splice",
    "strip",
]

#: First octet of a stored token that is not the token as received.
MARK: Final = 0x00
#: Second octet of a stored token deflated against its set's template.
DEFLATED: Final = 0x01
#: Most bytes :func:`inflate` gives (a stripped token is about a kilobyte).
MAX_INFLATED: Final = 1 << 20
_ESCAPED: Final = bytes((MARK, MARK))
_WBITS: Final = -15  # raw DEFLATE, 32 KiB window: the template and the token both fit
_CONTEXT_0: Final = 0xA0  # [0], constructed: ContentInfo's content, SignedData's certificates
# contentType id-signedData (1.2.840.113549.1.7.2), as encoded in the token.
_SIGNED_DATA: Final = bytes.fromhex("06092a864886f70d010702")
_LEADING_FIELDS: Final = 3  # SignedData's version, digestAlgorithms, encapContentInfo
_MAX_SET_ID: Final = (1 << 63) - 1


def _signed_data(token: bytes) -> tuple[int, int, int]:
    """``(start, cut, stop)``: SignedData's contents are ``token[start:stop]`` and its
    fourth field (if any) starts at ``cut``. DerError unless ``token`` is exactly one
    ContentInfo of signedData whose framing is minimal DER."""
    end = len(token)
    identifier, _, start, stop = read_header(token, 0, end)
    if identifier != TAG_SEQUENCE or stop != end:
        raise DerError("not one ContentInfo SEQUENCE")
    oid_stop = start + len(_SIGNED_DATA)
    if token[start:oid_stop] != _SIGNED_DATA:
        raise DerError("ContentInfo is not signedData")
    identifier, _, start, stop = read_header(token, oid_stop, end)
    if identifier != _CONTEXT_0 or stop != end:
        raise DerError("ContentInfo's content is not one [0] element")
    identifier, _, start, stop = read_header(token, start, end)
    if identifier != TAG_SEQUENCE or stop != end:
        raise DerError("the [0] content is not one SignedData SEQUENCE")
    cut = start
    for _ in range(_LEADING_FIELDS):
        identifier, number, _, cut = read_header(token, cut, stop)
        if number >= 0x1F:
            raise DerError("high tag numbers are not expected here")
    return start, cut, stop


def _framed(*parts: bytes) -> bytes:
    """The ContentInfo of signedData whose SignedData contents are ``parts`` joined
    (one copy; lengths minimal)."""
    size = sum(map(len, parts))
    signed_data = bytes((TAG_SEQUENCE,)) + encode_length(size)
    size += len(signed_data)
    content = bytes((_CONTEXT_0,)) + encode_length(size)
    size += len(content) + len(_SIGNED_DATA)
    head = bytes((TAG_SEQUENCE,)) + encode_length(size)
    return b"".join((head, _SIGNED_DATA, content, signed_data, *parts))


def strip(token: bytes) -> tuple[bytes, bytes] | None:
    """``(stripped token, certificate set)`` or ``None`` to keep the token whole.

    The set is the whole ``[0]`` element as it was in the token (identifier,
    length, certificates). ``None`` unless :func:`splice` gives ``token`` back
    byte for byte.
    """
    try:
        start, cut, stop = _signed_data(token)
        if cut >= stop or token[cut] != _CONTEXT_0:
            return None  # no certificates
        _, _, first, after = read_header(token, cut, stop)
    except DerError:
        return None
    if first == after:
        return None  # an empty set: nothing to share
    certificates = token[cut:after]
    stripped = _framed(token[start:cut], token[after:stop])
    try:
        if splice(stripped, certificates) != token:
            return None
    except DerError:
        return None
    return stripped, certificates


def splice(stripped: bytes, certificates: bytes) -> bytes:
    """The token :func:`strip` cut ``certificates`` out of; DerError if either is not
    what it gives."""
    identifier, _, _, stop = read_header(certificates, 0, len(certificates))
    if identifier != _CONTEXT_0 or stop != len(certificates):
        raise DerError("a certificate set is one [0] element")
    start, cut, end = _signed_data(stripped)
    return _framed(stripped[start:cut], certificates, stripped[cut:end])


def deflate(stripped: bytes, template: bytes) -> bytes | None:
    """``stripped`` as raw DEFLATE with ``template`` as its preset dictionary, or
    ``None`` if that is not shorter or would not :func:`inflate` back to it."""
    packer = zlib.compressobj(
        zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, _WBITS, 8, zlib.Z_DEFAULT_STRATEGY, template
    )
    data = packer.compress(stripped) + packer.flush()
    if len(data) >= len(stripped):
        return None
    try:
        if inflate(data, template) != stripped:  # pragma: no cover - zlib's own bug
            return None
    except DerError:  # pragma: no cover - zlib's own bug
        return None
    return data


def inflate(data: bytes, template: bytes) -> bytes:
    """What :func:`deflate` made ``data`` of, with the same ``template``. DerError
    unless ``data`` is one whole raw DEFLATE stream, with nothing after it, of at most
    :data:`MAX_INFLATED` bytes."""
    unpacker = zlib.decompressobj(_WBITS, template)
    try:
        out = unpacker.decompress(data, MAX_INFLATED)
    except zlib.error as exc:
        raise DerError(f"the deflated token is corrupt ({exc})") from None
    if not unpacker.eof or unpacker.unused_data or unpacker.unconsumed_tail:
        raise DerError("the deflated token is truncated, too long or followed by other bytes")
    return out


class Stored(NamedTuple):
    """What a column value holds: the certificate set's number (``None``: the token as
    received), the token or stripped token (deflated when ``deflated``)."""

    set_id: int | None
    body: bytes
    deflated: bool = False


def encode(token: bytes, set_id: int | None = None, *, deflated: bool = False) -> bytes:
    """The column's bytes: ``token`` as received (``set_id`` None), or a token
    :func:`strip` made whose certificate set is number ``set_id`` (``deflated``:
    what :func:`deflate` made of it with that set's template)."""
    if set_id is None:
        if deflated:
            raise ValueError("only a stripped token, with its set's number, is deflated")
        return _ESCAPED + token if token[:1] == _ESCAPED[:1] else token
    return _prefix(set_id, deflated) + token


@functools.lru_cache(maxsize=512)
def _prefix(set_id: int, deflated: bool) -> bytes:
    if not 1 <= set_id <= _MAX_SET_ID:
        raise ValueError(f"certificate set number {set_id} is outside 1..2**63-1")
    form = (MARK, DEFLATED) if deflated else (MARK,)
    return bytes(form) + encode_integer(set_id)


def decode(stored: bytes) -> Stored:
    """``(None, token, False)`` for a token stored whole; ``(set number, stripped
    token, False)`` for a stripped one; ``(set number, deflated stripped token, True)``
    for a deflated one. DerError for bytes :func:`encode` does not make."""
    if stored[:1] != _ESCAPED[:1]:
        return Stored(None, stored)
    if stored[1:2] == _ESCAPED[:1]:
        return Stored(None, stored[2:])
    deflated = stored[1:2] == bytes((DEFLATED,))
    at = 2 if deflated else 1
    if stored[at : at + 1] != bytes((TAG_INTEGER,)):
        raise DerError("a stored token starts with 0x00 but is neither escaped nor stripped")
    number, after = read_tlv(stored, at)
    set_id = decode_integer(number)
    if not 1 <= set_id <= _MAX_SET_ID:
        raise DerError(f"certificate set number {set_id} is outside 1..2**63-1")
    return Stored(set_id, stored[after:], deflated)
