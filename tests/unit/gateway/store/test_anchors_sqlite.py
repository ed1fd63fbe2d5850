"""The anchors table on SQLite (the same cases run on PostgreSQL in
tests/integration/test_store_postgres.py), and its reads are index searches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.store.sql import SqlStore
from tests.support.anchor_cases import ALL_CASES, anchor_read_statements
from tests.support.read_path import Statement, sqlite_full_scans


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.__name__)
def test_anchor_case_on_sqlite(case: Callable[[SqlStore], None], tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        store.hold_writer_lock()  # as gateway serve does: the worker writes through it
        case(store)
    finally:
        store.close()


def test_no_read_of_the_anchors_scans_a_table(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        store.hold_writer_lock()
        statements = anchor_read_statements(store)
        for analyzed in (False, True):
            if analyzed:
                with store.engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
            scans = sqlite_full_scans(store.engine, statements)
            assert not scans, f"full scans (analyzed: {analyzed}):\n" + "\n".join(scans)
        # and the check sees a scan of this table: no index leads with the tx hash
        by_tx = Statement("SELECT id FROM anchors WHERE tx_hash = ?", (b"\x00" * 32,))
        assert sqlite_full_scans(store.engine, [by_tx])
    finally:
        store.close()
