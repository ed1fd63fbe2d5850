"""A dossier's case events: their documents match their records and the case replays.

The records are registered through a real Ledger with a real token source, as the
gateway's CaseService registers them (owner the lender, submitter the party,
digest the SHA-256 of the DER document, metadata ``body`` and ``case_id``), so
every signature in the dossiers verifies; a "lying gateway" loan registers
events the transition table forbids, or in the wrong order, which only the
replay can tell.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from court.bundles import read_bundle, read_dossier
from court.evidence.case_event import CaseEventDocument, encode_case_event
from court.evidence.case_terms import EVENT_KINDS, BodyKind, CaseEventType, CaseStatus, Money
from court.trust import read_trust_dir
from court.verify.bundle import verify_bundle
from court.verify.case_history import CHECK_CASE_DOCUMENTS, CHECK_CASE_HISTORY
from court.verify.dossier import DossierVerification, verify_dossier
from court.verify.result import CheckStatus
from court.verify.steps import Outcome
from evidence_gateway.v1 import bundle_pb2
from gateway.model import EvidenceKind, Receipt, Submission
from tests.support.bundle_builder import bundle_message, dossier_message, to_json, trust_dir
from tests.support.ledger_env import NOW, Env, sub, submit

LENDER = "bank-a"
COURT = "court-1"
WHEN = NOW.replace(microsecond=0) - timedelta(hours=5)


def _doc(
    case: str, loan: str, n: int, event: CaseEventType, status: CaseStatus, **kw: object
) -> CaseEventDocument:
    return CaseEventDocument(
        case_id=case,
        event_number=n,
        event=event,
        status_after=status,
        lender=LENDER,
        loan_ref=loan,
        body=COURT,
        body_kind=BodyKind.COURT,
        occurred_at=WHEN + timedelta(minutes=n),
        **kw,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Loan:
    receipts: list[Receipt]
    documents: dict[str, bytes]  # entry id -> document (case events only)


class _Registrar:
    """Registers case event records as the gateway does (or as a lying one would)."""

    def __init__(self, ledger: object) -> None:
        self.ledger = ledger
        self.count = 0

    def record(self, loan: Loan, doc: CaseEventDocument, by: str, previous: bool = True) -> None:
        if previous and doc.event_number > 1:
            doc = replace(doc, previous_event=loan.receipts[-1].entry_id)
        data = encode_case_event(doc)
        self.count += 1
        s = Submission(
            institution=by,
            owner=LENDER,
            request_id=f"case-{self.count}",
            loan_ref=doc.loan_ref,
            kind=EvidenceKind(EVENT_KINDS[doc.event]),
            hash_algorithm="sha256",
            digest=hashlib.sha256(data).digest(),
            occurred_at=doc.occurred_at,
            metadata=(("body", doc.body), ("case_id", doc.case_id)),
        )
        result = submit(self.ledger, [s])[0]  # type: ignore[arg-type]
        assert isinstance(result, Receipt), result
        loan.receipts.append(result)
        loan.documents[result.entry_id] = data

    def plain(self, loan: Loan, ref: str) -> None:
        self.count += 1
        result = submit(self.ledger, [sub(f"p{self.count}", loan=ref)])[0]  # type: ignore[arg-type]
        assert isinstance(result, Receipt), result
        loan.receipts.append(result)


@dataclass(frozen=True)
class Made:
    trust: Path
    good: bundle_pb2.Dossier
    good_loan: Loan
    bundle: bundle_pb2.EvidenceBundle  # the acceptance's record, with its document
    forbidden: bundle_pb2.Dossier  # filed, then a judgment (no acceptance)
    reordered: bundle_pb2.Dossier  # events 1, 3, 2 in the loan's order
    other: bundle_pb2.Dossier  # a second case of another loan
    other_loan: Loan


def _with_documents(message: bundle_pb2.Dossier, loan: Loan) -> bundle_pb2.Dossier:
    for record in message.records:
        record.document = loan.documents.get(record.entry_id, b"")
    return message


@pytest.fixture(scope="module")
def made(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Made:
    folder = tmp_path_factory.mktemp("cases")
    env = Env(pki_p256, folder)
    ledger = env.open()
    try:
        r = _Registrar(ledger)
        claim = Money("CNY", 1_000_000)
        good = Loan([], {})
        r.plain(good, "L-C")
        r.record(
            good,
            _doc(
                "case-1",
                "L-C",
                1,
                CaseEventType.FILED,
                CaseStatus.FILED,
                claim=claim,
                relied_on=(good.receipts[0].entry_id,),
            ),
            LENDER,
        )
        r.record(
            good,
            _doc(
                "case-1",
                "L-C",
                2,
                CaseEventType.ACCEPTED,
                CaseStatus.ACCEPTED,
                case_number="(2026)京0105民初12345号",
            ),
            COURT,
        )
        r.record(good, _doc("case-1", "L-C", 3, CaseEventType.JUDGMENT, CaseStatus.JUDGMENT), COURT)
        r.record(
            good,
            _doc("case-1", "L-C", 4, CaseEventType.ENFORCEMENT_STARTED, CaseStatus.ENFORCEMENT),
            COURT,
        )
        r.record(
            good,
            _doc(
                "case-1",
                "L-C",
                5,
                CaseEventType.AMOUNT_RECOVERED,
                CaseStatus.ENFORCEMENT,
                amount=Money("CNY", 250_000),
                recovered_total=250_000,
            ),
            COURT,
        )
        r.plain(good, "L-C")  # a repayment after the events: not a case record

        forbidden = Loan([], {})
        r.record(
            forbidden,
            _doc(
                "case-2",
                "L-F",
                1,
                CaseEventType.FILED,
                CaseStatus.FILED,
                claim=claim,
                relied_on=("e-x",),
            ),
            LENDER,
        )
        r.record(
            forbidden, _doc("case-2", "L-F", 2, CaseEventType.JUDGMENT, CaseStatus.JUDGMENT), COURT
        )

        reordered = Loan([], {})
        r.record(
            reordered,
            _doc(
                "case-3",
                "L-R",
                1,
                CaseEventType.FILED,
                CaseStatus.FILED,
                claim=claim,
                relied_on=("e-x",),
            ),
            LENDER,
        )
        filing = reordered.receipts[0].entry_id
        r.record(
            reordered,
            _doc(
                "case-3",
                "L-R",
                3,
                CaseEventType.MEDIATION_STARTED,
                CaseStatus.MEDIATION,
                previous_event="e-later",
            ),
            COURT,
            previous=False,
        )
        r.record(
            reordered,
            _doc(
                "case-3",
                "L-R",
                2,
                CaseEventType.ACCEPTED,
                CaseStatus.ACCEPTED,
                case_number="(2026)京0105民初1号",
                previous_event=filing,
            ),
            COURT,
            previous=False,
        )

        other = Loan([], {})
        r.record(
            other,
            _doc(
                "case-4",
                "L-O",
                1,
                CaseEventType.FILED,
                CaseStatus.FILED,
                claim=claim,
                relied_on=("e-y",),
            ),
            LENDER,
        )
        r.record(
            other,
            _doc(
                "case-4",
                "L-O",
                2,
                CaseEventType.ACCEPTED,
                CaseStatus.ACCEPTED,
                case_number="(2026)京0105民初2号",
            ),
            COURT,
        )

        bundle = bundle_message(ledger, good.receipts[2], pki_p256)
        bundle.record.document = good.documents[good.receipts[2].entry_id]
        made = Made(
            trust=trust_dir(pki_p256, folder / "trust"),
            good=_with_documents(dossier_message(ledger, good.receipts, pki_p256), good),
            good_loan=good,
            bundle=bundle,
            forbidden=_with_documents(
                dossier_message(ledger, forbidden.receipts, pki_p256), forbidden
            ),
            reordered=_with_documents(
                dossier_message(ledger, reordered.receipts, pki_p256), reordered
            ),
            other=_with_documents(dossier_message(ledger, other.receipts, pki_p256), other),
            other_loan=other,
        )
    finally:
        asyncio.run(ledger.close())
        env.opened.remove(ledger)
    return made


def run(made: Made, message: bundle_pb2.Dossier) -> DossierVerification:
    trust = read_trust_dir(made.trust)
    return verify_dossier(read_dossier(to_json(message)), roots=trust.roots, log_key=trust.log_key)


def copy(message: bundle_pb2.Dossier) -> bundle_pb2.Dossier:
    out = bundle_pb2.Dossier()
    out.CopyFrom(message)
    return out


def fails_on(result: DossierVerification, name: str, words: str) -> None:
    assert result.outcome is Outcome.INVALID
    first = result.verdict.first_failure
    assert first is not None and first.name == name, [c for c in result.checks if c.failed]
    assert words in first.detail, first.detail


def test_the_case_events_match_and_replay(made: Made) -> None:
    result = run(made, made.good)
    assert result.ok, [c for c in result.checks if not c.passed]
    documents = result.verdict[CHECK_CASE_DOCUMENTS]
    history = result.verdict[CHECK_CASE_HISTORY]
    assert documents.passed and documents.detail.startswith("5 case event document(s)")
    assert history.passed and "1 case(s), 5 event(s)" in history.detail
    assert "filed → accepted → judgment → enforcement → enforcement" in history.detail
    assert result.cases is not None
    assert [e.document.event_number for e in result.cases.entries] == [1, 2, 3, 4, 5]
    assert run(made, made.other).ok


def test_a_bundle_checks_its_case_document(made: Made) -> None:
    trust = read_trust_dir(made.trust)
    result = verify_bundle(
        read_bundle(to_json(made.bundle)), roots=trust.roots, log_key=trust.log_key
    )
    assert result.ok
    assert result.verdict[CHECK_CASE_DOCUMENTS].passed
    assert CHECK_CASE_HISTORY not in result.verdict  # one event: nothing to replay
    changed = bundle_pb2.EvidenceBundle()
    changed.CopyFrom(made.bundle)
    changed.record.document = changed.record.document[:-1] + b"\x00"
    bad = verify_bundle(read_bundle(to_json(changed)), roots=trust.roots, log_key=trust.log_key)
    assert bad.outcome is Outcome.INVALID
    assert bad.verdict[CHECK_CASE_DOCUMENTS].failed


def test_a_document_changed_by_one_byte(made: Made) -> None:
    message = copy(made.good)
    document = bytearray(message.records[3].document)
    document[-1] ^= 0x01  # a byte of the time: still canonical DER, another digest
    message.records[3].document = bytes(document)
    fails_on(run(made, message), CHECK_CASE_DOCUMENTS, "record #4")


def test_a_document_of_another_case(made: Made) -> None:
    message = copy(made.good)
    message.records[2].document = made.other.records[1].document  # the other case's acceptance
    fails_on(run(made, message), CHECK_CASE_DOCUMENTS, "SHA-256 of its document")


def test_two_documents_swapped(made: Made) -> None:
    message = copy(made.good)
    a, b = message.records[2].document, message.records[3].document
    message.records[2].document, message.records[3].document = b, a
    fails_on(run(made, message), CHECK_CASE_DOCUMENTS, "record #3")


def test_two_events_registered_in_the_wrong_order(made: Made) -> None:
    result = run(made, made.reordered)
    assert result.verdict[CHECK_CASE_DOCUMENTS].passed  # every document is its record's
    fails_on(result, CHECK_CASE_HISTORY, "is the case's event #2 in the loan's order, not #3")


def test_an_event_the_transition_table_forbids(made: Made) -> None:
    result = run(made, made.forbidden)
    assert result.verdict[CHECK_CASE_DOCUMENTS].passed
    fails_on(result, CHECK_CASE_HISTORY, "a judgment event is not allowed in status filed")


def test_a_document_on_a_record_that_is_no_case_event(made: Made) -> None:
    message = copy(made.good)
    message.records[0].document = message.records[1].document
    fails_on(run(made, message), CHECK_CASE_DOCUMENTS, "only case events do")


def test_a_dossier_without_documents_says_the_checks_did_not_run(made: Made) -> None:
    message = copy(made.good)
    for record in message.records:
        record.document = b""
    result = run(made, message)
    assert result.ok  # an old dossier stays valid
    for name in (CHECK_CASE_DOCUMENTS, CHECK_CASE_HISTORY):
        check = result.verdict[name]
        assert check.status is CheckStatus.NOT_RUN and "no document" in check.detail, check


def test_one_missing_document_among_others_fails_naming_the_record(made: Made) -> None:
    """The gateway carries every case event record's document, or (an older file) none:
    a file with some and not others was edited."""
    message = copy(made.good)
    message.records[3].document = b""
    result = run(made, message)
    fails_on(result, CHECK_CASE_DOCUMENTS, "1 of the 5 case event records come without")
    detail = result.verdict[CHECK_CASE_DOCUMENTS].detail
    entry = message.records[3].entry_id
    assert f"record #4 (entry {entry!r}" in detail and "record #3" not in detail
    history = result.verdict[CHECK_CASE_HISTORY]
    assert history.status is CheckStatus.NOT_RUN and "failed" in history.detail
    assert result.cases is None


def test_every_record_without_its_document_is_named(made: Made) -> None:
    message = copy(made.good)
    for n in (2, 4):
        message.records[n].document = b""
    result = run(made, message)
    fails_on(result, CHECK_CASE_DOCUMENTS, "2 of the 5 case event records")
    detail = result.verdict[CHECK_CASE_DOCUMENTS].detail
    assert "record #3 (entry" in detail and "record #5 (entry" in detail


def test_a_case_without_documents_beside_one_with_them_fails(made: Made) -> None:
    """Per file, not per case: all of one case's documents dropped, beside another case
    whose documents are there, fails too (the records of two files, checked together)."""
    from court.verify.case_history import case_document_checks, case_documents_of
    from court.verify.result import Checklist

    good, other = copy(made.good), copy(made.other)
    for record in other.records:
        record.document = b""
    rows = []
    for message in (good, other):
        result = run(made, message)
        rows += case_documents_of(read_dossier(to_json(message)).records, result.records)
    checks = Checklist()
    assert case_document_checks(checks, rows) is None
    check = checks.get(CHECK_CASE_DOCUMENTS)
    assert check is not None and check.failed
    assert "2 of the 7 case event records" in check.detail  # 5 of the case, 2 of the other
    assert f"entry {other.records[1].entry_id!r}" in check.detail


def _pdf_text(path: Path) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return "\n".join(str(pdf[i].get_textpage().get_text_range()) for i in range(len(pdf)))
    finally:
        pdf.close()


def test_the_certificate_lists_the_case_history(made: Made, tmp_path: Path) -> None:
    from court.report.certificate import write_certificate
    from court.report.certificate_of import dossier_certificate

    result = run(made, made.good)
    data = dossier_certificate(
        result, read_dossier(to_json(made.good)), input_name="d.json", input_sha256=bytes(32)
    )
    history = data.case_history
    assert [(e.event, e.status_after) for e in history] == [
        ("filed", "filed"),
        ("accepted", "accepted"),
        ("judgment", "judgment"),
        ("enforcement_started", "enforcement"),
        ("amount_recovered", "enforcement"),
    ]
    assert [e.case_number for e in history] == ["", *["(2026)京0105民初12345号"] * 4]
    assert (history[0].currency, history[0].minor_units) == ("CNY", 1_000_000)
    assert (history[4].currency, history[4].minor_units) == ("CNY", 250_000)
    assert [e.loan_sequence for e in history] == [2, 3, 4, 5, 6]
    write_certificate(data, tmp_path / "c.pdf")
    text = " ".join(_pdf_text(tmp_path / "c.pdf").split())
    for words in ("案件进程", "Case history", "(2026)京0105民初12345号", "执行到款", "执行中"):
        assert words in text, words
    assert "CNY 2,500.00" in text and "CNY 10,000.00" in text
    write_certificate(data, tmp_path / "c.html")
    html = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert "案件进程" in html and "amount recovered" in html and "CNY 2,500.00" in html


def test_the_certificate_leaves_out_documents_that_do_not_match(made: Made) -> None:
    from court.report.certificate_of import dossier_certificate

    message = copy(made.good)
    message.records[3].document = made.other.records[1].document
    result = run(made, message)
    data = dossier_certificate(
        result, read_dossier(to_json(message)), input_name="d.json", input_sha256=bytes(32)
    )
    assert data.outcome == "invalid" and data.case_history == ()
