"""A digest search never does more work for another institution's records.

Lender B asks for a digest that lender A has registered many times (a
templated collection text): B's search must read nothing of A's records, or
its time would tell B whether, and how often, A sends that text. Work is
counted, not timed: the SQLite virtual machine's steps for each statement
the store sends (the ``sqlite3`` progress handler), with A holding 1 and then
301 records of the digest. A lender's scope (owner) and a collection
agency's (submitter) are each a column of a digest index.
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.authz.policy import ReadScope, ScopeKind
from gateway.ledger import Ledger
from gateway.model import Receipt
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


def _searches(ledger: Ledger, store: SqlStore, scope: ReadScope, digest: bytes) -> list[Statement]:
    with captured(store.engine) as statements:
        records, _ = ledger.find("sha256", digest, 50, "", scope)
        ids = ledger.entry_ids_by_digest("sha256", digest, 1000, scope)
    assert records == [] and ids == []  # B has none of them
    return [s for s in statements if s.sql.lstrip().upper().startswith("SELECT")]


@pytest.mark.parametrize(
    "scope",
    [
        ReadScope(ScopeKind.OWNER, "bank-b", datetime.now(UTC)),
        ReadScope(ScopeKind.SUBMITTER, "agency-b", datetime.now(UTC)),
    ],
    ids=["lender", "collector"],
)
def test_another_institution_s_records_cost_no_work(
    pki_p256: Path, tmp_path: Path, scope: ReadScope
) -> None:
    env = Env(pki_p256, tmp_path)
    digest = sub(0, data=TEMPLATE).digest
    store = SqlStore.sqlite(env.db)
    ledger = env.open(store=store)
    try:
        (one,) = submit(ledger, [sub("a-0", loan="L-0", data=TEMPLATE)])
        assert isinstance(one, Receipt)
        few = _steps(env.db, _searches(ledger, store, scope, digest))
        for start in range(1, 301, 100):
            items = [sub(f"a-{i}", loan=f"L-{i}", data=TEMPLATE) for i in range(start, start + 100)]
            assert all(isinstance(r, Receipt) for r in submit(ledger, items))
        many = _steps(env.db, _searches(ledger, store, scope, digest))
    finally:
        env.close(ledger)
    assert few > 0
    assert many == few, f"{few} VM steps with 1 of A's records, {many} with 301"


def test_a_database_without_the_scoped_indexes_gets_them_when_opened(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    SqlStore.sqlite(db).close()
    names = ("ix_entries_owner_digest", "ix_entries_submitter_digest")
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for name in names:
            conn.execute(f"DROP INDEX {name}")
        conn.commit()
    SqlStore.sqlite(db).close()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        found = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert set(names) <= found
