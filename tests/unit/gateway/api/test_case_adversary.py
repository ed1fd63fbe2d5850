"""Adversarial tests of CaseService (issue 11 review): races of one request_id and of a
cancelled call against the per-case serialization, on the real ledger and server.

Each test states what must hold; a finding not fixed yet is a strict xfail naming it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509

from court.evidence.case_event import decode_case_event
from evidence_gateway.v1 import case_service_pb2 as cs
from evidence_gateway.v1 import case_service_pb2_grpc
from evidence_gateway.v1 import evidence_service_pb2 as ev
from gateway.authz.roles import Role
from gateway.institutions import registered_certificate
from gateway.store.institutions import SqlInstitutions
from gateway.store.sql import SqlStore
from notary.client_certs import issue_client_certificate
from notary.pki import pki_paths
from tests.support.grpc_client import submission, timestamp
from tests.unit.gateway.api.conftest import Harness

WHO = {
    "bank-a": Role.LENDER,
    "bank-b": Role.LENDER,
    "bank-c": Role.LENDER,
    "court-1": Role.COURT,
}


@pytest.fixture(scope="module")
def certificates(pki_p256: Path) -> dict[str, bytes]:
    return {
        name: issue_client_certificate(pki_p256, name, role.value, days=30).pem
        for name, role in WHO.items()
    }


@pytest.fixture
def h(
    start_harness: Callable[..., Harness], pki_p256: Path, certificates: dict[str, bytes]
) -> Iterator[Harness]:
    store = SqlStore.open("sqlite://")
    registry = SqlInstitutions(store)
    roots = [x509.load_pem_x509_certificate(pki_paths(pki_p256).root.read_bytes())]
    now = datetime.now(UTC)
    for name, role in WHO.items():
        registered = registered_certificate(certificates[name], name, roots, now)
        registry.create(name, role, registered, now)
    try:
        yield start_harness(registry=registry)
    finally:
        store.close()


def md(name: str) -> tuple[tuple[str, str], ...]:
    return (("x-institution", name),)


def cases(h: Harness) -> case_service_pb2_grpc.CaseServiceStub:
    return case_service_pb2_grpc.CaseServiceStub(h.channel)


def _file(h: Harness, lender: str, loan: str) -> cs.Case:
    relied = (
        h.evidence.SubmitEvidence(
            ev.SubmitEvidenceRequest(submission=submission(loan)), metadata=md(lender)
        ).receipt.entry_id,
    )
    return (
        cases(h)
        .FileCase(
            cs.FileCaseRequest(
                request_id=f"file-{loan}",
                loan_ref=loan,
                body="court-1",
                claim=cs.MoneyAmount(currency_code="CNY", minor_units=1_000_000),
                relied_on_entry_ids=relied,
                share_expires_at=timestamp(datetime.now(UTC) + timedelta(days=90)),
            ),
            metadata=md(lender),
        )
        .case
    )


def _in_thread(fn: Callable[[], Any], out: dict[str, Any], key: str) -> threading.Thread:
    def run() -> None:
        try:
            out[key] = fn()
        except grpc.RpcError as exc:
            out[key] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _freeze_pipeline(h: Harness) -> None:
    """Hold the ledger's next registration in its time-stamping stage (until _thaw)."""
    h.tsa.entered.clear()
    h.tsa.gate.clear()


def _thaw(h: Harness) -> None:
    h.tsa.gate.set()


def _check_events_match_log(h: Harness, case: cs.Case, lender: str) -> None:
    """Every event GetCase shows is a record of this case: the SHA-256 of its document
    is its record's digest, and the record's metadata names this case."""
    full = cases(h).GetCase(cs.GetCaseRequest(case_id=case.case_id), metadata=md(lender)).case
    for event in full.events:
        assert decode_case_event(event.document).case_id == case.case_id
        record = h.evidence.GetEvidence(
            ev.GetEvidenceRequest(entry_id=event.receipt.entry_id), metadata=md(lender)
        ).record
        assert record.submission.digest == hashlib.sha256(event.document).digest(), (
            f"event #{event.event_number} of case {case.case_id}: its document is not the "
            "document of its record"
        )
        assert record.submission.metadata["case_id"] == case.case_id


