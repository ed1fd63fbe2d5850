"""The SQL store on SQLite files: round trips, nodes, atomic batches, durability settings."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.log.tree import CompactTree
from gateway.store.base import Store, StoredCheckpoint, StoreError
from gateway.store.sql import DEFAULT_SQLITE_NAME, SqlStore, from_us, to_us
from tests.support.store_cases import (
    ALL_CASES,
    T0,
    case_a_read_of_several_statements_sees_one_snapshot,
    make_entry,
)
from tests.support.token_store_cases import TOKEN_CASES


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.__name__)
def test_store_case(case: Callable[[Store], None], tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        case(store)
    finally:
        store.close()


def test_a_read_of_several_statements_sees_one_snapshot(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        case_a_read_of_several_statements_sees_one_snapshot(store)
    finally:
        store.close()


def test_data_dir_default_is_wal_with_full_sync(tmp_path: Path) -> None:
    store = SqlStore.in_data_dir(tmp_path / "data")
    try:
        assert (tmp_path / "data" / DEFAULT_SQLITE_NAME).exists()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        store.close()
    raw = sqlite3.connect(tmp_path / "data" / DEFAULT_SQLITE_NAME)
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    raw.close()
    assert {"entries", "nodes", "checkpoints", "loan_heads"} <= tables


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SqlStore.sqlite(path)
    ALL_CASES[0](store)
    store.close()
    again = SqlStore.sqlite(path)
    try:
        assert again.get_entry("e3") is not None
        assert again.latest_checkpoint() is not None
    finally:
        again.close()


def test_unreachable_database_is_store_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "db.sqlite3"
    with pytest.raises(StoreError):
        SqlStore.open(f"sqlite:///{missing}")


def test_time_conversion_round_trips() -> None:
    assert from_us(to_us(T0)) == T0
    assert to_us(from_us(0)) == 0


def test_new_database_spends_no_index_on_what_a_table_already_orders(tmp_path: Path) -> None:
    # nodes and loan_heads live in their primary key's B-tree (WITHOUT ROWID: no
    # second index of the key), and only records that supersede another are in
    # ix_entries_supersedes (about 40 bytes per entry less in all).
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        with store.engine.connect() as conn:
            indexes = dict(
                conn.exec_driver_sql(
                    "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'"
                ).all()
            )
            supersedes = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_entries_supersedes'"
            ).scalar()
    finally:
        store.close()
    log_tables = {"entries", "nodes", "checkpoints", "loan_heads", "daily_counts"}
    grants = {"delegations", "shares"}
    # none for nodes, loan_heads or daily_counts; grants are searched by grantee (the
    # institutions registry's tables have their own)
    assert set(indexes.values()) & (log_tables | grants) == {"entries", *grants}, indexes
    assert "WHERE supersedes IS NOT NULL" in supersedes


@pytest.mark.parametrize("case", TOKEN_CASES, ids=lambda c: c.__name__)
def test_token_case(case: Callable[[SqlStore], None], tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    try:
        case(store)
    finally:
        store.close()


def test_leaf_hashes_are_stored_once_in_entries(tmp_path: Path) -> None:
    """The tree's level 0 is not written to nodes (the entries' leaf_hash is read
    instead); a database of an earlier version, whose nodes hold it too, reads the same;
    a leaf hash that is not its entry's fails the batch."""
    store = SqlStore.sqlite(tmp_path / "db.sqlite3")
    tree = CompactTree()
    entries = [make_entry(i, request_id=f"n{i}", loan_ref=f"L{i}") for i in range(5)]
    nodes = tree.append_leaves([e.leaf_hash for e in entries])
    store.append_batch(entries, nodes, StoredCheckpoint(5, tree.root(), "n\n"))
    with store.engine.connect() as conn:
        levels = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT level FROM nodes")}
    assert levels == {1, 2}
    ids = [(0, 4), (0, 0), (1, 1), (2, 0), (0, 3)]
    want = [entries[4].leaf_hash, entries[0].leaf_hash, *store.get_nodes([(1, 1), (2, 0)])]
    assert store.get_nodes(ids) == [*want, entries[3].leaf_hash]
    with store.engine.begin() as conn:  # as an earlier version wrote them
        conn.exec_driver_sql(
            "INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)",
            [(0, e.leaf_index, e.leaf_hash) for e in entries],
        )
    assert store.get_nodes(ids) == [*want, entries[3].leaf_hash]
    assert CompactTree.from_reader(store, 5).root() == tree.root()
    more = [make_entry(5, request_id="n5", loan_ref="L5")]
    wrong = [
        (0, 5, b"\x07" * 32),
        *CompactTree(5, [h for _, _, h in tree.frontier()]).append_leaves([more[0].leaf_hash])[1:],
    ]
    with pytest.raises(ValueError, match="leaf 5 is not the leaf hash of entry 5"):
        store.append_batch(more, wrong, StoredCheckpoint(6, b"\x00" * 32, "n\n"))
    assert store.latest_checkpoint().size == 5  # type: ignore[union-attr]
    store.close()
