"""The canonical leaf of the evidence log: a deterministic DER encoding.

Every registered record is one leaf of the log; its Merkle leaf hash is
``SHA-256(0x00 || leaf)`` (RFC 9162). A court decodes leaves with this module
alone, without any server code. The encoding is DER (ITU-T X.690), so any
ASN.1 tool can read it, and there is exactly one encoding of each value:
:func:`decode_leaf` re-encodes what it decoded and rejects the input unless
the bytes are identical.

ASN.1 module (also in ``docs/leaf-format.md``)::

    EvidenceLeaf DEFINITIONS IMPLICIT TAGS ::= BEGIN

    EvidenceLeaf ::= SEQUENCE {
        version           INTEGER { v1(1) },
        entryId           UTF8String,        -- 1..64 of [A-Za-z0-9_-]
        institution       UTF8String,        -- 1..128 of [A-Za-z0-9._:-]
        loanRef           UTF8String,        -- 1..128 of [A-Za-z0-9._:/-]
        kind              EvidenceKind,
        hashAlgorithm     OBJECT IDENTIFIER, -- of the document digest
        digest            OCTET STRING,      -- the document digest, of the
                                             -- hashAlgorithm's length
        occurredAt        GeneralizedTime,   -- stated by the lender
        receivedAt        GeneralizedTime,   -- the gateway's clock
        tokenHash         OCTET STRING (SIZE (32)),
                          -- SHA-256 of the DER TimeStampToken
        supersedes        [0] UTF8String OPTIONAL,  -- entry id it corrects
        metadata          SEQUENCE SIZE (0..16) OF MetadataEntry,
                          -- sorted by key, keys unique; may be empty
        loanSequence      INTEGER (1..MAX),  -- position in the loan's chain
        previousLeafHash  [1] OCTET STRING (SIZE (32)) OPTIONAL
                          -- RFC 9162 leaf hash of the loan's previous leaf;
                          -- absent if and only if loanSequence = 1
    }

    EvidenceKind ::= ENUMERATED {
        loanContract(1), repaymentSchedule(2), repayment(3), overdueNotice(4),
        collateralStatus(5), collectionCall(6), collectionVisit(7),
        collectionMessage(8), settlementAgreement(9), debtAssignment(10),
        other(11),
        -- recorded by the gateway itself: grants and admin actions
        loanDelegated(12), delegationRevoked(13), loanShared(14),
        shareRevoked(15), institutionChanged(16)
    }

    MetadataEntry ::= SEQUENCE {
        key    UTF8String,   -- 1..64 of [a-z0-9_.-]
        value  UTF8String    -- at most 256 bytes of UTF-8; may be empty
    }

    END

The value rules in the comments are those of the API (``EvidenceSubmission``
in ``protos/evidence_gateway/v1/common.proto``). :func:`encode_leaf` enforces
every one of them, so :func:`decode_leaf`, which re-encodes what it decoded,
rejects a leaf that breaks any: a well-formed DER leaf whose loanRef is a
borrower's name and identity number is not a canonical leaf. The rules are
exported (``ENTRY_ID_PATTERN``, ``LOAN_REF_PATTERN``, ...) so that other code
can apply the same ones. Numbers that look like personal data (identity,
mobile and card numbers) are refused by the gateway on input
(:mod:`court.evidence.personal_data`), not by this encoding: a court must not
call an authentic leaf malformed because a loan number passes a check digit.

hashAlgorithm is one of SHA-256 2.16.840.1.101.3.4.2.1, SHA-384
2.16.840.1.101.3.4.2.2, SHA-512 2.16.840.1.101.3.4.2.3 or SM3
1.2.156.10197.1.401, and the digest has that algorithm's length.

Times are UTC GeneralizedTime under the DER rules: ``YYYYMMDDHHMMSSZ`` with a
fractional second of at most six digits (microseconds) when it is not zero,
without trailing zeros. The gateway records ``receivedAt`` in whole
milliseconds; ``occurredAt`` keeps the precision the lender sent, up to
microseconds, so that a resubmission compares equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from court.der import (
    TAG_ENUMERATED,
    TAG_GENERALIZED_TIME,
    TAG_INTEGER,
    TAG_OCTET_STRING,
    TAG_OID,
    TAG_SEQUENCE,
    TAG_UTF8_STRING,
    DerError,
    Tlv,
    decode_integer,
    encode_integer,
    encode_length,
    encode_oid,
    read_children,
    read_tlv,
)
from court.errors import CourtError

__all__ = [
    "ENTRY_ID_PATTERN",
    "HASH_OIDS",
    "INSTITUTION_PATTERN",
    "KIND_NUMBERS",
    "LEAF_VERSION",
    "LOAN_REF_PATTERN",
    "MAX_METADATA_ENTRIES",
    "MAX_METADATA_VALUE_BYTES",
    "METADATA_KEY_PATTERN",
    "LeafError",
    "LeafFields",
    "decode_leaf",
    "encode_leaf",
]

LEAF_VERSION: Final = 1

#: EvidenceKind names (as in the API, lower case) and their ENUMERATED values.
KIND_NUMBERS: Final[dict[str, int]] = {
    "loan_contract": 1,
    "repayment_schedule": 2,
    "repayment": 3,
    "overdue_notice": 4,
    "collateral_status": 5,
    "collection_call": 6,
    "collection_visit": 7,
    "collection_message": 8,
    "settlement_agreement": 9,
    "debt_assignment": 10,
    "other": 11,
    # Recorded by the gateway itself: grants and admin actions.
    "loan_delegated": 12,
    "delegation_revoked": 13,
    "loan_shared": 14,
    "share_revoked": 15,
    "institution_changed": 16,
}
_KIND_NAMES: Final = {n: k for k, n in KIND_NUMBERS.items()}

#: Document hash algorithms: name -> (OID, digest size).
HASH_OIDS: Final[dict[str, tuple[str, int]]] = {
    "sha256": ("2.16.840.1.101.3.4.2.1", 32),
    "sha384": ("2.16.840.1.101.3.4.2.2", 48),
    "sha512": ("2.16.840.1.101.3.4.2.3", 64),
    "sm3": ("1.2.156.10197.1.401", 32),
}
_OID_DER: Final = {name: encode_oid(oid) for name, (oid, _) in HASH_OIDS.items()}
_NAME_BY_OID_DER: Final = {der: name for name, der in _OID_DER.items()}
_KIND_DER: Final = {k: bytes((TAG_ENUMERATED, 1, n)) for k, n in KIND_NUMBERS.items()}
_VERSION_DER: Final = encode_integer(LEAF_VERSION)
_TAG_SUPERSEDES: Final = 0x80  # [0] IMPLICIT UTF8String
_TAG_PREVIOUS: Final = 0x81  # [1] IMPLICIT OCTET STRING
_HASH_SIZE: Final = 32

#: entryId and supersedes: 1 to 64 characters from [A-Za-z0-9_-].
ENTRY_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: institution: 1 to 128 characters from [A-Za-z0-9._:-].
INSTITUTION_PATTERN: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: loanRef: 1 to 128 characters from [A-Za-z0-9._:/-] (an opaque id, never personal data).
LOAN_REF_PATTERN: Final = re.compile(r"[A-Za-z0-9._:/-]{1,128}")
#: Metadata keys: 1 to 64 characters from [a-z0-9_.-].
METADATA_KEY_PATTERN: Final = re.compile(r"[a-z0-9_.-]{1,64}")
MAX_METADATA_ENTRIES: Final = 16
MAX_METADATA_VALUE_BYTES: Final = 256
_ENTRY_ID: Final = "1 to 64 characters from [A-Za-z0-9_-]"
_INSTITUTION: Final = "1 to 128 characters from [A-Za-z0-9._:-]"
_LOAN_REF: Final = (
    "1 to 128 characters from [A-Za-z0-9._:/-] (the lender's opaque loan id, never personal data)"
)
_TIME = re.compile(rb"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d{1,6}))?Z")


class LeafError(CourtError):
    """A leaf cannot be encoded, or the bytes are not a canonical evidence leaf.

    ``field`` names the :class:`LeafFields` attribute whose value breaks a rule,
    when one does (the message starts with it). Messages never repeat the
    offending value: a misused field may hold personal data.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class LeafFields:
    """The content of one canonical leaf (see the module docstring for each field).

    ``kind`` is a key of :data:`KIND_NUMBERS`; ``hash_algorithm`` a key of
    :data:`HASH_OIDS`; times are timezone-aware; ``previous_leaf_hash`` is
    ``None`` exactly when ``loan_sequence`` is 1.
    """

    entry_id: str
    institution: str
    loan_ref: str
    kind: str
    hash_algorithm: str
    digest: bytes
    occurred_at: datetime
    received_at: datetime
    token_sha256: bytes
    loan_sequence: int
    supersedes: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    previous_leaf_hash: bytes | None = None
    version: int = LEAF_VERSION


