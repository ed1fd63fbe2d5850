"""The DER fields that the leaf formats share: value rules, encoders and strict readers.

Both versions of the canonical leaf (:mod:`court.evidence.leaf`, version 1,
and :mod:`court.evidence.leaf_v2`) write identifiers, metadata and times the
same way and under the same value rules; those rules and codecs live here
once. :class:`LeafError` is the one error of the leaf formats: its messages
name the field but never repeat the value (a misused field may hold personal
data).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from court.der import (
    TAG_GENERALIZED_TIME,
    TAG_SEQUENCE,
    TAG_UTF8_STRING,
    Tlv,
    encode_length,
    read_children,
)
from court.errors import CourtError

__all__ = [
    "ENTRY_ID_PATTERN",
    "ENTRY_ID_RULE",
    "INSTITUTION_PATTERN",
    "INSTITUTION_RULE",
    "LOAN_REF_PATTERN",
    "LOAN_REF_RULE",
    "MAX_METADATA_ENTRIES",
    "MAX_METADATA_VALUE_BYTES",
    "METADATA_KEY_PATTERN",
    "LeafError",
    "encode_identifier",
    "encode_metadata",
    "encode_time",
    "expect",
    "octets",
    "parse_time",
    "read_metadata",
    "text",
    "tlv",
]

#: entryId and supersedes: 1 to 64 characters from [A-Za-z0-9_-].
ENTRY_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: institution (owner, submitter): 1 to 128 characters from [A-Za-z0-9._:-].
INSTITUTION_PATTERN: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: loanRef: 1 to 128 characters from [A-Za-z0-9._:/-] (an opaque id, never personal data).
LOAN_REF_PATTERN: Final = re.compile(r"[A-Za-z0-9._:/-]{1,128}")
#: Metadata keys: 1 to 64 characters from [a-z0-9_.-].
METADATA_KEY_PATTERN: Final = re.compile(r"[a-z0-9_.-]{1,64}")
MAX_METADATA_ENTRIES: Final = 16
MAX_METADATA_VALUE_BYTES: Final = 256
ENTRY_ID_RULE: Final = "1 to 64 characters from [A-Za-z0-9_-]"
INSTITUTION_RULE: Final = "1 to 128 characters from [A-Za-z0-9._:-]"
LOAN_REF_RULE: Final = (
    "1 to 128 characters from [A-Za-z0-9._:/-] (the lender's opaque loan id, never personal data)"
)
_TIME: Final = re.compile(rb"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d{1,6}))?Z")


class LeafError(CourtError):
    """A leaf (or private record) cannot be encoded, or the bytes are not a canonical one.

    ``field`` names the attribute whose value breaks a rule, when one does
    (the message starts with it). Messages never repeat the offending value:
    a misused field may hold personal data.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# ------------------------------------------------------------------ encoding


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element (definite length, shortest form)."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    return bytes((tag,)) + encode_length(n) + content


def encode_identifier(
    tag: int, field: str, value: object, pattern: re.Pattern[str], rule: str
) -> bytes:
    """An ASCII identifier field; ``rule`` says what ``pattern`` allows."""
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise LeafError(f"{field} must be {rule}", field=field)
    return tlv(tag, value.encode("ascii"))


def octets(tag: int, field: str, value: object, size: int, what: str) -> bytes:
    """A fixed-size OCTET STRING field (``what`` says what the bytes are)."""
    if not isinstance(value, bytes) or value.__class__ is not bytes or len(value) != size:
        raise LeafError(f"{field} must be {size} bytes ({what})", field=field)
    return tlv(tag, value)


