"""The state machine of judicial cases: who may record which event when (pure: no gRPC, no
SQL, no I/O).

A case is filed by a lender for one of its loans with one court or arbitration
body (its *body*). Each later event is recorded by one of the case's two
parties: the *lender* side (the case's lender, in the lender role) or the
*body* side (the case's body, in the role of its kind: court or arbitration).
Anyone else is not a party (:class:`NotAParty`, which the service answers as
NOT_FOUND, exactly as a case that does not exist). The table of what each
side may record in each status is :data:`court.evidence.case_terms.EVENT_RULES`,
shared with the court's document codec; this module applies it to a case,
checks each event's arguments, and keeps the recovered total.

Refusals:

* :class:`gateway.errors.InvalidArgument` for an argument that breaks a rule
  whatever the case's status (a missing case number, an unknown reason, an
  amount of another currency than the claim, ...), naming the field;
* :class:`TransitionRefused` (a FAILED_PRECONDITION) for an event the caller's
  side may not record in the case's current status: its message names the
  status and the events that side may record next (none in a terminal status).

Recovered amounts (``amount_recovered``, court cases in enforcement only, any
number of times) add up in the claim's currency. The total may exceed the
claim and is *not* refused: the claim is what the lender asked for at filing,
and a court lawfully recovers more (interest accrued during the proceedings,
the doubled interest for delayed performance, costs the judgment puts on the
debtor). Refusing would keep the court from recording what it actually
recovered; instead the transition carries a warning and the case says that
the total exceeds the claim, so a court sees it before it enforces further.
The total is only bounded by :data:`court.evidence.case_event.MAX_MINOR_UNITS`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from court.evidence.case_event import (
    CURRENCY_PATTERN,
    MAX_MINOR_UNITS,
    MAX_RELIED_ON,
    CaseEventDocument,
    Money,
    case_number_rule,
)
from court.evidence.case_terms import (
    EVENT_RULES,
    TERMINAL_STATUSES,
    BodyKind,
    CaseEventType,
    CaseReason,
    CaseStatus,
    Side,
    allowed_events,
    status_after,
)
from court.evidence.fields import (
    ENTRY_ID_PATTERN,
    ENTRY_ID_RULE,
    INSTITUTION_PATTERN,
    INSTITUTION_RULE,
    LOAN_REF_PATTERN,
    LOAN_REF_RULE,
)
from gateway.authz.roles import Caller, Role
from gateway.errors import FailedPrecondition, InvalidArgument, NotFound

__all__ = [
    "BODY_ROLES",
    "MAX_CASE_EVENTS",
    "UPDATE_EVENTS",
    "CaseState",
    "EventRequest",
    "NotAParty",
    "Transition",
    "TransitionRefused",
    "apply_event",
    "event_document",
    "event_name",
    "file_case",
    "filing_document",
    "next_events",
    "side_of",
    "status_name",
]

#: The most events one case holds (a dossier holds at most 10,000 records too).
MAX_CASE_EVENTS: Final = 10_000
#: The role a body of each kind is registered with.
BODY_ROLES: Final = {BodyKind.COURT: Role.COURT, BodyKind.ARBITRATION: Role.ARBITRATION}
#: The events UpdateCaseStatus records (AcceptCase, RejectCase and FileCase the others).
UPDATE_EVENTS: Final = frozenset(CaseEventType) - {
    CaseEventType.FILED,
    CaseEventType.ACCEPTED,
    CaseEventType.REJECTED,
}


def status_name(status: CaseStatus) -> str:
    """The API's name of a status (``CASE_STATUS_ACCEPTED``)."""
    return "CASE_STATUS_" + status.name


def event_name(event: CaseEventType) -> str:
    """The API's name of an event (``CASE_EVENT_TYPE_JUDGMENT``)."""
    return "CASE_EVENT_TYPE_" + event.name


@dataclass(frozen=True, slots=True)
class CaseState:
    """What the machine knows of a case after its last event.

    ``recovered_total`` is in minor units of ``claim.currency``;
    ``event_count`` counts the filing too.
    """

    case_id: str
    lender: str
    loan_ref: str
    body: str
    body_kind: BodyKind
    claim: Money
    status: CaseStatus = CaseStatus.FILED
    case_number: str | None = None
    recovered_total: int = 0
    event_count: int = 1

    @property
    def terminal(self) -> bool:
        """Whether no event leaves the case's status."""
        return self.status in TERMINAL_STATUSES

    @property
    def recovered_exceeds_claim(self) -> bool:
        """Whether more was recovered than the lender claimed (allowed; see the module)."""
        return self.recovered_total > self.claim.minor_units


@dataclass(frozen=True, slots=True)
class EventRequest:
    """One event a party asks to record on a case, with the arguments its kind takes."""

    event: CaseEventType
    case_number: str | None = None
    reason: CaseReason | None = None
    amount: Money | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """The case after an event, and what the parties should notice (never a refusal)."""

    state: CaseState
    warnings: tuple[str, ...] = ()


