"""CaseService messages to and from the core's case types.

The API's enum numbers are those of :mod:`court.evidence.case_terms` (checked by
``tests/unit/gateway/cases/test_vocabulary.py``), so the conversions are table
lookups. Every value a request carries is checked here and named in the
BadRequest (``event``, ``reason``, ``amount.currency`` ...).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from court.evidence.case_event import decode_case_event
from court.evidence.case_terms import (
    BODY_KIND_NUMBERS,
    EVENT_NUMBERS,
    EVENT_RULES,
    REASON_NUMBERS,
    STATUS_NUMBERS,
    CaseEventType,
    CaseReason,
    CaseStatus,
    Money,
    Side,
)
from evidence_gateway.v1 import case_service_pb2 as pb
from gateway.api import convert
from gateway.authz.roles import Caller
from gateway.cases.machine import next_events
from gateway.cases.service import CaseView
from gateway.errors import InvalidArgument
from gateway.model import EvidenceRecord
from gateway.store.cases import StoredCase, StoredCaseEvent

__all__ = [
    "case_to_proto",
    "event_from_proto",
    "event_to_proto",
    "list_position",
    "list_token",
    "money_from_proto",
    "occurred_at_from_proto",
    "reason_from_proto",
    "status_from_proto",
]

_EVENTS: Final = {n: e for e, n in EVENT_NUMBERS.items()}
_STATUSES: Final = {n: s for s, n in STATUS_NUMBERS.items()}
_REASONS: Final = {n: r for r, n in REASON_NUMBERS.items()}
_MAX_TOKEN: Final = 256
_TOKEN: Final = re.compile(r"c1:([0-9a-f]{32}):(-1|0|[1-9][0-9]{0,18})")


def event_from_proto(value: int) -> CaseEventType | None:
    return _EVENTS.get(value)


def status_from_proto(value: int) -> CaseStatus | None:
    return _STATUSES.get(value)


def reason_from_proto(value: int) -> CaseReason | None:
    """None for CASE_REASON_UNSPECIFIED (no reason) and for an unknown number."""
    return _REASONS.get(value)


def money_from_proto(
    message: pb.MoneyAmount, present: bool, field: str, problems: list[tuple[str, str]]
) -> Money | None:
    """The Money of a MoneyAmount field (None when absent); the machine checks its rules."""
    if not present:
        return None
    if len(message.currency_code) > 8:
        problems.append((f"{field}.currency_code", "must be an ISO 4217 code, e.g. CNY"))
        return None
    return Money(message.currency_code, int(message.minor_units))


def occurred_at_from_proto(
    message: object, field: str, problems: list[tuple[str, str]]
) -> datetime | None:
    if not message.HasField(field):  # type: ignore[attr-defined]
        problems.append((field, "is required: when the event happened"))
        return None
    value = convert.datetime_from_proto(getattr(message, field))
    if value is None:
        problems.append((field, "is outside the range of google.protobuf.Timestamp"))
    return value


def _money(value: Money | None) -> pb.MoneyAmount | None:
    if value is None:
        return None
    return pb.MoneyAmount(currency_code=value.currency, minor_units=value.minor_units)


def event_to_proto(event: StoredCaseEvent, record: EvidenceRecord | None) -> pb.CaseEvent:
    """A CaseEvent: the document, the receipt of its record, and the decoded copies."""
    doc = decode_case_event(event.document)
    side = EVENT_RULES[doc.event].side
    message = pb.CaseEvent(
        document=event.document,
        case_id=doc.case_id,
        event_number=doc.event_number,
        type=EVENT_NUMBERS[doc.event],  # type: ignore[arg-type]
        status=STATUS_NUMBERS[doc.status_after],  # type: ignore[arg-type]
        occurred_at=convert.datetime_to_proto(doc.occurred_at),
        recorded_by=doc.lender if side is Side.LENDER else doc.body,
        case_number=doc.case_number or "",
        reason=REASON_NUMBERS[doc.reason] if doc.reason is not None else 0,  # type: ignore[arg-type]
        relied_on_entry_ids=list(doc.relied_on or ()),
        previous_event_entry_id=doc.previous_event or "",
    )
    if record is not None:
        message.receipt.CopyFrom(convert.receipt_to_proto(record.receipt))
    for name, value in (("amount", doc.amount), ("claim", doc.claim)):
        m = _money(value)
        if m is not None:
            getattr(message, name).CopyFrom(m)
    if doc.recovered_total is not None and doc.amount is not None:
        message.recovered_total.CopyFrom(
            pb.MoneyAmount(currency_code=doc.amount.currency, minor_units=doc.recovered_total)
        )
    return message


def case_to_proto(
    case: StoredCase,
    caller: Caller,
    *,
    filing_checkpoint: str | None = None,
    view: CaseView | None = None,
    records: Callable[[str], EvidenceRecord | None] | None = None,
) -> pb.Case:
    """A Case; with ``view`` (GetCase) its events and the loan's records since filing."""
    s = case.state
    message = pb.Case(
        case_id=s.case_id,
        lender=s.lender,
        loan_ref=s.loan_ref,
        body=s.body,
        body_kind=BODY_KIND_NUMBERS[s.body_kind],  # type: ignore[arg-type]
        status=STATUS_NUMBERS[s.status],  # type: ignore[arg-type]
        claim=_money(s.claim),
        relied_on_entry_ids=list(case.relied_on),
        case_number=s.case_number or "",
        recovered_total=pb.MoneyAmount(
            currency_code=s.claim.currency, minor_units=s.recovered_total
        ),
        recovered_exceeds_claim=s.recovered_exceeds_claim,
        filed_at=convert.datetime_to_proto(case.filed_at),
        updated_at=convert.datetime_to_proto(case.updated_at),
        next_events=[EVENT_NUMBERS[e] for e in next_events(s, caller)],  # type: ignore[misc]
    )
    if filing_checkpoint is not None:
        message.filing_checkpoint.CopyFrom(convert.checkpoint_to_proto(filing_checkpoint))
    if view is not None:
        for event in view.events:
            record = records(event.entry_id) if records is not None else None
            message.events.append(event_to_proto(event, record))
        for r in view.records_since_filing:
            message.records_since_filing.append(
                pb.CaseLoanRecord(
                    entry_id=r.entry_id,
                    kind=convert.kind_to_proto(r.kind),  # type: ignore[arg-type]
                    occurred_at=convert.datetime_to_proto(r.occurred_at),
                    received_at=convert.datetime_to_proto(r.received_at),
                )
            )
        if view.settled_recorded_at is not None:
            message.settled_recorded_at.CopyFrom(
                convert.datetime_to_proto(view.settled_recorded_at)
            )
    return message


# ------------------------------------------------------------------ ListCases paging


def _query_hash(parts: Sequence[str]) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def list_token(query: Sequence[str], filing_leaf_index: int) -> str:
    """The opaque token of the page after the case filed at ``filing_leaf_index``."""
    raw = f"c1:{_query_hash(query)}:{filing_leaf_index}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def list_position(token: str, query: Sequence[str]) -> int:
    """The filing leaf index a ``page_token`` of this query continues after (-1: start)."""
    if not token:
        return -1
    bad = InvalidArgument(
        [("page_token", "is not a next_page_token of this same query; start from an empty one")]
    )
    if len(token) > _MAX_TOKEN:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    match = _TOKEN.fullmatch(raw)
    if match is None or match.group(1) != _query_hash(query):
        raise bad
    return int(match.group(2))
