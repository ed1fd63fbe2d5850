"""The canonical document of one case event: what the event record's digest is the SHA-256 of.

Every step of a judicial case (filing, acceptance, judgment, enforcement,
recovered amounts, ...) is a record of the case's loan in the log, of the
event's own evidence kind (:data:`court.evidence.case_terms.EVENT_KINDS`). The
record's document is the DER encoding below, and its digest (SHA-256) is what
the time-stamp token and the leaf commit to. Lender, body and court all hold
the document (``CaseEvent.document`` in the API) and check it with
``court-verify bundle BUNDLE --file DOCUMENT`` like any document.

Why DER and not canonical JSON: the leaf is already DER, read and written by the
one strict codec of this package (:mod:`court.der`); DER has exactly one
encoding of each value, exact integers of any size (money in minor units never
passes through a float), and any ASN.1 tool shows it
(``openssl asn1parse -inform DER``). Canonical JSON would need a second
canonicaliser with its own number and Unicode rules.

The document holds no personal data: institution ids, the lender's opaque loan
reference, the body's case number, codes, amounts, times and entry ids only.

ASN.1 module (also in ``docs/cases.md``)::

    CaseEventDocument DEFINITIONS IMPLICIT TAGS ::= BEGIN

    CaseEventDocument ::= SEQUENCE {
        format          UTF8String,   -- "court-evidence/v1/case-event"
        caseId          UTF8String,   -- 1..64 of [A-Za-z0-9_-]
        eventNumber     INTEGER (1..2147483647),  -- 1 is the filing
        previousEvent   [0] UTF8String OPTIONAL,
                        -- entry id of the record of event eventNumber - 1;
                        -- absent if and only if eventNumber = 1
        event           CaseEventType,
        statusAfter     CaseStatus,
        lender          UTF8String,   -- institution id, 1..128 of [A-Za-z0-9._:-]
        loanRef         UTF8String,   -- 1..128 of [A-Za-z0-9._:/-]
        body            UTF8String,   -- institution id of the court or arbitration body
        bodyKind        ENUMERATED { court(1), arbitration(2) },
        occurredAt      GeneralizedTime,
        claim           [1] Money OPTIONAL,  -- filed: present; otherwise absent
        reliedOn        [2] SEQUENCE SIZE (1..1000) OF UTF8String OPTIONAL,
                        -- filed: the entry ids the filing relies on, distinct,
                        -- in the lender's order; otherwise absent
        caseNumber      [3] UTF8String OPTIONAL,
                        -- accepted: present; rejected: optional; otherwise absent
        reason          [4] CaseReason OPTIONAL,
                        -- rejected, terminated: present; otherwise absent
        amount          [5] Money OPTIONAL,  -- amount_recovered: present
        recoveredTotal  [6] INTEGER OPTIONAL
                        -- amount_recovered: the case's total recovered after
                        -- this event, in minor units of amount's currency
    }

    Money ::= SEQUENCE {
        currency    UTF8String,          -- ISO 4217 alphabetic code, e.g. "CNY"
        minorUnits  INTEGER (1..9007199254740991)  -- e.g. fen for CNY
    }

    END

CaseEventType, CaseStatus and CaseReason are ENUMERATED with the numbers of
:mod:`court.evidence.case_terms`. :func:`encode_case_event` enforces every
rule, including that ``statusAfter`` is the status the event leads to, so
:func:`decode_case_event`, which re-encodes what it decoded, accepts exactly
the canonical documents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, TypeVar

from court.der import (
    TAG_ENUMERATED,
    TAG_GENERALIZED_TIME,
    TAG_INTEGER,
    TAG_SEQUENCE,
    TAG_UTF8_STRING,
    DerError,
    Tlv,
    decode_integer,
    encode_integer,
    read_children,
    read_tlv,
)
from court.errors import CourtError
from court.evidence.case_terms import (
    BODY_KIND_NUMBERS,
    CURRENCY_PATTERN,
    EVENT_NUMBERS,
    EVENT_RULES,
    MAX_CASE_NUMBER_BYTES,
    MAX_CASE_NUMBER_CHARS,
    MAX_MINOR_UNITS,
    REASON_NUMBERS,
    STATUS_NUMBERS,
    BodyKind,
    CaseEventType,
    CaseReason,
    CaseStatus,
    Money,
    case_number_rule,
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
    encode_time,
    parse_time,
    tlv,
)

__all__ = [
    "CASE_EVENT_FORMAT",
    "CURRENCY_PATTERN",
    "MAX_CASE_NUMBER_BYTES",
    "MAX_CASE_NUMBER_CHARS",
    "MAX_DOCUMENT_BYTES",
    "MAX_EVENT_NUMBER",
    "MAX_MINOR_UNITS",
    "MAX_RELIED_ON",
    "CaseEventDocument",
    "CaseEventError",
    "Money",
    "case_number_rule",
    "decode_case_event",
    "document_digest",
    "encode_case_event",
]

CASE_EVENT_FORMAT: Final = "court-evidence/v1/case-event"
MAX_RELIED_ON: Final = 1000
MAX_EVENT_NUMBER: Final = 2**31 - 1
#: The largest canonical document (a filing relying on 1,000 ids of 64 characters is
#: about 66 KB); decoders refuse anything longer before parsing it.
MAX_DOCUMENT_BYTES: Final = 96 * 1024

E = TypeVar("E", bound=StrEnum)

_FORMAT_DER: Final = tlv(TAG_UTF8_STRING, CASE_EVENT_FORMAT.encode("ascii"))
_TAG_PREVIOUS: Final = 0x80  # [0] IMPLICIT UTF8String
_TAG_CLAIM: Final = 0xA1  # [1] IMPLICIT Money (constructed)
_TAG_RELIED_ON: Final = 0xA2  # [2] IMPLICIT SEQUENCE OF (constructed)
_TAG_CASE_NUMBER: Final = 0x83  # [3] IMPLICIT UTF8String
_TAG_REASON: Final = 0x84  # [4] IMPLICIT ENUMERATED
_TAG_AMOUNT: Final = 0xA5  # [5] IMPLICIT Money (constructed)
_TAG_TOTAL: Final = 0x86  # [6] IMPLICIT INTEGER
_OPTIONAL_ORDER: Final = (
    _TAG_CLAIM,
    _TAG_RELIED_ON,
    _TAG_CASE_NUMBER,
    _TAG_REASON,
    _TAG_AMOUNT,
    _TAG_TOTAL,
)


class CaseEventError(CourtError):
    """A case event document cannot be encoded, or the bytes are not a canonical one.

    ``field`` names the attribute whose value breaks a rule, when one does (the
    message starts with it). Messages never repeat the offending value.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class CaseEventDocument:
    """One case event as its document holds it (see the module docstring for the rules)."""

    case_id: str
    event_number: int
    event: CaseEventType
    status_after: CaseStatus
    lender: str
    loan_ref: str
    body: str
    body_kind: BodyKind
    occurred_at: datetime
    previous_event: str | None = None
    claim: Money | None = None
    relied_on: tuple[str, ...] | None = None
    case_number: str | None = None
    reason: CaseReason | None = None
    amount: Money | None = None
    recovered_total: int | None = None