class NotAParty(NotFound):
    """The caller is neither the case's lender nor its body (in their roles): the case is
    answered as one that does not exist."""

    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id} among the caller's cases")


class TransitionRefused(FailedPrecondition):
    """An event the caller's side may not record in the case's current status."""

    def __init__(
        self,
        status: CaseStatus,
        side: Side,
        event: CaseEventType,
        allowed: tuple[CaseEventType, ...],
        detail: str = "",
    ) -> None:
        who = "the lender" if side is Side.LENDER else "the body"
        may = ", ".join(event_name(e) for e in allowed) if allowed else "nothing (it is final)"
        super().__init__(
            f"{event_name(event)} is not allowed: the case is {status_name(status)}{detail}; "
            f"{who} may record next: {may}"
        )
        self.status = status
        self.side = side
        self.event = event
        self.allowed = allowed


def side_of(state: CaseState, caller: Caller) -> Side | None:
    """Which party ``caller`` is of the case, or None: the lender in the lender role, or
    the body in the role of its kind. An institution is never both (filing refuses it)."""
    if caller.role is Role.LENDER and caller.institution == state.lender:
        return Side.LENDER
    if caller.role is BODY_ROLES[state.body_kind] and caller.institution == state.body:
        return Side.BODY
    return None


def next_events(state: CaseState, caller: Caller) -> tuple[CaseEventType, ...]:
    """The events ``caller`` may record on the case now (empty for a non-party)."""
    side = side_of(state, caller)
    if side is None or state.event_count >= MAX_CASE_EVENTS:
        return ()
    return allowed_events(state.status, side, state.body_kind)


# ------------------------------------------------------------------ filing


def _money_problems(field: str, value: Money | None) -> list[tuple[str, str]]:
    if value is None:
        return [(field, "is required: currency and minor_units")]
    out = []
    if not isinstance(value.currency, str) or CURRENCY_PATTERN.fullmatch(value.currency) is None:
        out.append((f"{field}.currency", "must be an ISO 4217 code, three letters A-Z (CNY)"))
    units = value.minor_units
    if not isinstance(units, int) or not 1 <= units <= MAX_MINOR_UNITS:
        out.append(
            (f"{field}.minor_units", f"must be from 1 to {MAX_MINOR_UNITS} (integer minor units)")
        )
    return out


def file_case(
    caller: Caller,
    *,
    case_id: str,
    loan_ref: str,
    body: str,
    body_kind: BodyKind,
    claim: Money | None,
    relied_on: tuple[str, ...],
) -> CaseState:
    """A new case in status FILED, filed by ``caller`` (a lender) for its loan ``loan_ref``
    with ``body`` (registered as a ``body_kind``). InvalidArgument names every bad field;
    whether ``relied_on`` are records of that loan the caller may read is the service's
    check (it needs the store)."""
    if caller.role is not Role.LENDER:  # the authorization table lets lenders only call it
        raise FailedPrecondition("only a lender files a case")
    problems: list[tuple[str, str]] = []
    if ENTRY_ID_PATTERN.fullmatch(case_id) is None:  # made by the service
        problems.append(("case_id", f"must be {ENTRY_ID_RULE}"))
    if LOAN_REF_PATTERN.fullmatch(loan_ref) is None:
        problems.append(("loan_ref", f"must be {LOAN_REF_RULE}"))
    if INSTITUTION_PATTERN.fullmatch(body) is None:
        problems.append(
            (
                "body",
                f"must be the institution id of a court or arbitration body, {INSTITUTION_RULE}",
            )
        )
    elif body == caller.institution:
        problems.append(("body", "must be another institution than the lender"))
    problems += _money_problems("claim", claim)
    if not 1 <= len(relied_on) <= MAX_RELIED_ON:
        problems.append(
            ("relied_on_entry_ids", f"must name 1 to {MAX_RELIED_ON} records of the loan")
        )
    seen: set[str] = set()
    for i, entry in enumerate(relied_on[:MAX_RELIED_ON]):
        if ENTRY_ID_PATTERN.fullmatch(entry) is None:
            problems.append((f"relied_on_entry_ids[{i}]", f"must be an entry id, {ENTRY_ID_RULE}"))
        elif entry in seen:
            problems.append((f"relied_on_entry_ids[{i}]", "names a record named before"))
        seen.add(entry)
    if problems:
        raise InvalidArgument(problems)
    assert claim is not None  # _money_problems reported it otherwise
    return CaseState(
        case_id=case_id,
        lender=caller.institution,
        loan_ref=loan_ref,
        body=body,
        body_kind=body_kind,
        claim=claim,
    )


# ------------------------------------------------------------------ later events


