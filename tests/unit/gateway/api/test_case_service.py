"""CaseService on the real ledger and server (SQLite in memory, the in-process TSA).

A lender files with a court, the court accepts and records the case's course; each
event is a record of the loan whose digest is the SHA-256 of its document; the
case's rows follow the log; another court sees nothing of the case; refusals name
the field or the status; retries are idempotent; WatchCases replays then goes live.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from court.evidence.case_event import decode_case_event
from court.evidence.case_terms import CaseEventType, CaseStatus
from evidence_gateway.v1 import case_service_pb2 as cs
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.authz.roles import Role
from gateway.cases.watch import format_cursor
from gateway.log.tree import inclusion_proof
from tests.support.grpc_client import error_fields, submission, timestamp
from tests.support.registered_institutions import as_institution as md
from tests.support.registered_institutions import issue_certificates, registered_institutions
from tests.unit.gateway.api.conftest import Harness

WHO = {
    "bank-a": Role.LENDER,
    "bank-b": Role.LENDER,
    "court-1": Role.COURT,
    "court-2": Role.COURT,
    "arb-1": Role.ARBITRATION,
    "agency-1": Role.COLLECTOR,
}


@pytest.fixture(scope="module")
def certificates(pki_p256: Path) -> dict[str, bytes]:
    return issue_certificates(pki_p256, WHO)


@pytest.fixture
def h(
    start_harness: Callable[..., Harness], pki_p256: Path, certificates: dict[str, bytes]
) -> Iterator[Harness]:
    with registered_institutions(pki_p256, WHO, certificates) as registry:
        yield start_harness(registry=registry)


def _records(h: Harness, loan: str, n: int) -> list[str]:
    return [
        h.evidence.SubmitEvidence(
            ev.SubmitEvidenceRequest(submission=submission(loan)), metadata=md("bank-a")
        ).receipt.entry_id
        for _ in range(n)
    ]


def _file(h: Harness, loan: str, body: str, relied: list[str], rid: str = "") -> cs.Case:
    return h.cases.FileCase(
        cs.FileCaseRequest(
            request_id=rid or f"file-{loan}-{body}",
            loan_ref=loan,
            body=body,
            claim=cs.MoneyAmount(currency_code="CNY", minor_units=1_000_000),
            relied_on_entry_ids=relied,
            share_expires_at=timestamp(datetime.now(UTC) + timedelta(days=90)),
        ),
        metadata=md("bank-a"),
    ).case


def _update(h: Harness, who: str, case_id: str, event: int, rid: str, **kw: Any) -> Any:
    return h.cases.UpdateCaseStatus(
        cs.UpdateCaseStatusRequest(
            request_id=rid,
            case_id=case_id,
            event=event,  # type: ignore[arg-type]
            occurred_at=timestamp(datetime.now(UTC)),
            **kw,
        ),
        metadata=md(who),
    )


def _accept(
    h: Harness,
    case_id: str,
    number: str = "(2026)京0105民初12345号",
    rid: str = "acc",
    at: datetime | None = None,
) -> Any:
    return h.cases.AcceptCase(
        cs.AcceptCaseRequest(
            request_id=rid,
            case_id=case_id,
            case_number=number,
            occurred_at=timestamp(at or datetime.now(UTC)),
        ),
        metadata=md("court-1"),
    )


def _code(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details() or ""


def test_a_case_from_filing_to_enforcement_each_step_a_record(h: Harness) -> None:
    relied = _records(h, "L-1", 2)
    case = _file(h, "L-1", "court-1", relied)
    assert case.status == cs.CASE_STATUS_FILED and case.body_kind == cs.BODY_KIND_COURT
    assert list(case.relied_on_entry_ids) == relied
    assert case.filing_checkpoint.size >= 4  # two records, the share, the filing
    # The answer carries the filing event, whose receipt the lender archives.
    (filing,) = case.events
    assert filing.type == cs.CASE_EVENT_TYPE_FILED and filing.event_number == 1
    assert filing.receipt.leaf_index < case.filing_checkpoint.size
    # The court was given the loan: it reads the lender's records.
    h.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id=relied[0]), metadata=md("court-1"))

    accepted = _accept(h, case.case_id).event
    assert accepted.type == cs.CASE_EVENT_TYPE_ACCEPTED and accepted.event_number == 2
    assert accepted.recorded_by == "court-1"
    assert accepted.case_number == "(2026)京0105民初12345号"
    # The record's digest is the SHA-256 of the document, and the document chains.
    record = h.evidence.GetEvidence(
        ev.GetEvidenceRequest(entry_id=accepted.receipt.entry_id), metadata=md("court-1")
    ).record
    assert record.submission.digest == hashlib.sha256(accepted.document).digest()
    assert record.submission.kind == common_pb2.EVIDENCE_KIND_CASE_ACCEPTED
    assert record.institution == "court-1" and record.submission.owner == "bank-a"
    doc = decode_case_event(accepted.document)
    assert doc.event is CaseEventType.ACCEPTED and doc.status_after is CaseStatus.ACCEPTED

    for n, event in enumerate(
        (
            cs.CASE_EVENT_TYPE_JUDGMENT,
            cs.CASE_EVENT_TYPE_ENFORCEMENT_STARTED,
            cs.CASE_EVENT_TYPE_PROPERTY_FROZEN,
        )
    ):
        _update(h, "court-1", case.case_id, event, f"u{n}")
    got = _update(
        h,
        "court-1",
        case.case_id,
        cs.CASE_EVENT_TYPE_AMOUNT_RECOVERED,
        "rec",
        amount=cs.MoneyAmount(currency_code="CNY", minor_units=1_500_000),
    )
    assert got.warnings and "exceeds the claim" in got.warnings[0]
    assert got.event.recovered_total.minor_units == 1_500_000

    full = h.cases.GetCase(cs.GetCaseRequest(case_id=case.case_id), metadata=md("bank-a")).case
    assert full.status == cs.CASE_STATUS_PROPERTY_FROZEN and full.recovered_exceeds_claim
    assert [e.event_number for e in full.events] == [1, 2, 3, 4, 5, 6]
    for before, after in zip(full.events, full.events[1:], strict=False):
        assert after.previous_event_entry_id == before.receipt.entry_id
    assert list(full.next_events) == [cs.CASE_EVENT_TYPE_WITHDRAWN, cs.CASE_EVENT_TYPE_SETTLED]
    as_court = h.cases.GetCase(cs.GetCaseRequest(case_id=case.case_id), metadata=md("court-1"))
    assert cs.CASE_EVENT_TYPE_CONCLUDED in as_court.case.next_events


def test_non_parties_see_nothing_and_refusals_name_the_status(h: Harness) -> None:
    relied = _records(h, "L-2", 1)
    case = _file(h, "L-2", "court-1", relied)
    missing = _code(
        lambda: h.cases.GetCase(cs.GetCaseRequest(case_id="nonexistent"), metadata=md("court-2"))
    )
    other = _code(
        lambda: h.cases.GetCase(cs.GetCaseRequest(case_id=case.case_id), metadata=md("court-2"))
    )
    assert missing[0] == other[0] == grpc.StatusCode.NOT_FOUND
    assert missing[1].replace("nonexistent", "X") == other[1].replace(case.case_id, "X")
    # Another lender, and the court's update of a case not its own: not found either.
    assert (
        _code(lambda: _update(h, "court-2", case.case_id, cs.CASE_EVENT_TYPE_JUDGMENT, "x"))[0]
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        _code(
            lambda: h.cases.GetCase(cs.GetCaseRequest(case_id=case.case_id), metadata=md("bank-b"))
        )[0]
        == grpc.StatusCode.NOT_FOUND
    )
    # Judgment before acceptance: the status and what the court may do next.
    code, message = _code(
        lambda: _update(h, "court-1", case.case_id, cs.CASE_EVENT_TYPE_JUDGMENT, "j")
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "the case is CASE_STATUS_FILED" in message
    assert "CASE_EVENT_TYPE_ACCEPTED, CASE_EVENT_TYPE_REJECTED" in message
    # The lender may not accept (the table); an award is not a court's.
    assert (
        _code(
            lambda: h.cases.AcceptCase(
                cs.AcceptCaseRequest(request_id="a", case_id=case.case_id, case_number="1"),
                metadata=md("bank-a"),
            )
        )[0]
        == grpc.StatusCode.PERMISSION_DENIED
    )
    with pytest.raises(grpc.RpcError) as info:
        _accept(h, case.case_id, number="")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == ["case_number"]
    # A second open case of the loan with the same court.
    code, message = _code(lambda: _file(h, "L-2", "court-1", relied, rid="again"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and case.case_id in message
    # Filing: unknown body, records of another loan.
    others = _records(h, "L-3", 1)
    with pytest.raises(grpc.RpcError) as info:
        _file(h, "L-2", "agency-1", others, rid="bad")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(error_fields(info.value)) == ["body"]
    with pytest.raises(grpc.RpcError) as info:
        _file(h, "L-2", "court-2", others, rid="bad2")
    assert error_fields(info.value) == ["relied_on_entry_ids[0]"]


def test_retries_are_idempotent_and_reuse_with_other_content_is_refused(h: Harness) -> None:
    relied = _records(h, "L-4", 1)
    case = _file(h, "L-4", "court-1", relied, rid="f1")
    assert _file(h, "L-4", "court-1", relied, rid="f1").case_id == case.case_id
    at = datetime.now(UTC)
    first = _accept(h, case.case_id, rid="r1", at=at).event
    again = _accept(h, case.case_id, rid="r1", at=at).event
    assert again.receipt.entry_id == first.receipt.entry_id
    assert _code(lambda: _accept(h, case.case_id, number="other", rid="r1", at=at))[0] == (
        grpc.StatusCode.ALREADY_EXISTS
    )
    full = h.cases.GetCase(cs.GetCaseRequest(case_id=case.case_id), metadata=md("bank-a")).case
    assert len(full.events) == 2
    # A retried filing after later events answers the filing event alone, as the first time.
    retried = _file(h, "L-4", "court-1", relied, rid="f1")
    assert [e.receipt.entry_id for e in retried.events] == [full.events[0].receipt.entry_id]


def test_another_court_sees_the_case_records_withheld_in_its_dossier(h: Harness) -> None:
    relied = _records(h, "L-5", 1)
    first = _file(h, "L-5", "court-1", relied)
    _accept(h, first.case_id)
    second = _file(h, "L-5", "court-2", relied)
    listed = h.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref="L-5", institution="bank-a"), metadata=md("court-2")
    ).records
    kinds = [r.submission.kind for r in listed]
    assert common_pb2.EVIDENCE_KIND_CASE_ACCEPTED not in kinds
    case_ids = {r.submission.metadata.get("case_id") for r in listed} - {None, ""}
    assert case_ids == {second.case_id}
    dossier = h.verification.GetDossier(
        vf.GetDossierRequest(loan_ref="L-5", owner="bank-a"), metadata=md("court-2")
    ).dossier
    withheld = [r for r in dossier.records if not r.HasField("opening")]
    assert len(withheld) == 3  # court-1's share, filing and acceptance
    assert len(dossier.records) == 6  # and the record, court-2's share and filing
    # The proofs, read in one batch, are those read one record at a time.
    for r in dossier.records:
        single = inclusion_proof(h.store, r.leaf_index, dossier.checkpoint.size)
        assert list(r.inclusion_proof.hashes) == single
    # Documents: court-2 gets its own case's filing document, none of the withheld ones.
    assert all(not r.document for r in withheld)
    shown = {r.entry_id: r.document for r in dossier.records if r.document}
    assert [decode_case_event(d).case_id for d in shown.values()] == [second.case_id]
    for entry_id, document in shown.items():
        opened = next(r for r in listed if r.receipt.entry_id == entry_id)
        assert opened.submission.digest == hashlib.sha256(document).digest()
    lenders = h.verification.GetDossier(
        vf.GetDossierRequest(loan_ref="L-5"), metadata=md("bank-a")
    ).dossier
    events = [decode_case_event(r.document) for r in lenders.records if r.document]
    assert [(e.case_id, e.event) for e in events] == [
        (first.case_id, CaseEventType.FILED),
        (first.case_id, CaseEventType.ACCEPTED),
        (second.case_id, CaseEventType.FILED),
    ]
    # The lender sees all of them.
    mine = h.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref="L-5"), metadata=md("bank-a")
    ).records
    assert sum(r.submission.kind == common_pb2.EVIDENCE_KIND_CASE_FILED for r in mine) == 2


def test_settlement_and_repayment_after_filing_appear_in_the_case(h: Harness) -> None:
    relied = _records(h, "L-6", 1)
    case = _file(h, "L-6", "court-1", relied)
    later = _records(h, "L-6", 1)  # a repayment
    settled = h.evidence.SubmitEvidence(
        ev.SubmitEvidenceRequest(
            submission=submission("L-6", kind=common_pb2.EVIDENCE_KIND_SETTLEMENT_AGREEMENT)
        ),
        metadata=md("bank-a"),
    ).receipt
    full = h.cases.GetCase(cs.GetCaseRequest(case_id=case.case_id), metadata=md("court-1")).case
    assert [r.entry_id for r in full.records_since_filing] == [later[0], settled.entry_id]
    assert full.settled_recorded_at.ToDatetime() == settled.received_at.ToDatetime()


def test_list_cases_filters_and_pages(h: Harness) -> None:
    ids = []
    for n in range(3):
        relied = _records(h, f"L-L{n}", 1)
        ids.append(_file(h, f"L-L{n}", "court-1", relied).case_id)
    _accept(h, ids[1])
    page = h.cases.ListCases(cs.ListCasesRequest(page_size=2), metadata=md("court-1"))
    assert [c.case_id for c in page.cases] == ids[:2] and page.next_page_token
    rest = h.cases.ListCases(
        cs.ListCasesRequest(page_size=2, page_token=page.next_page_token), metadata=md("court-1")
    )
    assert [c.case_id for c in rest.cases] == ids[2:] and not rest.next_page_token
    accepted = h.cases.ListCases(
        cs.ListCasesRequest(statuses=[cs.CASE_STATUS_ACCEPTED]), metadata=md("bank-a")
    )
    assert [c.case_id for c in accepted.cases] == [ids[1]]
    assert not h.cases.ListCases(cs.ListCasesRequest(), metadata=md("court-2")).cases
    with pytest.raises(grpc.RpcError) as info:
        h.cases.ListCases(
            cs.ListCasesRequest(page_size=2, page_token=page.next_page_token, loan_ref="L-L1"),
            metadata=md("bank-a"),
        )
    assert error_fields(info.value) == ["page_token"]


def _watch(h: Harness, who: str, cursor: str, want: int, out: list[Any]) -> threading.Thread:
    call = h.cases.WatchCases(cs.WatchCasesRequest(cursor=cursor), metadata=md(who))

    def run() -> None:
        events = 0
        for message in call:
            out.append(message)
            events += message.HasField("event")
            if events >= want:
                call.cancel()
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_watch_replays_then_goes_live_and_resumes_with_its_cursor(h: Harness) -> None:
    relied = _records(h, "L-7", 1)
    case = _file(h, "L-7", "court-1", relied)
    seen: list[Any] = []
    lender = _watch(h, "bank-a", "", 3, seen)
    court: list[Any] = []
    court_thread = _watch(h, "court-1", "", 3, court)
    _accept(h, case.case_id)
    _update(h, "court-1", case.case_id, cs.CASE_EVENT_TYPE_JUDGMENT, "j")
    lender.join(10)
    court_thread.join(10)
    assert not seen[0].HasField("event")  # the first message carries only a cursor
    events = [m.event.type for m in seen if m.HasField("event")]
    assert events == [
        cs.CASE_EVENT_TYPE_FILED,
        cs.CASE_EVENT_TYPE_ACCEPTED,
        cs.CASE_EVENT_TYPE_JUDGMENT,
    ]
    assert [m.event.type for m in court if m.HasField("event")] == events
    # Resume after the acceptance: exactly the judgment, then a new event live.
    after_accept = next(m.cursor for m in seen if m.event.type == cs.CASE_EVENT_TYPE_ACCEPTED)
    resumed: list[Any] = []
    thread = _watch(h, "bank-a", after_accept, 2, resumed)
    _update(h, "court-1", case.case_id, cs.CASE_EVENT_TYPE_CONCLUDED, "c")
    thread.join(10)
    assert [m.event.type for m in resumed if m.HasField("event")] == [
        cs.CASE_EVENT_TYPE_JUDGMENT,
        cs.CASE_EVENT_TYPE_CONCLUDED,
    ]
    # Another court's stream carries nothing of it.
    other = h.cases.WatchCases(cs.WatchCasesRequest(), metadata=md("court-2"), timeout=1.5)
    with pytest.raises(grpc.RpcError) as info:
        for message in other:
            assert not message.HasField("event")
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize("cursor", ["x", "w1:5", format_cursor(10**9), "AAAA", "d zz"])
def test_a_cursor_not_given_out_is_refused(h: Harness, cursor: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        list(h.cases.WatchCases(cs.WatchCasesRequest(cursor=cursor), metadata=md("bank-a")))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == ["cursor"]


def test_an_acceptance_dated_at_midnight_of_the_filing_day_is_refused_naming_the_filing(
    h: Harness,
) -> None:
    """docs/cases.md: occurred_at is an instant, not before the filing's; a date sent as
    midnight of the filing's day is before it, and the refusal says what to send."""
    case = _file(h, "L-MID", "court-1", _records(h, "L-MID", 1))
    filed = case.filed_at.ToDatetime(tzinfo=UTC)
    midnight = filed.replace(hour=0, minute=0, second=0, microsecond=0)
    if midnight == filed.replace(microsecond=0):  # filed in midnight's very second
        midnight -= timedelta(seconds=1)
    code, message = _code(lambda: _accept(h, case.case_id, rid="acc-mid", at=midnight))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    shown = filed.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    assert message.startswith(f"occurred_at: must not be before the case's filing ({shown})")
    assert "send the time of the event, not a date at midnight" in message
    accepted = _accept(h, case.case_id, rid="acc-mid-2", at=datetime.now(UTC)).event
    assert accepted.type == cs.CASE_EVENT_TYPE_ACCEPTED
