"""Anchor store checks shared by the SQLite unit tests and the PostgreSQL test.

Each ``case_*`` function takes a fresh, empty :class:`SqlStore` holding its
writer lock and asserts one behaviour of :class:`gateway.store.anchors.AnchorQueries`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from gateway.anchor.model import AnchorStatus, StoredAnchor, checkpoint_hash
from gateway.log.tree import CompactTree
from gateway.store.anchors import AnchorQueries
from gateway.store.base import StoredCheckpoint
from gateway.store.sql import SqlStore
from tests.support.read_path import Statement, captured

T0 = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

#: The public methods of AnchorQueries: reads (plan-checked) and writes.
ANCHOR_READS = {
    "pending_anchors",
    "latest_anchor",
    "anchor_covering",
    "anchor_chain_names",
    "first_checkpoint_after",
}
ANCHOR_WRITES = {"add_anchor", "update_anchor"}


def _h(tag: str) -> bytes:
    return hashlib.sha256(tag.encode()).digest()


def anchor(
    size: int,
    *,
    chain: str = "main",
    status: AnchorStatus = AnchorStatus.PENDING,
    previous: int = 0,
    tx: str = "",
) -> StoredAnchor:
    note = f"origin\n{size}\n{_h(str(size)).hex()}\n\n— sig\n"
    return StoredAnchor(
        id=None,
        chain_name=chain,
        chain_id=31337,
        contract=CONTRACT,
        log_id=_h("log"),
        tree_size=size,
        root_hash=_h(f"root-{size}"),
        checkpoint_note=note,
        checkpoint_hash=checkpoint_hash(note),
        previous_size=previous,
        consistency_proof=() if previous == 0 else (_h("p1"), _h(f"p2-{size}")),
        tx_hash=_h(tx or f"tx-{chain}-{size}-{status}"),
        nonce=size,
        status=status,
        submitted_at=T0 + timedelta(seconds=size),
    )


def confirmed(a: StoredAnchor, block: int) -> StoredAnchor:
    return replace(
        a,
        status=AnchorStatus.CONFIRMED,
        block_number=block,
        block_hash=_h(f"block-{block}"),
        anchor_number=block - 1,
        confirmed_at=a.submitted_at + timedelta(seconds=2),
    )


def case_round_trip(store: SqlStore) -> None:
    a = anchor(10, previous=4)
    stored = store.add_anchor(a)
    assert stored.id is not None and stored == replace(a, id=stored.id)
    assert store.pending_anchors("main") == [stored]
    assert store.pending_anchors("other") == []
    assert store.latest_anchor("main") is None  # nothing confirmed yet
    assert store.latest_anchor("main", confirmed_only=False) == stored
    done = confirmed(stored, 7)
    store.update_anchor(done)
    assert store.pending_anchors("main") == []
    assert store.latest_anchor("main") == done  # every field, times to the microsecond
    assert done.consistency_proof == (_h("p1"), _h("p2-10"))


def case_update_changes_only_the_outcome(store: SqlStore) -> None:
    stored = store.add_anchor(replace(anchor(5), raw_tx=b"raw-1", gas_price=8, signed_at=T0))
    assert store.pending_anchors("main") == [stored]
    # A change of what was anchored is not an update: only status, block, number,
    # time, and the transaction (a replacement, same nonce).
    new_tx = {
        "tx_hash": _h("other"),
        "raw_tx": b"raw-2",
        "gas_price": 9,
        "earlier_tx_hashes": (stored.tx_hash,),
        "signed_at": T0 + timedelta(seconds=30),
    }
    store.update_anchor(replace(confirmed(stored, 3), tree_size=99, nonce=1, **new_tx))
    got = store.latest_anchor("main")
    assert got == replace(confirmed(stored, 3), **new_tx)
    assert got.tx_hashes == (_h("other"), stored.tx_hash)
    store.update_anchor(replace(got, status=AnchorStatus.DROPPED))
    assert store.latest_anchor("main") is None
    assert store.latest_anchor("main", confirmed_only=False) is None


def case_latest_per_chain(store: SqlStore) -> None:
    for size, block in ((3, 1), (8, 2), (20, 3)):
        store.update_anchor(confirmed(store.add_anchor(anchor(size)), block))
    store.update_anchor(confirmed(store.add_anchor(anchor(30, chain="second")), 1))
    store.add_anchor(anchor(25))  # pending
    store.update_anchor(replace(store.add_anchor(anchor(40)), status=AnchorStatus.DROPPED))
    latest = store.latest_anchor("main")
    assert latest is not None and latest.tree_size == 20
    latest = store.latest_anchor("main", confirmed_only=False)
    assert latest is not None and latest.tree_size == 25
    latest = store.latest_anchor("second")
    assert latest is not None and latest.tree_size == 30
    assert [a.tree_size for a in store.pending_anchors("main")] == [25]


def case_covering(store: SqlStore) -> None:
    for size, block in ((3, 1), (8, 2), (20, 3)):
        store.update_anchor(confirmed(store.add_anchor(anchor(size)), block))
    store.update_anchor(confirmed(store.add_anchor(anchor(8, chain="second")), 1))
    store.update_anchor(confirmed(store.add_anchor(anchor(15, chain="second")), 2))
    store.add_anchor(anchor(12))  # pending: covers nothing yet
    store.update_anchor(replace(store.add_anchor(anchor(13)), status=AnchorStatus.DROPPED))

    def covering(size: int, chain: str | None = None) -> tuple[str, int] | None:
        a = store.anchor_covering(size, chain)
        return None if a is None else (a.chain_name, a.tree_size)

    assert covering(1) == ("main", 3)
    assert covering(3) == ("main", 3)
    assert covering(4) == ("main", 8)  # the earliest stored of two anchors of size 8
    assert covering(9) == ("second", 15)
    assert covering(9, "main") == ("main", 20)
    assert covering(16, "second") is None
    assert covering(21) is None
    assert store.anchor_chain_names() == ["main", "second"]
    assert store.anchor_chain_names(limit=1) == ["main"]


def case_first_checkpoint_after(store: SqlStore) -> None:
    assert store.first_checkpoint_after(0) is None
    tree = CompactTree()
    before = datetime.now(UTC) - timedelta(seconds=1)
    for size in (0, 2, 5):
        tree.append_leaves(_h(f"leaf-{i}") for i in range(tree.size, size))
        store.append_batch([], [], StoredCheckpoint(size=size, root=tree.root(), note=f"n{size}"))
    found = store.first_checkpoint_after(0)
    assert found is not None and found[0] == 2 and before <= found[1] <= datetime.now(UTC)
    found = store.first_checkpoint_after(2)
    assert found is not None and found[0] == 5
    assert store.first_checkpoint_after(5) is None


ALL_CASES: list[Callable[[SqlStore], None]] = [
    case_round_trip,
    case_update_changes_only_the_outcome,
    case_latest_per_chain,
    case_covering,
    case_first_checkpoint_after,
]


def anchor_read_statements(store: SqlStore) -> list[Statement]:
    """Fill the anchors of three chains (600 attempts) and checkpoints, then run every
    read of :class:`AnchorQueries` on rows that exist and that do not; their SQL."""
    public = {n for n in dir(AnchorQueries) if not n.startswith("_")} - {"write"}
    assert public == ANCHOR_READS | ANCHOR_WRITES, "add the new method to the plan check"
    for i in range(200):
        for chain in ("main", "second", "third"):
            a = store.add_anchor(anchor(10 * (i + 1), chain=chain))
            if i % 7:
                store.update_anchor(confirmed(a, i + 1))
    for size in range(0, 400, 4):
        store.append_batch([], [], StoredCheckpoint(size=size, root=_h(str(size)), note="n"))
    with captured(store.engine) as statements:
        assert store.pending_anchors("second")
        assert store.pending_anchors("none") == []
        assert store.latest_anchor("main") is not None
        assert store.latest_anchor("third", confirmed_only=False) is not None
        assert store.anchor_covering(555) is not None
        assert store.anchor_covering(555, "second") is not None
        assert store.anchor_covering(1 << 40) is None
        assert store.anchor_chain_names() == ["main", "second", "third"]
        assert store.first_checkpoint_after(101) is not None
        assert store.first_checkpoint_after(1 << 40) is None
    return statements
