"""Tokens in the SQL store, shared by the SQLite unit tests and the PostgreSQL integration test.

Each ``case_*`` takes a fresh, empty :class:`SqlStore` and asserts that every
token read back is byte for byte the token written, whichever form its row holds
(gateway.store.token_pack): stripped with its set stored once, whole as received,
or whole as an earlier version wrote it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import text

from gateway.log.tree import CompactTree
from gateway.store import token_pack
from gateway.store.base import StoredCheckpoint, StoredEntry, StoreError
from gateway.store.sql import SqlStore
from tests.support.store_cases import make_entry
from tests.support.tsa_vectors import WITH_CERTIFICATES, WITHOUT_CERTIFICATES, vector_token

__all__ = ["TOKEN_CASES"]

#: Tokens of every kind the store meets: third-party ones with and without certificates
#: (RSA and EC), and bytes that are no token at all (kept as they are).
TOKENS = (
    *(vector_token(rel) for rel in WITH_CERTIFICATES),
    *(vector_token(rel) for rel in WITHOUT_CERTIFICATES),
    b"token-not-der",
    b"\x00 starts like a stripped token",
    b"\x00\x02\x01\x01",
    b"",
)
_DISTINCT_SETS = 5  # test_tsa x2, the injected certificates, sigstage, identrust


class _Log:
    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.tree = CompactTree()

    def entries(self, tokens: tuple[bytes, ...] | list[bytes]) -> list[StoredEntry]:
        start = self.tree.size
        return [
            replace(make_entry(start + i, loan_ref=f"L-{start + i}"), token=t)
            for i, t in enumerate(tokens)
        ]

    def append(self, entries: list[StoredEntry]) -> None:
        nodes = self.tree.append_leaves([e.leaf_hash for e in entries])
        cp = StoredCheckpoint(self.tree.size, self.tree.root(), f"note {self.tree.size}\n")
        self.store.append_batch(entries, nodes, cp)


def _column(store: SqlStore) -> dict[str, bytes]:
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT entry_id, token FROM entries"))
        return {entry_id: bytes(token) for entry_id, token in rows}


def _set_count(store: SqlStore, table: str = "token_certificate_sets") -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def _assert_read_back(store: SqlStore, written: list[StoredEntry]) -> None:
    """Every way the store reads an entry gives its token byte for byte."""
    want = {e.entry_id: e.token for e in written}
    assert {e.entry_id: e.token for e in store.get_entries(want).values()} == want
    for e in written:
        s = e.submission
        got = store.get_entry(e.entry_id)
        assert got is not None and got.token == e.token and got == e
        (by_digest,) = store.find_by_digest(s.hash_algorithm, s.digest, 10)
        assert by_digest.token == e.token
        (by_loan,) = store.list_by_loan(s.owner, s.loan_ref, 0, 10)
        assert by_loan.token == e.token
        by_request = store.entry_by_request(s.institution, s.request_id)
        assert by_request is not None and by_request.token == e.token


def case_tokens_read_back_byte_identical(store: SqlStore) -> None:
    log = _Log(store)
    first = log.entries(TOKENS)
    log.append(first)
    second = log.entries(TOKENS[:4])  # the same sets again: no new set row
    log.append(second)
    _assert_read_back(store, first + second)
    assert _set_count(store) == _DISTINCT_SETS
    assert _set_count(store, "token_templates") == _DISTINCT_SETS
    column = _column(store)
    for e in first + second:
        stored = column[e.entry_id]
        cut = token_pack.strip(e.token)
        if cut is None:
            assert token_pack.decode(stored) == (None, e.token, False)
        else:  # stripped and deflated: smaller by its certificates and by its template
            assert stored[0] == token_pack.MARK and len(stored) < len(e.token) - 400
            assert token_pack.decode(stored).deflated and len(stored) < len(cut[0]) - 100
    # A store opened afresh (nothing cached) reads the same.
    _assert_read_back(SqlStore(store.engine), first + second)


def case_whole_rows_of_an_earlier_version_read_as_before(store: SqlStore) -> None:
    """Rows that hold whole tokens (as an earlier version wrote every token) sit beside
    stripped ones with the same certificates; each reads back as written."""
    log = _Log(store)
    old = log.entries(TOKENS[:4])
    log.append(old)
    with store.engine.begin() as conn:
        for e in old:  # what an earlier version had stored
            conn.execute(
                text("UPDATE entries SET token = :t WHERE entry_id = :id"),
                {"t": e.token, "id": e.entry_id},
            )
    new = log.entries(TOKENS[:4])
    log.append(new)
    column = _column(store)
    assert [column[e.entry_id] == e.token for e in old + new] == [True] * 4 + [False] * 4
    _assert_read_back(store, old + new)
    _assert_read_back(SqlStore(store.engine), old + new)


def case_stripped_rows_of_an_earlier_version_read_as_before(store: SqlStore) -> None:
    """Stripped tokens not deflated (as the version before templates wrote them), their
    sets without a template: they read back as written; the next batch gives each set
    its template and deflates its own tokens."""
    log = _Log(store)
    old = log.entries(TOKENS[:4])
    log.append(old)
    numbers = {i: token_pack.decode(v).set_id for i, v in _column(store).items()}
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM token_templates"))
        for e in old:  # what the version before templates had stored
            stripped, _ = token_pack.strip(e.token)  # type: ignore[misc]
            number = numbers[e.entry_id]
            conn.execute(
                text("UPDATE entries SET token = :t WHERE entry_id = :id"),
                {"t": token_pack.encode(stripped, number), "id": e.entry_id},
            )
    afresh = SqlStore(store.engine)  # as after an upgrade: nothing cached
    _assert_read_back(afresh, old)
    new = log.entries(TOKENS[:4])
    log.store = afresh
    log.append(new)
    column = _column(afresh)
    assert [token_pack.decode(column[e.entry_id]).deflated for e in old + new] == [False] * 4 + [
        True
    ] * 4
    sets = {token_pack.strip(t)[1] for t in TOKENS[:4]}  # type: ignore[index]
    assert _set_count(afresh, "token_templates") == len(sets)
    _assert_read_back(afresh, old + new)
    _assert_read_back(SqlStore(store.engine), old + new)


def case_a_failed_batch_numbers_no_set(store: SqlStore) -> None:
    """A batch that rolls back leaves no set behind, in the database or in the store's
    memory: the next batch with that set stores it and reads back."""
    log = _Log(store)
    first = log.entries([TOKENS[0]])
    log.append(first)
    fresh = vector_token("identrust/issue-104.tsr")  # a set not stored yet
    failing = [replace(log.entries([fresh])[0], entry_id=first[0].entry_id)]  # duplicate id
    with pytest.raises(StoreError):
        store.append_batch(failing, [], StoredCheckpoint(99, b"\x00" * 32, "n\n"))
    assert _set_count(store) == 1
    assert _set_count(store, "token_templates") == 1
    again = log.entries([fresh])
    log.append(again)
    assert _set_count(store) == 2
    _assert_read_back(store, first + again)


def case_a_missing_or_malformed_set_is_a_store_error(store: SqlStore) -> None:
    log = _Log(store)
    (entry,) = log.entries([TOKENS[0]])
    log.append([entry])
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM token_templates"))
    afresh = SqlStore(store.engine)  # nothing cached
    with pytest.raises(StoreError, match=r"template of certificate set 1, which is not in"):
        afresh.get_entry(entry.entry_id)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM token_certificate_sets"))
    afresh = SqlStore(store.engine)
    with pytest.raises(StoreError, match=r"names certificate set 1, which is not in the database"):
        afresh.get_entry(entry.entry_id)
    for bad, why in (
        (b"\x00\x07", "neither escaped nor stripped"),
        (b"\x00\x02\x01\x01\x30\x00", "malformed"),
        (b"\x00\x02\x01\x00", "outside"),
        (b"\x00\x01\x02\x01\x01\xff\xff", "malformed"),
    ):
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE entries SET token = :t"), {"t": bad})
        with pytest.raises(StoreError, match=why) as info:
            store.get_entry(entry.entry_id)
        assert f"entry {entry.leaf_index}" in str(info.value)


def case_certificates_differing_from_their_sha256_are_refused(store: SqlStore) -> None:
    """A set row whose certificates are not the ones its SHA-256 names (a tampered
    database) fails the batch instead of making its tokens read back wrong."""
    certificates = token_pack.strip(TOKENS[0])[1]  # type: ignore[index]
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO token_certificate_sets (sha256, certificates) VALUES (:h, :c)"),
            {"h": hashlib.sha256(certificates).digest(), "c": b"\xa0\x00"},
        )
    log = _Log(store)
    with pytest.raises(StoreError):
        log.append(log.entries([TOKENS[0]]))
    assert store.latest_checkpoint() is None


TOKEN_CASES: list[Callable[[SqlStore], None]] = [
    case_tokens_read_back_byte_identical,
    case_whole_rows_of_an_earlier_version_read_as_before,
    case_stripped_rows_of_an_earlier_version_read_as_before,
    case_a_failed_batch_numbers_no_set,
    case_a_missing_or_malformed_set_is_a_store_error,
    case_certificates_differing_from_their_sha256_are_refused,
]
