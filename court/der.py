"""The one strict DER reader and writer, shared by the court library, the notary and the gateway.

They live here, in the pure ``court`` package, so that the court can decode what
the server encodes without importing it.

Writing: the notary engine assembles tokens from pre-encoded constant pieces and a few
per-token fields, so it needs only TLV framing and INTEGER / GeneralizedTime
encoders.

Reading accepts DER only: definite, minimal lengths of at most 4 octets; minimal
tag numbers, INTEGER and OID encodings; no trailing bytes. Three levels:

* :func:`read_header`, :func:`read_tlv`, :func:`read_children`: one element at a
  time, and the typed decoders (:func:`decode_integer`, :func:`decode_oid`,
  :func:`decode_generalized_time`);
* :func:`check_der` / :func:`der_problem`: a whole element, canonical at every
  depth (nesting at most :data:`MAX_DEPTH`), in time linear in its size;
* :class:`Cursor` with :func:`one` and :func:`each`: a typed walk of raw bytes
  against an ASN.1 definition (every element read holds exactly the fields its
  type allows, nothing after them), used for the time-stamp token's structure.

asn1crypto is lenient (it accepts BER and ignores what follows the fields it
knows), so every input is read here first; tests compare with asn1crypto's parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Final

from court.errors import CourtError

__all__ = [
    "MAX_ARC_OCTETS",
    "MAX_DEPTH",
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
    "Body",
    "Cursor",
    "DerError",
    "Ids",
    "Tlv",
    "check_der",
    "decode_generalized_time",
    "decode_integer",
    "decode_oid",
    "der_problem",
    "each",
    "encode_integer",
    "encode_length",
    "encode_oid",
    "expect",
    "generalized_time_ms",
    "one",
    "read_children",
    "read_header",
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


# --------------------------------------------------------------------------- reading

#: Deepest nesting of constructed elements that :func:`check_der` accepts.
MAX_DEPTH: Final = 64
# Universal types that may use the constructed form in DER: EXTERNAL, EMBEDDED PDV,
# SEQUENCE, SET (strings are always primitive in DER).
_CONSTRUCTED_UNIVERSAL: Final = frozenset({8, 11, 16, 17})


def read_header(data: bytes, pos: int, end: int) -> tuple[int, int, int, int]:
    """The header of the element at ``pos``: (identifier octet, tag number, contents start,
    contents end).

    Strict DER: the tag number minimally encoded, the length definite, minimal and
    of at most 4 octets, and the element inside ``data[pos:end]``. The work is
    constant whatever the input.
    """
    if pos + 3 < end and data[pos] & 0x1F != 0x1F:  # the common cases: one identifier
        identifier = data[pos]  # octet and a length of one, two or three octets
        length = data[pos + 1]
        if length < 0x80:
            start = pos + 2
        elif length == 0x81 and data[pos + 2] >= 0x80:
            length, start = data[pos + 2], pos + 3
        elif length == 0x82 and data[pos + 2]:
            length, start = (data[pos + 2] << 8) | data[pos + 3], pos + 4
        else:
            return _read_long_header(data, pos, end)
        if start + length <= end:
            return identifier, identifier & 0x1F, start, start + length
    return _read_long_header(data, pos, end)


def _read_long_header(data: bytes, pos: int, end: int) -> tuple[int, int, int, int]:
    if pos >= end:
        raise DerError(f"truncated: no tag at offset {pos}")
    identifier = data[pos]
    pos += 1
    number = identifier & 0x1F
    if number == 0x1F:
        number = 0
        leading = True
        while True:
            if pos >= end:
                raise DerError("truncated tag")
            octet = data[pos]
            pos += 1
            if leading and octet == 0x80:
                raise DerError(f"non-minimal tag encoding at offset {pos - 1}")
            leading = False
            number = (number << 7) | (octet & 0x7F)
            if number > 0xFFFFFFF:
                raise DerError("tag number too large")
            if not octet & 0x80:
                break
        if number < 0x1F:
            raise DerError(f"non-minimal tag encoding at offset {pos}")
    if pos >= end:
        raise DerError(f"truncated: no length at offset {pos}")
    length = data[pos]
    pos += 1
    if length >= 0x80:
        if length == 0x80:
            raise DerError(f"indefinite length at offset {pos - 1} (BER, not DER)")
        count = length & 0x7F
        if count > 4:
            raise DerError(f"length of {count} bytes at offset {pos - 1} is too long")
        if pos + count > end:
            raise DerError("truncated length")
        if data[pos] == 0:
            raise DerError(f"non-minimal length at offset {pos - 1}")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80:
            raise DerError(f"non-minimal length at offset {pos - 1}")
        pos += count
    stop = pos + length
    if stop > end:
        raise DerError(
            f"truncated: element at offset {pos} claims {length} bytes, {end - pos} remain"
        )
    return identifier, number, pos, stop


class Tlv:
    """One parsed DER element: identifier octet, its whole encoding and its contents."""

    __slots__ = ("contents", "encoded", "tag")

    def __init__(self, tag: int, encoded: bytes, contents: bytes) -> None:
        self.tag = tag
        self.encoded = encoded
        self.contents = contents


def read_tlv(data: bytes, pointer: int = 0) -> tuple[Tlv, int]:
    """Read one DER element at `pointer`; return it and the offset after it.

    Rejects what DER forbids (see :func:`read_header`) and multi-octet tag
    numbers, which nothing read this way uses.
    """
    identifier, number, start, stop = read_header(data, pointer, len(data))
    if number >= 0x1F:
        raise DerError("high tag numbers are not expected here")
    return Tlv(identifier, data[pointer:stop], data[start:stop]), stop


def read_children(contents: bytes) -> list[Tlv]:
    """All elements inside a constructed element's contents, in order."""
    children = []
    pos = 0
    end = len(contents)
    while pos < end:
        # read_tlv, with read_header's common case inlined: this runs once per element.
        identifier = contents[pos]
        length = contents[pos + 1] if pos + 1 < end else 0x80
        if length < 0x80 and identifier & 0x1F != 0x1F and pos + 2 + length <= end:
            start, stop = pos + 2, pos + 2 + length
        else:
            child, stop = read_tlv(contents, pos)
            children.append(child)
            pos = stop
            continue
        children.append(Tlv(identifier, contents[pos:stop], contents[start:stop]))
        pos = stop
    return children