# ------------------------------------------------------------------ encoding


def _money_der(tag: int, field: str, value: object) -> bytes:
    if not isinstance(value, Money):
        raise CaseEventError(f"{field} must be a Money", field=field)
    if not isinstance(value.currency, str) or CURRENCY_PATTERN.fullmatch(value.currency) is None:
        raise CaseEventError(
            f"{field}.currency must be an ISO 4217 code of three letters A-Z",
            field=f"{field}.currency",
        )
    units = _units(f"{field}.minor_units", value.minor_units)
    body = tlv(TAG_UTF8_STRING, value.currency.encode("ascii")) + encode_integer(units)
    return tlv(tag, body)


def _units(field: str, value: object) -> int:
    if (
        not isinstance(value, int)
        or value.__class__ is not int
        or not 1 <= value <= MAX_MINOR_UNITS
    ):
        raise CaseEventError(f"{field} must be an int from 1 to {MAX_MINOR_UNITS}", field=field)
    return value


def _enum_der(tag: int, field: str, table: Mapping[E, int], value: object) -> bytes:
    number = next((n for member, n in table.items() if member is value), None)
    if number is None:
        raise CaseEventError(f"{field} is not a known value", field=field)
    return bytes((tag,)) + encode_integer(number)[1:]


def _absent(doc: CaseEventDocument, fields: tuple[str, ...]) -> None:
    for name in fields:
        if getattr(doc, name) is not None:
            raise CaseEventError(f"{name} must be absent for a {doc.event} event", field=name)


