"""The judicial cases' tables, kept in each group commit's own transaction.

``cases`` holds one row per case (its state after its last event) and
``case_events`` one row per event (its canonical document and the position of
its record in the log). Both are written only by :class:`CaseTables` as a
:class:`~gateway.store.hooks.BatchHook`: the service announces the event it is
registering (:meth:`CaseTables.expect`, keyed by the record's idempotency key),
and the commit that writes the event's record writes its rows in the same
transaction. So a case's rows never disagree with the log: either the record and
its rows are durable, or neither.

Reads are index searches: a case by id (primary key), its events by
``(case_id, event_number)``, a party's cases in filing order
(``ix_cases_lender``, ``ix_cases_body``), a party's events in log order
(``ix_case_events_lender``, ``ix_case_events_body``: WatchCases' replay), an
event by the leaf index of its record (unique), and the open case of a loan
with a body (``ix_cases_loan``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
    update,
)

from court.evidence.case_terms import TERMINAL_STATUSES, BodyKind, CaseStatus, Money
from gateway.cases.machine import CaseState
from gateway.model import CASE_KINDS, EvidenceKind
from gateway.store.base import StoredEntry
from gateway.store.tables import EntryRow, metadata

__all__ = [
    "CASES",
    "CASE_EVENTS",
    "CASE_TABLES",
    "CaseDocumentReads",
    "CaseFilter",
    "CaseTables",
    "LoanRecordRow",
    "PendingEvent",
    "StoredCase",
    "StoredCaseEvent",
]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

CASES = Table(
    "cases",
    metadata,
    Column("case_id", String(64), primary_key=True, nullable=False),
    Column("lender", String(128), nullable=False),
    Column("loan_ref", String(128), nullable=False),
    Column("body", String(128), nullable=False),
    Column("body_kind", String(16), nullable=False),
    Column("status", String(32), nullable=False),
    Column("claim_currency", String(3), nullable=False),
    Column("claim_units", BigInteger, nullable=False),
    Column("recovered_total", BigInteger, nullable=False),
    Column("case_number", Text, nullable=True),
    Column("relied_on_json", Text, nullable=False),
    Column("filing_leaf_index", BigInteger, nullable=False),
    # The tree size of the filing's receipt: the loan's dossier as filed.
    Column("filing_size", BigInteger, nullable=False),
    Column("filed_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("event_count", Integer, nullable=False),
    # The entry id of the record of the case's last event (the next one's previousEvent).
    Column("last_entry_id", String(64), nullable=False),
    Index("ix_cases_lender", "lender", "filing_leaf_index"),
    Index("ix_cases_body", "body", "filing_leaf_index"),
    Index("ix_cases_loan", "lender", "loan_ref", "body"),
)

CASE_EVENTS = Table(
    "case_events",
    metadata,
    Column("case_id", String(64), primary_key=True, nullable=False),
    Column("event_number", Integer, primary_key=True, autoincrement=False, nullable=False),
    Column("leaf_index", BigInteger, nullable=False, unique=True),
    Column("entry_id", String(64), nullable=False),
    # The case's parties and its status after the event, copied so that a party's
    # events in log order are one index search (WatchCases).
    Column("lender", String(128), nullable=False),
    Column("body", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("document", LargeBinary, nullable=False),
    Index("ix_case_events_lender", "lender", "leaf_index"),
    Index("ix_case_events_body", "body", "leaf_index"),
)

CASE_TABLES = [CASES, CASE_EVENTS]
_ENTRIES = metadata.tables[str(EntryRow.__tablename__)]
_IN_CHUNK = 500  # bound on parameters per IN (...) query


def _us(value: datetime) -> int:
    return (value - _EPOCH) // _US


def _time(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class StoredCase:
    """A case as its row holds it."""

    state: CaseState
    relied_on: tuple[str, ...]
    filing_leaf_index: int
    filing_size: int
    filed_at: datetime
    updated_at: datetime
    last_entry_id: str


@dataclass(frozen=True, slots=True)
class StoredCaseEvent:
    """One event of a case, with the position of its record."""

    case_id: str
    event_number: int
    leaf_index: int
    entry_id: str
    lender: str
    body: str
    status: CaseStatus
    document: bytes


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event whose record is being registered: the case after it and its document."""

    state: CaseState
    document: bytes
    relied_on: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LoanRecordRow:
    """A record of a case's loan registered after the filing (GetCase)."""

    entry_id: str
    kind: EvidenceKind
    occurred_at: datetime
    received_at: datetime
    leaf_index: int


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """ListCases' filters: the party (its institution and side column) and the rest."""

    institution: str
    as_lender: bool
    statuses: frozenset[CaseStatus] = frozenset()
    loan_ref: str | None = None
    counterpart: str | None = None
    filed_after: datetime | None = None
    filed_before: datetime | None = None


