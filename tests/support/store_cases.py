"""Store behaviour checks shared by the SQLite unit tests and the PostgreSQL integration test.

Each ``case_*`` function takes a fresh, empty store and asserts one behaviour.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from court.verify.rfc6962 import leaf_hash
from gateway.authz.policy import ReadScope, ScopeKind
from gateway.log.tree import CompactTree, MemoryNodeStore, MissingNodeError, root_hash
from gateway.model import ALL_LOANS, INSTITUTIONS_LOAN, EvidenceKind, Submission
from gateway.store.base import (
    LoanSalt,
    Store,
    StoredCheckpoint,
    StoredEntry,
    StoredGrant,
    StoredOpening,
    StoreError,
)
from gateway.store.sql import SqlStore
from tests.support.read_path import captured

T0 = datetime(2024, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)


def make_entry(
    index: int,
    *,
    institution: str = "bank-a",
    loan_ref: str = "L-1",
    sequence: int = 1,
    request_id: str | None = None,
    digest: bytes | None = None,
    supersedes: str | None = None,
    receipt_size: int = 0,
) -> StoredEntry:
    leaf = f"leaf-{index}".encode()
    return StoredEntry(
        leaf_index=index,
        entry_id=f"e{index}",
        submission=Submission(
            institution=institution,
            request_id=request_id or f"r{index}",
            loan_ref=loan_ref,
            kind=EvidenceKind.REPAYMENT,
            hash_algorithm="sha256",
            digest=digest or hashlib.sha256(leaf).digest(),
            occurred_at=T0,
            metadata=(("channel", "sms"), ("note", "中文")),
            supersedes=supersedes,
        ),
        received_at=T0.replace(microsecond=123000),
        loan_sequence=sequence,
        previous_leaf_hash=b"" if sequence == 1 else b"\x01" * 32,
        leaf=leaf,
        leaf_hash=leaf_hash(leaf),
        token=b"token-%d" % index,
        receipt_size=receipt_size or index + 1,
    )


def _append(store: Store, tree: CompactTree, entries: list[StoredEntry]) -> StoredCheckpoint:
    nodes = tree.append_leaves([e.leaf_hash for e in entries])
    cp = StoredCheckpoint(tree.size, tree.root(), f"note {tree.size}\n")
    store.append_batch(entries, nodes, cp)
    return cp


def case_round_trip(store: Store) -> None:
    assert store.latest_checkpoint() is None
    tree = CompactTree()
    digest = hashlib.sha256(b"same document").digest()
    batch1 = [
        make_entry(0, receipt_size=2, digest=digest),
        make_entry(1, sequence=2, receipt_size=2),
    ]
    _append(store, tree, batch1)
    batch2 = [
        make_entry(2, loan_ref="L-2", receipt_size=4, digest=digest),
        make_entry(3, sequence=3, supersedes="e1", receipt_size=4),
    ]
    cp = _append(store, tree, batch2)

    assert store.get_entry("e1") == batch1[1]
    assert store.get_entry("nope") is None
    assert store.get_entries(["e0", "e3", "zz"]) == {"e0": batch1[0], "e3": batch2[1]}
    assert store.latest_checkpoint() == cp
    assert store.checkpoint_at(2) is not None and store.checkpoint_at(2).size == 2  # type: ignore[union-attr]
    assert store.checkpoint_at(3) is None
    assert store.entries_range(1, 3) == [(1, b"leaf-1"), (2, b"leaf-2")]
    assert store.entries_range(4, 9) == []
    assert store.leaf_index_by_hash(leaf_hash(b"leaf-2")) == 2
    assert store.leaf_index_by_hash(b"\x00" * 32) is None
    assert store.entry_by_request("bank-a", "r3") == batch2[1]
    assert store.entry_by_request("bank-b", "r3") is None
    assert set(store.entries_by_requests([("bank-a", "r0"), ("bank-a", "r9")])) == {
        ("bank-a", "r0")
    }
    assert [e.leaf_index for e in store.find_by_digest("sha256", digest, 10)] == [0, 2]
    assert [e.leaf_index for e in store.find_by_digest("sha256", digest, 1, 0)] == [2]
    assert store.find_by_digest("sha384", digest, 10) == []
    assert [e.loan_sequence for e in store.list_by_loan("bank-a", "L-1", 0, 10)] == [1, 2, 3]
    assert [e.loan_sequence for e in store.list_by_loan("bank-a", "L-1", 1, 1)] == [2]
    head = store.loan_head("bank-a", "L-1")
    assert head is not None and (head.sequence, head.leaf_index) == (3, 3)
    assert head.leaf_hash == leaf_hash(b"leaf-3")
    assert store.loan_head("bank-a", "nope") is None
    assert set(store.loan_heads([("bank-a", "L-1"), ("bank-a", "L-2")])) == {
        ("bank-a", "L-1"),
        ("bank-a", "L-2"),
    }
    assert store.superseded_by(["e1", "e0"]) == {"e1": ("e3",), "e0": ()}
    assert store.ping()


def case_nodes_and_recovery(store: Store) -> None:
    tree = CompactTree()
    reference = MemoryNodeStore()
    for start in range(0, 37, 6):
        entries = [
            make_entry(i, request_id=f"n{i}", loan_ref=f"L{i}")
            for i in range(start, min(start + 6, 37))
        ]
        nodes = tree.append_leaves([e.leaf_hash for e in entries])
        reference.put_nodes(nodes)
        store.append_batch(entries, nodes, StoredCheckpoint(tree.size, tree.root(), "n\n"))
    assert tree.size == 37
    ids = [(0, 5), (1, 2), (5, 0), (2, 8), (0, 36)]
    assert store.get_nodes(ids) == reference.get_nodes(ids)
    with pytest.raises(MissingNodeError):
        store.get_nodes([(0, 37)])
    recovered = CompactTree.from_reader(store, 37)
    assert recovered.root() == tree.root() == root_hash(store, 37)


def case_batch_is_atomic(store: Store) -> None:
    tree = CompactTree()
    _append(store, tree, [make_entry(0)])
    clash = [make_entry(1), make_entry(2, request_id="r0")]  # r0 is taken
    nodes = CompactTree(tree.size, [h for _, _, h in tree.frontier()]).append_leaves(
        [e.leaf_hash for e in clash]
    )
    with pytest.raises(StoreError):
        store.append_batch(clash, nodes, StoredCheckpoint(3, b"\x00" * 32, "x\n"))
    assert store.get_entry("e1") is None
    assert store.latest_checkpoint() is not None and store.latest_checkpoint().size == 1  # type: ignore[union-attr]
    with pytest.raises(MissingNodeError):
        store.get_nodes([(0, 1)])
    head = store.loan_head("bank-a", "L-1")
    assert head is not None and head.leaf_index == 0


def case_day_counts_come_in_pages(store: Store) -> None:
    tree = CompactTree()
    names = ["bank-c", "bank-a", "bank-b", "bank-a"]
    _append(
        store, tree, [make_entry(i, institution=n, loan_ref=f"L{i}") for i, n in enumerate(names)]
    )
    day = (T0 - datetime(1970, 1, 1, tzinfo=UTC)).days
    whole = store.day_counts(day, day, None, 10)
    assert [(c.institution, c.count) for c in whole] == [
        ("bank-a", 2),
        ("bank-b", 1),
        ("bank-c", 1),
    ]
    assert store.day_counts(day, day, None, 2) == whole[:2]
    after = (day, "bank-b", "repayment")
    assert store.day_counts(day, day, after, 2) == whole[2:]
    assert store.day_counts(day, day, (day, "bank-a", "zz"), 10) == whole[1:]  # within a key
    assert store.day_counts(day + 1, day + 9, None, 10) == []


def _grant_entry(index: int, kind: EvidenceKind, loan_ref: str, sequence: int) -> StoredEntry:
    """A delegation record (or its revocation) of bank-a to agency-1 at ``index``."""
    entry = make_entry(index, loan_ref=loan_ref, sequence=sequence)
    return replace(
        entry,
        submission=replace(entry.submission, kind=kind, metadata=(("grantee", "agency-1"),)),
    )


def case_grants_follow_the_log_order(store: Store) -> None:
    """A grant is in force only when no later record revokes it; a revocation ends
    only the grants recorded before it (a replayed one ends nothing made since)."""
    tree = CompactTree()
    delegated, revoked = EvidenceKind.LOAN_DELEGATED, EvidenceKind.DELEGATION_REVOKED
    later = datetime.now(UTC) + timedelta(days=30)

    def grant(index: int, loan_ref: str = "L-1") -> StoredGrant:
        return StoredGrant(f"e{index}", index, "bank-a", "agency-1", loan_ref, later)

    def in_force() -> list[str | None]:
        found = store.delegations("agency-1", "bank-a", ["L-1"], datetime.now(UTC))
        return sorted(d.loan_ref or ALL_LOANS for d in found)

    _append(store, tree, [_grant_entry(0, delegated, "L-1", 1), _grant_entry(1, revoked, "L-1", 2)])
    store.add_grants("delegations", [grant(0)])  # its table write came after its revocation
    assert in_force() == []
    _append(store, tree, [_grant_entry(2, delegated, "L-1", 3)])
    store.add_grants("delegations", [grant(2)])
    assert in_force() == ["L-1"]
    assert store.revoke_grants("delegations", "bank-a", "agency-1", [("L-1", 1)], T0) == 0
    assert in_force() == ["L-1"]  # the replayed revocation is older than this grant
    _append(store, tree, [_grant_entry(3, delegated, ALL_LOANS, 1)])
    store.add_grants("delegations", [grant(3, ALL_LOANS)])
    assert in_force() == [ALL_LOANS, "L-1"]
    _append(store, tree, [_grant_entry(4, revoked, ALL_LOANS, 2)])
    assert store.revoke_grants("delegations", "bank-a", "agency-1", [(ALL_LOANS, 4)], T0) == 2
    assert in_force() == []
    store.add_grants("delegations", [grant(2)])  # a retried call changes nothing
    assert in_force() == []


def case_a_grant_request_keeps_its_first_fingerprint(store: Store) -> None:
    """The first fingerprint under (owner, request_id) is kept and returned to every
    later claim, whatever that claims; another owner's same request_id is its own."""
    first, other = hashlib.sha256(b"first").digest(), hashlib.sha256(b"other").digest()
    assert store.claim_grant_request("bank-a", "g-1", first) == first
    assert store.claim_grant_request("bank-a", "g-1", first) == first
    assert store.claim_grant_request("bank-a", "g-1", other) == first
    assert store.claim_grant_request("bank-b", "g-1", other) == other
    assert store.claim_grant_request("bank-a", "g-2", other) == other