def _event_fields(doc: CaseEventDocument) -> bytes:
    """The optional fields, exactly those the event has."""
    event = doc.event
    out = []
    if event is CaseEventType.FILED:
        out.append(_money_der(_TAG_CLAIM, "claim", doc.claim))
        out.append(_relied_on_der(doc.relied_on))
        _absent(doc, ("case_number", "reason", "amount", "recovered_total"))
        return b"".join(out)
    _absent(doc, ("claim", "relied_on"))
    rule = EVENT_RULES[event]
    if event is CaseEventType.ACCEPTED or (
        event is CaseEventType.REJECTED and doc.case_number is not None
    ):
        problem = case_number_rule(doc.case_number)
        if problem is not None:
            raise CaseEventError(f"case_number {problem}", field="case_number")
        out.append(tlv(_TAG_CASE_NUMBER, doc.case_number.encode("utf-8")))  # type: ignore[union-attr]
    else:
        _absent(doc, ("case_number",))
    if rule.reasons:
        if doc.reason not in rule.reasons:
            raise CaseEventError(
                f"reason must be one of {', '.join(sorted(rule.reasons))} for a {event} event",
                field="reason",
            )
        out.append(_enum_der(_TAG_REASON, "reason", REASON_NUMBERS, doc.reason))
    else:
        _absent(doc, ("reason",))
    if event is CaseEventType.AMOUNT_RECOVERED:
        out.append(_money_der(_TAG_AMOUNT, "amount", doc.amount))
        total = _units("recovered_total", doc.recovered_total)
        if doc.amount is None or total < doc.amount.minor_units:
            raise CaseEventError(
                "recovered_total must be at least amount.minor_units", field="recovered_total"
            )
        out.append(bytes((_TAG_TOTAL,)) + encode_integer(total)[1:])
    else:
        _absent(doc, ("amount", "recovered_total"))
    return b"".join(out)


def _relied_on_der(value: object) -> bytes:
    if not isinstance(value, tuple) or not 1 <= len(value) <= MAX_RELIED_ON:
        raise CaseEventError(
            f"relied_on must be a tuple of 1 to {MAX_RELIED_ON} entry ids", field="relied_on"
        )
    if len(set(value)) != len(value):
        raise CaseEventError("relied_on must not name an entry twice", field="relied_on")
    return tlv(
        _TAG_RELIED_ON,
        b"".join(
            encode_identifier(TAG_UTF8_STRING, "relied_on", v, ENTRY_ID_PATTERN, ENTRY_ID_RULE)
            for v in value
        ),
    )


def _status_rule(doc: CaseEventDocument) -> None:
    rule = EVENT_RULES.get(doc.event) if isinstance(doc.event, CaseEventType) else None
    if rule is None:
        raise CaseEventError("event is not a known CaseEventType", field="event")
    if not isinstance(doc.status_after, CaseStatus):
        raise CaseEventError("status_after is not a known CaseStatus", field="status_after")
    wanted = rule.from_statuses if rule.to_status is None else {rule.to_status}
    if doc.status_after not in wanted:
        raise CaseEventError(
            f"status_after is not the status a {doc.event} event leads to", field="status_after"
        )
    if not isinstance(doc.body_kind, BodyKind) or doc.body_kind not in rule.bodies:
        raise CaseEventError(
            f"body_kind: a {doc.event} event is recorded by a "
            + " or ".join(sorted(rule.bodies))
            + " only",
            field="body_kind",
        )


