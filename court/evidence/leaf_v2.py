"""Version 2 of the canonical leaf: a public leaf that reveals nothing (可用不可见).

The log is public and permanent: anyone may replay and audit it. A version 2
leaf therefore holds, in clear, only what an auditor needs and what says
nothing of any institution's business: the entry id (random), an opaque
per-loan key, the loan's chain position and previous leaf hash, the gateway's
reception time, the SHA-256 of the time-stamp token, and a salted commitment
to the private record. The private record (owning lender, submitting
institution, loan reference, kind, document hash algorithm and digest,
occurrence time, metadata, superseded entry) is never in the log; its owner,
and whoever the record is shared with, get it with the salts (the *opening*,
:mod:`court.evidence.opening`) and can show that the leaf commits to it.

ASN.1 module (also in ``docs/leaf-format.md``)::

    EvidenceLeafV2 DEFINITIONS IMPLICIT TAGS ::= BEGIN

    EvidenceLeafV2 ::= SEQUENCE {
        version           INTEGER { v2(2) },
        entryId           UTF8String,        -- 1..64 of [A-Za-z0-9_-]; the gateway's
                                             -- ms time and 80 random bits
        loanKey           OCTET STRING (SIZE (32)),  -- opaque per-loan key
        loanSequence      INTEGER (1..MAX),  -- position in the loan's chain
        previousLeafHash  [1] OCTET STRING (SIZE (32)) OPTIONAL,
                          -- absent if and only if loanSequence = 1
        receivedAt        GeneralizedTime,   -- the gateway's clock
        tokenHash         OCTET STRING (SIZE (32)),  -- SHA-256 of the token
        commitment        OCTET STRING (SIZE (32))   -- of the PrivateRecord
    }

    PrivateRecord ::= SEQUENCE {
        salt              OCTET STRING (SIZE (32)),  -- random, per record
        owner             UTF8String,        -- the lender owning the loan
        submitter         UTF8String,        -- the institution that submitted
        loanRef           UTF8String,        -- 1..128 of [A-Za-z0-9._:/-]
        kind              EvidenceKind,      -- as in version 1
        hashAlgorithm     OBJECT IDENTIFIER, -- of the document digest
        digest            OCTET STRING,      -- of the hashAlgorithm's length
        occurredAt        GeneralizedTime,   -- stated by the submitter
        supersedes        [0] UTF8String OPTIONAL,  -- entry id it corrects
        metadata          SEQUENCE SIZE (0..16) OF MetadataEntry
    }

    LoanKeyInput ::= SEQUENCE {
        loanSalt          OCTET STRING (SIZE (32)),  -- secret, per loan
        owner             UTF8String,
        loanRef           UTF8String
    }

    END

with ``EvidenceKind`` and ``MetadataEntry`` as in version 1
(:mod:`court.evidence.leaf`), and

* ``commitment = SHA-256("court-evidence/v2/record" || 0x00 || DER(PrivateRecord))``
* ``loanKey = SHA-256("court-evidence/v2/loan-key" || 0x00 || DER(LoanKeyInput))``

The tags are ASCII. Every value rule of version 1 applies to the same fields
here (identifiers, metadata, times, digest sizes), and both encodings are
canonical: the decoders re-encode what they decoded and refuse the input
unless the bytes are identical.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from court.der import (
    TAG_ENUMERATED,
    TAG_GENERALIZED_TIME,
    TAG_OCTET_STRING,
    TAG_OID,
    TAG_SEQUENCE,
    TAG_UTF8_STRING,
    DerError,
    encode_integer,
    read_children,
    read_tlv,
)
from court.evidence.fields import (
    ENTRY_ID_PATTERN,
    ENTRY_ID_RULE,
    INSTITUTION_PATTERN,
    INSTITUTION_RULE,
    LOAN_REF_PATTERN,
    LOAN_REF_RULE,
    LeafError,
    encode_identifier,
    encode_metadata,
    encode_time,
    expect,
    octets,
    parse_time,
    read_metadata,
    text,
    tlv,
)
from court.evidence.leaf import (
    LEAF_VERSION,
    chain_fields,
    check_digest,
    hash_name_of_oid_der,
    hash_oid_der,
    kind_der,
    kind_name,
    read_chain,
    read_supersedes,
    read_version,
    supersedes_der,
    token_hash_der,
)

__all__ = [
    "COMMITMENT_TAG",
    "LOAN_KEY_TAG",
    "MAX_PRIVATE_RECORD_BYTES",
    "SALT_SIZE",
    "PrivateRecord",
    "PublicLeaf",
    "decode_private_record",
    "decode_public_leaf",
    "derive_loan_key",
    "encode_private_record",
    "encode_public_leaf",
    "record_commitment",
]

SALT_SIZE: Final = 32
COMMITMENT_TAG: Final = b"court-evidence/v2/record\x00"
LOAN_KEY_TAG: Final = b"court-evidence/v2/loan-key\x00"
#: A private record is at most a few KiB (16 metadata entries of 256 bytes); more is refused
#: before it is parsed.
MAX_PRIVATE_RECORD_BYTES: Final = 8192
_VERSION_DER: Final = encode_integer(LEAF_VERSION)
_HASH_SIZE: Final = 32


@dataclass(frozen=True, slots=True)
class PublicLeaf:
    """The content of one version 2 leaf: only what the public log may show.

    ``loan_key`` and ``commitment`` are 32 bytes; ``previous_leaf_hash`` is
    ``None`` exactly when ``loan_sequence`` is 1.
    """

    entry_id: str
    loan_key: bytes
    loan_sequence: int
    received_at: datetime
    token_sha256: bytes
    commitment: bytes
    previous_leaf_hash: bytes | None = None
    version: int = LEAF_VERSION


@dataclass(frozen=True, slots=True)
class PrivateRecord:
    """The private fields of a version 2 record, with their random per-record ``salt``.

    ``kind`` is a key of :data:`court.evidence.leaf.KIND_NUMBERS`,
    ``hash_algorithm`` one of :data:`court.evidence.leaf.HASH_OIDS`.
    """

    salt: bytes
    owner: str
    submitter: str
    loan_ref: str
    kind: str
    hash_algorithm: str
    digest: bytes
    occurred_at: datetime
    supersedes: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()


# ------------------------------------------------------------------ encoding


def encode_public_leaf(leaf: PublicLeaf) -> bytes:
    """The canonical DER of a version 2 leaf; :class:`LeafError` naming the field when a
    value breaks a rule (see the module docstring)."""
    if leaf.version != LEAF_VERSION:
        raise LeafError(
            f"version is not supported by this encoder (only {LEAF_VERSION})", field="version"
        )
    body = b"".join(
        (
            _VERSION_DER,
            encode_identifier(
                TAG_UTF8_STRING, "entry_id", leaf.entry_id, ENTRY_ID_PATTERN, ENTRY_ID_RULE
            ),
            octets(TAG_OCTET_STRING, "loan_key", leaf.loan_key, _HASH_SIZE, "a SHA-256 hash"),
            chain_fields(leaf.loan_sequence, leaf.previous_leaf_hash),
            encode_time("received_at", leaf.received_at),
            token_hash_der(leaf.token_sha256),
            octets(TAG_OCTET_STRING, "commitment", leaf.commitment, _HASH_SIZE, "a SHA-256 hash"),
        )
    )
    return tlv(TAG_SEQUENCE, body)


def encode_private_record(record: PrivateRecord) -> bytes:
    """The canonical DER of a private record; :class:`LeafError` naming the field when a
    value breaks a rule (the rules of version 1's fields, and a salt of 32 bytes)."""
    r = record
    body = b"".join(
        (
            octets(TAG_OCTET_STRING, "salt", r.salt, SALT_SIZE, "random, per record"),
            encode_identifier(
                TAG_UTF8_STRING, "owner", r.owner, INSTITUTION_PATTERN, INSTITUTION_RULE
            ),
            encode_identifier(
                TAG_UTF8_STRING, "submitter", r.submitter, INSTITUTION_PATTERN, INSTITUTION_RULE
            ),
            encode_identifier(
                TAG_UTF8_STRING, "loan_ref", r.loan_ref, LOAN_REF_PATTERN, LOAN_REF_RULE
            ),
            kind_der(r.kind),
            hash_oid_der(r.hash_algorithm),
            check_digest(r.hash_algorithm, r.digest),
            encode_time("occurred_at", r.occurred_at),
            supersedes_der(r.supersedes),
            encode_metadata(r.metadata),
        )
    )
    return tlv(TAG_SEQUENCE, body)


def record_commitment(private_record_der: bytes) -> bytes:
    """The leaf's commitment to a (DER) private record."""
    return hashlib.sha256(COMMITMENT_TAG + private_record_der).digest()


def derive_loan_key(loan_salt: bytes, owner: str, loan_ref: str) -> bytes:
    """The opaque key of the loan ``(owner, loan_ref)`` under its secret ``loan_salt``.

    Raises :class:`LeafError` for a salt that is not 32 bytes or an identifier
    outside its rule.
    """
    body = b"".join(
        (
            octets(TAG_OCTET_STRING, "loan_salt", loan_salt, SALT_SIZE, "secret, per loan"),
            encode_identifier(
                TAG_UTF8_STRING, "owner", owner, INSTITUTION_PATTERN, INSTITUTION_RULE
            ),
            encode_identifier(
                TAG_UTF8_STRING, "loan_ref", loan_ref, LOAN_REF_PATTERN, LOAN_REF_RULE
            ),
        )
    )
    return hashlib.sha256(LOAN_KEY_TAG + tlv(TAG_SEQUENCE, body)).digest()


# ------------------------------------------------------------------ decoding


def decode_public_leaf(data: bytes) -> PublicLeaf:
    """Decode a canonical version 2 leaf; :class:`LeafError` unless ``data`` is exactly one."""
    version, c = read_version(data)
    data = bytes(data)
    if version != LEAF_VERSION:
        raise LeafError(
            f"leaf version is not supported here (only {LEAF_VERSION}; "
            "court.evidence.opening.decode_any_leaf reads every version)"
        )
    try:
        entry_id = text(expect(c, 1, TAG_UTF8_STRING, "entryId"), "entryId")
        loan_key = expect(c, 2, TAG_OCTET_STRING, "loanKey").contents
        sequence, previous, pos = read_chain(c, 3)
        received = parse_time(expect(c, pos, TAG_GENERALIZED_TIME, "receivedAt"), "receivedAt")
        token_hash = expect(c, pos + 1, TAG_OCTET_STRING, "tokenHash").contents
        commitment = expect(c, pos + 2, TAG_OCTET_STRING, "commitment").contents
        if pos + 3 != len(c):
            raise LeafError("unexpected elements at the end of the leaf")
        leaf = PublicLeaf(
            entry_id=entry_id,
            loan_key=loan_key,
            loan_sequence=sequence,
            received_at=received,
            token_sha256=token_hash,
            commitment=commitment,
            previous_leaf_hash=previous,
            version=version,
        )
        again = encode_public_leaf(leaf)
    except DerError as exc:
        raise LeafError(f"not a DER evidence leaf: {exc}") from exc
    if again != data:
        raise LeafError("the leaf is not in canonical DER form")
    return leaf


def decode_private_record(data: bytes) -> PrivateRecord:
    """Decode a canonical private record; :class:`LeafError` unless ``data`` is exactly one."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise LeafError("a private record is bytes")
    data = bytes(data)
    if len(data) > MAX_PRIVATE_RECORD_BYTES:
        raise LeafError(
            f"a private record is at most {MAX_PRIVATE_RECORD_BYTES} bytes, not {len(data)}"
        )
    try:
        outer, end = read_tlv(data)
        if outer.tag != TAG_SEQUENCE:
            raise LeafError("a private record is a DER SEQUENCE")
        if end != len(data):
            raise LeafError("trailing bytes after the private record")
        c = read_children(outer.contents)
        salt = expect(c, 0, TAG_OCTET_STRING, "salt").contents
        owner = text(expect(c, 1, TAG_UTF8_STRING, "owner"), "owner")
        submitter = text(expect(c, 2, TAG_UTF8_STRING, "submitter"), "submitter")
        loan_ref = text(expect(c, 3, TAG_UTF8_STRING, "loanRef"), "loanRef")
        kind = kind_name(expect(c, 4, TAG_ENUMERATED, "kind"))
        alg = hash_name_of_oid_der(expect(c, 5, TAG_OID, "hashAlgorithm").encoded)
        digest = expect(c, 6, TAG_OCTET_STRING, "digest").contents
        occurred = parse_time(expect(c, 7, TAG_GENERALIZED_TIME, "occurredAt"), "occurredAt")
        supersedes, pos = read_supersedes(c, 8)
        metadata = read_metadata(expect(c, pos, TAG_SEQUENCE, "metadata"))
        if pos + 1 != len(c):
            raise LeafError("unexpected elements at the end of the private record")
        record = PrivateRecord(
            salt=salt,
            owner=owner,
            submitter=submitter,
            loan_ref=loan_ref,
            kind=kind,
            hash_algorithm=alg,
            digest=digest,
            occurred_at=occurred,
            supersedes=supersedes,
            metadata=metadata,
        )
        again = encode_private_record(record)
    except DerError as exc:
        raise LeafError(f"not a DER private record: {exc}") from exc
    if again != data:
        raise LeafError("the private record is not in canonical DER form")
    return record
