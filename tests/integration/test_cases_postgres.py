"""Judicial cases on PostgreSQL: the case's rows written in the commits, read by index.

The real ledger on a PostgreSQL schema of its own; the case service files a
case and records its events; the rows follow the log (each event's row names
its record's leaf), a second open case is refused, a party's events come in log
order, and a restarted ledger reads the same case.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from court.evidence.case_terms import CaseEventType, CaseStatus, Money
from gateway.authz.roles import Caller, Role
from gateway.cases.machine import EventRequest
from gateway.cases.service import CaseService
from gateway.errors import FailedPrecondition
from gateway.store.cases import CaseFilter, CaseTables
from gateway.store.sql import SqlStore
from tests.integration.test_store_postgres import URL, pg_schema  # noqa: F401
from tests.support.ledger_env import Env, sub, submit

LENDER = Caller("bank-a", Role.LENDER)
COURT = Caller("court-1", Role.COURT)


def _roles(name: str) -> Role | None:
    return {"court-1": Role.COURT}.get(name)


def test_cases_on_postgres(pg_schema: str, pki_p256: Path, tmp_path: Path) -> None:  # noqa: F811
    env = Env(pki_p256, tmp_path)
    ledger = env.open(store=SqlStore.open(URL, schema=pg_schema))
    try:
        relied = submit(ledger, [sub(i, loan="L-P") for i in range(3)])
        tables = CaseTables(ledger.store)
        service = CaseService(ledger, tables, role_of=_roles)

        async def run() -> str:
            case = await service.file(
                LENDER,
                request_id="f",
                loan_ref="L-P",
                body="court-1",
                claim=Money("CNY", 100),
                relied_on=tuple(r.entry_id for r in relied),
                share_expires_at=datetime.now(UTC) + timedelta(days=1),
            )
            with pytest.raises(FailedPrecondition):
                await service.file(
                    LENDER,
                    request_id="g",
                    loan_ref="L-P",
                    body="court-1",
                    claim=Money("CNY", 100),
                    relied_on=(relied[0].entry_id,),
                    share_expires_at=datetime.now(UTC) + timedelta(days=1),
                )
            for n, event in enumerate((CaseEventType.ACCEPTED, CaseEventType.JUDGMENT)):
                await service.record(
                    COURT,
                    case_id=case.state.case_id,
                    request_id=f"e{n}",
                    request=EventRequest(event, case_number="(2026)1" if n == 0 else None),
                    occurred_at=datetime.now(UTC),
                )
            return case.state.case_id

        case_id = asyncio.run(run())
        events = tables.events(case_id)
        assert [e.event_number for e in events] == [1, 2, 3]
        for e in events:
            entry = ledger.store.get_entry(e.entry_id)
            assert entry is not None and entry.leaf_index == e.leaf_index
            assert entry.submission.digest == hashlib.sha256(e.document).digest()
        assert [e.leaf_index for e in tables.party_events("court-1", False, -1, 10)] == [
            e.leaf_index for e in events
        ]
        listed = tables.list_cases(CaseFilter("bank-a", True), -1, 10)
        assert [c.state.status for c in listed] == [CaseStatus.JUDGMENT]
    finally:
        env.close(ledger)
    again = env.open(store=SqlStore.open(URL, schema=pg_schema))
    try:
        case = CaseTables(again.store).get(case_id)
        assert case is not None and case.state.event_count == 3
        assert case.last_entry_id == events[-1].entry_id
    finally:
        env.close(again)