def encode_case_event(doc: CaseEventDocument) -> bytes:
    """The canonical DER of a case event document; :class:`CaseEventError` naming the
    field when a value breaks a rule (see the module docstring)."""
    try:
        return _encode(doc)
    except LeafError as exc:  # a field rule shared with the leaf (ids, times)
        raise CaseEventError(str(exc), field=exc.field) from exc


def _encode(doc: CaseEventDocument) -> bytes:
    _status_rule(doc)
    n = doc.event_number
    if n.__class__ is not int or not 1 <= n <= MAX_EVENT_NUMBER:
        raise CaseEventError(
            f"event_number must be an int from 1 to {MAX_EVENT_NUMBER}", field="event_number"
        )
    if (n == 1) != (doc.event is CaseEventType.FILED):
        raise CaseEventError(
            "event_number is 1 for the filing and only for it", field="event_number"
        )
    if (doc.previous_event is None) != (n == 1):
        raise CaseEventError(
            "previous_event must be absent for event_number 1 and only then",
            field="previous_event",
        )
    previous = (
        b""
        if doc.previous_event is None
        else encode_identifier(
            _TAG_PREVIOUS, "previous_event", doc.previous_event, ENTRY_ID_PATTERN, ENTRY_ID_RULE
        )
    )
    body = b"".join(
        (
            _FORMAT_DER,
            encode_identifier(
                TAG_UTF8_STRING, "case_id", doc.case_id, ENTRY_ID_PATTERN, ENTRY_ID_RULE
            ),
            encode_integer(n),
            previous,
            _enum_der(TAG_ENUMERATED, "event", EVENT_NUMBERS, doc.event),
            _enum_der(TAG_ENUMERATED, "status_after", STATUS_NUMBERS, doc.status_after),
            encode_identifier(
                TAG_UTF8_STRING, "lender", doc.lender, INSTITUTION_PATTERN, INSTITUTION_RULE
            ),
            encode_identifier(
                TAG_UTF8_STRING, "loan_ref", doc.loan_ref, LOAN_REF_PATTERN, LOAN_REF_RULE
            ),
            encode_identifier(
                TAG_UTF8_STRING, "body", doc.body, INSTITUTION_PATTERN, INSTITUTION_RULE
            ),
            _enum_der(TAG_ENUMERATED, "body_kind", BODY_KIND_NUMBERS, doc.body_kind),
            encode_time("occurred_at", doc.occurred_at),
            _event_fields(doc),
        )
    )
    return tlv(TAG_SEQUENCE, body)


def document_digest(document: bytes) -> bytes:
    """The digest of the event's record: SHA-256 of the document (hash algorithm sha256)."""
    return hashlib.sha256(document).digest()


# ------------------------------------------------------------------ decoding


def _take(c: list[Tlv], pos: int, tag: int, what: str) -> Tlv:
    if pos >= len(c):
        raise CaseEventError(f"the document ends before {what}")
    if c[pos].tag != tag:
        raise CaseEventError(f"{what}: expected tag 0x{tag:02x}, found 0x{c[pos].tag:02x}")
    return c[pos]


def _text(element: Tlv, what: str) -> str:
    try:
        return element.contents.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CaseEventError(f"{what} is not valid UTF-8") from exc


def _enum(element: Tlv, table: Mapping[E, int], what: str) -> E:
    if len(element.contents) > 4:
        raise CaseEventError(f"{what} is not a known value")
    number = decode_integer(element)
    for name, value in table.items():
        if value == number:
            return name
    raise CaseEventError(f"{what} is not a known value")


def _integer(element: Tlv, what: str) -> int:
    if len(element.contents) > 8:
        raise CaseEventError(f"{what} is out of range")
    return decode_integer(element)


def _money(element: Tlv, what: str) -> Money:
    c = read_children(element.contents)
    if len(c) != 2:
        raise CaseEventError(f"{what} is a currency and an amount")
    currency = _text(_take(c, 0, TAG_UTF8_STRING, f"{what}.currency"), f"{what}.currency")
    units = _integer(_take(c, 1, TAG_INTEGER, f"{what}.minorUnits"), f"{what}.minorUnits")
    return Money(currency, units)


