"""The canonical leaf of the evidence log: the tables every version shares, and version 1.

Every registered record is one leaf of the log; its Merkle leaf hash is
``SHA-256(0x00 || leaf)`` (RFC 9162). A court decodes leaves with the court
library alone, without any server code. The encoding is DER (ITU-T X.690), so
any ASN.1 tool can read it, and there is exactly one encoding of each value:
the decoders re-encode what they decoded and reject the input unless the
bytes are identical.

The gateway writes version 2 (:mod:`court.evidence.leaf_v2`): a public leaf
that carries its private fields only as a salted commitment and its loan only
as an opaque key. Version 1, below, holds every field in clear; leaves of
version 1 written before stay decodable and verifiable with this module.
:data:`KIND_NUMBERS` is the one table of evidence kinds of both versions.

ASN.1 module of version 1 (also in ``docs/leaf-format.md``)::

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
        shareRevoked(15), institutionChanged(16),
        -- recorded by the gateway itself: events of judicial cases
        caseFiled(17), caseAccepted(18), caseRejected(19),
        caseMediationStarted(20), caseJudgment(21), caseAward(22),
        caseEnforcementStarted(23), casePropertyFrozen(24),
        caseAmountRecovered(25), caseConcluded(26), caseTerminated(27),
        caseWithdrawn(28), caseSettled(29)
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

from dataclasses import dataclass
from datetime import datetime
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
    encode_oid,
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
    MAX_METADATA_ENTRIES,
    MAX_METADATA_VALUE_BYTES,
    METADATA_KEY_PATTERN,
    LeafError,
    encode_identifier,
    encode_metadata,
    encode_time,
    expect,
    parse_time,
    read_metadata,
    text,
    tlv,
)

__all__ = [
    "ENTRY_ID_PATTERN",
    "HASH_OIDS",
    "INSTITUTION_PATTERN",
    "KIND_NUMBERS",
    "LEAF_VERSION",
    "LEAF_VERSION_1",
    "LOAN_REF_PATTERN",
    "MAX_METADATA_ENTRIES",
    "MAX_METADATA_VALUE_BYTES",
    "METADATA_KEY_PATTERN",
    "LeafError",
    "LeafFields",
    "chain_fields",
    "check_digest",
    "decode_leaf",
    "encode_leaf",
    "hash_name_of_oid_der",
    "hash_oid_der",
    "kind_der",
    "kind_name",
    "read_chain",
    "read_supersedes",
    "read_version",
    "supersedes_der",
    "token_hash_der",
]

#: The version the gateway writes (:mod:`court.evidence.leaf_v2`).
LEAF_VERSION: Final = 2
#: The version of the leaf of this module (fields in clear), still decoded and verified.
LEAF_VERSION_1: Final = 1

#: The one table of EvidenceKind names (as in the API, lower case) and their ENUMERATED
#: values, used by every leaf version. New kinds are appended with the next number, never
#: renumbered (the API's enum has the same numbers).
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
    # Recorded by the gateway itself: the events of judicial cases (CaseService), one kind
    # per event of court.evidence.case_terms.CaseEventType ("case_" + its name).
    "case_filed": 17,
    "case_accepted": 18,
    "case_rejected": 19,
    "case_mediation_started": 20,
    "case_judgment": 21,
    "case_award": 22,
    "case_enforcement_started": 23,
    "case_property_frozen": 24,
    "case_amount_recovered": 25,
    "case_concluded": 26,
    "case_terminated": 27,
    "case_withdrawn": 28,
    "case_settled": 29,
}

#: Document hash algorithms: name -> (OID, digest size).
HASH_OIDS: Final[dict[str, tuple[str, int]]] = {
    "sha256": ("2.16.840.1.101.3.4.2.1", 32),
    "sha384": ("2.16.840.1.101.3.4.2.2", 48),
    "sha512": ("2.16.840.1.101.3.4.2.3", 64),
    "sm3": ("1.2.156.10197.1.401", 32),
}
_OID_DER: Final = {name: encode_oid(oid) for name, (oid, _) in HASH_OIDS.items()}
_NAME_BY_OID_DER: Final = {der: name for name, der in _OID_DER.items()}
_VERSION_DER: Final = encode_integer(LEAF_VERSION_1)
_TAG_SUPERSEDES: Final = 0x80  # [0] IMPLICIT UTF8String
_TAG_PREVIOUS: Final = 0x81  # [1] IMPLICIT OCTET STRING
_HASH_SIZE: Final = 32


def kind_der(kind: object) -> bytes:
    """The DER ENUMERATED of a kind name of :data:`KIND_NUMBERS` (read at each call, so
    kinds appended to the table are known at once)."""
    number = KIND_NUMBERS.get(kind) if isinstance(kind, str) else None
    if number is None:
        raise LeafError("kind is not a known evidence kind", field="kind")
    return bytes((TAG_ENUMERATED,)) + encode_integer(number)[1:]


def kind_name(element: Tlv) -> str:
    """The kind name of a decoded ENUMERATED element."""
    number = decode_integer(element)
    for name, value in KIND_NUMBERS.items():
        if value == number:
            return name
    raise LeafError("kind is not a known EvidenceKind")


def hash_oid_der(name: object) -> bytes:
    """The DER OID of a document hash algorithm name of :data:`HASH_OIDS`."""
    der = _OID_DER.get(name) if isinstance(name, str) else None
    if der is None:
        raise LeafError(
            "hash_algorithm is not a supported document hash (sha256, sha384, sha512, sm3)",
            field="hash_algorithm",
        )
    return der


def hash_name_of_oid_der(encoded: bytes) -> str:
    """The algorithm name of an encoded OID element. Compared encoded: an OID of the
    input is never converted to text, whatever its arcs."""
    name = _NAME_BY_OID_DER.get(encoded)
    if name is None:
        raise LeafError("hashAlgorithm is not a supported document hash")
    return name


def check_digest(algorithm: str, digest: object) -> bytes:
    """The digest OCTET STRING, of the algorithm's size."""
    size = HASH_OIDS[algorithm][1]
    if not isinstance(digest, bytes) or digest.__class__ is not bytes or len(digest) != size:
        raise LeafError(f"digest must be {size} bytes for {algorithm}", field="digest")
    return tlv(TAG_OCTET_STRING, digest)


