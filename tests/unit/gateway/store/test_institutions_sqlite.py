"""The institutions registry on SQLite (the same cases run on PostgreSQL in
tests/integration/test_store_postgres.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.store.sql import SqlStore
from tests.support.institution_cases import ALL_CASES


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.__name__)
def test_institution_case_on_sqlite(case: Callable[[SqlStore], None], tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        store.hold_writer_lock()  # as gateway serve does: changes go through the writer
        case(store)
    finally:
        store.close()