def decode_case_event(data: bytes) -> CaseEventDocument:
    """Decode a canonical case event document; :class:`CaseEventError` unless ``data`` is
    exactly one. The work is linear in ``len(data)``, at most :data:`MAX_DOCUMENT_BYTES`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CaseEventError("a case event document is bytes")
    data = bytes(data)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise CaseEventError(
            f"a case event document is at most {MAX_DOCUMENT_BYTES} bytes, not {len(data)}"
        )
    try:
        doc = _decode(data)
        again = encode_case_event(doc)
    except DerError as exc:
        raise CaseEventError(f"not a DER case event document: {exc}") from exc
    if again != data:
        raise CaseEventError("the case event document is not in canonical DER form")
    return doc


def _decode(data: bytes) -> CaseEventDocument:
    outer, end = read_tlv(data)
    if outer.tag != TAG_SEQUENCE or end != len(data):
        raise CaseEventError("a case event document is one DER SEQUENCE and nothing after it")
    c = read_children(outer.contents)
    if _take(c, 0, TAG_UTF8_STRING, "format").encoded != _FORMAT_DER:
        raise CaseEventError(f"format is not {CASE_EVENT_FORMAT}")
    case_id = _text(_take(c, 1, TAG_UTF8_STRING, "caseId"), "caseId")
    number = _integer(_take(c, 2, TAG_INTEGER, "eventNumber"), "eventNumber")
    pos = 3
    previous = None
    if pos < len(c) and c[pos].tag == _TAG_PREVIOUS:
        previous = _text(c[pos], "previousEvent")
        pos += 1
    event = _enum(_take(c, pos, TAG_ENUMERATED, "event"), EVENT_NUMBERS, "event")
    status = _enum(_take(c, pos + 1, TAG_ENUMERATED, "statusAfter"), STATUS_NUMBERS, "statusAfter")
    lender = _text(_take(c, pos + 2, TAG_UTF8_STRING, "lender"), "lender")
    loan_ref = _text(_take(c, pos + 3, TAG_UTF8_STRING, "loanRef"), "loanRef")
    body = _text(_take(c, pos + 4, TAG_UTF8_STRING, "body"), "body")
    kind = _enum(_take(c, pos + 5, TAG_ENUMERATED, "bodyKind"), BODY_KIND_NUMBERS, "bodyKind")
    element = _take(c, pos + 6, TAG_GENERALIZED_TIME, "occurredAt")
    try:
        occurred = parse_time(element, "occurredAt")
    except CourtError as exc:
        raise CaseEventError(str(exc)) from exc
    optional: dict[int, Tlv] = {}
    rest = c[pos + 7 :]
    order = list(_OPTIONAL_ORDER)
    for element in rest:
        if element.tag not in order:
            raise CaseEventError(f"unexpected element with tag 0x{element.tag:02x}")
        order = order[order.index(element.tag) + 1 :]
        optional[element.tag] = element
    claim = optional.get(_TAG_CLAIM)
    relied = optional.get(_TAG_RELIED_ON)
    number_el = optional.get(_TAG_CASE_NUMBER)
    reason = optional.get(_TAG_REASON)
    amount = optional.get(_TAG_AMOUNT)
    total = optional.get(_TAG_TOTAL)
    relied_on = None
    if relied is not None:
        items = read_children(relied.contents)
        if len(items) > MAX_RELIED_ON:
            raise CaseEventError(f"reliedOn names more than {MAX_RELIED_ON} entries")
        relied_on = tuple(
            _text(_take(items, i, TAG_UTF8_STRING, "reliedOn"), "reliedOn")
            for i in range(len(items))
        )
    return CaseEventDocument(
        case_id=case_id,
        event_number=number,
        event=event,
        status_after=status,
        lender=lender,
        loan_ref=loan_ref,
        body=body,
        body_kind=kind,
        occurred_at=occurred,
        previous_event=previous,
        claim=None if claim is None else _money(claim, "claim"),
        relied_on=relied_on,
        case_number=None if number_el is None else _text(number_el, "caseNumber"),
        reason=None if reason is None else _enum(reason, REASON_NUMBERS, "reason"),
        amount=None if amount is None else _money(amount, "amount"),
        recovered_total=None if total is None else _integer(total, "recoveredTotal"),
    )