def _argument_problems(request: EventRequest) -> list[tuple[str, str]]:
    """What is wrong with an event's arguments whatever the case's status."""
    event = request.event
    if not isinstance(event, CaseEventType) or event is CaseEventType.FILED:
        return [("event", "is required: a CaseEventType other than FILED (FileCase files)")]
    rule = EVENT_RULES[event]
    out: list[tuple[str, str]] = []
    if event is CaseEventType.ACCEPTED or (
        event is CaseEventType.REJECTED and request.case_number is not None
    ):
        problem = case_number_rule(request.case_number)
        if problem is not None:
            out.append(("case_number", problem))
    elif request.case_number is not None:
        out.append(
            (
                "case_number",
                f"is given only with {event_name(CaseEventType.ACCEPTED)}"
                f" or {event_name(CaseEventType.REJECTED)}",
            )
        )
    if rule.reasons and request.reason not in rule.reasons:
        names = ", ".join(sorted("CASE_REASON_" + r.name for r in rule.reasons))
        out.append(("reason", f"is required for {event_name(event)}: one of {names}"))
    elif not rule.reasons and request.reason is not None:
        out.append(("reason", f"is not given with {event_name(event)}"))
    if event is CaseEventType.AMOUNT_RECOVERED:
        out += _money_problems("amount", request.amount)
    elif request.amount is not None:
        out.append(("amount", f"is given only with {event_name(CaseEventType.AMOUNT_RECOVERED)}"))
    return out


def apply_event(state: CaseState, caller: Caller, request: EventRequest) -> Transition:
    """The case after ``caller`` records ``request``; raises :class:`NotAParty`,
    InvalidArgument or :class:`TransitionRefused` (in that order of checks) instead."""
    side = side_of(state, caller)
    if side is None:
        raise NotAParty(state.case_id)
    problems = _argument_problems(request)
    if problems:
        raise InvalidArgument(problems)
    event = request.event
    allowed = allowed_events(state.status, side, state.body_kind)
    if event not in allowed:
        raise TransitionRefused(state.status, side, event, allowed)
    if state.event_count >= MAX_CASE_EVENTS:
        raise TransitionRefused(
            state.status, side, event, (), f" and holds {MAX_CASE_EVENTS} events, the most"
        )
    changes: dict[str, object] = {
        "status": status_after(event, state.status),
        "event_count": state.event_count + 1,
    }
    warnings: list[str] = []
    if request.case_number is not None:  # ACCEPTED, or REJECTED with a number
        changes["case_number"] = request.case_number
    elif event is CaseEventType.AMOUNT_RECOVERED:
        amount = request.amount
        assert amount is not None  # _argument_problems required it
        if amount.currency != state.claim.currency:
            raise InvalidArgument(
                [("amount.currency", f"must be the claim's currency, {state.claim.currency}")]
            )
        total = state.recovered_total + amount.minor_units
        if total > MAX_MINOR_UNITS:
            raise InvalidArgument(
                [("amount.minor_units", f"would bring the total past {MAX_MINOR_UNITS}")]
            )
        changes["recovered_total"] = total
        if total > state.claim.minor_units >= state.recovered_total:
            warnings.append(
                f"the total recovered, {total}, now exceeds the claim, "
                f"{state.claim.minor_units} {state.claim.currency} minor units"
            )
    return Transition(dataclasses.replace(state, **changes), tuple(warnings))  # type: ignore[arg-type]


# ------------------------------------------------------------------ documents


def filing_document(
    state: CaseState, relied_on: tuple[str, ...], occurred_at: datetime
) -> CaseEventDocument:
    """The document of a case's filing (``state`` as :func:`file_case` made it)."""
    return CaseEventDocument(
        case_id=state.case_id,
        event_number=1,
        event=CaseEventType.FILED,
        status_after=CaseStatus.FILED,
        lender=state.lender,
        loan_ref=state.loan_ref,
        body=state.body,
        body_kind=state.body_kind,
        occurred_at=occurred_at,
        claim=state.claim,
        relied_on=relied_on,
    )


def event_document(
    after: CaseState, request: EventRequest, occurred_at: datetime, previous_event: str
) -> CaseEventDocument:
    """The document of a later event: ``after`` is the transition's state and
    ``previous_event`` the entry id of the record of the case's event before it."""
    recovered = request.event is CaseEventType.AMOUNT_RECOVERED
    return CaseEventDocument(
        case_id=after.case_id,
        event_number=after.event_count,
        event=request.event,
        status_after=after.status,
        lender=after.lender,
        loan_ref=after.loan_ref,
        body=after.body,
        body_kind=after.body_kind,
        occurred_at=occurred_at,
        previous_event=previous_event,
        case_number=request.case_number,
        reason=request.reason,
        amount=request.amount,
        recovered_total=after.recovered_total if recovered else None,
    )
