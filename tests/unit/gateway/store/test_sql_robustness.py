"""The SQL store fails fast and quietly: time-outs, error texts without data, int ranges, memory.

* A locked SQLite database fails a write after the busy time-out (10 s by
  default, was 30 s) instead of holding the caller.
* A PostgreSQL server that never answers fails the store's connection after
  ``connect_timeout`` instead of hanging (against a local socket that accepts
  and never answers; the real server's time-outs are tested in
  ``tests/integration/test_store_postgres.py``).
* A StoreError's text (which reaches callers as UNAVAILABLE) holds no SQL
  and no parameters, i.e. no other caller's data; the log has the detail.
* Positions and limits outside signed 64 bits are refused before they reach
  the driver, and a driver OverflowError is a StoreError, not a crash.
* ``sqlite://`` and ``sqlite:///:memory:`` are usable stores.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.log.tree import CompactTree
from gateway.store.base import Store, StoredCheckpoint, StoreError
from gateway.store.sql import _ENTRIES, SqlStore
from tests.support.store_cases import ALL_CASES, make_entry

MEMORY_URLS = ["sqlite://", "sqlite:///:memory:"]


def _append_one(store: SqlStore, index: int = 0, **kwargs: object) -> None:
    entry = make_entry(index, **kwargs)  # type: ignore[arg-type]
    tree = CompactTree()
    nodes = tree.append_leaves([entry.leaf_hash])
    store.append_batch([entry], nodes, StoredCheckpoint(tree.size, tree.root(), "n\n"))


def assert_store_error_leaks_nothing(store: SqlStore, caplog: pytest.LogCaptureFixture) -> None:
    """A write that the database refuses: the error names the class, not the data."""
    secret_request = "req-of-bank-b-7f3a9c"
    secret_loan = "LOAN-bank-b-secret-42"
    digest = hashlib.sha256(b"bank-b's document").digest()
    _append_one(store, 0, request_id=secret_request, loan_ref=secret_loan, digest=digest)
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="gateway.store.sql"),
        pytest.raises(StoreError) as info,  # same entry id and request id again
    ):
        _append_one(store, 0, request_id=secret_request, loan_ref=secret_loan, digest=digest)
    message = str(info.value)
    for secret in (secret_request, secret_loan, digest.hex(), "token-0", "bank-a", "leaf-0"):
        assert secret not in message
    for sql_text in ("[SQL", "parameters", "INSERT", "entries"):
        assert sql_text not in message
    assert "IntegrityError" in message and "log" in message
    # the detail is in the server's log, for the operators
    assert any(r.exc_info and "IntegrityError" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- in-memory SQLite


@pytest.mark.parametrize("url", MEMORY_URLS)
@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.__name__)
def test_in_memory_store_case(url: str, case: Callable[[Store], None]) -> None:
    store = SqlStore.open(url)
    try:
        case(store)
    finally:
        store.close()


@pytest.mark.parametrize("url", MEMORY_URLS)
def test_in_memory_store_from_several_threads(url: str) -> None:
    store = SqlStore.open(url)
    errors: list[BaseException] = []
    tree = CompactTree()

    def write() -> None:
        try:
            for i in range(50):
                e = make_entry(i, request_id=f"t{i}", loan_ref=f"L{i}")
                nodes = tree.append_leaves([e.leaf_hash])
                store.append_batch([e], nodes, StoredCheckpoint(tree.size, tree.root(), "n\n"))
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(200):
                store.latest_checkpoint()
                store.get_entry("e1")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert store.latest_checkpoint() is not None
        assert store.latest_checkpoint().size == 50  # type: ignore[union-attr]
        assert store.get_entry("e49") is not None
    finally:
        store.close()


# ---------------------------------------------------------------- time-outs


def test_sqlite_busy_timeout_default_is_10_s(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    finally:
        store.close()


def test_sqlite_locked_database_fails_a_write_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SqlStore.open(f"sqlite:///{path}", busy_timeout=0.5)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        started = time.monotonic()
        with pytest.raises(StoreError, match="OperationalError"):
            _append_one(store)
        assert 0.4 < time.monotonic() - started < 5
        other.execute("ROLLBACK")
        _append_one(store)  # and works again once the lock is gone
        assert store.get_entry("e0") is not None
    finally:
        other.close()
        store.close()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        sock.close()


def test_postgres_that_never_answers_fails_after_connect_timeout(silent_server: int) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/test"
    outcome: list[BaseException | SqlStore] = []

    def open_store() -> None:
        try:
            outcome.append(SqlStore.open(url, connect_timeout=2))
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=open_store, daemon=True)
    thread.start()
    thread.join(15)  # without a connect_timeout it would hang forever
    assert outcome, "opening the store hung on a server that never answers"
    assert isinstance(outcome[0], StoreError), outcome[0]
    assert time.monotonic() - started < 8


# ---------------------------------------------------------------- error texts


def test_store_error_text_holds_no_data(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        assert_store_error_leaks_nothing(store, caplog)
    finally:
        store.close()


# ---------------------------------------------------------------- integer ranges

HUGE = [1 << 63, (1 << 64) - 1, -(1 << 63) - 1]


@pytest.mark.parametrize("value", HUGE)
def test_positions_outside_int64_are_refused_before_binding(tmp_path: Path, value: int) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        _append_one(store)
        digest = make_entry(0).submission.digest
        with pytest.raises(ValueError, match="64-bit"):
            store.find_by_digest("sha256", digest, 10, value)
        with pytest.raises(ValueError, match="64-bit"):
            store.find_by_digest("sha256", digest, value)
        with pytest.raises(ValueError, match="64-bit"):
            store.list_by_loan("bank-a", "L-1", value, 10)
        with pytest.raises(ValueError, match="64-bit"):
            store.list_by_loan("bank-a", "L-1", 0, value)
        with pytest.raises(ValueError, match="64-bit"):
            store.checkpoint_at(value)
        with pytest.raises(ValueError, match="64-bit"):
            store.entries_range(0, value)
        with pytest.raises(ValueError, match="64-bit"):
            store.get_nodes([(0, value)])
        # the edges of the range still work
        limit = (1 << 63) - 1
        assert store.find_by_digest("sha256", digest, limit, limit) == []
        assert len(store.list_by_loan("bank-a", "L-1", -(1 << 63), limit)) == 1
    finally:
        store.close()


def test_driver_overflow_is_a_store_error(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        with pytest.raises(StoreError, match="OverflowError"):
            store._rows(select(_ENTRIES).where(_ENTRIES.c.leaf_index > (1 << 63)))
        assert store.ping()
    finally:
        store.close()