def test_one_request_id_on_two_cases_at_once_never_puts_a_case_on_another_record(
    h: Harness,
) -> None:
    # Two lenders' cases with the same court; the court's client reuses a request_id.
    a = _file(h, "bank-a", "L-A")
    b = _file(h, "bank-b", "L-B")
    out: dict[str, Any] = {}

    def accept(case_id: str, number: str) -> Any:
        return cases(h).AcceptCase(
            cs.AcceptCaseRequest(
                request_id="same-rid",
                case_id=case_id,
                case_number=number,
                occurred_at=timestamp(datetime.now(UTC)),
            ),
            metadata=md("court-1"),
        )

    _freeze_pipeline(h)
    try:
        first = _in_thread(lambda: accept(a.case_id, "(2026)A1"), out, "a")
        assert h.tsa.entered.wait(10)
        second = _in_thread(lambda: accept(b.case_id, "(2026)B1"), out, "b")
        time.sleep(0.5)  # the second call announces its event while the first is held
    finally:
        _thaw(h)
    first.join(10)
    second.join(10)
    # One of them was recorded; whichever it was, the tables must agree with the log, and
    # bank-b must never be shown bank-a's record (nor bank-a bank-b's).
    if not isinstance(out["a"], grpc.RpcError):
        assert out["a"].event.case_id == a.case_id
    if not isinstance(out["b"], grpc.RpcError):
        assert out["b"].event.case_id == b.case_id
    _check_events_match_log(h, a, "bank-a")
    _check_events_match_log(h, b, "bank-b")


def test_a_cancelled_event_still_serializes_the_next_one_and_harms_no_other_caller(
    h: Harness,
) -> None:
    case = _file(h, "bank-a", "L-C")
    out: dict[str, Any] = {}
    _freeze_pipeline(h)
    try:
        with pytest.raises(grpc.RpcError) as info:
            cases(h).AcceptCase(
                cs.AcceptCaseRequest(
                    request_id="acc",
                    case_id=case.case_id,
                    case_number="(2026)C1",
                    occurred_at=timestamp(datetime.now(UTC)),
                ),
                metadata=md("court-1"),
                timeout=0.5,
            )
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        time.sleep(0.2)  # the server cancels the handler
        reject = _in_thread(
            lambda: cases(h).RejectCase(
                cs.RejectCaseRequest(
                    request_id="rej",
                    case_id=case.case_id,
                    reason=cs.CASE_REASON_NO_JURISDICTION,
                    occurred_at=timestamp(datetime.now(UTC)),
                ),
                metadata=md("court-1"),
            ),
            out,
            "reject",
        )
        time.sleep(0.3)
        innocent = _in_thread(
            lambda: h.evidence.SubmitEvidence(
                ev.SubmitEvidenceRequest(submission=submission("L-other")), metadata=md("bank-c")
            ),
            out,
            "innocent",
        )
        time.sleep(0.3)
    finally:
        _thaw(h)
    reject.join(10)
    innocent.join(10)
    # Another institution's evidence is never refused because of a case it has no part in.
    assert not isinstance(out["innocent"], grpc.RpcError), out["innocent"]
    # The acceptance (cancelled, but registered) came first: the rejection is refused
    # naming the case's status, as any event the status does not allow.
    assert isinstance(out["reject"], grpc.RpcError)
    assert out["reject"].code() == grpc.StatusCode.FAILED_PRECONDITION, out["reject"]
    full = cases(h).GetCase(cs.GetCaseRequest(case_id=case.case_id), metadata=md("bank-a")).case
    assert full.status == cs.CASE_STATUS_ACCEPTED
    _check_events_match_log(h, case, "bank-a")


