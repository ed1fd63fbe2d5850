"""Judicial cases against a real `gateway serve` over mutual TLS, verified with `court-verify`.

Institutions are registered as an operator does it (`notary institution add`)
and each calls with its own certificate: a lender files a case with a court,
the court accepts it and records its course; both follow it on `WatchCases`
(the lender's subscriber disconnects in the middle and resumes with its cursor:
nothing lost, nothing repeated); another court sees nothing of the case; an
illegal transition is refused naming the case's status; and every event's
record, fetched as a bundle, verifies with `court-verify bundle --file` on the
event's document, with the operator's exported trust folder alone.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from evidence_gateway.v1 import case_service_pb2 as cs
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import verification_service_pb2 as vf
from tests.integration.test_court_verify_remote import court_verify
from tests.integration.test_operations import _METRICS_URL, _scrape, _value
from tests.support.authz_matrix import Stubs
from tests.support.gateway_proc import GatewayProcess, identity_in, make_pki, write_config
from tests.support.grpc_client import submission, timestamp
from tests.support.procs import BIN

LENDER, COURT, OTHER_COURT = "bank-k", "court-k", "court-m"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("mtls-cases")
    make_pki(folder / "data" / "pki")
    # Metrics on loopback (plain HTTP), for the operator's view of the cases.
    config = write_config(folder, sections={"metrics": {"listen": "127.0.0.1:0"}})
    process = GatewayProcess(config, folder, mtls=True)
    process.start()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.log_text()


@pytest.fixture(scope="module")
def callers(
    gateway: GatewayProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Stubs]]:
    out = tmp_path_factory.mktemp("identities")
    with contextlib.ExitStack() as stack:
        stubs = {}
        for name, role in ((LENDER, "lender"), (COURT, "court"), (OTHER_COURT, "court")):
            gateway.add_institution(name, role, out)
            channel = stack.enter_context(
                gateway.channel(identity=identity_in(out, name), own_connection=True)
            )
            stubs[name] = Stubs.of(channel)
        yield stubs


class Watcher:
    """A WatchCases stream read in a thread: its messages on a queue."""

    def __init__(self, stubs: Stubs, cursor: str = "") -> None:
        self.call = stubs.cases.WatchCases(cs.WatchCasesRequest(cursor=cursor), timeout=120)
        self.messages: queue.Queue[Any] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with contextlib.suppress(grpc.RpcError):
            for message in self.call:
                self.messages.put(message)

    def events(self, n: int) -> list[Any]:
        """The next ``n`` messages that carry an event (cursor-only ones are skipped)."""
        out = []
        while len(out) < n:
            message = self.messages.get(timeout=30)
            if message.HasField("event"):
                out.append(message)
        return out

    def close(self) -> None:
        self.call.cancel()
        self.thread.join(10)


def _at() -> Any:
    return timestamp(datetime.now(UTC))


def test_a_case_followed_live_by_both_sides_and_verified_with_court_verify(
    gateway: GatewayProcess, callers: dict[str, Stubs], tmp_path: Path
) -> None:
    lender, court, other = callers[LENDER], callers[COURT], callers[OTHER_COURT]
    relied = [
        lender.evidence.SubmitEvidence(
            ev.SubmitEvidenceRequest(submission=submission("L-K", data=data)), timeout=30
        ).receipt.entry_id
        for data in (b"loan contract K", b"overdue notice K")
    ]
    lender_watch = Watcher(lender)
    court_watch = Watcher(court)
    case = lender.cases.FileCase(
        cs.FileCaseRequest(
            request_id="file-k",
            loan_ref="L-K",
            body=COURT,
            claim=cs.MoneyAmount(currency_code="CNY", minor_units=5_000_000),
            relied_on_entry_ids=relied,
            share_expires_at=timestamp(datetime.now(UTC) + timedelta(days=180)),
        ),
        timeout=30,
    ).case
    court.cases.AcceptCase(
        cs.AcceptCaseRequest(
            request_id="acc-k", case_id=case.case_id, case_number="(2026)京0105民初7号",
            occurred_at=_at(),
        ),
        timeout=30,
    )  # fmt: skip
    first = lender_watch.events(2)
    assert [m.event.type for m in first] == [cs.CASE_EVENT_TYPE_FILED, cs.CASE_EVENT_TYPE_ACCEPTED]
    lender_watch.close()  # the lender's subscriber goes away in the middle
    cursor = first[-1].cursor

    # Illegal: an award is an arbitration body's; the refusal names the status.
    with pytest.raises(grpc.RpcError) as info:
        court.cases.UpdateCaseStatus(
            cs.UpdateCaseStatusRequest(
                request_id="award-k", case_id=case.case_id, event=cs.CASE_EVENT_TYPE_AWARD,
                occurred_at=_at(),
            ),
            timeout=30,
        )  # fmt: skip
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "the case is CASE_STATUS_ACCEPTED" in (info.value.details() or "")

    for n, event in enumerate(
        (cs.CASE_EVENT_TYPE_JUDGMENT, cs.CASE_EVENT_TYPE_ENFORCEMENT_STARTED)
    ):
        court.cases.UpdateCaseStatus(
            cs.UpdateCaseStatusRequest(
                request_id=f"u{n}-k", case_id=case.case_id, event=event, occurred_at=_at()
            ),
            timeout=30,
        )
    resumed = Watcher(lender, cursor)
    court.cases.UpdateCaseStatus(
        cs.UpdateCaseStatusRequest(
            request_id="rec-k", case_id=case.case_id, event=cs.CASE_EVENT_TYPE_AMOUNT_RECOVERED,
            amount=cs.MoneyAmount(currency_code="CNY", minor_units=1_000_000), occurred_at=_at(),
        ),
        timeout=30,
    )  # fmt: skip
    later = resumed.events(3)
    resumed.close()
    lender_numbers = [m.event.event_number for m in first + later]
    assert lender_numbers == [1, 2, 3, 4, 5]  # nothing lost, nothing twice
    court_seen = court_watch.events(5)
    court_watch.close()
    assert [m.event.event_number for m in court_seen] == [1, 2, 3, 4, 5]
    assert resumed.messages.empty() or all(
        not m.HasField("event") for m in list(resumed.messages.queue)
    )

    # Another court: the case does not exist for it, and its stream carries nothing.
    with pytest.raises(grpc.RpcError) as info:
        other.cases.GetCase(cs.GetCaseRequest(case_id=case.case_id), timeout=30)
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    stream = other.cases.WatchCases(cs.WatchCasesRequest(), timeout=2)
    with pytest.raises(grpc.RpcError) as info:
        for message in stream:
            assert not message.HasField("event")
    assert info.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED

    # Every event verifies like any entry: its bundle and its document.
    full = court.cases.GetCase(cs.GetCaseRequest(case_id=case.case_id), timeout=30).case
    assert len(full.events) == 5
    trust = tmp_path / "trust"
    import subprocess

    exported = subprocess.run(
        [str(BIN / "notary"), "trust", "export", "--pki", str(gateway.pki), "--out", str(trust)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    for event in full.events:
        bundle = court.verification.GetEvidenceBundle(
            vf.GetEvidenceBundleRequest(entry_id=event.receipt.entry_id), timeout=30
        ).bundle
        path = tmp_path / f"event-{event.event_number}.json"
        path.write_text(json_format.MessageToJson(bundle, indent=2) + "\n")
        document = tmp_path / f"event-{event.event_number}.der"
        document.write_bytes(event.document)
        verified = court_verify("bundle", str(path), "--file", str(document), "--trust", str(trust))
        assert verified.returncode == 0, verified.stdout + verified.stderr
    # A changed document does not verify.
    document.write_bytes(full.events[0].document)
    forged = court_verify("bundle", str(path), "--file", str(document), "--trust", str(trust))
    assert forged.returncode == 1, forged.stdout

    # The loan's dossier, as the court fetches it, carries the events' documents: the
    # case checks pass and the certificate lists the case history.
    for event in full.events:
        bundle = court.verification.GetEvidenceBundle(
            vf.GetEvidenceBundleRequest(entry_id=event.receipt.entry_id), timeout=30
        ).bundle
        assert bundle.record.document == event.document
    dossier = court.verification.GetDossier(
        vf.GetDossierRequest(owner=LENDER, loan_ref="L-K"), timeout=30
    ).dossier
    documents = {r.entry_id: r.document for r in dossier.records if r.document}
    assert documents == {e.receipt.entry_id: e.document for e in full.events}
    dossier_path = tmp_path / "L-K.dossier.json"
    dossier_path.write_text(json_format.MessageToJson(dossier, indent=2) + "\n")
    report = tmp_path / "L-K.pdf"
    checked = court_verify(
        "dossier", str(dossier_path), "--trust", str(trust), "--json", "--report", str(report)
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    statuses = {c["name"]: c["status"] for c in json.loads(checked.stdout)["checks"]}
    assert statuses["Case documents match records"] == "passed"
    assert statuses["Case history consistent"] == "passed"
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(report))
    try:
        text = " ".join(
            " ".join(str(pdf[i].get_textpage().get_text_range()) for i in range(len(pdf))).split()
        )
    finally:
        pdf.close()
    for words in ("案件进程", "Case history", "(2026)京0105民初7号", "执行到款", "CNY 10,000.00"):
        assert words in text, words


def test_the_operator_sees_case_events_by_type_and_the_open_streams(
    gateway: GatewayProcess, callers: dict[str, Stubs]
) -> None:
    """The Prometheus metrics of `gateway serve`: each event recorded counts once under
    its type (a refused one not at all), and the open WatchCases streams are a gauge."""
    found = _METRICS_URL.search(gateway.log_text())
    assert found, gateway.log_text()
    url = found.group(1)
    lender, court = callers[LENDER], callers[COURT]
    before = _scrape(url)
    relied = lender.evidence.SubmitEvidence(
        ev.SubmitEvidenceRequest(submission=submission("L-Q", data=b"loan contract Q")),
        timeout=30,
    ).receipt.entry_id
    watch = Watcher(court)
    case = lender.cases.FileCase(
        cs.FileCaseRequest(
            request_id="file-q", loan_ref="L-Q", body=COURT, relied_on_entry_ids=[relied],
            claim=cs.MoneyAmount(currency_code="CNY", minor_units=100_000),
            share_expires_at=timestamp(datetime.now(UTC) + timedelta(days=180)),
        ),
        timeout=30,
    ).case  # fmt: skip
    watch.events(1)
    accept = cs.AcceptCaseRequest(
        request_id="acc-q", case_id=case.case_id, case_number="(2026)京0105民初9号",
        occurred_at=_at(),
    )  # fmt: skip
    court.cases.AcceptCase(accept, timeout=30)
    court.cases.AcceptCase(accept, timeout=30)  # the same call again: the same event
    with pytest.raises(grpc.RpcError):
        court.cases.UpdateCaseStatus(
            cs.UpdateCaseStatusRequest(
                request_id="award-q", case_id=case.case_id, event=cs.CASE_EVENT_TYPE_AWARD,
                occurred_at=_at(),
            ),
            timeout=30,
        )  # fmt: skip
    during = _scrape(url)
    for event, grew in (("filed", 1), ("accepted", 1), ("award", 0)):
        counted = _value(during, "gateway_case_events_total", event=event)
        assert counted - _value(before, "gateway_case_events_total", event=event) == grew, event
    assert _value(during, "gateway_case_watch_streams") == 1
    watch.close()
    deadline = time.monotonic() + 10
    while _value(_scrape(url), "gateway_case_watch_streams") != 0:
        assert time.monotonic() < deadline, "the closed stream is still counted"
        time.sleep(0.05)
    assert _value(during, "gateway_case_watch_slow_disconnects_total") == 0
    assert ("gateway_case_watch_slow_disconnects_total", ()) in during  # exported from start