def expect(element: Tlv, tag: int, what: str) -> Tlv:
    """``element`` if its identifier octet is ``tag``; else DerError naming ``what``."""
    if element.tag != tag:
        raise DerError(f"{what}: unexpected tag 0x{element.tag:02x}")
    return element


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


#: Most octets of one OBJECT IDENTIFIER sub-identifier (161 bits: a UUID arc under 2.25
#: has 128); a longer arc would not even print in decimal.
MAX_ARC_OCTETS: Final = 23


def _oid_problem(body: bytes) -> str | None:
    """Why ``body`` is not the contents of a DER OBJECT IDENTIFIER (X.690 8.19), if it is not."""
    if not body or body[-1] & 0x80:
        return "malformed OBJECT IDENTIFIER"
    octets = 0
    for octet in body:
        if not octets and octet == 0x80:
            return "OBJECT IDENTIFIER sub-identifier is not minimally encoded"
        octets = octets + 1 if octet & 0x80 else 0
        if octets >= MAX_ARC_OCTETS:
            return f"OBJECT IDENTIFIER sub-identifier longer than {MAX_ARC_OCTETS} octets"
    return None


def decode_oid(element: Tlv) -> str:
    """An OBJECT IDENTIFIER in dotted form; rejects non-minimal and overlong sub-identifiers."""
    body = element.contents
    problem = _oid_problem(body)
    if problem is not None:
        raise DerError(problem)
    arcs: list[int] = []
    value = 0
    for octet in body:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in head + arcs[1:])


_GENERALIZED_TIME: Final = re.compile(rb"(\d{14})(?:\.(\d*[1-9]))?Z")


