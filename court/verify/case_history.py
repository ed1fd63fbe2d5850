"""Court-side checks of the judicial case events a bundle or dossier carries (pure).

Each step of a case (filing, acceptance, judgment, enforcement, ...) is a
record of the loan whose digest is the SHA-256 of a canonical DER document
(:mod:`court.evidence.case_event`, docs/cases.md). A bundle or dossier made by
the gateway carries that document beside the record (``BundledRecord.document``)
for the case event records its holder may read. Two named checks:

* "Case documents match records": each document decodes strictly (the one
  codec, which refuses anything but the canonical encoding), its SHA-256 is
  the opened record's digest, the record's kind is the event's
  (``case_`` + the event), and the record's loan, time and metadata
  (``body``, ``case_id``) are the document's. A document on a record that is
  not a case event, or on a withheld one, fails. A file whose case event
  records opened come without any document (made before the gateway carried
  them) is not checked, and said so; one with the documents of some and not of
  others fails, naming the records without theirs: the gateway puts the
  document of every case event record its holder may read in a file, so such a
  file was edited (e.g. the last event of a case dropped), and "made before the
  gateway carried documents" is a claim the holder would control.
* "Case history consistent" (dossier only: it needs every event of a case):
  the events of each case, in the loan's order, replayed through the
  transition table of :mod:`court.evidence.case_terms` (the very rules the
  gateway applied): numbered 1, 2, ... with each naming the previous event's
  record, the filing first, the same lender, loan and body throughout, each
  event allowed from the status before it to the side that recorded it (the
  record's submitter: the lender or the body), its status after the one the
  table gives, and recovered amounts adding up in the claim's currency. Not
  run, and said so, for a file without documents.

The verified events (:class:`CaseEntry`) are what the certificate lists as the
case history; nothing else of a document is shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from court.evidence.case_event import CaseEventDocument, CaseEventError, decode_case_event
from court.evidence.case_terms import (
    EVENT_KINDS,
    EVENT_RULES,
    CaseEventType,
    CaseStatus,
    Side,
    allowed_events,
    status_after,
)
from court.evidence.opening import OpenedLeaf
from court.verify.result import Checklist

if TYPE_CHECKING:  # court.verify.bundle imports this module
    from court.verify.bundle import BundleRecord, RecordResult

__all__ = [
    "CASE_CHECKS",
    "CHECK_CASE_DOCUMENTS",
    "CHECK_CASE_HISTORY",
    "CaseEntry",
    "CaseFindings",
    "case_document_checks",
    "case_documents_of",
    "case_history_check",
    "has_case_record",
]

CHECK_CASE_DOCUMENTS: Final = "Case documents match records"
CHECK_CASE_HISTORY: Final = "Case history consistent"
#: The case checks of a dossier, in report order (a bundle runs the first only).
CASE_CHECKS: Final = (CHECK_CASE_DOCUMENTS, CHECK_CASE_HISTORY)

_CASE_KINDS: Final = frozenset(EVENT_KINDS.values())
_NONE: Final = "the file holds no case event record its holder may read"
#: Records without their document a failure names (then "and N more").
_NAMED: Final = 10
_OLD: Final = (
    "no document: the file was made before the gateway carried case event documents "
    "(BundledRecord.document)"
)


@dataclass(frozen=True, slots=True)
class CaseEntry:
    """One case event whose document matched its record: where the record is, who
    recorded it (the record's submitter) and the decoded document."""

    position: int
    entry_id: str
    leaf_index: int
    loan_sequence: int
    submitter: str
    document: CaseEventDocument


@dataclass(frozen=True, slots=True)
class CaseFindings:
    """What "Case documents match records" found: the matching events, in the file's
    order, and the cases (record metadata ``case_id``) with an event record opened
    without its document, which are not replayed (all the file's cases, or none: a
    file with some documents and not others fails the check)."""

    entries: tuple[CaseEntry, ...]
    incomplete_cases: frozenset[str | None]
    missing: int


@dataclass(frozen=True, slots=True)
class _Record:
    """What the case checks need of one record of the file."""

    position: int
    entry_id: str
    leaf_index: int
    document: bytes
    opened: OpenedLeaf | None
    #: True when the record came without an opening (withheld).
    withheld: bool


def _where(r: _Record) -> str:
    return f"record #{r.position + 1} (entry {r.entry_id!r}, leaf {r.leaf_index})"


def _metadata(opened: OpenedLeaf, key: str) -> str | None:
    return next((v for k, v in opened.metadata if k == key), None)


def _match(r: _Record, opened: OpenedLeaf) -> CaseEntry | str:
    """The record's case entry, or what is wrong with its document."""
    try:
        doc = decode_case_event(r.document)
    except CaseEventError as exc:
        return f"its document is not a canonical case event document: {exc}"
    if opened.hash_algorithm != "sha256" or hashlib.sha256(r.document).digest() != opened.digest:
        return "the SHA-256 of its document is not the record's digest"
    if EVENT_KINDS[doc.event] != opened.kind:
        return f"is of kind {opened.kind}, its document is a {doc.event} event"
    if (doc.lender, doc.loan_ref) != (opened.owner, opened.loan_ref):
        return "its document is of another loan than the record"
    if doc.occurred_at != opened.occurred_at:
        return "its document's occurredAt is not the record's occurrence time"
    if (_metadata(opened, "case_id"), _metadata(opened, "body")) != (doc.case_id, doc.body):
        return "its metadata (case_id, body) is not its document's case and body"
    return CaseEntry(
        position=r.position,
        entry_id=opened.entry_id,
        leaf_index=r.leaf_index,
        loan_sequence=opened.loan_sequence,
        submitter=opened.submitter,
        document=doc,
    )


def case_documents_of(
    records: Sequence[BundleRecord], results: Sequence[RecordResult]
) -> list[tuple[str, int, bytes, OpenedLeaf | None, bool]]:
    """What :func:`case_document_checks` needs of a file's records and their results."""
    return [
        (r.entry_id, r.leaf_index, r.document, res.opened, r.opening is None and not r.token)
        for r, res in zip(records, results, strict=True)
    ]


def has_case_record(record: BundleRecord, result: RecordResult) -> bool:
    """Whether a bundle's record is a case event's or carries a document (then the
    bundle runs "Case documents match records")."""
    return bool(record.document) or (
        result.opened is not None and result.opened.kind in _CASE_KINDS
    )


def case_document_checks(
    checks: Checklist,
    records: Sequence[tuple[str, int, bytes, OpenedLeaf | None, bool]],
) -> CaseFindings | None:
    """Record "Case documents match records" for ``records`` (each ``(entry_id,
    leaf_index, document, opened record or None, withheld)``, in the file's order);
    what it found, or ``None`` when the check failed."""
    items = [_Record(i, *r) for i, r in enumerate(records)]
    entries: list[CaseEntry] = []
    missing: list[int] = []
    for r in items:
        opened = r.opened
        is_case = opened is not None and opened.kind in _CASE_KINDS
        problem = ""
        if r.document and r.withheld:
            problem = "is withheld, yet carries a document"
        elif r.document and opened is not None and not is_case:
            problem = f"is of kind {opened.kind}, yet carries a document (only case events do)"
        elif opened is not None and is_case:
            if not r.document:
                missing.append(r.position)
                continue
            found = _match(r, opened)
            if isinstance(found, str):
                problem = found
            else:
                entries.append(found)
        if problem:
            checks.failed(CHECK_CASE_DOCUMENTS, f"{_where(r)} {problem}")
            return None
    total = len(entries) + len(missing)
    if entries and missing:
        named = "; ".join(_where(items[i]) for i in missing[:_NAMED])
        if len(missing) > _NAMED:
            named += f"; and {len(missing) - _NAMED} more"
        checks.failed(
            CHECK_CASE_DOCUMENTS,
            f"{len(missing)} of the {total} case event records come without their document "
            f"while the others carry theirs: {named}. A file the gateway makes carries the "
            "document of every case event record its holder may read; these were removed",
        )
        return None
    if total == 0:
        checks.not_run(CHECK_CASE_DOCUMENTS, _NONE)
    elif not entries:
        checks.not_run(CHECK_CASE_DOCUMENTS, f"for all {total} case event records: {_OLD}")
    else:
        checks.passed(
            CHECK_CASE_DOCUMENTS,
            f"{len(entries)} case event document(s) decode and match their records "
            "(SHA-256 = digest, kind, loan, time, case)",
        )
    incomplete = frozenset(
        _metadata(opened, "case_id") for i in missing if (opened := items[i].opened) is not None
    )
    return CaseFindings(tuple(entries), incomplete, len(missing))


def _replay(events: Sequence[CaseEntry]) -> str:
    """What is wrong with one case's events (in loan order), or ''."""
    filing = events[0].document
    status: CaseStatus | None = None
    previous: CaseEntry | None = None
    recovered = 0
    for number, entry in enumerate(events, start=1):
        doc = entry.document
        at = f"record #{entry.position + 1} (event {doc.event_number} of case {doc.case_id!r})"
        if doc.event_number != number:
            return (
                f"{at} is the case's event #{number} in the loan's order, not #{doc.event_number}"
            )
        if previous is not None and doc.previous_event != previous.entry_id:
            return f"{at} does not name the record of the case's previous event"
        same = (doc.lender, doc.loan_ref, doc.body, doc.body_kind)
        if same != (filing.lender, filing.loan_ref, filing.body, filing.body_kind):
            return f"{at} names another lender, loan or body than the case's filing"
        rule = EVENT_RULES[doc.event]
        if entry.submitter == doc.lender:
            side = Side.LENDER
        elif entry.submitter == doc.body:
            side = Side.BODY
        else:
            return f"{at} was recorded by {entry.submitter!r}, neither the lender nor the body"
        if rule.side is not side:
            return f"{at}: a {doc.event} event is the {rule.side}'s, recorded here by the {side}"
        if status is not None:
            if status not in rule.from_statuses:
                allowed = allowed_events(status, side, doc.body_kind)
                return (
                    f"{at}: a {doc.event} event is not allowed in status {status}; the {side} "
                    f"may record next: {', '.join(allowed) or 'nothing (it is final)'}"
                )
            want = status_after(doc.event, status)
            if doc.status_after is not want:
                return f"{at} says the case is {doc.status_after} after it, not {want}"
        if doc.event is CaseEventType.AMOUNT_RECOVERED and doc.amount is not None:
            if filing.claim is None or doc.amount.currency != filing.claim.currency:
                return f"{at} recovers an amount in another currency than the claim's"
            recovered += doc.amount.minor_units
            if doc.recovered_total != recovered:
                return f"{at} states a recovered total of {doc.recovered_total}, not {recovered}"
        status = doc.status_after
        previous = entry
    return ""


def case_history_check(checks: Checklist, found: CaseFindings | None) -> None:
    """Record "Case history consistent" from what :func:`case_document_checks` found
    (``None``: it failed)."""
    if found is None:
        checks.blocked((CHECK_CASE_HISTORY,), CHECK_CASE_DOCUMENTS)
        return
    if not found.entries and not found.missing:
        checks.not_run(CHECK_CASE_HISTORY, _NONE)
        return
    cases: dict[str, list[CaseEntry]] = {}
    for entry in found.entries:
        cases.setdefault(entry.document.case_id, []).append(entry)
    incomplete = found.incomplete_cases
    replayed = {c: e for c, e in cases.items() if c not in incomplete}
    for events in replayed.values():
        problem = _replay(events)
        if problem:
            checks.failed(CHECK_CASE_HISTORY, problem)
            return
    if not replayed:
        checks.not_run(
            CHECK_CASE_HISTORY,
            f"for all {len(incomplete)} case(s): an event record has {_OLD}",
        )
        return
    paths = "; ".join(
        f"case {case!r}: " + " → ".join(str(e.document.status_after) for e in events)
        for case, events in list(replayed.items())[:5]
    )
    checks.passed(
        CHECK_CASE_HISTORY,
        f"{len(replayed)} case(s), {sum(len(e) for e in replayed.values())} event(s) replayed "
        f"through the transition table, each allowed: {paths}",
    )