# ------------------------------------------------------------------ encoding


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    return bytes((tag,)) + encode_length(n) + content


def _identifier(tag: int, field: str, value: object, pattern: re.Pattern[str], rule: str) -> bytes:
    """An ASCII identifier field; ``rule`` says what ``pattern`` allows."""
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise LeafError(f"{field} must be {rule}", field=field)
    return _tlv(tag, value.encode("ascii"))


def _metadata(metadata: object) -> bytes:
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
        pair = _tlv(TAG_UTF8_STRING, key.encode("ascii")) + _tlv(TAG_UTF8_STRING, raw)
        entries.append(_tlv(TAG_SEQUENCE, pair))
    return _tlv(TAG_SEQUENCE, b"".join(entries))


def _time(what: str, value: object) -> bytes:
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


def encode_leaf(fields: LeafFields) -> bytes:
    """Return the canonical DER encoding of ``fields``.

    Raises :class:`LeafError`, naming the field, when a value breaks a rule of
    the module docstring: an identifier outside its length or character set
    (entry_id, institution, loan_ref, supersedes), metadata beyond its bounds or
    unsorted, an unknown kind or algorithm, a digest of the wrong length, a
    token hash or previous leaf hash that is not 32 bytes, a loan_sequence
    below 1, a previous leaf hash present for sequence 1 or missing for a later
    one, ...
    """
    f = fields
    if f.version != LEAF_VERSION:
        raise LeafError(f"version is not supported (only {LEAF_VERSION})", field="version")
    entry_id = _identifier(TAG_UTF8_STRING, "entry_id", f.entry_id, ENTRY_ID_PATTERN, _ENTRY_ID)
    institution = _identifier(
        TAG_UTF8_STRING, "institution", f.institution, INSTITUTION_PATTERN, _INSTITUTION
    )
    loan_ref = _identifier(TAG_UTF8_STRING, "loan_ref", f.loan_ref, LOAN_REF_PATTERN, _LOAN_REF)
    kind = _KIND_DER.get(f.kind)
    if kind is None:
        raise LeafError("kind is not a known evidence kind", field="kind")
    alg = _OID_DER.get(f.hash_algorithm)
    if alg is None:
        raise LeafError(
            "hash_algorithm is not a supported document hash (sha256, sha384, sha512, sm3)",
            field="hash_algorithm",
        )
    digest = f.digest
    size = HASH_OIDS[f.hash_algorithm][1]
    if digest.__class__ is not bytes or len(digest) != size:
        raise LeafError(f"digest must be {size} bytes for {f.hash_algorithm}", field="digest")
    token_hash = f.token_sha256
    if token_hash.__class__ is not bytes or len(token_hash) != _HASH_SIZE:
        raise LeafError("token_sha256 must be 32 bytes (a SHA-256 hash)", field="token_sha256")
    seq = f.loan_sequence
    if seq.__class__ is not int or seq < 1:
        raise LeafError("loan_sequence must be an int >= 1", field="loan_sequence")
    prev = f.previous_leaf_hash
    if (prev is None) != (seq == 1):
        raise LeafError(
            "previous_leaf_hash must be absent for loan_sequence 1 and only then",
            field="previous_leaf_hash",
        )
    if prev is not None and (prev.__class__ is not bytes or len(prev) != _HASH_SIZE):
        raise LeafError("previous_leaf_hash must be 32 bytes", field="previous_leaf_hash")
    supersedes = (
        b""
        if f.supersedes is None
        else _identifier(_TAG_SUPERSEDES, "supersedes", f.supersedes, ENTRY_ID_PATTERN, _ENTRY_ID)
    )

    body = b"".join(
        (
            _VERSION_DER,
            entry_id,
            institution,
            loan_ref,
            kind,
            alg,
            _tlv(TAG_OCTET_STRING, digest),
            _time("occurred_at", f.occurred_at),
            _time("received_at", f.received_at),
            b"\x04\x20" + token_hash,
            supersedes,
            _metadata(f.metadata),
            encode_integer(seq),
            b"" if prev is None else b"\x81\x20" + prev,
        )
    )
    return _tlv(TAG_SEQUENCE, body)


