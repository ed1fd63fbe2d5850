"""The case state machine: random event sequences by random callers (hypothesis stateful
testing), and the rules named one by one."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from court.evidence.case_event import (
    MAX_MINOR_UNITS,
    Money,
    decode_case_event,
    encode_case_event,
)
from court.evidence.case_terms import (
    EVENT_RULES,
    TERMINAL_STATUSES,
    BodyKind,
    CaseEventType,
    CaseReason,
    CaseStatus,
    Side,
)
from gateway.authz.roles import Caller, Role
from gateway.cases.machine import (
    MAX_CASE_EVENTS,
    CaseState,
    EventRequest,
    NotAParty,
    TransitionRefused,
    apply_event,
    event_document,
    event_name,
    file_case,
    filing_document,
    next_events,
    side_of,
    status_name,
)
from gateway.errors import FailedPrecondition, InvalidArgument

LENDER = Caller("bank-a", Role.LENDER)
COURT = Caller("court-1", Role.COURT)
ARBITRATION = Caller("arb-1", Role.ARBITRATION)
T0 = datetime(2026, 3, 1, tzinfo=UTC)
CLAIM = Money("CNY", 1_000_000)


def _filed(kind: BodyKind = BodyKind.COURT, claim: Money = CLAIM) -> CaseState:
    body = COURT if kind is BodyKind.COURT else ARBITRATION
    return file_case(
        LENDER,
        case_id="case-1",
        loan_ref="L-1",
        body=body.institution,
        body_kind=kind,
        claim=claim,
        relied_on=("e1", "e2"),
    )


def _valid_request(event: CaseEventType, units: int = 100) -> EventRequest:
    """A request whose arguments are right for ``event`` (so only the state decides)."""
    rule = EVENT_RULES[event]
    return EventRequest(
        event=event,
        case_number="(2026)京0105民初1号" if event is CaseEventType.ACCEPTED else None,
        reason=sorted(rule.reasons)[0] if rule.reasons else None,
        amount=Money("CNY", units) if event is CaseEventType.AMOUNT_RECOVERED else None,
    )


def _strangers(state: CaseState) -> list[Caller]:
    """Callers that are not parties: other institutions, and the parties in wrong roles."""
    return [
        Caller("bank-b", Role.LENDER),
        Caller("court-2", Role.COURT),
        Caller("arb-2", Role.ARBITRATION),
        Caller(state.lender, Role.COURT),
        Caller(state.body, Role.LENDER),
        Caller(state.body, Role.ARBITRATION if state.body_kind is BodyKind.COURT else Role.COURT),
        Caller(state.lender, Role.COLLECTOR),
        Caller(state.body, Role.REGULATOR),
    ]


_EVENTS = [e for e in CaseEventType if e is not CaseEventType.FILED]


class CaseMachine(RuleBasedStateMachine):
    """One case, driven by random events from random callers (parties and strangers)."""

    state: CaseState
    documents: list[bytes]

    @initialize(
        kind=st.sampled_from(list(BodyKind)),
        claim=st.integers(1, 10**9),
    )
    def file(self, kind: BodyKind, claim: int) -> None:
        self.state = _filed(kind, Money("CNY", claim))
        self.documents = [encode_case_event(filing_document(self.state, ("e1", "e2"), T0))]
        self.was_terminal = False
        self.totals = [0]

    def _parties(self) -> list[Caller]:
        body = COURT if self.state.body_kind is BodyKind.COURT else ARBITRATION
        return [LENDER, body]

    def _record(self, caller: Caller, request: EventRequest) -> None:
        before = self.state
        side = side_of(before, caller)
        allowed = next_events(before, caller)
        try:
            transition = apply_event(before, caller, request)
        except NotAParty:
            assert side is None
            return
        except InvalidArgument as exc:
            # Only the currency or the cap can make a valid-looking request fail here.
            fields = {f for f, _ in exc.violations}
            assert fields <= {"amount.currency", "amount.minor_units"}, exc.violations
            assert request.event is CaseEventType.AMOUNT_RECOVERED
            return
        except TransitionRefused as exc:
            assert side is not None
            assert request.event not in allowed
            assert exc.status is before.status
            assert exc.allowed == allowed
            assert status_name(before.status) in exc.message
            for event in allowed:
                assert event_name(event) in exc.message
            if not allowed:
                assert "nothing" in exc.message
            return
        assert side is not None
        assert request.event in allowed, (before.status, side, request.event)
        after = transition.state
        assert after.event_count == before.event_count + 1
        rule = EVENT_RULES[request.event]
        assert after.status is (rule.to_status or before.status)
        previous = f"rec-{before.event_count}"
        der = encode_case_event(event_document(after, request, T0, previous))
        doc = decode_case_event(der)
        assert doc.event_number == after.event_count
        assert doc.status_after is after.status
        self.documents.append(der)
        self.state = after

    @rule(
        who=st.integers(0, 1),
        event=st.sampled_from(_EVENTS),
        units=st.integers(1, 10**8),
    )
    def party_records(self, who: int, event: CaseEventType, units: int) -> None:
        self._record(self._parties()[who], _valid_request(event, units))

    @rule(data=st.data(), event=st.sampled_from(_EVENTS))
    def stranger_tries(self, data: st.DataObject, event: CaseEventType) -> None:
        stranger = data.draw(st.sampled_from(_strangers(self.state)))
        with pytest.raises(NotAParty):
            apply_event(self.state, stranger, _valid_request(event))
        assert next_events(self.state, stranger) == ()

    @rule(
        who=st.integers(0, 1),
        event=st.sampled_from(_EVENTS),
        case_number=st.one_of(st.none(), st.just("(2026)1号"), st.just("")),
        reason=st.one_of(st.none(), st.sampled_from(list(CaseReason))),
        amount=st.one_of(
            st.none(),
            st.builds(Money, st.sampled_from(["CNY", "USD", "cny"]), st.integers(-1, 10**6)),
        ),
    )
    def party_sends_any_arguments(
        self,
        who: int,
        event: CaseEventType,
        case_number: str | None,
        reason: CaseReason | None,
        amount: Money | None,
    ) -> None:
        """Whatever the arguments, the machine succeeds (and the document encodes) or
        refuses with InvalidArgument or TransitionRefused, never anything else."""
        caller = self._parties()[who]
        request = EventRequest(event, case_number, reason, amount)
        before = self.state
        try:
            transition = apply_event(before, caller, request)
        except (InvalidArgument, TransitionRefused):
            assert self.state is before
            return
        der = encode_case_event(
            event_document(transition.state, request, T0, f"rec-{before.event_count}")
        )
        self.documents.append(der)
        self.state = transition.state

    @rule(data=st.data(), units=st.integers(1, 10**8))
    def party_takes_an_allowed_step(self, data: st.DataObject, units: int) -> None:
        """Biased towards progress, so that random runs reach enforcement and the final
        statuses (random events alone are mostly refused)."""
        choices = [(c, e) for c in self._parties() for e in next_events(self.state, c)]
        if not choices:
            return
        onward = [(c, e) for c, e in choices if EVENT_RULES[e].to_status not in TERMINAL_STATUSES]
        if onward and data.draw(st.integers(0, 9)) < 8:  # mostly keep the case going
            choices = onward
        caller, event = data.draw(st.sampled_from(choices))
        self._record(caller, _valid_request(event, units))

    @invariant()
    def allowed_events_are_exactly_those_that_succeed(self) -> None:
        for caller in self._parties():
            succeeded = set()
            for event in _EVENTS:
                try:
                    apply_event(self.state, caller, _valid_request(event, 1))
                except TransitionRefused:
                    continue
                succeeded.add(event)
            assert succeeded == set(next_events(self.state, caller))

    @invariant()
    def terminal_states_stay_terminal(self) -> None:
        terminal = self.state.status in TERMINAL_STATUSES
        if self.was_terminal:
            assert terminal
        self.was_terminal = terminal
        if terminal:
            for caller in self._parties():
                assert next_events(self.state, caller) == ()

    @invariant()
    def recovered_total_is_monotonic_and_only_in_court_enforcement(self) -> None:
        total = self.state.recovered_total
        assert total >= self.totals[-1]
        self.totals.append(total)
        if total:
            assert self.state.body_kind is BodyKind.COURT
        assert self.state.recovered_exceeds_claim == (total > self.state.claim.minor_units)

    @precondition(lambda self: len(self.documents) > 1)
    @invariant()
    def documents_are_one_numbered_history(self) -> None:
        docs = [decode_case_event(d) for d in self.documents]
        assert [d.event_number for d in docs] == list(range(1, len(docs) + 1))
        assert docs[-1].status_after is self.state.status
        recovered = [d for d in docs if d.event is CaseEventType.AMOUNT_RECOVERED]
        if recovered:
            assert sum(d.amount.minor_units for d in recovered if d.amount) == (
                recovered[-1].recovered_total
            )


CaseMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=30)
TestCaseMachine = CaseMachine.TestCase


# ------------------------------------------------------------------ named rules


def _walk(state: CaseState, *steps: tuple[Caller, EventRequest]) -> CaseState:
    for caller, request in steps:
        state = apply_event(state, caller, request).state
    return state


def test_a_court_case_from_filing_to_conclusion() -> None:
    state = _walk(
        _filed(),
        (COURT, _valid_request(CaseEventType.ACCEPTED)),
        (COURT, _valid_request(CaseEventType.JUDGMENT)),
        (COURT, _valid_request(CaseEventType.ENFORCEMENT_STARTED)),
        (COURT, _valid_request(CaseEventType.PROPERTY_FROZEN)),
        (COURT, _valid_request(CaseEventType.AMOUNT_RECOVERED, 400_000)),
        (COURT, _valid_request(CaseEventType.PROPERTY_FROZEN)),
        (COURT, _valid_request(CaseEventType.AMOUNT_RECOVERED, 600_000)),
        (COURT, _valid_request(CaseEventType.CONCLUDED)),
    )
    assert state.status is CaseStatus.CONCLUDED
    assert state.recovered_total == 1_000_000
    assert state.case_number == "(2026)京0105民初1号"
    assert state.event_count == 9


def test_an_arbitration_body_awards_but_does_not_enforce() -> None:
    state = _walk(
        _filed(BodyKind.ARBITRATION), (ARBITRATION, _valid_request(CaseEventType.ACCEPTED))
    )
    with pytest.raises(TransitionRefused) as info:
        apply_event(state, ARBITRATION, _valid_request(CaseEventType.JUDGMENT))
    assert "CASE_EVENT_TYPE_AWARD" in info.value.message
    state = _walk(state, (ARBITRATION, _valid_request(CaseEventType.AWARD)))
    with pytest.raises(TransitionRefused) as info:
        apply_event(state, ARBITRATION, _valid_request(CaseEventType.ENFORCEMENT_STARTED))
    assert info.value.allowed == (CaseEventType.CONCLUDED, CaseEventType.TERMINATED)


def test_a_refusal_names_the_status_and_what_the_caller_may_do_next() -> None:
    state = _walk(_filed(), (COURT, _valid_request(CaseEventType.ACCEPTED)))
    with pytest.raises(TransitionRefused) as info:
        apply_event(state, LENDER, _valid_request(CaseEventType.CONCLUDED))
    assert isinstance(info.value, FailedPrecondition)
    assert info.value.message == (
        "CASE_EVENT_TYPE_CONCLUDED is not allowed: the case is CASE_STATUS_ACCEPTED; "
        "the lender may record next: CASE_EVENT_TYPE_WITHDRAWN, CASE_EVENT_TYPE_SETTLED"
    )
    state = _walk(state, (LENDER, _valid_request(CaseEventType.WITHDRAWN)))
    with pytest.raises(TransitionRefused) as info:
        apply_event(state, COURT, _valid_request(CaseEventType.JUDGMENT))
    assert "CASE_STATUS_WITHDRAWN" in info.value.message
    assert "nothing (it is final)" in info.value.message


def test_recovering_more_than_the_claim_is_recorded_with_a_warning_once() -> None:
    state = _walk(
        _filed(claim=Money("CNY", 1000)),
        (COURT, _valid_request(CaseEventType.ACCEPTED)),
        (COURT, _valid_request(CaseEventType.ENFORCEMENT_STARTED)),
        (COURT, _valid_request(CaseEventType.AMOUNT_RECOVERED, 1000)),
    )
    assert not state.recovered_exceeds_claim
    over = apply_event(state, COURT, _valid_request(CaseEventType.AMOUNT_RECOVERED, 1))
    assert over.state.recovered_total == 1001
    assert over.state.recovered_exceeds_claim
    assert len(over.warnings) == 1 and "exceeds the claim" in over.warnings[0]
    again = apply_event(over.state, COURT, _valid_request(CaseEventType.AMOUNT_RECOVERED, 1))
    assert again.warnings == ()


def test_recovered_amounts_are_in_the_claims_currency_and_bounded() -> None:
    state = _walk(
        _filed(),
        (COURT, _valid_request(CaseEventType.ACCEPTED)),
        (COURT, _valid_request(CaseEventType.ENFORCEMENT_STARTED)),
    )
    with pytest.raises(InvalidArgument) as info:
        apply_event(
            state,
            COURT,
            EventRequest(CaseEventType.AMOUNT_RECOVERED, amount=Money("USD", 5)),
        )
    assert info.value.violations == [("amount.currency", "must be the claim's currency, CNY")]
    state = _walk(state, (COURT, _valid_request(CaseEventType.AMOUNT_RECOVERED, MAX_MINOR_UNITS)))
    with pytest.raises(InvalidArgument) as info:
        apply_event(state, COURT, _valid_request(CaseEventType.AMOUNT_RECOVERED, 1))
    assert info.value.violations[0][0] == "amount.minor_units"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (EventRequest(CaseEventType.ACCEPTED), "case_number"),
        (EventRequest(CaseEventType.ACCEPTED, case_number="a\nb"), "case_number"),
        (EventRequest(CaseEventType.REJECTED), "reason"),
        (
            EventRequest(CaseEventType.REJECTED, reason=CaseReason.NO_ENFORCEABLE_PROPERTY),
            "reason",
        ),
        (EventRequest(CaseEventType.SETTLED, reason=CaseReason.OTHER), "reason"),
        (EventRequest(CaseEventType.SETTLED, case_number="1"), "case_number"),
        (EventRequest(CaseEventType.SETTLED, amount=Money("CNY", 1)), "amount"),
        (EventRequest(CaseEventType.AMOUNT_RECOVERED), "amount"),
        (
            EventRequest(CaseEventType.AMOUNT_RECOVERED, amount=Money("CNY", 0)),
            "amount.minor_units",
        ),
        (EventRequest(CaseEventType.AMOUNT_RECOVERED, amount=Money("yen", 1)), "amount.currency"),
        (EventRequest(CaseEventType.FILED), "event"),
    ],
)
def test_bad_arguments_are_invalid_whatever_the_status(request_: EventRequest, field: str) -> None:
    """Arguments are checked before the status: the same answer in FILED as in a final
    status, so a caller fixes its request first."""
    for state in (_filed(), _walk(_filed(), (LENDER, _valid_request(CaseEventType.SETTLED)))):
        caller = LENDER if request_.event in (CaseEventType.SETTLED,) else COURT
        with pytest.raises(InvalidArgument) as info:
            apply_event(state, caller, request_)
        assert field in {f for f, _ in info.value.violations}


def test_filing_names_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as info:
        file_case(
            LENDER,
            case_id="case-1",
            loan_ref="张三",
            body=LENDER.institution,
            body_kind=BodyKind.COURT,
            claim=Money("rmb", 0),
            relied_on=("e1", "e1", "bad id"),
        )
    fields = [f for f, _ in info.value.violations]
    assert fields == [
        "loan_ref",
        "body",
        "claim.currency",
        "claim.minor_units",
        "relied_on_entry_ids[1]",
        "relied_on_entry_ids[2]",
    ]
    with pytest.raises(InvalidArgument) as info:
        file_case(
            LENDER,
            case_id="case-1",
            loan_ref="L-1",
            body="court-1",
            body_kind=BodyKind.COURT,
            claim=None,
            relied_on=(),
        )
    assert [f for f, _ in info.value.violations] == ["claim", "relied_on_entry_ids"]
    with pytest.raises(FailedPrecondition):
        file_case(
            COURT,
            case_id="c",
            loan_ref="L-1",
            body="court-2",
            body_kind=BodyKind.COURT,
            claim=CLAIM,
            relied_on=("e1",),
        )


def test_a_case_holds_at_most_max_events() -> None:
    state = dataclasses.replace(
        _walk(
            _filed(),
            (COURT, _valid_request(CaseEventType.ACCEPTED)),
            (COURT, _valid_request(CaseEventType.ENFORCEMENT_STARTED)),
        ),
        event_count=MAX_CASE_EVENTS,
    )
    assert next_events(state, COURT) == ()
    with pytest.raises(TransitionRefused, match="holds 10000 events"):
        apply_event(state, COURT, _valid_request(CaseEventType.AMOUNT_RECOVERED))


def test_the_sides_are_the_cases_own_parties_in_their_roles() -> None:
    state = _filed()
    assert side_of(state, LENDER) is Side.LENDER
    assert side_of(state, COURT) is Side.BODY
    for stranger in _strangers(state):
        assert side_of(state, stranger) is None, stranger


def test_documents_follow_the_machine() -> None:
    state = _filed()
    filing = decode_case_event(encode_case_event(filing_document(state, ("e1", "e2"), T0)))
    assert filing.claim == CLAIM and filing.relied_on == ("e1", "e2")
    request = _valid_request(CaseEventType.ACCEPTED)
    after = apply_event(state, COURT, request).state
    doc = event_document(after, request, T0 + timedelta(days=1), "rec-1")
    assert decode_case_event(encode_case_event(doc)).case_number == "(2026)京0105民初1号"