def encode_metadata(metadata: object) -> bytes:
    """The metadata SEQUENCE: at most 16 (key, value) pairs, sorted by unique key."""
    if not isinstance(metadata, tuple | list):
        raise LeafError("metadata must be a tuple of (key, value) pairs", field="metadata")
    if len(metadata) > MAX_METADATA_ENTRIES:
        raise LeafError(
            f"metadata has {len(metadata)} entries; at most {MAX_METADATA_ENTRIES} are allowed",
            field="metadata",
        )
    entries = []
    last: str | None = None
    for index, item in enumerate(metadata):
        if not (isinstance(item, tuple) and len(item) == 2):
            raise LeafError(f"metadata entry {index} is not a (key, value) pair", field="metadata")
        key, value = item
        if not isinstance(key, str) or METADATA_KEY_PATTERN.fullmatch(key) is None:
            raise LeafError(
                f"metadata key {index} must be 1 to 64 characters from [a-z0-9_.-]",
                field="metadata",
            )
        if last is not None and not key > last:
            raise LeafError("metadata keys must be unique and sorted", field="metadata")
        last = key
        if not isinstance(value, str):
            raise LeafError(f"metadata[{key}] value must be a string", field="metadata")
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise LeafError(
                f"metadata[{key}] value is not valid Unicode text", field="metadata"
            ) from exc
        if len(raw) > MAX_METADATA_VALUE_BYTES:
            raise LeafError(
                f"metadata[{key}] value is {len(raw)} bytes of UTF-8; "
                f"at most {MAX_METADATA_VALUE_BYTES} are allowed",
                field="metadata",
            )
        pair = tlv(TAG_UTF8_STRING, key.encode("ascii")) + tlv(TAG_UTF8_STRING, raw)
        entries.append(tlv(TAG_SEQUENCE, pair))
    return tlv(TAG_SEQUENCE, b"".join(entries))


def encode_time(what: str, value: object) -> bytes:
    """A DER GeneralizedTime in UTC, with a fraction of at most six digits when not zero."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise LeafError(f"{what} must be a timezone-aware datetime", field=what)
    if value.utcoffset():
        value = value.astimezone(UTC)
    text = (
        f"{value.year:04d}{value.month:02d}{value.day:02d}"
        f"{value.hour:02d}{value.minute:02d}{value.second:02d}"
    )
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    raw = (text + "Z").encode("ascii")
    return bytes((TAG_GENERALIZED_TIME, len(raw))) + raw


# ------------------------------------------------------------------ decoding


def expect(children: list[Tlv], pos: int, tag: int, what: str) -> Tlv:
    """The element at ``pos``, which must have ``tag``."""
    if pos >= len(children):
        raise LeafError(f"the encoding ends before {what}")
    element = children[pos]
    if element.tag != tag:
        raise LeafError(f"{what}: expected tag 0x{tag:02x}, found 0x{element.tag:02x}")
    return element


def text(element: Tlv, what: str) -> str:
    """The UTF-8 text of an element."""
    try:
        return element.contents.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LeafError(f"{what} is not valid UTF-8") from exc


def parse_time(element: Tlv, what: str) -> datetime:
    """A GeneralizedTime element as an aware UTC datetime (its canonical form is checked
    by re-encoding)."""
    m = _TIME.fullmatch(element.contents)
    if m is None:
        raise LeafError(f"{what} is not a DER GeneralizedTime in UTC")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac = m.group(7)
    micro = int(frac.ljust(6, b"0")) if frac else 0
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError as exc:
        raise LeafError(f"{what} is not a valid date and time") from exc


def read_metadata(element: Tlv) -> tuple[tuple[str, str], ...]:
    """The (key, value) pairs of a metadata SEQUENCE (their rules are checked by re-encoding)."""
    metadata: list[tuple[str, str]] = []
    for entry in read_children(element.contents):
        if entry.tag != TAG_SEQUENCE:
            raise LeafError("metadata entries are SEQUENCEs")
        kv = read_children(entry.contents)
        if len(kv) != 2:
            raise LeafError("a metadata entry is a key and a value")
        metadata.append(
            (
                text(expect(kv, 0, TAG_UTF8_STRING, "metadata key"), "metadata key"),
                text(expect(kv, 1, TAG_UTF8_STRING, "metadata value"), "metadata value"),
            )
        )
    return tuple(metadata)
