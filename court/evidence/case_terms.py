"""The vocabulary of judicial cases: statuses, events, reasons, and who may do what when.

A lender files a case for one of its loans with a court or an arbitration body
(the case's *body*); the body takes it up and moves it through its statuses;
the lender may withdraw or settle. Every event is a record of the loan in the
log (one evidence kind per event, :data:`EVENT_KINDS`) whose digest is the
SHA-256 of a canonical document (:mod:`court.evidence.case_event`).

This module is the one table of that vocabulary, shared by the court's
document codec and the gateway's state machine (``gateway/cases/machine.py``),
so that a verifier that replays a case's documents applies exactly the rules
the gateway applied. It is data only: no I/O, nothing of the server.

The numbers are those of the API's enums (``protos/evidence_gateway/v1/
case_service.proto``) and of the document's ENUMERATED values; values are
appended, never renumbered. ``docs/cases.md`` draws the diagram.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "BODY_KIND_NUMBERS",
    "CURRENCY_PATTERN",
    "EVENT_KINDS",
    "EVENT_NUMBERS",
    "EVENT_RULES",
    "MAX_CASE_NUMBER_BYTES",
    "MAX_CASE_NUMBER_CHARS",
    "MAX_MINOR_UNITS",
    "REASON_NUMBERS",
    "STATUS_NUMBERS",
    "TERMINAL_STATUSES",
    "BodyKind",
    "CaseEventType",
    "CaseReason",
    "CaseStatus",
    "EventRule",
    "Money",
    "Side",
    "allowed_events",
    "case_number_rule",
    "status_after",
]


class CaseStatus(StrEnum):
    """Where a case stands (API ``CaseStatus``, without the ``CASE_STATUS_`` prefix)."""

    FILED = "filed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MEDIATION = "mediation"
    JUDGMENT = "judgment"
    AWARD = "award"
    ENFORCEMENT = "enforcement"
    PROPERTY_FROZEN = "property_frozen"
    CONCLUDED = "concluded"
    TERMINATED = "terminated"
    WITHDRAWN = "withdrawn"
    SETTLED = "settled"


class CaseEventType(StrEnum):
    """What happened to a case (API ``CaseEventType``, without the prefix)."""

    FILED = "filed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MEDIATION_STARTED = "mediation_started"
    JUDGMENT = "judgment"
    AWARD = "award"
    ENFORCEMENT_STARTED = "enforcement_started"
    PROPERTY_FROZEN = "property_frozen"
    AMOUNT_RECOVERED = "amount_recovered"
    CONCLUDED = "concluded"
    TERMINATED = "terminated"
    WITHDRAWN = "withdrawn"
    SETTLED = "settled"


class BodyKind(StrEnum):
    """What the case's body is: a people's court or an arbitration commission (API
    ``BodyKind``). It is the role the body is registered with."""

    COURT = "court"
    ARBITRATION = "arbitration"


class CaseReason(StrEnum):
    """Why a body rejected a filing or terminated a case (API ``CaseReason``).

    A code, never free text: the log holds no personal data, and the body's own
    file (found by its case number) holds the reasoning.
    """

    NO_JURISDICTION = "no_jurisdiction"
    OUTSIDE_SCOPE = "outside_scope"
    INCOMPLETE_FILING = "incomplete_filing"
    DUPLICATE_FILING = "duplicate_filing"
    ARBITRATION_AGREEMENT = "arbitration_agreement"
    NO_ENFORCEABLE_PROPERTY = "no_enforceable_property"
    DEBTOR_CEASED = "debtor_ceased"
    CLAIM_WAIVED = "claim_waived"
    DECISION_SET_ASIDE = "decision_set_aside"
    OTHER = "other"


class Side(StrEnum):
    """Which party of a case an event is recorded by."""

    LENDER = "lender"
    BODY = "body"


STATUS_NUMBERS: Final[dict[CaseStatus, int]] = {s: i + 1 for i, s in enumerate(CaseStatus)}
EVENT_NUMBERS: Final[dict[CaseEventType, int]] = {e: i + 1 for i, e in enumerate(CaseEventType)}
REASON_NUMBERS: Final[dict[CaseReason, int]] = {r: i + 1 for i, r in enumerate(CaseReason)}
BODY_KIND_NUMBERS: Final[dict[BodyKind, int]] = {BodyKind.COURT: 1, BodyKind.ARBITRATION: 2}

#: The evidence kind (a key of court.evidence.leaf.KIND_NUMBERS) of each event's record.
EVENT_KINDS: Final[dict[CaseEventType, str]] = {e: f"case_{e.value}" for e in CaseEventType}

#: Statuses no event leaves.
TERMINAL_STATUSES: Final = frozenset(
    {
        CaseStatus.REJECTED,
        CaseStatus.CONCLUDED,
        CaseStatus.TERMINATED,
        CaseStatus.WITHDRAWN,
        CaseStatus.SETTLED,
    }
)


@dataclass(frozen=True, slots=True)
class EventRule:
    """Who may record an event, from which statuses, for which bodies, and the status it
    leads to (``None``: the status stays as it was)."""

    side: Side
    from_statuses: frozenset[CaseStatus]
    to_status: CaseStatus | None
    bodies: frozenset[BodyKind] = frozenset(BodyKind)
    reasons: frozenset[CaseReason] = frozenset()


def _s(*statuses: CaseStatus) -> frozenset[CaseStatus]:
    return frozenset(statuses)


_S = CaseStatus
_DECIDED = (_S.JUDGMENT, _S.AWARD)
_ENFORCING = (_S.ENFORCEMENT, _S.PROPERTY_FROZEN)
_COURT = frozenset({BodyKind.COURT})

#: The transition table. Filing creates a case (no status before it). Reasons: the codes
#: an event must carry one of (an event without ``reasons`` carries none).
EVENT_RULES: Final[dict[CaseEventType, EventRule]] = {
    CaseEventType.FILED: EventRule(Side.LENDER, _s(), _S.FILED),
    CaseEventType.ACCEPTED: EventRule(Side.BODY, _s(_S.FILED), _S.ACCEPTED),
    CaseEventType.REJECTED: EventRule(
        Side.BODY,
        _s(_S.FILED),
        _S.REJECTED,
        reasons=frozenset(
            {
                CaseReason.NO_JURISDICTION,
                CaseReason.OUTSIDE_SCOPE,
                CaseReason.INCOMPLETE_FILING,
                CaseReason.DUPLICATE_FILING,
                CaseReason.ARBITRATION_AGREEMENT,
                CaseReason.OTHER,
            }
        ),
    ),
    CaseEventType.MEDIATION_STARTED: EventRule(Side.BODY, _s(_S.ACCEPTED), _S.MEDIATION),
    CaseEventType.JUDGMENT: EventRule(
        Side.BODY, _s(_S.ACCEPTED, _S.MEDIATION), _S.JUDGMENT, bodies=_COURT
    ),
    CaseEventType.AWARD: EventRule(
        Side.BODY,
        _s(_S.ACCEPTED, _S.MEDIATION),
        _S.AWARD,
        bodies=frozenset({BodyKind.ARBITRATION}),
    ),
    # From ACCEPTED: a court enforcing an instrument that is enforceable already (an
    # arbitral award, a judgment of another case, a notarised debt instrument).
    CaseEventType.ENFORCEMENT_STARTED: EventRule(
        Side.BODY, _s(_S.ACCEPTED, _S.JUDGMENT), _S.ENFORCEMENT, bodies=_COURT
    ),
    CaseEventType.PROPERTY_FROZEN: EventRule(
        Side.BODY, _s(*_ENFORCING), _S.PROPERTY_FROZEN, bodies=_COURT
    ),
    CaseEventType.AMOUNT_RECOVERED: EventRule(Side.BODY, _s(*_ENFORCING), None, bodies=_COURT),
    CaseEventType.CONCLUDED: EventRule(
        Side.BODY, _s(_S.MEDIATION, *_DECIDED, *_ENFORCING), _S.CONCLUDED
    ),
    CaseEventType.TERMINATED: EventRule(
        Side.BODY,
        _s(_S.ACCEPTED, _S.MEDIATION, *_DECIDED, *_ENFORCING),
        _S.TERMINATED,
        reasons=frozenset(
            {
                CaseReason.NO_ENFORCEABLE_PROPERTY,
                CaseReason.DEBTOR_CEASED,
                CaseReason.CLAIM_WAIVED,
                CaseReason.DECISION_SET_ASIDE,
                CaseReason.OTHER,
            }
        ),
    ),
    CaseEventType.WITHDRAWN: EventRule(
        Side.LENDER, _s(_S.FILED, _S.ACCEPTED, _S.MEDIATION, *_ENFORCING), _S.WITHDRAWN
    ),
    CaseEventType.SETTLED: EventRule(
        Side.LENDER,
        _s(_S.FILED, _S.ACCEPTED, _S.MEDIATION, *_DECIDED, *_ENFORCING),
        _S.SETTLED,
    ),
}


def allowed_events(
    status: CaseStatus, side: Side, body_kind: BodyKind
) -> tuple[CaseEventType, ...]:
    """The events ``side`` may record on a case of ``body_kind`` in ``status``, in the
    order of :class:`CaseEventType` (empty in a terminal status)."""
    return tuple(
        event
        for event, rule in EVENT_RULES.items()
        if rule.side is side and body_kind in rule.bodies and status in rule.from_statuses
    )


def status_after(event: CaseEventType, status: CaseStatus) -> CaseStatus:
    """The status after ``event`` is recorded in ``status`` (the caller checked it is
    allowed)."""
    to = EVENT_RULES[event].to_status
    return status if to is None else to


# ------------------------------------------------------------------ value rules

#: ISO 4217 alphabetic currency codes: three upper-case letters.
CURRENCY_PATTERN: Final = re.compile(r"[A-Z]{3}")
#: 2**53 - 1: exact in every JSON number implementation (90 trillion yuan in fen).
MAX_MINOR_UNITS: Final = 2**53 - 1
MAX_CASE_NUMBER_CHARS: Final = 64
MAX_CASE_NUMBER_BYTES: Final = 256


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units of an ISO 4217 currency (``CNY`` 12345 = 123.45
    yuan)."""

    currency: str
    minor_units: int


def case_number_rule(value: object) -> str | None:
    """What is wrong with a body's case number (e.g. "(2026)京0105民初12345号"), or None.

    1 to 64 characters and at most 256 bytes of UTF-8; letters, digits, marks,
    punctuation and symbols of any script, and spaces between them; no control,
    format or unassigned characters, no other white space, no space at either end.
    """
    if not isinstance(value, str) or not value:
        return "is required: the body's case number, 1 to 64 characters"
    if len(value) > MAX_CASE_NUMBER_CHARS:
        return f"has {len(value)} characters; at most {MAX_CASE_NUMBER_CHARS} are allowed"
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid Unicode text"
    if size > MAX_CASE_NUMBER_BYTES:
        return f"is {size} bytes of UTF-8; at most {MAX_CASE_NUMBER_BYTES} are allowed"
    if value != value.strip(" "):
        return "must not begin or end with a space"
    for ch in value:
        category = unicodedata.category(ch)
        if category[0] in "CZ" and ch != " ":
            return "holds a control, format, unassigned or white-space character"
    return None
