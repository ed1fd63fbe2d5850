"""Every query of the read path is an index search on SQLite, never a full scan.

The log is filled through the real ledger; then every read of the ledger and
of the store runs while its SQL is captured, and each statement's
``EXPLAIN QUERY PLAN`` must not scan a table (SQLite, for instance, scans
``nodes`` for a row-value ``WHERE (level, idx) IN (...)``: O(n) per proof).
The plans are checked as the gateway runs (no statistics) and again after
``ANALYZE``, which lets the planner weigh indexes by their statistics.
The PostgreSQL twin is ``tests/integration/test_store_postgres.py``.
"""

from __future__ import annotations

from pathlib import Path

from gateway.store.sql import SqlStore
from tests.support.institution_cases import registry_read_statements
from tests.support.ledger_env import Env
from tests.support.read_path import Statement, captured, exercise, fill, sqlite_full_scans


def test_no_read_scans_a_table(pki_p256: Path, tmp_path: Path) -> None:
    env = Env(pki_p256, tmp_path)
    ledger = env.open(max_wait_ms=1.0)
    try:
        sample = fill(ledger, entries=1200, per_call=40, loans=400)
    finally:
        env.close(ledger)
    store = SqlStore.sqlite(env.db)
    ledger = env.open(store=store)
    try:
        for analyzed in (False, True):
            if analyzed:
                with store.engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
            with captured(store.engine) as statements:
                exercise(ledger, store, sample)
            scans = sqlite_full_scans(store.engine, statements)
            assert not scans, f"full scans (analyzed: {analyzed}):\n" + "\n".join(scans)
        # and the check does see a scan: the row-value IN the node reads used to send
        old = "SELECT level, idx, hash FROM nodes WHERE (level, idx) IN (VALUES (?, ?), (?, ?))"
        assert sqlite_full_scans(store.engine, [Statement(old, (0, 1, 1, 0))])
    finally:
        env.close(ledger)


def test_no_read_of_the_institutions_registry_scans_a_table(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        statements = registry_read_statements(store)
        for analyzed in (False, True):
            if analyzed:
                with store.engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
            scans = sqlite_full_scans(store.engine, statements)
            assert not scans, f"full scans (analyzed: {analyzed}):\n" + "\n".join(scans)
        # and the check sees a scan of these tables: no index holds the role
        by_role = Statement("SELECT name FROM institutions WHERE role = ?", ("lender",))
        assert sqlite_full_scans(store.engine, [by_role])
    finally:
        store.close()