def case_map_nodes_are_read_at_a_version(store: Store) -> None:
    """The loan map's rows: each read gives, per path, the row of the largest version
    not above the one asked for (the start's loose index scan and a proof's seek)."""
    writes = {
        1: [("", b"top@1"), ("3", b"3@1")],
        2: [("", b"top@2"), ("a", b"a@2")],
        3: [("", b"top@3"), ("3", b"3@3"), ("3f", b"3f@3")],
        4: [],
        5: [("ab", b"ab@5")],
    }
    for version, rows in writes.items():
        store.append_batch(
            [],
            [],
            StoredCheckpoint(version, b"\x00" * 32, f"{version}\n"),
            [],
            [(path, version, body) for path, body in rows],
        )
    assert store.map_blocks(0) == []
    assert store.map_blocks(1) == [("", b"top@1"), ("3", b"3@1")]
    assert store.map_blocks(2) == [("", b"top@2"), ("3", b"3@1"), ("a", b"a@2")]
    latest = [("", b"top@3"), ("3", b"3@3"), ("3f", b"3f@3"), ("a", b"a@2")]
    assert store.map_blocks(3) == store.map_blocks(4) == latest
    assert store.map_blocks(5) == [*latest, ("ab", b"ab@5")]
    assert store.map_block("3", 2) == b"3@1" and store.map_block("3", 9) == b"3@3"
    assert store.map_block("ab", 4) is None and store.map_block("", 0) is None