@dataclass(frozen=True, slots=True)
class LeafFields:
    """The content of one version 1 leaf (see the module docstring for each field).

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
    version: int = LEAF_VERSION_1


# ------------------------------------------------------------------ chain fields


def chain_fields(sequence: object, previous: object) -> bytes:
    """loanSequence and the optional [1] previousLeafHash (absent exactly for sequence 1)."""
    if sequence.__class__ is not int or not isinstance(sequence, int) or sequence < 1:
        raise LeafError("loan_sequence must be an int >= 1", field="loan_sequence")
    if (previous is None) != (sequence == 1):
        raise LeafError(
            "previous_leaf_hash must be absent for loan_sequence 1 and only then",
            field="previous_leaf_hash",
        )
    if previous is None:
        return encode_integer(sequence)
    if not isinstance(previous, bytes) or previous.__class__ is not bytes:
        raise LeafError("previous_leaf_hash must be 32 bytes", field="previous_leaf_hash")
    if len(previous) != _HASH_SIZE:
        raise LeafError("previous_leaf_hash must be 32 bytes", field="previous_leaf_hash")
    return encode_integer(sequence) + tlv(_TAG_PREVIOUS, previous)


def token_hash_der(value: object) -> bytes:
    """tokenHash: the SHA-256 of the DER TimeStampToken."""
    if not isinstance(value, bytes) or value.__class__ is not bytes or len(value) != _HASH_SIZE:
        raise LeafError("token_sha256 must be 32 bytes (a SHA-256 hash)", field="token_sha256")
    return tlv(TAG_OCTET_STRING, value)


def supersedes_der(value: object) -> bytes:
    """The optional [0] supersedes (an entry id)."""
    if value is None:
        return b""
    return encode_identifier(_TAG_SUPERSEDES, "supersedes", value, ENTRY_ID_PATTERN, ENTRY_ID_RULE)


def read_chain(c: list[Tlv], pos: int) -> tuple[int, bytes | None, int]:
    """loanSequence and previousLeafHash at ``pos``; returns them and the next position."""
    sequence = decode_integer(expect(c, pos, TAG_INTEGER, "loanSequence"))
    pos += 1
    previous = None
    if pos < len(c) and c[pos].tag == _TAG_PREVIOUS:
        previous = c[pos].contents
        pos += 1
    return sequence, previous, pos


def read_supersedes(c: list[Tlv], pos: int) -> tuple[str | None, int]:
    """The optional supersedes at ``pos``; returns it and the next position."""
    if pos < len(c) and c[pos].tag == _TAG_SUPERSEDES:
        return text(c[pos], "supersedes"), pos + 1
    return None, pos


def read_version(data: bytes) -> tuple[int, list[Tlv]]:
    """The version of a leaf and the elements of its SEQUENCE (no other check)."""
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
        return decode_integer(expect(c, 0, TAG_INTEGER, "version")), c
    except DerError as exc:
        raise LeafError(f"not a DER evidence leaf: {exc}") from exc


# ------------------------------------------------------------------ version 1


def encode_leaf(fields: LeafFields) -> bytes:
    """Return the canonical DER encoding of a version 1 leaf.

    Raises :class:`LeafError`, naming the field, when a value breaks a rule of
    the module docstring: an identifier outside its length or character set
    (entry_id, institution, loan_ref, supersedes), metadata beyond its bounds or
    unsorted, an unknown kind or algorithm, a digest of the wrong length, a
    token hash or previous leaf hash that is not 32 bytes, a loan_sequence
    below 1, a previous leaf hash present for sequence 1 or missing for a later
    one, ...
    """
    f = fields
    if f.version != LEAF_VERSION_1:
        raise LeafError(
            f"version is not supported by this encoder (only {LEAF_VERSION_1})", field="version"
        )
    entry_id = encode_identifier(
        TAG_UTF8_STRING, "entry_id", f.entry_id, ENTRY_ID_PATTERN, ENTRY_ID_RULE
    )
    institution = encode_identifier(
        TAG_UTF8_STRING, "institution", f.institution, INSTITUTION_PATTERN, INSTITUTION_RULE
    )
    loan_ref = encode_identifier(
        TAG_UTF8_STRING, "loan_ref", f.loan_ref, LOAN_REF_PATTERN, LOAN_REF_RULE
    )
    kind = kind_der(f.kind)
    alg = hash_oid_der(f.hash_algorithm)
    digest = check_digest(f.hash_algorithm, f.digest)
    token_hash = token_hash_der(f.token_sha256)
    chain = chain_fields(f.loan_sequence, f.previous_leaf_hash)
    supersedes = supersedes_der(f.supersedes)
    body = b"".join(
        (
            _VERSION_DER,
            entry_id,
            institution,
            loan_ref,
            kind,
            alg,
            digest,
            encode_time("occurred_at", f.occurred_at),
            encode_time("received_at", f.received_at),
            token_hash,
            supersedes,
            encode_metadata(f.metadata),
            chain,
        )
    )
    return tlv(TAG_SEQUENCE, body)


def decode_leaf(data: bytes) -> LeafFields:
    """Decode a canonical version 1 leaf; raise :class:`LeafError` unless ``data`` is one.

    Strict: after decoding, the fields are encoded again and must give back
    ``data`` byte for byte (so BER forms, unsorted metadata, trailing bytes,
    redundant fraction zeros and the like are all rejected). A version 2 leaf
    is decoded by :func:`court.evidence.opening.decode_any_leaf`.
    """
    version, c = read_version(data)
    data = bytes(data)
    if version != LEAF_VERSION_1:
        # Not the value itself: str() refuses an INTEGER of more than 4,300 digits.
        raise LeafError(
            f"leaf version is not supported here (only {LEAF_VERSION_1}; "
            "court.evidence.opening.decode_any_leaf reads every version)"
        )
    try:
        entry_id = text(expect(c, 1, TAG_UTF8_STRING, "entryId"), "entryId")
        institution = text(expect(c, 2, TAG_UTF8_STRING, "institution"), "institution")
        loan_ref = text(expect(c, 3, TAG_UTF8_STRING, "loanRef"), "loanRef")
        kind = kind_name(expect(c, 4, TAG_ENUMERATED, "kind"))
        alg = hash_name_of_oid_der(expect(c, 5, TAG_OID, "hashAlgorithm").encoded)
        digest = expect(c, 6, TAG_OCTET_STRING, "digest").contents
        occurred = parse_time(expect(c, 7, TAG_GENERALIZED_TIME, "occurredAt"), "occurredAt")
        received = parse_time(expect(c, 8, TAG_GENERALIZED_TIME, "receivedAt"), "receivedAt")
        token_hash = expect(c, 9, TAG_OCTET_STRING, "tokenHash").contents
        supersedes, pos = read_supersedes(c, 10)
        metadata = read_metadata(expect(c, pos, TAG_SEQUENCE, "metadata"))
        sequence, previous, pos = read_chain(c, pos + 1)
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
            metadata=metadata,
            previous_leaf_hash=previous,
            version=version,
        )
        again = encode_leaf(fields)
    except DerError as exc:
        raise LeafError(f"not a DER evidence leaf: {exc}") from exc
    if again != data:
        raise LeafError("the leaf is not in canonical DER form")
    return fields