def _case(row: Any) -> StoredCase:
    m = row._mapping
    state = CaseState(
        case_id=m["case_id"],
        lender=m["lender"],
        loan_ref=m["loan_ref"],
        body=m["body"],
        body_kind=BodyKind(m["body_kind"]),
        claim=Money(m["claim_currency"], int(m["claim_units"])),
        status=CaseStatus(m["status"]),
        case_number=m["case_number"],
        recovered_total=int(m["recovered_total"]),
        event_count=int(m["event_count"]),
    )
    return StoredCase(
        state=state,
        relied_on=tuple(json.loads(m["relied_on_json"])),
        filing_leaf_index=int(m["filing_leaf_index"]),
        filing_size=int(m["filing_size"]),
        filed_at=_time(m["filed_at_us"]),
        updated_at=_time(m["updated_at_us"]),
        last_entry_id=m["last_entry_id"],
    )


def _event(row: Any) -> StoredCaseEvent:
    m = row._mapping
    return StoredCaseEvent(
        case_id=m["case_id"],
        event_number=int(m["event_number"]),
        leaf_index=int(m["leaf_index"]),
        entry_id=m["entry_id"],
        lender=m["lender"],
        body=m["body"],
        status=CaseStatus(m["status"]),
        document=bytes(m["document"]),
    )


class CaseDocumentReads:
    """:meth:`Store.case_documents` on SQL (mixed into SqlStore): the case event documents
    a bundle or dossier carries, read in batches by the unique ``leaf_index`` of
    ``case_events`` (one query per 500 records, never one per record)."""

    def _rows(self, stmt: Any) -> list[Any]:  # pragma: no cover - SqlStore's
        raise NotImplementedError

    def case_documents(self, leaf_indexes: Sequence[int]) -> dict[int, bytes]:
        c = CASE_EVENTS.c
        wanted = sorted(set(leaf_indexes))
        out: dict[int, bytes] = {}
        for i in range(0, len(wanted), _IN_CHUNK):
            stmt = select(c.leaf_index, c.document).where(
                c.leaf_index.in_(wanted[i : i + _IN_CHUNK])
            )
            for index, document in self._rows(stmt):
                out[int(index)] = bytes(document)
        return out


