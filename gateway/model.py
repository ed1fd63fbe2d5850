"""Domain types of the gateway core: pure dataclasses, no protobuf, no SQL.

The RPC layer converts protobuf messages to and from these types; the ledger
and the store work only with them. :func:`validate_submission` holds every
field rule of ``EvidenceSubmission`` (see ``protos/evidence_gateway/v1``)
once: the RPC layer calls it to build INVALID_ARGUMENT errors and the ledger
calls it again before anything is written.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from court.evidence.leaf import (
    ENTRY_ID_PATTERN,
    HASH_OIDS,
    INSTITUTION_PATTERN,
    LOAN_REF_PATTERN,
    MAX_METADATA_ENTRIES,
    MAX_METADATA_VALUE_BYTES,
    METADATA_KEY_PATTERN,
)
from court.evidence.opening import LeafOpening
from court.evidence.personal_data import find_personal_data
from gateway.errors import GatewayError

__all__ = [
    "ALL_LOANS",
    "CASE_KINDS",
    "DEFAULT_MIN_OCCURRED_AT",
    "DIGEST_SIZES",
    "ENTRY_ID_PATTERN",
    "GATEWAY_KINDS",
    "GRANT_KINDS",
    "HASH_ALGORITHMS",
    "HASH_ALGORITHM_OIDS",
    "INSTITUTIONS_LOAN",
    "MAX_FUTURE_SKEW",
    "MAX_METADATA_ENTRIES",
    "RESERVED_LOAN_REFS",
    "EvidenceKind",
    "EvidenceRecord",
    "ItemResult",
    "Receipt",
    "Submission",
    "is_valid_entry_id",
    "new_entry_id",
    "new_entry_ids",
    "personal_data_violations",
    "validate_client_submission",
    "validate_entry_id",
    "validate_institution",
    "validate_loan_ref",
    "validate_recorded_loan_ref",
    "validate_request_id",
    "validate_submission",
]


class EvidenceKind(StrEnum):
    """What kind of post-loan record a digest is the hash of (proto ``EvidenceKind``)."""

    LOAN_CONTRACT = "loan_contract"
    REPAYMENT_SCHEDULE = "repayment_schedule"
    REPAYMENT = "repayment"
    OVERDUE_NOTICE = "overdue_notice"
    COLLATERAL_STATUS = "collateral_status"
    COLLECTION_CALL = "collection_call"
    COLLECTION_VISIT = "collection_visit"
    COLLECTION_MESSAGE = "collection_message"
    SETTLEMENT_AGREEMENT = "settlement_agreement"
    DEBT_ASSIGNMENT = "debt_assignment"
    OTHER = "other"
    # Recorded by the gateway itself (grants and admin actions), never submitted by a client.
    LOAN_DELEGATED = "loan_delegated"
    DELEGATION_REVOKED = "delegation_revoked"
    LOAN_SHARED = "loan_shared"
    SHARE_REVOKED = "share_revoked"
    INSTITUTION_CHANGED = "institution_changed"
    # The events of judicial cases (CaseService), recorded by the gateway itself.
    CASE_FILED = "case_filed"
    CASE_ACCEPTED = "case_accepted"
    CASE_REJECTED = "case_rejected"
    CASE_MEDIATION_STARTED = "case_mediation_started"
    CASE_JUDGMENT = "case_judgment"
    CASE_AWARD = "case_award"
    CASE_ENFORCEMENT_STARTED = "case_enforcement_started"
    CASE_PROPERTY_FROZEN = "case_property_frozen"
    CASE_AMOUNT_RECOVERED = "case_amount_recovered"
    CASE_CONCLUDED = "case_concluded"
    CASE_TERMINATED = "case_terminated"
    CASE_WITHDRAWN = "case_withdrawn"
    CASE_SETTLED = "case_settled"


# The value rules of the canonical leaf live once, in the court's leaf codec.
#: Accepted document hash algorithms and their digest sizes in bytes.
DIGEST_SIZES: Final[dict[str, int]] = {name: size for name, (_, size) in HASH_OIDS.items()}
HASH_ALGORITHMS: Final[tuple[str, ...]] = tuple(DIGEST_SIZES)
#: The rule an unset or unknown hash algorithm breaks, in the API's enum names.
HASH_ALGORITHM_RULE: Final = (
    "is required: HASH_ALGORITHM_SHA256, HASH_ALGORITHM_SHA384, HASH_ALGORITHM_SHA512 or "
    "HASH_ALGORITHM_SM3"
)
#: The rule an unset or unknown kind breaks, in the API's enum names (those of
#: EvidenceKind with the prefix EVIDENCE_KIND_, upper case).
KIND_RULE: Final = (
    "is required: an EvidenceKind from EVIDENCE_KIND_LOAN_CONTRACT (1) to EVIDENCE_KIND_OTHER "
    "(11), see common.proto"
)


def digest_rule(hash_algorithm: str, digest: bytes) -> str | None:
    """The rule ``digest`` breaks for ``hash_algorithm`` (one of DIGEST_SIZES), or None."""
    size = DIGEST_SIZES[hash_algorithm]
    if not digest:
        return f"is required: the {size} raw bytes of the {hash_algorithm} digest"
    if len(digest) == 2 * size:
        # The length of the digest's hex text: e.g. JSON's base64 of "cc8321d6...".
        return (
            f"must be {size} bytes for {hash_algorithm}, got {len(digest)}, the length of "
            f"its hex text; send the {size} raw bytes (in JSON: the base64 of the raw "
            f"digest, e.g. openssl dgst -{hash_algorithm} -binary FILE | base64, not the "
            "base64 of its hex text)"
        )
    if len(digest) != size:
        return (
            f"must be {size} bytes for {hash_algorithm}, got {len(digest)}; send the raw "
            "digest, not its hex text"
        )
    return None


#: The OIDs recorded in the canonical leaf and in the token's message imprint.
HASH_ALGORITHM_OIDS: Final[dict[str, str]] = {name: oid for name, (oid, _) in HASH_OIDS.items()}

#: occurred_at may be at most this much after the gateway's clock (clock skew).
MAX_FUTURE_SKEW: Final = timedelta(minutes=5)
#: occurred_at before this is refused unless configured otherwise (``min_occurred_at``).
DEFAULT_MIN_OCCURRED_AT: Final = datetime(2000, 1, 1, tzinfo=UTC)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # not in the leaf: the gateway's own rule
_LOAN_REF = LOAN_REF_PATTERN
_INSTITUTION = INSTITUTION_PATTERN
_METADATA_KEY = METADATA_KEY_PATTERN


def new_entry_id() -> str:
    """A fresh opaque entry id (see :func:`new_entry_ids`)."""
    return new_entry_ids(1)[0]


def new_entry_ids(count: int) -> list[str]:
    """``count`` fresh opaque entry ids: 16 random bytes (128 bits) in lower-case
    unpadded base32 (26 chars).

    Nothing else: an id made from the time (or a counter) would let an observer
    of the public log tell the records of one call, or of one commit, apart from
    the others. Clients must treat them as opaque.
    """
    pool = secrets.token_bytes(16 * count)
    return [
        base64.b32encode(pool[i : i + 16]).decode("ascii").rstrip("=").lower()
        for i in range(0, 16 * count, 16)
    ]


def is_valid_entry_id(value: str) -> bool:
    """Whether ``value`` has the shape of an entry id (1-64 of ``[A-Za-z0-9_-]``)."""
    return isinstance(value, str) and ENTRY_ID_PATTERN.fullmatch(value) is not None


def validate_entry_id(value: str, field_path: str = "entry_id") -> list[tuple[str, str]]:
    """Violations of the entry id shape (empty list when fine)."""
    if is_valid_entry_id(value):
        return []
    return [(field_path, "must be 1 to 64 characters from [A-Za-z0-9_-], as in a receipt")]


def validate_loan_ref(value: str, field_path: str = "loan_ref") -> list[tuple[str, str]]:
    """Violations of the loan_ref rules (1-128 of ``[A-Za-z0-9._:/-]``)."""
    if isinstance(value, str) and _LOAN_REF.fullmatch(value):
        return []
    return [
        (
            field_path,
            "must be 1 to 128 characters from [A-Za-z0-9._:/-] (the lender's opaque loan id; "
            "never personal data)",
        )
    ]


def validate_recorded_loan_ref(value: str, field_path: str = "loan_ref") -> list[tuple[str, str]]:
    """Violations of the rules of a loan_ref the log records: its shape
    (:func:`validate_loan_ref`) and then no personal data."""
    return validate_loan_ref(value, field_path) or personal_data_violations(field_path, value)


def validate_request_id(value: str, field_path: str = "request_id") -> list[tuple[str, str]]:
    """Violations of the idempotency key rules (1-128 of ``[A-Za-z0-9._:-]``)."""
    if isinstance(value, str) and _REQUEST_ID.fullmatch(value):
        return []
    return [
        (field_path, "must be 1 to 128 characters from [A-Za-z0-9._:-]; a UUID is a good choice")
    ]


def validate_institution(value: str, field_path: str = "institution") -> list[tuple[str, str]]:
    """Violations of the institution identifier rules (1-128 of ``[A-Za-z0-9._:-]``)."""
    if isinstance(value, str) and _INSTITUTION.fullmatch(value):
        return []
    return [(field_path, "must be 1 to 128 characters from [A-Za-z0-9._:-]")]


@dataclass(frozen=True, slots=True)
class Submission:
    """One evidence registration as the core sees it.

    ``institution`` (the submitting institution) comes from the caller's
    identity, not from the request. ``owner`` is the lender whose loan the
    record belongs to: the submitter itself for a lender's own records, the
    delegating lender for a collection agency's; empty means the submitter
    (it is filled in on construction). A loan is ``(owner, loan_ref)``: its
    records form one hash chain, whoever submitted them.
    ``occurred_at`` is an aware UTC datetime (microsecond precision, the
    precision recorded in the leaf). ``metadata`` is sorted by key.
    ``supersedes`` is ``None`` when the record corrects nothing. Two
    submissions have "identical content" (idempotency) when they are equal.
    """

    institution: str
    request_id: str
    loan_ref: str
    kind: EvidenceKind
    hash_algorithm: str
    digest: bytes
    occurred_at: datetime
    metadata: tuple[tuple[str, str], ...] = ()
    supersedes: str | None = None
    owner: str = ""

    def __post_init__(self) -> None:
        if not self.owner:
            object.__setattr__(self, "owner", self.institution)


def validate_submission(
    s: Submission, now: datetime, min_occurred_at: datetime = DEFAULT_MIN_OCCURRED_AT
) -> list[tuple[str, str]]:
    """Every rule of ``EvidenceSubmission`` that ``s`` breaks, as ``(field, description)``.

    Pure. Field paths are relative to the submission (``"digest"``,
    ``"metadata[key]"``); ``"institution"`` names the caller's identity.
    ``now`` is the gateway's clock (aware UTC); ``occurred_at`` must lie from
    ``min_occurred_at`` (the gateway's ``min_occurred_at`` setting) to
    :data:`MAX_FUTURE_SKEW` after ``now``. ``loan_ref`` and metadata must hold
    no personal data (:mod:`court.evidence.personal_data`). Whether
    ``supersedes`` names an existing entry of the same loan needs the store and
    is checked by the ledger.
    """
    out: list[tuple[str, str]] = []
    out += validate_institution(s.institution)
    if s.owner != s.institution:
        out += validate_institution(s.owner, "owner")
    out += validate_request_id(s.request_id)
    out += validate_recorded_loan_ref(s.loan_ref)
    try:
        EvidenceKind(s.kind)
    except ValueError:
        out.append(("kind", KIND_RULE))
    size = DIGEST_SIZES.get(s.hash_algorithm)
    if size is None:
        out.append(("hash_algorithm", HASH_ALGORITHM_RULE))
    if not isinstance(s.digest, bytes):
        out.append(("digest", "must be bytes"))
    elif size is not None and (rule := digest_rule(s.hash_algorithm, s.digest)) is not None:
        out.append(("digest", rule))
    elif size is None and not s.digest:
        out.append(("digest", "is required"))
    occurred = s.occurred_at
    if not isinstance(occurred, datetime) or occurred.tzinfo is None:
        out.append(("occurred_at", "is required (a timezone-aware UTC time)"))
    elif occurred < min_occurred_at:
        floor = min_occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(
            (
                "occurred_at",
                f"must not be before {floor} (setting min_occurred_at); an empty Timestamp "
                "is 1970-01-01T00:00:00Z: send seconds since 1970 (from a JavaScript Date d: "
                "{seconds: Math.floor(d.getTime() / 1000)})",
            )
        )
    elif occurred - now > MAX_FUTURE_SKEW:
        out.append(
            (
                "occurred_at",
                "must not be more than 5 minutes after the gateway's clock (rule: no future "
                "times); check the client's clock, and that seconds are not milliseconds",
            )
        )
    elif occurred.year < 1:  # pragma: no cover - datetime cannot represent it
        out.append(("occurred_at", "is out of range"))
    out += _validate_metadata(s.metadata)
    if s.supersedes is not None:
        out += validate_entry_id(s.supersedes, "supersedes")
    return out


#: The records of judicial cases' events (one kind per event of
#: court.evidence.case_terms.CaseEventType, named "case_" + the event).
CASE_KINDS: Final = frozenset(k for k in EvidenceKind if k.value.startswith("case_"))
#: Kinds the gateway records itself (grants, admin actions, case events); a client never
#: submits them.
GATEWAY_KINDS: Final = frozenset(
    {
        EvidenceKind.LOAN_DELEGATED,
        EvidenceKind.DELEGATION_REVOKED,
        EvidenceKind.LOAN_SHARED,
        EvidenceKind.SHARE_REVOKED,
        EvidenceKind.INSTITUTION_CHANGED,
        *CASE_KINDS,
    }
)
#: The grant records (delegations, shares and their revocations): each names its grantee
#: in its metadata (``grantee``).
GRANT_KINDS: Final = frozenset(
    {
        EvidenceKind.LOAN_DELEGATED,
        EvidenceKind.DELEGATION_REVOKED,
        EvidenceKind.LOAN_SHARED,
        EvidenceKind.SHARE_REVOKED,
    }
)
#: The loan_ref under which a grant of all of a lender's loans is recorded.
ALL_LOANS: Final = ":all-loans"
#: The loan_ref under which an operator's changes to an institution are recorded.
INSTITUTIONS_LOAN: Final = ":institutions"
#: loan_refs the gateway records under itself; a client never submits them.
RESERVED_LOAN_REFS: Final = frozenset({ALL_LOANS, INSTITUTIONS_LOAN})


def validate_client_submission(s: Submission) -> list[tuple[str, str]]:
    """What a client may not submit although the log holds it: the gateway's own kinds
    and reserved loan_refs (on top of :func:`validate_submission`)."""
    out: list[tuple[str, str]] = []
    if s.kind in GATEWAY_KINDS:
        out.append(
            (
                "kind",
                f"{s.kind.value} is recorded by the gateway itself (AccessService); "
                "submit a post-loan record kind",
            )
        )
    if s.loan_ref in RESERVED_LOAN_REFS:
        out.append(("loan_ref", f"{s.loan_ref} is reserved for the gateway's own records"))
    return out


def personal_data_violations(field_path: str, value: str, what: str = "") -> list[tuple[str, str]]:
    """The personal-data rule (court.evidence.personal_data): the rule named, not the value."""
    rule = find_personal_data(value)
    if rule is None:
        return []
    return [
        (
            field_path,
            f"{what}must not contain personal data (the log is public and permanent): "
            f"it holds what looks like {rule}; see 'Personal data' in docs/leaf-format.md",
        )
    ]


def _validate_metadata(metadata: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if len(metadata) > MAX_METADATA_ENTRIES:
        # Said once: checking each of thousands of entries would echo them all back.
        return [("metadata", f"has {len(metadata)} entries; at most 16 are allowed")]
    previous: str | None = None
    for item in metadata:
        if not (isinstance(item, tuple) and len(item) == 2):
            out.append(("metadata", "must be (key, value) pairs"))
            continue
        key, value = item
        # A field path echoes the key: never more than a key may hold, so bad input
        # cannot blow up the error (gRPC caps the size of error details).
        shown = key if not isinstance(key, str) or len(key) <= 128 else key[:128] + "…"
        path = f"metadata[{shown}]"
        if not isinstance(key, str) or not _METADATA_KEY.fullmatch(key):
            out.append((path, "key must be 1 to 64 characters from [a-z0-9_.-]"))
        else:
            if previous is not None and key <= previous:
                out.append(("metadata", "keys must be unique and sorted"))
            # A key holding personal data is not repeated in the path: "metadata" only.
            key_problems = personal_data_violations("metadata", key, "a key ")
            out += key_problems
            if key_problems:
                path = "metadata"
        if isinstance(key, str):
            previous = key
        if not isinstance(value, str):
            out.append((path, "value must be a string"))
            continue
        try:
            encoded = value.encode("utf-8")
        except UnicodeEncodeError:
            out.append((path, "value must be valid UTF-8"))
            continue
        if len(encoded) > MAX_METADATA_VALUE_BYTES:
            out.append((path, f"value is {len(encoded)} bytes of UTF-8; at most 256 are allowed"))
        else:
            out += personal_data_violations(path, value, "value ")
    return out


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a submitter gets once its entry is durable (proto ``Receipt``).

    ``checkpoint`` is the C2SP signed note text of a checkpoint whose size is
    ``tree_size`` (> ``leaf_index``); ``inclusion_proof`` proves the leaf in
    it. ``previous_leaf_hash`` is ``b""`` when ``loan_sequence`` is 1.
    ``opening`` opens a version 2 leaf (``None`` for a version 1 leaf).
    """

    entry_id: str
    leaf_index: int
    leaf: bytes
    timestamp_token: bytes
    checkpoint: str
    tree_size: int
    inclusion_proof: tuple[bytes, ...]
    received_at: datetime
    loan_sequence: int
    previous_leaf_hash: bytes
    opening: LeafOpening | None = None


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """One stored record: the submission, its receipt and later corrections."""

    submission: Submission
    receipt: Receipt
    superseded_by: tuple[str, ...] = field(default=())


ItemResult = Receipt | GatewayError
"""The outcome of one submitted item: its receipt, or why it was not registered."""
