"""WAL checkpoints out of the writer's commits (gateway.store.checkpointer)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from gateway.store import sql
from gateway.store.checkpointer import WalCheckpointer, wal_frames
from gateway.store.sql import SQLITE_WAL_SIZE_LIMIT, SqlStore

_THREAD = "sqlite-wal-checkpoint"


def _frames(db: Path) -> tuple[int, int]:
    got = wal_frames(db.with_name(db.name + "-shm").read_bytes()[:104])
    assert got is not None
    return got


def _blobs(rows: int) -> str:
    """SQL: ``rows`` random blobs of 3,000 bytes (about a page each)."""
    return (
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
        "SELECT randomblob(3000) FROM n"
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fill(store: SqlStore, rows: int = 40) -> None:
    """One transaction through the writer that dirties about ``rows`` pages."""

    def write(conn: object) -> None:
        run = conn.exec_driver_sql  # type: ignore[attr-defined]
        run("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
        run(f"INSERT INTO filler {_blobs(rows)}")

    store.write(write)


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == _THREAD and t.is_alive()]


@pytest.fixture
def small_wal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, "SQLITE_WAL_CHECKPOINT_PAGES", 64)
    monkeypatch.setattr(sql, "SQLITE_WAL_BOUND_PAGES", 1_000_000)


def test_wal_frames_reads_the_wal_index_header(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.execute(f"INSERT INTO t {_blobs(50)}")
    total, backfilled = _frames(db)
    assert total > 50 and backfilled == 0
    busy, log_frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, log_frames, copied) == (0, total, total)
    assert _frames(db) == (total, total)
    assert wal_frames(b"\0" * 104) is None  # not initialised
    conn.close()


@pytest.mark.usefixtures("small_wal")
def test_the_writer_does_not_checkpoint_in_its_commits(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    store = SqlStore.sqlite(db)
    try:
        store.hold_writer_lock()
        checkpointer = store._writer.checkpointer  # type: ignore[attr-defined]
        assert isinstance(checkpointer, WalCheckpointer)
        checkpointer.close()  # as if it had died: what is left is the writer's own work
        _fill(store)
        before = _digest(db)
        for _ in range(40):  # about 1,700 pages: far past the checkpoint size
            _fill(store)
        assert _digest(db) == before, "a commit of the writer checkpointed the WAL"
        assert _frames(db)[0] > 20 * 64
        assert _frames(db)[1] == 0
    finally:
        store.close()


def test_the_writer_still_checkpoints_past_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "SQLITE_WAL_CHECKPOINT_PAGES", 64)
    monkeypatch.setattr(sql, "SQLITE_WAL_BOUND_PAGES", 400)
    db = tmp_path / "db.sqlite3"
    store = SqlStore.sqlite(db)
    try:
        store.hold_writer_lock()
        store._writer.checkpointer.close()  # type: ignore[attr-defined]
        longest = 0
        for _ in range(60):  # about 2,500 pages in all
            _fill(store)
            longest = max(longest, _frames(db)[0])
        assert longest < 400 + 100  # the bound and one transaction's frames
    finally:
        store.close()


@pytest.mark.usefixtures("small_wal")
def test_the_thread_checkpoints_and_stops_on_close(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    reader = SqlStore.sqlite(db)  # another store on the file: a tool, or a reader
    store = SqlStore.sqlite(db)
    try:
        assert _threads() == []  # opening a store starts no thread
        store.hold_writer_lock()
        assert _threads() == [_THREAD]
        checkpointer = store._writer.checkpointer  # type: ignore[attr-defined]
        _fill(store)
        before = _digest(db)
        for _ in range(30):
            _fill(store)
            assert reader.ping()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            total, backfilled = _frames(db)
            if checkpointer.checkpoints and backfilled == total:
                break
            _fill(store, rows=1)  # a commit wakes the thread
            time.sleep(0.05)
        assert checkpointer.checkpoints > 0
        assert _digest(db) != before  # the thread copied the pages back
        # The writer only ever checkpoints past the bound (1,000,000 pages here): the
        # WAL starts over at the next write because the thread copied all of it back.
        _fill(store, rows=1)
        assert _frames(db)[0] < 64
    finally:
        store.close()
        reader.close()
    assert _threads() == []
    check = sqlite3.connect(db)
    try:
        assert check.execute("SELECT count(*) FROM filler").fetchone()[0] > 30 * 40
    finally:
        check.close()


def test_every_connection_limits_the_wal_file_kept_after_a_restart(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        with store._engine.connect() as conn:
            limit = conn.exec_driver_sql("PRAGMA journal_size_limit").scalar()
        assert limit == SQLITE_WAL_SIZE_LIMIT
    finally:
        store.close()
