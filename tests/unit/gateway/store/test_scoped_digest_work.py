"""A search never does more work for records the caller cannot see.

Lender B asks for a digest that lender A has registered many times (a
templated collection text): B's search must read nothing of A's records, or
its time would tell B whether, and how often, A sends that text. Work is
counted, not timed: the SQLite virtual machine's steps for each statement
the store sends (the ``sqlite3`` progress handler), with A holding 1 and then
301 records of the digest. A lender's scope (owner) and a collection
agency's (submitter) are each a column of a digest index; a court's or an
arbitration body's search starts from its shares (here of another of A's
loans, which holds one record with the digest: the one it finds), and so
does its listing of a loan of A that is not shared with it. A lender's
listing of A's loan reads nothing at all, nor does the operator's, whose
digest search reads a partial index of its records of registry changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.access import GrantRequest
from gateway.authz.policy import ReadScope, ScopeKind
from gateway.ledger import Ledger
from gateway.model import EvidenceKind, Receipt
from gateway.store.sql import SqlStore
from tests.support.ledger_env import Env, sub, submit
from tests.support.read_path import Statement, captured

TEMPLATE = b"Dear customer, your repayment is overdue. Please call us."


def _steps(db: Path, statements: list[Statement]) -> int:
    """VM steps of running ``statements`` on ``db`` (read only)."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        conn.set_progress_handler(count, 1)
        for s in statements:
            conn.execute(s.sql, s.parameters).fetchall()
    finally:
        conn.close()
    return steps


def _searches(
    ledger: Ledger, store: SqlStore, scope: ReadScope, digest: bytes, *, lists: bool
) -> tuple[list[Statement], list[str]]:
    """The digest searches (and, if ``lists``, the listing of A's loan L-0, which the
    caller may not read) of ``scope``; returns their statements and the ids found."""
    with captured(store.engine) as statements:
        records, _ = ledger.find("sha256", digest, 50, "", scope)
        ids = ledger.entry_ids_by_digest("sha256", digest, 1000, scope)
        listed = ledger.list_by_loan("bank-a", "L-0", 50, "", scope)[0] if lists else []
    assert [r.receipt.entry_id for r in records] == ids
    assert listed == []
    return [s for s in statements if s.sql.lstrip().upper().startswith("SELECT")], ids


def _grant(ledger: Ledger, kind: EvidenceKind, grantee: str, loans: tuple[str, ...] | None) -> None:
    later = datetime.now(UTC) + timedelta(days=30)
    grant = GrantRequest(kind, "bank-a", grantee, f"g-{grantee}", loans, later)
    asyncio.run(ledger.record_grant(grant, datetime.now(UTC)))


_NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("scope", "lists"),
    [
        (ReadScope(ScopeKind.OWNER, "bank-b", _NOW), True),
        # A collection agency's listing of a loan still reads the loan's records one by
        # one (docs/access.md, "No probing"): its digest searches only.
        (ReadScope(ScopeKind.SUBMITTER, "agency-b", _NOW), False),
        (ReadScope(ScopeKind.SHARED, "court-b", _NOW), True),
        (ReadScope(ScopeKind.SHARED, "arb-b", _NOW), True),
        # The operator: its records of registry changes only (a partial index of them).
        (ReadScope(ScopeKind.OPERATOR_RECORDS, "operator", _NOW), True),
    ],
    ids=["lender", "collector", "court", "arbitration", "operator"],
)
def test_records_the_caller_cannot_see_cost_no_work(
    pki_p256: Path, tmp_path: Path, scope: ReadScope, lists: bool
) -> None:
    env = Env(pki_p256, tmp_path)
    digest = sub(0, data=TEMPLATE).digest
    store = SqlStore.sqlite(env.db)
    ledger = env.open(store=store)
    try:
        one, shared = submit(
            ledger, [sub("a-0", loan="L-0", data=TEMPLATE), sub("a-s", loan="L-s", data=TEMPLATE)]
        )
        assert isinstance(one, Receipt) and isinstance(shared, Receipt)
        # A's delegation of all its loans (which the courts see) and its shares of L-s.
        _grant(ledger, EvidenceKind.LOAN_DELEGATED, "agency-a", None)
        for court in ("court-b", "arb-b"):
            _grant(ledger, EvidenceKind.LOAN_SHARED, court, ("L-s",))
        expected = [shared.entry_id] if scope.kind is ScopeKind.SHARED else []
        statements, found = _searches(ledger, store, scope, digest, lists=lists)
        assert found == expected
        few = _steps(env.db, statements)
        for start in range(1, 301, 100):
            items = [
                sub(f"a-{i}", loan="L-0" if i % 2 else f"L-{i}", data=TEMPLATE)
                for i in range(start, start + 100)
            ]
            assert all(isinstance(r, Receipt) for r in submit(ledger, items))
        statements, found = _searches(ledger, store, scope, digest, lists=lists)
        assert found == expected
        many = _steps(env.db, statements)
    finally:
        env.close(ledger)
    assert few > 0
    assert many == few, f"{few} VM steps with 1 of A's records, {many} with 301"


def test_a_database_without_the_scoped_indexes_gets_them_when_opened(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    SqlStore.sqlite(db).close()
    names = (
        "ix_entries_owner_digest",
        "ix_entries_submitter_digest",
        "ix_entries_loan_digest",
        "ix_entries_operator_digest",
    )
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for name in names:
            conn.execute(f"DROP INDEX {name}")
        conn.commit()
    SqlStore.sqlite(db).close()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        found = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert set(names) <= found