def case_nodes_are_read_in_batches_across_the_chunk_limit(store: Store) -> None:
    """A set of proofs' nodes (1,652 keys: five statements of at most 500 on SQL) come
    back in the order asked, duplicates included; a node missing from the last chunk is
    an error that names it."""
    tree = CompactTree()
    reference = MemoryNodeStore()
    for start in range(0, 1100, 100):
        entries = [
            make_entry(i, request_id=f"n{i}", loan_ref=f"L{i}") for i in range(start, start + 100)
        ]
        nodes = tree.append_leaves([e.leaf_hash for e in entries])
        reference.put_nodes(nodes)
        store.append_batch(entries, nodes, StoredCheckpoint(tree.size, tree.root(), "n\n"))
    ids = [
        *((0, i) for i in reversed(range(1100))),
        *((1, i) for i in range(550)),
        (3, 5),
        (0, 7),  # again
        (10, 0),
    ]
    assert len(set(ids)) == 1652
    if isinstance(store, SqlStore):
        with captured(store.engine) as statements:
            got = store.get_nodes(ids)
        # The 1,100 leaves' hashes from entries (three), the 553 other nodes (two).
        assert len(statements) == 5
        assert all(len(s.parameters) <= 500 + 4 for s in statements)  # keys plus one per level
    else:
        got = store.get_nodes(ids)
    assert got == reference.get_nodes(ids)
    missing = [*((0, i) for i in range(600)), (0, 1100), (1, 3)]
    with pytest.raises(MissingNodeError, match=r"node \(0, 1100\) is not stored"):
        store.get_nodes(missing)