def decode_generalized_time(element: Tlv) -> datetime:
    """A DER GeneralizedTime (``YYYYMMDDHHMMSS[.f*]Z``, no trailing fraction zeros), in UTC.

    Fractions finer than a microsecond are cut off.
    """
    match = _GENERALIZED_TIME.fullmatch(element.contents)
    if element.tag != TAG_GENERALIZED_TIME or match is None:
        raise DerError("not a DER GeneralizedTime")
    digits = match.group(1)
    fraction = (match.group(2) or b"")[:6].ljust(6, b"0")
    try:
        return datetime(
            int(digits[0:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            int(digits[12:14]),
            int(fraction),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise DerError(f"GeneralizedTime is not a valid date: {exc}") from exc


# --------------------------------------------------------------------------- whole elements


_CANONICAL_PRIMITIVES: Final = frozenset({0, 1, 2, 3, 5, 6, 10})


def _check_primitive(number: int, data: bytes, start: int, stop: int, offset: int) -> None:
    """The DER rules for the contents of universal primitive types that have them."""
    size = stop - start
    if number == 0:
        raise DerError(f"universal tag 0 at offset {offset}")
    if number == 1 and (size != 1 or data[start] not in (0x00, 0xFF)):
        raise DerError(f"non-DER BOOLEAN at offset {offset}")
    if number in (2, 10):
        if not size:
            raise DerError(f"empty INTEGER at offset {offset}")
        if size > 1 and (
            (data[start] == 0x00 and data[start + 1] < 0x80)
            or (data[start] == 0xFF and data[start + 1] >= 0x80)
        ):
            raise DerError(f"non-minimal INTEGER at offset {offset}")
    if number == 5 and size:
        raise DerError(f"NULL with content at offset {offset}")
    if number == 3 and (not size or data[start] > 7 or (size == 1 and data[start] != 0)):
        raise DerError(f"malformed BIT STRING at offset {offset}")
    if number == 6:
        problem = _oid_problem(data[start:stop])
        if problem is not None:
            raise DerError(f"{problem} at offset {offset}")


def _walk(data: bytes, pos: int, end: int, depth: int) -> None:
    while pos < end:
        # read_header's common case, inlined: this loop runs once per element of the input.
        identifier = data[pos]
        length = data[pos + 1] if pos + 1 < end else 0x80
        if length < 0x80 and identifier & 0x1F != 0x1F and pos + 2 + length <= end:
            number, start, stop = identifier & 0x1F, pos + 2, pos + 2 + length
        else:
            identifier, number, start, stop = read_header(data, pos, end)
        if identifier < 0x40:  # universal class
            if identifier & 0x20:
                if number not in _CONSTRUCTED_UNIVERSAL:
                    raise DerError(
                        f"constructed form of universal type {number} at offset {pos} (BER)"
                    )
            elif number in (16, 17):
                raise DerError(f"primitive SEQUENCE/SET at offset {pos}")
            elif number in _CANONICAL_PRIMITIVES:
                _check_primitive(number, data, start, stop, pos)
        if identifier & 0x20:
            if depth >= MAX_DEPTH:
                raise DerError(f"nesting deeper than {MAX_DEPTH}")
            _walk(data, start, stop, depth + 1)
        pos = stop


def check_der(data: bytes) -> None:
    """Raise DerError unless ``data`` is exactly one DER element, canonical throughout.

    Every element at every depth (at most :data:`MAX_DEPTH`) is read: definite
    minimal lengths, minimal tags, no trailing bytes, canonical BOOLEAN, INTEGER,
    ENUMERATED, NULL, BIT STRING and OBJECT IDENTIFIER (sub-identifiers of at most
    :data:`MAX_ARC_OCTETS` octets), no constructed strings. Linear in ``len(data)``.
    """
    _, _, _, stop = read_header(data, 0, len(data))
    if stop != len(data):
        raise DerError(f"{len(data) - stop} trailing byte(s) after the DER element")
    _walk(data, 0, len(data), 0)


def der_problem(data: bytes) -> str | None:
    """``None`` if :func:`check_der` accepts ``data``, else why not."""
    try:
        check_der(data)
    except DerError as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- typed walks

Ids = Collection[int] | None
"""Identifier octets an element may have (``None``: any)."""
Body = Callable[["Cursor"], object]
"""Checks the contents of one element, given a cursor over them."""


class Cursor:
    """A strict cursor over the elements inside one element's contents.

    A typed walk reads raw bytes against an ASN.1 definition without decoding
    anything: :meth:`take` consumes the next element if it has an expected
    identifier and checks its contents with a :data:`Body` (which gets its own
    cursor; whatever that cursor has not consumed when the body returns is an
    error); :meth:`value` consumes a primitive element and returns its contents;
    :meth:`done` fails when anything is left. Errors are :class:`DerError` whose
    message names the path (:attr:`where`) of the element. Names are only
    assembled for an error, so a walk costs little more than reading headers.
    """

    __slots__ = ("data", "end", "index", "label", "last", "parent", "pos")

    def __init__(
        self,
        data: bytes,
        start: int = 0,
        end: int | None = None,
        where: str = "",
        *,
        parent: Cursor | None = None,
        index: int | None = None,
    ) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end
        self.label = where
        self.index = index
        self.parent = parent
        self.last: tuple[str, int | None] = ("", None)

    @property
    def where(self) -> str:
        """The path of this cursor's element: labels from the outermost, dot-separated."""
        names: list[str] = []
        cursor: Cursor | None = self
        while cursor is not None:
            if cursor.label:
                names.append(_named(cursor.label, cursor.index))
            cursor = cursor.parent
        return ".".join(reversed(names))

    def peek(self) -> int | None:
        """The identifier octet of the next element (``None`` at the end)."""
        return self.data[self.pos] if self.pos < self.end else None

    def take(
        self,
        label: str,
        ids: Ids,
        body: Body | None = None,
        *,
        optional: bool = False,
        index: int | None = None,
    ) -> bool:
        """Consume the next element as ``label`` (``label[index]`` in a SET OF / SEQUENCE OF)
        and check its contents with ``body``; return whether it was there."""
        ident = self.data[self.pos] if self.pos < self.end else None
        if ident is None or (ids is not None and ident not in ids):
            if optional:
                return False
            found = "nothing" if ident is None else f"identifier 0x{ident:02x}"
            raise DerError(f"{self.where}: expected {_named(label, index)}, found {found}")
        pos = self.pos
        length = self.data[pos + 1] if pos + 1 < self.end else 0x80
        if length < 0x80 and ident & 0x1F != 0x1F and pos + 2 + length <= self.end:
            start, stop = pos + 2, pos + 2 + length  # read_header's common case, inlined
        else:
            _, _, start, stop = read_header(self.data, pos, self.end)
        self.pos = stop
        self.last = (label, index)
        if body is not None:
            inner = Cursor(self.data, start, stop, label, parent=self, index=index)
            body(inner)
            if inner.pos < stop:
                inner.done()
        return True

    def value(self, label: str, ids: Ids) -> bytes:
        """Consume the next element as ``label`` and return its contents."""
        start = self.pos
        self.take(label, ids)
        _, _, contents, stop = read_header(self.data, start, self.end)
        return self.data[contents:stop]

    def done(self) -> None:
        """DerError if any element is left unread."""
        if self.pos < self.end:
            label, index = self.last
            after = f"after {_named(label, index)}" if label else "where nothing is allowed"
            raise DerError(
                f"{self.where}: {self.end - self.pos} trailing byte(s) {after} "
                "that its ASN.1 type does not allow"
            )


def _named(label: str, index: int | None) -> str:
    return label if index is None else f"{label}[{index}]"


def one(label: str, ids: Ids, body: Body | None = None) -> Body:
    """Body of an EXPLICIT wrapper (or an OCTET STRING): exactly one element."""

    def check(c: Cursor) -> None:
        c.take(label, ids, body)

    return check


def each(label: str, ids: Ids, body: Body | None = None, *, nonempty: bool = False) -> Body:
    """Body of a SET OF / SEQUENCE OF: every element is an ``ids`` element.

    ``nonempty`` for a ``SIZE (1..MAX)`` type.
    """

    def check(c: Cursor) -> None:
        if nonempty and c.peek() is None:
            raise DerError(f"{c.where}: empty, but its type requires at least one {label}")
        index = 0
        while c.pos < c.end:
            c.take(label, ids, body, index=index)
            index += 1

    return check