class CaseTables:
    """The cases' rows: written in the commits (a batch hook), read by the service.

    ``store`` is the :class:`~gateway.store.sql.SqlStore` (its ``read`` and
    ``add_batch_hook``). ``listener`` hears of every durable batch's case events, in
    commit order, in the ledger's writer thread (:class:`gateway.cases.notifier.Notifier`).
    """

    def __init__(self, store: Any) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], PendingEvent] = {}
        self.listener: Callable[[list[StoredCaseEvent]], None] | None = None
        store.add_batch_hook(self)

    # ------------------------------------------------------------ the hook

    def expect(self, institution: str, request_id: str, pending: PendingEvent) -> None:
        """The record ``(institution, request_id)`` about to be registered is this event."""
        with self._lock:
            self._pending[(institution, request_id)] = pending

    def forget(self, institution: str, request_id: str) -> None:
        """The record was not registered (or was, earlier): drop what :meth:`expect` kept."""
        with self._lock:
            self._pending.pop((institution, request_id), None)

    def _take(self, entries: Sequence[StoredEntry]) -> list[tuple[StoredEntry, PendingEvent]]:
        out = []
        with self._lock:
            for e in entries:
                s = e.submission
                if s.kind not in CASE_KINDS:
                    continue
                pending = self._pending.get((s.institution, s.request_id))
                if pending is None:  # not expected: the service announces every event
                    log.error("a case event record %s had no case rows to write", e.entry_id)
                    continue
                out.append((e, pending))
        return out

    def write(self, conn: Any, entries: Sequence[StoredEntry]) -> None:
        for e, p in self._take(entries):
            state = p.state
            at = _us(e.received_at)
            values = {
                "status": str(state.status),
                "case_number": state.case_number,
                "recovered_total": state.recovered_total,
                "updated_at_us": at,
                "event_count": state.event_count,
                "last_entry_id": e.entry_id,
            }
            if state.event_count == 1:
                conn.execute(
                    insert(CASES).values(
                        case_id=state.case_id,
                        lender=state.lender,
                        loan_ref=state.loan_ref,
                        body=state.body,
                        body_kind=str(state.body_kind),
                        claim_currency=state.claim.currency,
                        claim_units=state.claim.minor_units,
                        relied_on_json=json.dumps(list(p.relied_on)),
                        filing_leaf_index=e.leaf_index,
                        filing_size=e.receipt_size,
                        filed_at_us=at,
                        **values,
                    )
                )
            else:
                c = CASES.c
                moved = conn.execute(
                    update(CASES)
                    .where(c.case_id == state.case_id, c.event_count == state.event_count - 1)
                    .values(**values)
                ).rowcount
                if moved != 1:  # two writers of one case: the service serializes them
                    raise ValueError("a case event does not follow the case's last event")
            conn.execute(
                insert(CASE_EVENTS).values(
                    case_id=state.case_id,
                    event_number=state.event_count,
                    leaf_index=e.leaf_index,
                    entry_id=e.entry_id,
                    lender=state.lender,
                    body=state.body,
                    status=str(state.status),
                    document=p.document,
                )
            )

    def committed(self, entries: Sequence[StoredEntry]) -> None:
        events = []
        with self._lock:
            for e in entries:
                s = e.submission
                if s.kind not in CASE_KINDS:
                    continue
                p = self._pending.pop((s.institution, s.request_id), None)
                if p is None:
                    continue
                events.append(
                    StoredCaseEvent(
                        case_id=p.state.case_id,
                        event_number=p.state.event_count,
                        leaf_index=e.leaf_index,
                        entry_id=e.entry_id,
                        lender=p.state.lender,
                        body=p.state.body,
                        status=p.state.status,
                        document=p.document,
                    )
                )
        listener = self.listener
        if events and listener is not None:
            try:
                listener(events)
            except Exception:  # the commit is durable whatever a listener does
                log.exception("the case event listener failed")

    # ------------------------------------------------------------ reads

    def _rows(self, stmt: Any) -> list[Any]:
        return self._store.read(lambda conn: list(conn.execute(stmt)))  # type: ignore[no-any-return]

    def get(self, case_id: str) -> StoredCase | None:
        rows = self._rows(select(CASES).where(CASES.c.case_id == case_id))
        return _case(rows[0]) if rows else None

    def events(self, case_id: str) -> list[StoredCaseEvent]:
        c = CASE_EVENTS.c
        stmt = select(CASE_EVENTS).where(c.case_id == case_id).order_by(c.event_number)
        return [_event(r) for r in self._rows(stmt)]

    def event_at(self, leaf_index: int) -> StoredCaseEvent | None:
        rows = self._rows(select(CASE_EVENTS).where(CASE_EVENTS.c.leaf_index == leaf_index))
        return _event(rows[0]) if rows else None

    def open_case(self, lender: str, loan_ref: str, body: str) -> str | None:
        """The case of the loan with ``body`` that is not in a final status, if any."""
        c = CASES.c
        stmt = select(c.case_id).where(
            c.lender == lender,
            c.loan_ref == loan_ref,
            c.body == body,
            c.status.not_in(sorted(str(s) for s in TERMINAL_STATUSES)),
        )
        rows = self._rows(stmt.limit(1))
        return str(rows[0][0]) if rows else None

    def list_cases(self, f: CaseFilter, after_leaf: int, limit: int) -> list[StoredCase]:
        """The party's cases filed after the filing at ``after_leaf``, in filing order."""
        c = CASES.c
        party = c.lender if f.as_lender else c.body
        other = c.body if f.as_lender else c.lender
        cond = [party == f.institution, c.filing_leaf_index > after_leaf]
        if f.statuses:
            cond.append(c.status.in_(sorted(str(s) for s in f.statuses)))
        if f.loan_ref is not None:
            cond.append(c.loan_ref == f.loan_ref)
        if f.counterpart is not None:
            cond.append(other == f.counterpart)
        if f.filed_after is not None:
            cond.append(c.filed_at_us >= _us(f.filed_after))
        if f.filed_before is not None:
            cond.append(c.filed_at_us < _us(f.filed_before))
        stmt = select(CASES).where(and_(*cond)).order_by(c.filing_leaf_index).limit(limit)
        return [_case(r) for r in self._rows(stmt)]

    def party_events(
        self, institution: str, as_lender: bool, after_leaf: int, limit: int
    ) -> list[StoredCaseEvent]:
        """The events of the party's cases after the leaf ``after_leaf``, in log order."""
        c = CASE_EVENTS.c
        party = c.lender if as_lender else c.body
        stmt = (
            select(CASE_EVENTS)
            .where(party == institution, c.leaf_index > after_leaf)
            .order_by(c.leaf_index)
            .limit(limit)
        )
        return [_event(r) for r in self._rows(stmt)]

    def loan_records_since(
        self,
        lender: str,
        loan_ref: str,
        after_leaf: int,
        kinds: Sequence[EvidenceKind],
        limit: int,
    ) -> list[LoanRecordRow]:
        """Records of ``kinds`` of the loan after the leaf ``after_leaf``, oldest first."""
        e = _ENTRIES.c
        stmt = (
            select(e.entry_id, e.kind, e.occurred_at_us, e.received_at_us, e.leaf_index)
            .where(
                e.owner == lender,
                e.loan_ref == loan_ref,
                e.leaf_index > after_leaf,
                e.kind.in_(sorted(str(k) for k in kinds)),
            )
            .order_by(e.leaf_index)
            .limit(limit)
        )
        return [
            LoanRecordRow(
                entry_id=r[0],
                kind=EvidenceKind(r[1]),
                occurred_at=_time(r[2]),
                received_at=_time(r[3]),
                leaf_index=int(r[4]),
            )
            for r in self._rows(stmt)
        ]