def case_entries_openings_and_salts_across_the_chunk_limit(store: Store) -> None:
    """The batched entry, opening, salt and supersession reads over more than one
    chunk of 500 keys find every row asked for and nothing else."""
    tree = CompactTree()
    entries = [
        replace(
            make_entry(i, loan_ref=f"L{i}", supersedes=f"e{i - 600}" if i >= 600 else None),
            opening=StoredOpening("bank-a", "bank-a", b"r%d" % i, b"s%d" % i),
        )
        for i in range(1200)
    ]
    salts = [LoanSalt("bank-a", f"L{i}", b"salt-%d" % i) for i in range(1200)]
    nodes = tree.append_leaves([e.leaf_hash for e in entries])
    store.append_batch(entries, nodes, StoredCheckpoint(tree.size, tree.root(), "n\n"), salts)
    ids = [f"e{i}" for i in range(1200)]
    stored = {e.entry_id: replace(e, opening=None) for e in entries}  # openings: their own read
    assert store.get_entries([*ids, "e-none"]) == stored
    found = store.openings([*range(1200), 5000])
    assert found == {e.leaf_index: e.opening for e in entries}
    loans = [("bank-a", f"L{i}") for i in range(0, 1200, 2)]
    assert store.loan_salts([*loans, ("bank-b", "L0")]) == {
        ("bank-a", f"L{i}"): b"salt-%d" % i for i in range(0, 1200, 2)
    }
    later = store.superseded_by(ids)
    assert later == {f"e{i}": (f"e{i + 600}",) if i < 600 else () for i in range(1200)}