# ------------------------------------------------------------------ decoding


def _expect(children: list[Tlv], pos: int, tag: int, what: str) -> Tlv:
    if pos >= len(children):
        raise LeafError(f"leaf ends before {what}")
    element = children[pos]
    if element.tag != tag:
        raise LeafError(f"{what}: expected tag 0x{tag:02x}, found 0x{element.tag:02x}")
    return element


def _text(element: Tlv, what: str) -> str:
    try:
        return element.contents.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LeafError(f"{what} is not valid UTF-8") from exc


def _parse_time(element: Tlv, what: str) -> datetime:
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


def decode_leaf(data: bytes) -> LeafFields:
    """Decode a canonical leaf; raise :class:`LeafError` unless ``data`` is exactly one.

    Strict: after decoding, the fields are encoded again and must give back
    ``data`` byte for byte (so BER forms, unsorted metadata, trailing bytes,
    redundant fraction zeros and the like are all rejected).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise LeafError("a leaf is bytes")
    data = bytes(data)
    try:
        outer, end = read_tlv(data)
        if outer.tag != TAG_SEQUENCE:
            raise LeafError("a leaf is a DER SEQUENCE")
        if end != len(data):
            raise LeafError("trailing bytes after the leaf")
        c = read_children(outer.contents)
        version = decode_integer(_expect(c, 0, TAG_INTEGER, "version"))
        if version != LEAF_VERSION:
            # Not the value itself: str() refuses an INTEGER of more than 4,300 digits.
            raise LeafError(f"leaf version is not supported (only {LEAF_VERSION})")
        entry_id = _text(_expect(c, 1, TAG_UTF8_STRING, "entryId"), "entryId")
        institution = _text(_expect(c, 2, TAG_UTF8_STRING, "institution"), "institution")
        loan_ref = _text(_expect(c, 3, TAG_UTF8_STRING, "loanRef"), "loanRef")
        kind_el = _expect(c, 4, TAG_ENUMERATED, "kind")
        kind = _KIND_NAMES.get(decode_integer(kind_el))
        if kind is None:
            raise LeafError("kind is not a known EvidenceKind")
        # Compared encoded: an OID of the input is never converted to text, whatever its arcs.
        alg = _NAME_BY_OID_DER.get(_expect(c, 5, TAG_OID, "hashAlgorithm").encoded)
        if alg is None:
            raise LeafError("hashAlgorithm is not a supported document hash")
        digest = _expect(c, 6, TAG_OCTET_STRING, "digest").contents
        occurred = _parse_time(_expect(c, 7, TAG_GENERALIZED_TIME, "occurredAt"), "occurredAt")
        received = _parse_time(_expect(c, 8, TAG_GENERALIZED_TIME, "receivedAt"), "receivedAt")
        token_hash = _expect(c, 9, TAG_OCTET_STRING, "tokenHash").contents
        pos = 10
        supersedes = None
        if pos < len(c) and c[pos].tag == _TAG_SUPERSEDES:
            supersedes = _text(c[pos], "supersedes")
            pos += 1
        meta_el = _expect(c, pos, TAG_SEQUENCE, "metadata")
        metadata: list[tuple[str, str]] = []
        for entry in read_children(meta_el.contents):
            if entry.tag != TAG_SEQUENCE:
                raise LeafError("metadata entries are SEQUENCEs")
            kv = read_children(entry.contents)
            if len(kv) != 2:
                raise LeafError("a metadata entry is a key and a value")
            metadata.append(
                (
                    _text(_expect(kv, 0, TAG_UTF8_STRING, "metadata key"), "metadata key"),
                    _text(_expect(kv, 1, TAG_UTF8_STRING, "metadata value"), "metadata value"),
                )
            )
        pos += 1
        sequence = decode_integer(_expect(c, pos, TAG_INTEGER, "loanSequence"))
        pos += 1
        previous = None
        if pos < len(c) and c[pos].tag == _TAG_PREVIOUS:
            previous = c[pos].contents
            pos += 1
        if pos != len(c):
            raise LeafError("unexpected elements at the end of the leaf")
        fields = LeafFields(
            entry_id=entry_id,
            institution=institution,
            loan_ref=loan_ref,
            kind=kind,
            hash_algorithm=alg,
            digest=digest,
            occurred_at=occurred,
            received_at=received,
            token_sha256=token_hash,
            loan_sequence=sequence,
            supersedes=supersedes,
            metadata=tuple(metadata),
            previous_leaf_hash=previous,
            version=version,
        )
        again = encode_leaf(fields)
    except DerError as exc:
        raise LeafError(f"not a DER evidence leaf: {exc}") from exc
    if again != data:
        raise LeafError("the leaf is not in canonical DER form")
    return fields
