"""A database made by the version before owner-keyed loans opens, upgraded, and goes on."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.access import GrantRequest
from gateway.authz.policy import ReadScope, ScopeKind
from gateway.model import EvidenceKind, Receipt
from gateway.store.sql import SqlStore
from tests.support.ledger_env import Env, sub, submit

# The layout of `entries` and `loan_heads` as the earlier version created them on SQLite.
_OLD_ENTRIES = """
CREATE TABLE entries_old (
    leaf_index INTEGER NOT NULL, entry_id VARCHAR(64) NOT NULL,
    institution VARCHAR(128) NOT NULL, request_id VARCHAR(128) NOT NULL,
    loan_ref VARCHAR(128) NOT NULL, kind VARCHAR(32) NOT NULL,
    hash_algorithm VARCHAR(16) NOT NULL, digest BLOB NOT NULL,
    occurred_at_us BIGINT NOT NULL, received_at_us BIGINT NOT NULL,
    metadata_json TEXT NOT NULL, supersedes VARCHAR(64), loan_sequence BIGINT NOT NULL,
    previous_leaf_hash BLOB NOT NULL, leaf BLOB NOT NULL, leaf_hash BLOB NOT NULL,
    token BLOB NOT NULL, receipt_size BIGINT NOT NULL,
    PRIMARY KEY (leaf_index),
    CONSTRAINT uq_entries_request UNIQUE (institution, request_id),
    CONSTRAINT uq_entries_chain UNIQUE (institution, loan_ref, loan_sequence),
    UNIQUE (entry_id), UNIQUE (leaf_hash)
)"""
_COLUMNS = (
    "leaf_index, entry_id, institution, request_id, loan_ref, kind, hash_algorithm, digest, "
    "occurred_at_us, received_at_us, metadata_json, supersedes, loan_sequence, "
    "previous_leaf_hash, leaf, leaf_hash, token, receipt_size"
)


def _to_old_layout(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.executescript(
            f"""
            {_OLD_ENTRIES};
            INSERT INTO entries_old ({_COLUMNS}) SELECT {_COLUMNS} FROM entries;
            DROP TABLE entries;
            ALTER TABLE entries_old RENAME TO entries;
            CREATE INDEX ix_entries_digest ON entries (hash_algorithm, digest, leaf_index);
            CREATE INDEX ix_entries_supersedes ON entries (supersedes)
                WHERE supersedes IS NOT NULL;
            ALTER TABLE loan_heads RENAME COLUMN owner TO institution;
            DROP TABLE delegations; DROP TABLE shares; DROP TABLE daily_counts;
            """
        )
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def env(pki_p256: Path, tmp_path: Path) -> Iterator[Env]:
    e = Env(pki_p256, tmp_path)
    yield e
    for ledger in list(e.opened):
        e.close(ledger)


def test_an_earlier_database_is_upgraded_and_its_loans_go_on(env: Env) -> None:
    ledger = env.open()
    old = submit(ledger, [sub(1), sub(2), sub(3, loan="L-2")])
    assert all(isinstance(r, Receipt) for r in old)
    env.close(ledger)
    _to_old_layout(env.db)
    with sqlite3.connect(env.db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(entries)")}
    assert "owner" not in columns  # the premise: the earlier layout

    ledger = env.open(store=SqlStore.sqlite(env.db))
    records, _ = ledger.list_by_loan("bank-a", "L-1", 10, "")
    assert [r.receipt for r in records] == old[:2]
    assert records[0].submission.owner == "bank-a"
    # The loan's chain goes on, and a collection agency's record joins it.
    (third,) = submit(ledger, [sub(4)])
    agency = sub(5, institution="agency-1", owner="bank-a", kind=EvidenceKind.COLLECTION_CALL)
    (fourth,) = submit(ledger, [agency])
    assert isinstance(third, Receipt) and isinstance(fourth, Receipt)
    assert (third.loan_sequence, fourth.loan_sequence) == (3, 4)
    env.close(ledger)
    # Opening it again changes nothing more.
    store = SqlStore.sqlite(env.db)
    try:
        assert [e.entry_id for e in store.list_by_loan("bank-a", "L-1", 0, 10)] == [
            r.entry_id
            for r in (*old[:2], third, fourth)  # type: ignore[union-attr]
        ]
    finally:
        store.close()


def test_a_database_without_the_grantee_column_gets_it_filled_from_the_grant_records(
    env: Env,
) -> None:
    ledger = env.open()
    later = datetime.now(UTC) + timedelta(days=30)
    receipts = {}
    for kind, grantee in (
        (EvidenceKind.LOAN_SHARED, "court-1"),
        (EvidenceKind.LOAN_SHARED, "court-2"),
        (EvidenceKind.LOAN_DELEGATED, "agency-1"),
    ):
        grant = GrantRequest(kind, "bank-a", grantee, f"g-{grantee}", ("L-1",), later)
        (receipts[grantee],) = asyncio.run(ledger.record_grant(grant, datetime.now(UTC)))
    (record,) = submit(ledger, [sub(1)])
    assert isinstance(record, Receipt)
    env.close(ledger)
    with contextlib.closing(sqlite3.connect(env.db)) as conn:
        conn.execute("ALTER TABLE entries DROP COLUMN grantee")  # the earlier layout
        conn.commit()

    store = SqlStore.sqlite(env.db)
    try:
        with contextlib.closing(sqlite3.connect(env.db)) as conn:
            filled = dict(conn.execute("SELECT entry_id, grantee FROM entries").fetchall())
        assert filled == {
            **{r.entry_id: grantee for grantee, r in receipts.items()},
            record.entry_id: None,
        }
        court = ReadScope(ScopeKind.SHARED, "court-1", datetime.now(UTC))
        assert [e.entry_id for e in store.list_by_loan("bank-a", "L-1", 0, 10, court)] == [
            receipts["court-1"].entry_id,
            receipts["agency-1"].entry_id,
            record.entry_id,
        ]
    finally:
        store.close()


def test_an_anchors_table_without_the_signed_transaction_gets_its_columns(env: Env) -> None:
    from tests.support.anchor_cases import anchor

    ledger = env.open()
    stored = ledger.store.add_anchor(anchor(5))  # type: ignore[attr-defined]
    env.close(ledger)
    with contextlib.closing(sqlite3.connect(env.db)) as conn:
        for column in ("raw_tx", "gas_price", "earlier_tx_hashes", "signed_at_us"):
            conn.execute(f"ALTER TABLE anchors DROP COLUMN {column}")  # the earlier layout
        conn.commit()

    store = SqlStore.sqlite(env.db)
    try:
        assert store.pending_anchors("main") == [stored]  # read as before: nothing to replay
        assert stored.raw_tx is None and stored.earlier_tx_hashes == ()
    finally:
        store.close()


def test_a_database_of_whole_tokens_gets_the_set_table_and_reads_as_before(env: Env) -> None:
    """Before certificate sets were stored once, every row held its whole token and there
    was no token_certificate_sets table: the table is made, the old rows are read as they
    are (never rewritten), and new rows are stored stripped beside them."""
    ledger = env.open()
    old = submit(ledger, [sub(1), sub(2), sub(3, loan="L-2")])
    assert all(isinstance(r, Receipt) for r in old)
    env.close(ledger)
    with contextlib.closing(sqlite3.connect(env.db)) as conn:  # the earlier layout
        for r in old:
            conn.execute(
                "UPDATE entries SET token = ? WHERE entry_id = ?",
                (r.timestamp_token, r.entry_id),  # type: ignore[union-attr]
            )
        conn.execute("DROP TABLE token_certificate_sets")
        conn.commit()

    ledger = env.open(store=SqlStore.sqlite(env.db))
    records, _ = ledger.list_by_loan("bank-a", "L-1", 10, "")
    assert [r.receipt for r in records] == old[:2]
    (new,) = submit(ledger, [sub(4)])
    assert isinstance(new, Receipt)
    env.close(ledger)
    with contextlib.closing(sqlite3.connect(env.db)) as conn:
        stored = dict(conn.execute("SELECT entry_id, token FROM entries").fetchall())
        sets = conn.execute("SELECT COUNT(*) FROM token_certificate_sets").fetchone()[0]
    assert [stored[r.entry_id] == r.timestamp_token for r in old] == [True] * 3  # type: ignore[union-attr]
    assert stored[new.entry_id][0] == 0x00 and len(stored[new.entry_id]) < len(new.timestamp_token)
    assert sets == 1
    store = SqlStore.sqlite(env.db)
    try:
        got = store.get_entries([r.entry_id for r in (*old, new)])  # type: ignore[union-attr]
        assert {k: e.token for k, e in got.items()} == {
            r.entry_id: r.timestamp_token  # type: ignore[union-attr]
            for r in (*old, new)
        }
    finally:
        store.close()