def test_watch_reconnecting_at_random_while_events_flow_misses_nothing_and_repeats_nothing(
    h: Harness,
) -> None:
    """A subscriber that drops its stream after a random number of messages and resumes
    with its last cursor, again and again, while a court records events on several cases
    at once: across every replay -> live handover it gets each event exactly once, in log
    order."""
    import random

    rng = random.Random(11)
    ids = [_file(h, "bank-a", f"L-W{n}").case_id for n in range(4)]
    # Start after the filings: everything from here on is recorded while watching.
    start = ""
    filed = 0
    for message in cases(h).WatchCases(cs.WatchCasesRequest(), metadata=md("bank-a")):
        if message.HasField("event"):
            filed += 1
            start = message.cursor
            if filed == len(ids):
                break
    per_case = 12

    def court(case_id: str, n: int) -> None:
        stub = cases(h)
        stub.AcceptCase(
            cs.AcceptCaseRequest(
                request_id=f"a-{case_id}",
                case_id=case_id,
                case_number=f"(2026)W{n}",
                occurred_at=timestamp(datetime.now(UTC)),
            ),
            metadata=md("court-1"),
        )
        stub.UpdateCaseStatus(
            cs.UpdateCaseStatusRequest(
                request_id=f"e-{case_id}",
                case_id=case_id,
                event=cs.CASE_EVENT_TYPE_ENFORCEMENT_STARTED,
                occurred_at=timestamp(datetime.now(UTC)),
            ),
            metadata=md("court-1"),
        )
        for k in range(per_case - 3):
            stub.UpdateCaseStatus(
                cs.UpdateCaseStatusRequest(
                    request_id=f"r-{case_id}-{k}",
                    case_id=case_id,
                    event=cs.CASE_EVENT_TYPE_AMOUNT_RECOVERED,
                    amount=cs.MoneyAmount(currency_code="CNY", minor_units=1 + k),
                    occurred_at=timestamp(datetime.now(UTC)),
                ),
                metadata=md("court-1"),
            )

    writers = [threading.Thread(target=court, args=(c, n), daemon=True) for n, c in enumerate(ids)]
    for w in writers:
        w.start()
    got: list[cs.CaseEvent] = []
    cursor = start
    want = len(ids) * (per_case - 1)
    deadline = time.monotonic() + 60
    reconnects = 0
    while len(got) < want and time.monotonic() < deadline:
        stop_after = rng.randint(1, 6)
        call = cases(h).WatchCases(cs.WatchCasesRequest(cursor=cursor), metadata=md("bank-a"))
        seen = 0
        try:
            for message in call:
                if message.HasField("event"):
                    got.append(message.event)
                cursor = message.cursor
                seen += 1
                if seen >= stop_after or len(got) >= want:
                    break
        finally:
            call.cancel()
        reconnects += 1
    for w in writers:
        w.join(30)
    assert reconnects > 5
    leaves = [e.receipt.leaf_index for e in got]
    assert len(set(leaves)) == len(leaves), "an event was delivered twice"
    assert leaves == sorted(leaves), "events out of log order"
    expected = set()
    for c in ids:
        full = cases(h).GetCase(cs.GetCaseRequest(case_id=c), metadata=md("bank-a")).case
        expected |= {e.receipt.leaf_index for e in full.events if e.event_number > 1}
    assert set(leaves) == expected, "an event was missed"


def test_watch_replay_reads_no_record_on_the_event_loop(h: Harness) -> None:
    async def loop_thread() -> int:
        return threading.get_ident()

    loop_ident = h.run(loop_thread())
    servicer = h.server.cases
    assert servicer is not None
    real = servicer._ledger
    threads: list[int] = []

    class Probe:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def get(self, entry_id: str) -> Any:
            threads.append(threading.get_ident())
            return real.get(entry_id)

    for n in range(3):
        _file(h, "bank-a", f"L-P{n}")
    servicer._events.clear()  # as after a restart, or for events older than the cache
    servicer._ledger = Probe()
    try:
        seen = 0
        for message in cases(h).WatchCases(cs.WatchCasesRequest(), metadata=md("bank-a")):
            seen += message.HasField("event")
            if seen == 3:
                break
    finally:
        servicer._ledger = real
    assert threads and loop_ident not in threads


def test_watch_replay_builds_each_page_in_one_worker_thread(h: Harness) -> None:
    """A replay page's messages are built together (one hop to a worker thread per
    page), not one hop per event: a long replay costs the loop a few wake-ups only."""
    servicer = h.server.cases
    assert servicer is not None
    for n in range(4):
        _file(h, "bank-a", f"L-B{n}")
    servicer._events.clear()
    builds: list[int] = []
    real_build = servicer._build

    def counting(events: Any) -> Any:
        builds.append(len(events))
        return real_build(events)

    servicer._build = counting  # type: ignore[method-assign]
    try:
        seen = 0
        for message in cases(h).WatchCases(cs.WatchCasesRequest(), metadata=md("bank-a")):
            seen += message.HasField("event")
            if seen == 4:
                break
    finally:
        del servicer._build
    assert builds == [4]


def test_the_event_cache_gives_one_message_per_event_to_concurrent_builders(h: Harness) -> None:
    """Worker threads building the same events at once (streams replaying, a reply) all
    get the one cached message of each, and the cache keeps its bound."""
    servicer = h.server.cases
    assert servicer is not None
    for n in range(3):
        _file(h, "bank-a", f"L-C{n}")
    events = servicer._service.tables.party_events("bank-a", True, -1, 100)
    assert len(events) == 3
    servicer._events.clear()
    start = threading.Barrier(8)
    out: list[dict[str, Any]] = []

    def build() -> None:
        start.wait(10)
        out.append(servicer._build(events))

    threads = [threading.Thread(target=build) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(out) == 8
    for event in events:
        assert len({id(found[event.entry_id]) for found in out}) == 1
        assert servicer._events[event.entry_id] is out[0][event.entry_id]