def case_reads_follow_the_scope(store: Store) -> None:
    """Each scope that is one column test (owner, submitter, operator, nothing) reads
    exactly its rows through get_entry, the digest searches, the loan and supersession
    reads."""
    tree = CompactTree()
    digest = hashlib.sha256(b"shared text").digest()
    mine = make_entry(0, digest=digest)
    by_agency = replace(
        make_entry(1, institution="agency-1", sequence=2, digest=digest),
        submission=replace(
            make_entry(1, digest=digest).submission, institution="agency-1", owner="bank-a"
        ),
    )
    theirs = make_entry(2, institution="bank-b", digest=digest, supersedes="e0")
    registry = make_entry(3, institution="gateway", loan_ref=INSTITUTIONS_LOAN, digest=digest)
    _append(store, tree, [mine, by_agency, theirs, registry])
    now = datetime.now(UTC)
    owner = ReadScope(ScopeKind.OWNER, "bank-a", now)
    agency = ReadScope(ScopeKind.SUBMITTER, "agency-1", now)
    operator = ReadScope(ScopeKind.OPERATOR_RECORDS, "gateway", now)
    nothing = ReadScope(ScopeKind.NOTHING, "x", now)

    def ids(scope: ReadScope | None) -> list[str]:
        return [e.entry_id for e in store.find_by_digest("sha256", digest, 10, -1, scope)]

    assert ids(None) == ["e0", "e1", "e2", "e3"]
    assert ids(owner) == ["e0", "e1"] and ids(agency) == ["e1"]
    assert ids(operator) == ["e3"] and ids(nothing) == []
    assert store.entry_ids_by_digest("sha256", digest, 10, 2, owner) == ["e0", "e1"]
    assert store.get_entry("e1", owner) == by_agency == store.get_entry("e1", agency)
    assert store.get_entry("e0", agency) is None and store.get_entry("e2", owner) is None
    assert store.get_entry("e3", operator) == registry
    assert store.get_entry("e0", operator) is None and store.get_entry("e0", nothing) is None
    loan = [e.entry_id for e in store.list_by_loan("bank-a", "L-1", 0, 10, agency)]
    assert loan == ["e1"]
    assert [e.entry_id for e in store.list_by_loan("bank-a", "L-1", 0, 10, owner)] == ["e0", "e1"]
    assert store.list_by_loan("bank-a", "L-1", 0, 10, nothing) == []
    assert store.superseded_by(["e0"], None) == {"e0": ("e2",)}
    assert store.superseded_by(["e0"], owner) == {"e0": ()}  # bank-b's record
    assert store.superseded_by(["e0"], ReadScope(ScopeKind.OWNER, "bank-b", now)) == {"e0": ("e2",)}


def case_a_read_of_several_statements_sees_one_snapshot(store: Store) -> None:
    """A read that takes several statements (here 600 nodes: two chunks) sees the store
    as it was at its first: a batch committed between its statements is not in it; the
    next read sees the batch. (Not for an in-memory store: its one connection serialises
    every read and write, so no batch can come between.)"""
    assert isinstance(store, SqlStore)
    tree = CompactTree()
    first = [make_entry(i, request_id=f"n{i}", loan_ref=f"L{i}") for i in range(600)]
    _append(store, tree, first)
    late = [make_entry(600, request_id="n600", loan_ref="L600")]
    ids = [(0, i) for i in range(601)]
    seen: list[str] = []

    def commit_between(*args: Any) -> None:
        seen.append(args[2])
        if len(seen) == 2:  # after the first chunk's statement, before the second's
            _append(store, tree, late)

    event.listen(store.engine, "before_cursor_execute", commit_between)
    try:
        with pytest.raises(MissingNodeError, match=r"node \(0, 600\) is not stored"):
            store.get_nodes(ids)
    finally:
        event.remove(store.engine, "before_cursor_execute", commit_between)
    assert len(seen) >= 3  # the two reads' statements and the batch's writes
    assert store.get_nodes([(0, 600)]) == [late[0].leaf_hash]


ALL_CASES: list[Callable[[Store], None]] = [
    case_round_trip,
    case_nodes_and_recovery,
    case_batch_is_atomic,
    case_day_counts_come_in_pages,
    case_grants_follow_the_log_order,
    case_a_grant_request_keeps_its_first_fingerprint,
    case_map_nodes_are_read_at_a_version,
    case_nodes_are_read_in_batches_across_the_chunk_limit,
    case_entries_openings_and_salts_across_the_chunk_limit,
    case_reads_follow_the_scope,
]
