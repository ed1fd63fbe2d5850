"""The SQL store (and the ledger on it) against the real PostgreSQL server.

PostgreSQL runs on the project's machines at 127.0.0.1:5432 (trust auth,
database ``test``); ``GATEWAY_TEST_POSTGRES_URL`` overrides the URL. These
tests never skip: if the server or the driver (``psycopg``) is missing they
fail and say so. Each test works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_consistency
from gateway.store.base import Store
from gateway.store.sql import SqlStore
from tests.support.ledger_env import Env, check_chain, sub, submit
from tests.support.store_cases import ALL_CASES

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
