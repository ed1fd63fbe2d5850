"""The writer lock of a SQLite store: tied to the database file, whatever the path to it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.store.lock import WriterLockHeld
from gateway.store.sql import SqlStore


def test_one_writer_per_sqlite_file_whatever_the_path(tmp_path: Path) -> None:
    database = tmp_path / "db" / "log.sqlite3"
    first = SqlStore.sqlite(database)
    first.hold_writer_lock()
    os.symlink(tmp_path / "db", tmp_path / "link")
    for other in (database, tmp_path / "link" / "log.sqlite3"):
        second = SqlStore.sqlite(other)
        with pytest.raises(WriterLockHeld, match=f"pid {os.getpid()}"):
            second.hold_writer_lock()
        assert second.ping()  # reading is not locked
        second.close()
    assert first.ping()
    first.close()  # releases it
    again = SqlStore.sqlite(tmp_path / "link" / "log.sqlite3")
    again.hold_writer_lock()
    again.close()
    assert (tmp_path / "db" / "log.sqlite3.lock").exists()


def test_an_in_memory_store_needs_no_lock() -> None:
    stores = [SqlStore.open("sqlite://") for _ in range(2)]
    for store in stores:
        store.hold_writer_lock()
        assert store.ping()
        store.close()
