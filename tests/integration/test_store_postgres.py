"""The SQL store (and the ledger on it) against the real PostgreSQL server.

PostgreSQL runs on the project's machines at 127.0.0.1:5432 (trust auth,
database ``test``); ``GATEWAY_TEST_POSTGRES_URL`` overrides the URL. These
tests never skip: if the server or the driver (``psycopg``) is missing they
fail and say so. Each test works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_consistency
from gateway.access import GrantRequest
from gateway.authz.policy import ReadScope, ScopeKind
from gateway.model import EvidenceKind, Receipt
from gateway.store.base import Store, StoreError
from gateway.store.sql import SqlStore
from tests.support.anchor_cases import ALL_CASES as ANCHOR_CASES
from tests.support.anchor_cases import anchor_read_statements
from tests.support.institution_cases import ALL_CASES as INSTITUTION_CASES
from tests.support.institution_cases import registry_read_statements
from tests.support.ledger_env import Env, check_chain, sub, submit
from tests.support.loanmap_replay import check_every_checkpoint, checkpoints
from tests.support.read_path import Statement, captured, exercise, fill, postgres_full_scans
from tests.support.store_cases import (
    ALL_CASES,
    case_a_read_of_several_statements_sees_one_snapshot,
    make_entry,
)
from tests.support.token_store_cases import TOKEN_CASES
from tests.unit.gateway.store.test_sql_robustness import (
    _append_one,
    assert_store_error_leaks_nothing,
)

URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    try:
        admin = create_engine(URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is required for this test and is not usable at {URL} ({exc}); "
            "start it (127.0.0.1:5432, trust auth, database test) and install the "
            "psycopg driver, or set GATEWAY_TEST_POSTGRES_URL"
        )
    schema = "gw_test_" + secrets.token_hex(6)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield schema
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.__name__)
def test_store_case_on_postgres(case: Callable[[Store], None], pg_schema: str) -> None:
    store = SqlStore.open(URL, schema=pg_schema)
    try:
        case(store)
    finally:
        store.close()


def test_a_read_of_several_statements_sees_one_snapshot_on_postgres(pg_schema: str) -> None:
    store = SqlStore.open(URL, schema=pg_schema)
    try:
        case_a_read_of_several_statements_sees_one_snapshot(store)
    finally:
        store.close()


@pytest.mark.parametrize("case", TOKEN_CASES, ids=lambda c: c.__name__)
def test_token_case_on_postgres(case: Callable[[SqlStore], None], pg_schema: str) -> None:
    store = SqlStore.open(URL, schema=pg_schema)
    try:
        case(store)
    finally:
        store.close()


@pytest.mark.parametrize("case", INSTITUTION_CASES, ids=lambda c: c.__name__)
def test_institution_case_on_postgres(case: Callable[[SqlStore], None], pg_schema: str) -> None:
    store = SqlStore.open(URL, schema=pg_schema)
    try:
        store.hold_writer_lock()
        case(store)
    finally:
        store.close()


def test_ledger_on_postgres_survives_a_restart(
    pg_schema: str, pki_p256: Path, tmp_path: Path
) -> None:
    env = Env(pki_p256, tmp_path)
    ledger = env.open(store=SqlStore.open(URL, schema=pg_schema))
    try:
        first = submit(ledger, [sub(i, loan=f"L{i % 2}") for i in range(6)])
        old = verify_checkpoint(ledger.checkpoint(), env.vkey)
    finally:
        env.close(ledger)
    again = env.open(store=SqlStore.open(URL, schema=pg_schema))
    try:
        second = submit(again, [sub(i, loan=f"L{i % 2}") for i in range(6, 10)])
        items = [sub(i, loan=f"L{i % 2}") for i in range(10)]
        receipts = [env.check_receipt(s, r) for s, r in zip(items, first + second, strict=True)]
        assert [r.leaf_index for r in receipts] == list(range(10))
        check_chain([r for r in receipts if r.leaf_index % 2 == 0])
        new = verify_checkpoint(again.checkpoint(), env.vkey)
        proof = again.consistency_proof(old.size, new.size)
        verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)
        assert submit(again, [sub(3, loan="L1")]) == [first[3]]
        assert [r.receipt.loan_sequence for r in again.list_by_loan("bank-a", "L1", 0, "")[0]] == [
            1,
            2,
            3,
            4,
            5,
        ]
    finally:
        env.close(again)


def test_loan_map_on_postgres_follows_the_leaves_and_is_added_to_an_earlier_log(
    pg_schema: str, pki_p256: Path, tmp_path: Path
) -> None:
    from court.verify.loanmap import head_of_leaf, map_root_of, verify_loan_head

    env = Env(pki_p256, tmp_path)
    # A log written without the map (as before it existed, without its table), then the map.
    old = env.open(store=SqlStore.open(URL, schema=pg_schema), max_wait_ms=0.0, loan_map=False)
    try:
        before = [r for n in range(4) for r in submit(old, [sub(n, loan=f"L{n % 3}")])]
    finally:
        env.close(old)
    admin = create_engine(URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP TABLE {pg_schema}.loan_map_blocks"))
    admin.dispose()
    ledger = env.open(store=SqlStore.open(URL, schema=pg_schema), max_wait_ms=0.0)
    try:
        after = [r for n in range(4, 12) for r in submit(ledger, [sub(n, loan=f"L{n % 3}")])]
        receipts = [r for r in before + after if isinstance(r, Receipt)]
        assert len(receipts) == 12
        store = SqlStore.open(URL, schema=pg_schema)
        try:
            assert check_every_checkpoint(store) == (8, 5)  # sizes 0-4 predate the map
            sizes = [size for size, note in checkpoints(store) if map_root_of(note)]
        finally:
            store.close()
        proofs = 0
        for size in sizes:  # every loan's head at every map checkpoint, from the rows
            root = map_root_of(ledger.checkpoint_at(size))
            assert root is not None
            for loan in range(3):
                mine = [r for r in receipts if r.leaf_index < size and r.leaf_index % 3 == loan]
                head = head_of_leaf(mine[-1].leaf_index, mine[-1].leaf)
                assert head is not None
                proof = ledger.loan_head_proof(head.loan_key, size)
                assert proof is not None and proof.head == head
                verify_loan_head(proof, root)
                proofs += 1
        assert proofs == 8 * 3
    finally:
        env.close(ledger)


def _with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


def _show(store: SqlStore, *settings: str) -> list[str]:
    with store.engine.connect() as conn:
        return [str(conn.exec_driver_sql(f"SHOW {s}").scalar()) for s in settings]


def test_connections_commit_synchronously_whatever_the_url_says(pg_schema: str) -> None:
    # A role, database or URL default of synchronous_commit=off would make an
    # acknowledged commit losable; the store sets it back on for its connections.
    url = _with_query(URL, "options=-csynchronous_commit%3Doff")
    raw = create_engine(url)
    try:
        with raw.connect() as conn:  # the URL does switch it off for a plain connection
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
    finally:
        raw.dispose()
    store = SqlStore.open(url, schema=pg_schema)
    try:
        with store.engine.connect() as a, store.engine.connect() as b:
            for conn in (a, b):
                assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        _append_one(store)
        assert store.get_entry("e0") is not None
    finally:
        store.close()
    plain = SqlStore.open(url)  # without a schema too
    try:
        assert _show(plain, "synchronous_commit") == ["on"]
    finally:
        plain.close()


def test_default_timeouts_and_url_overrides(pg_schema: str) -> None:
    store = SqlStore.open(URL, schema=pg_schema)
    try:
        assert _show(store, "statement_timeout", "lock_timeout") == ["30s", "10s"]
    finally:
        store.close()
    url = _with_query(URL, "options=-c%20lock_timeout%3D2s")
    store = SqlStore.open(url, schema=pg_schema)
    try:
        assert _show(store, "statement_timeout", "lock_timeout") == ["30s", "2s"]
    finally:
        store.close()


def test_a_locked_table_fails_a_write_within_the_lock_timeout(pg_schema: str) -> None:
    store = SqlStore.open(URL, schema=pg_schema, lock_timeout=1.0)
    locker = create_engine(URL)
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            _append_one(store)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    try:
        with locker.connect() as conn:
            conn.exec_driver_sql(f"LOCK TABLE {pg_schema}.entries IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            thread = threading.Thread(target=write, daemon=True)
            thread.start()
            thread.join(10)  # the lock is released (rollback) when this block ends
            took = time.monotonic() - started
            assert outcome, "the write waited for the lock with no time-out"
        thread.join(10)
        assert isinstance(outcome[0], StoreError), outcome[0]
        assert "OperationalError" in str(outcome[0])
        assert took < 5
        _append_one(store)  # the lock is gone: the store works again
        assert store.get_entry("e0") is not None
    finally:
        locker.dispose()
        store.close()


def test_store_error_text_holds_no_data_on_postgres(
    pg_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlStore.open(URL, schema=pg_schema)
    try:
        assert_store_error_leaks_nothing(store, caplog)
    finally:
        store.close()


def test_positions_outside_int64_are_refused_on_postgres(pg_schema: str) -> None:
    store = SqlStore.open(URL, schema=pg_schema)
    try:
        _append_one(store)
        digest = make_entry(0).submission.digest
        for value in (1 << 63, (1 << 64) - 1):
            with pytest.raises(ValueError, match="64-bit"):
                store.find_by_digest("sha256", digest, 10, value)
            with pytest.raises(ValueError, match="64-bit"):
                store.list_by_loan("bank-a", "L-1", value, 10)
        assert store.ping()
    finally:
        store.close()


def test_failures_are_logged_with_their_detail(
    pg_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlStore.open(URL, schema=pg_schema)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="gateway.store.sql"),
            pytest.raises(StoreError),
        ):
            store._rows(text("SELECT no_such_column FROM entries"))
        assert "UndefinedColumn" in caplog.text or "no_such_column" in caplog.text
    finally:
        store.close()


def test_no_read_scans_a_table_on_postgres(pg_schema: str, pki_p256: Path, tmp_path: Path) -> None:
    # Every statement of the read path (captured while every ledger and store
    # read runs) is explained with its own parameters after ANALYZE: none may
    # read a whole table (see postgres_full_scans for enable_seqscan).
    env = Env(pki_p256, tmp_path)
    ledger = env.open(store=SqlStore.open(URL, schema=pg_schema), max_wait_ms=1.0)
    try:
        sample = fill(ledger, entries=3000, per_call=30, loans=1000)
    finally:
        env.close(ledger)
    store = SqlStore.open(URL, schema=pg_schema)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    ledger = env.open(store=store)
    try:
        with captured(store.engine) as statements:
            exercise(ledger, store, sample)
        scans = postgres_full_scans(store.engine, statements)
        assert not scans, "full scans:\n" + "\n".join(scans)
        # and the check does see a query that no index serves
        unindexed = Statement("SELECT entry_id FROM entries WHERE kind = %(k)s", {"k": "x"})
        assert postgres_full_scans(store.engine, [unindexed])
    finally:
        env.close(ledger)


def test_an_earlier_database_is_upgraded_on_postgres(
    pg_schema: str, pki_p256: Path, tmp_path: Path
) -> None:
    """The layout of the version before owner-keyed loans and the grantee column (made
    here from a new one) is upgraded when a store opens it, and its loans go on; the old
    chain key goes; the grant records get their grantee."""
    env = Env(pki_p256, tmp_path)
    ledger = env.open(store=SqlStore.open(URL, schema=pg_schema))
    try:
        old = submit(ledger, [sub(1), sub(2), sub(3, loan="L-2")])
        later = datetime.now(UTC) + timedelta(days=30)
        grant = GrantRequest(EvidenceKind.LOAN_SHARED, "bank-a", "court-1", "g", ("L-2",), later)
        (shared,) = asyncio.run(ledger.record_grant(grant, datetime.now(UTC)))
    finally:
        env.close(ledger)
    engine = create_engine(URL)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"SET search_path TO {pg_schema}"))
            for statement in (
                "ALTER TABLE entries DROP CONSTRAINT uq_entries_chain",
                "ALTER TABLE entries DROP COLUMN owner",
                "ALTER TABLE entries ADD CONSTRAINT uq_entries_chain "
                "UNIQUE (institution, loan_ref, loan_sequence)",
                "ALTER TABLE loan_heads RENAME COLUMN owner TO institution",
                "ALTER TABLE entries DROP COLUMN grantee",
            ):
                conn.execute(text(statement))
    finally:
        engine.dispose()
    again = env.open(store=SqlStore.open(URL, schema=pg_schema))
    try:
        records, _ = again.list_by_loan("bank-a", "L-1", 10, "")
        assert [r.receipt for r in records] == old[:2]
        court = ReadScope(ScopeKind.SHARED, "court-1", datetime.now(UTC))
        records, _ = again.list_by_loan("bank-a", "L-2", 10, "", court)
        assert [r.receipt for r in records] == [old[2], shared]  # its share: grantee filled
        agency = sub(4, institution="agency-1", owner="bank-a", kind=EvidenceKind.COLLECTION_CALL)
        (fourth,) = submit(again, [agency])
        assert isinstance(fourth, Receipt) and fourth.loan_sequence == 3
        # The old chain key on the submitter is gone: the agency writes the same
        # sequence number of another lender's loan with the same loan_ref.
        (bank_b,) = submit(again, [sub(5, institution="bank-b"), sub(6, institution="bank-b")])[1:]
        assert isinstance(bank_b, Receipt) and bank_b.loan_sequence == 2
        other = sub(7, institution="agency-1", owner="bank-b", kind=EvidenceKind.COLLECTION_CALL)
        (seventh,) = submit(again, [other])
        assert isinstance(seventh, Receipt) and seventh.loan_sequence == 3
    finally:
        env.close(again)


def test_no_read_of_the_institutions_registry_scans_a_table_on_postgres(pg_schema: str) -> None:
    store = SqlStore.open(URL, schema=pg_schema)
    try:
        statements = registry_read_statements(store)
        scans = postgres_full_scans(store.engine, statements)
        assert not scans, "full scans:\n" + "\n".join(scans)
    finally:
        store.close()


@pytest.mark.parametrize("case", ANCHOR_CASES, ids=lambda c: c.__name__)
def test_anchor_case_on_postgres(case: Callable[[SqlStore], None], pg_schema: str) -> None:
    store = SqlStore.open(URL, schema=pg_schema)
    try:
        store.hold_writer_lock()
        case(store)
    finally:
        store.close()


def test_no_read_of_the_anchors_scans_a_table_on_postgres(pg_schema: str) -> None:
    store = SqlStore.open(URL, schema=pg_schema)
    try:
        store.hold_writer_lock()
        statements = anchor_read_statements(store)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        scans = postgres_full_scans(store.engine, statements)
        assert not scans, "full scans:\n" + "\n".join(scans)
        by_tx = Statement("SELECT id FROM anchors WHERE tx_hash = %(t)s", {"t": b"\x00" * 32})
        assert postgres_full_scans(store.engine, [by_tx])
    finally:
        store.close()
