"""The SQL of anchoring: the ``anchors`` table (one row per attempt, see
:mod:`gateway.anchor.model`) and the time of the first checkpoint not yet
anchored (the anchoring lag).

:class:`AnchorQueries` is mixed into :class:`gateway.store.sql.SqlStore`.
Writes go through the store's writer (the process that writes the log);
every read is one index search (``ix_anchors_chain``, ``ix_anchors_covering``
or the checkpoints' primary key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, insert, select, update

from gateway.anchor.model import AnchorStatus, StoredAnchor
from gateway.store.tables import AnchorRow, CheckpointRow, metadata

__all__ = ["ANCHORS", "AnchorQueries", "join_proof", "split_proof"]

ANCHORS = metadata.tables[str(AnchorRow.__tablename__)]
_CHECKPOINTS = metadata.tables[str(CheckpointRow.__tablename__)]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_HASH = 32
# anchor_covering's statements, built once (VerifyEvidence and the bundles read it at each call).
_COVERING = (
    select(ANCHORS)
    .where(ANCHORS.c.status == bindparam("status"), ANCHORS.c.tree_size >= bindparam("size"))
    .order_by(ANCHORS.c.tree_size, ANCHORS.c.id)
    .limit(1)
)
_COVERING_ON_CHAIN = _COVERING.where(ANCHORS.c.chain_name == bindparam("chain"))
_MAX_LIST = 1000

T = TypeVar("T")


def _us(value: datetime) -> int:
    return (value - _EPOCH) // _US


def _time(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def join_proof(proof: tuple[bytes, ...]) -> bytes:
    """A consistency proof (or a list of transaction hashes) as one column value:
    its 32-byte hashes, concatenated."""
    if any(len(h) != _HASH for h in proof):
        raise ValueError("a consistency proof holds 32-byte hashes")
    return b"".join(proof)


def split_proof(value: bytes) -> tuple[bytes, ...]:
    if len(value) % _HASH:
        raise ValueError("a stored consistency proof is not a whole number of hashes")
    return tuple(value[i : i + _HASH] for i in range(0, len(value), _HASH))


def _row(a: StoredAnchor) -> dict[str, Any]:
    return {
        "chain_name": a.chain_name,
        "chain_id": a.chain_id,
        "contract": a.contract,
        "log_id": a.log_id,
        "tree_size": a.tree_size,
        "root_hash": a.root_hash,
        "checkpoint_note": a.checkpoint_note,
        "checkpoint_hash": a.checkpoint_hash,
        "previous_size": a.previous_size,
        "consistency_proof": join_proof(a.consistency_proof),
        "tx_hash": a.tx_hash,
        "nonce": a.nonce,
        "status": str(a.status),
        "submitted_at_us": _us(a.submitted_at),
        "block_number": a.block_number,
        "block_hash": a.block_hash,
        "anchor_number": a.anchor_number,
        "confirmed_at_us": None if a.confirmed_at is None else _us(a.confirmed_at),
        "raw_tx": a.raw_tx,
        "gas_price": a.gas_price,
        "earlier_tx_hashes": join_proof(a.earlier_tx_hashes),
        "signed_at_us": None if a.signed_at is None else _us(a.signed_at),
    }


def _anchor(m: Any) -> StoredAnchor:
    block_hash = m["block_hash"]
    submitted = _time(m["submitted_at_us"])
    assert submitted is not None
    return StoredAnchor(
        id=m["id"],
        chain_name=m["chain_name"],
        chain_id=m["chain_id"],
        contract=m["contract"],
        log_id=bytes(m["log_id"]),
        tree_size=m["tree_size"],
        root_hash=bytes(m["root_hash"]),
        checkpoint_note=m["checkpoint_note"],
        checkpoint_hash=bytes(m["checkpoint_hash"]),
        previous_size=m["previous_size"],
        consistency_proof=split_proof(bytes(m["consistency_proof"])),
        tx_hash=bytes(m["tx_hash"]),
        nonce=m["nonce"],
        status=AnchorStatus(m["status"]),
        submitted_at=submitted,
        block_number=m["block_number"],
        block_hash=None if block_hash is None else bytes(block_hash),
        anchor_number=m["anchor_number"],
        confirmed_at=_time(m["confirmed_at_us"]),
        raw_tx=None if m["raw_tx"] is None else bytes(m["raw_tx"]),
        gas_price=m["gas_price"],
        earlier_tx_hashes=split_proof(bytes(m["earlier_tx_hashes"] or b"")),
        signed_at=_time(m["signed_at_us"]),
    )


class AnchorQueries:
    """Anchors on the SQL store (mixed into SqlStore, which provides these)."""

    _rows: Callable[..., list[Any]]
    write: Callable[[Callable[[Any], Any]], Any]

    def add_anchor(self, a: StoredAnchor) -> StoredAnchor:
        """Store a new attempt; returns it with its id."""
        row = _row(a)

        def run(conn: Any) -> int:
            return int(conn.execute(insert(ANCHORS).values(row)).inserted_primary_key[0])

        new_id = self.write(run)
        return replace(a, id=new_id)

    def update_anchor(self, a: StoredAnchor) -> None:
        """Write what changes of a stored attempt: status, block, number, confirmation,
        and its transaction (a replacement, or the one of them that was mined)."""
        if a.id is None:
            raise ValueError("update_anchor needs a stored anchor (with its id)")
        row = _row(a)
        values = {
            k: row[k]
            for k in (
                "status",
                "block_number",
                "block_hash",
                "anchor_number",
                "confirmed_at_us",
                "tx_hash",
                "raw_tx",
                "gas_price",
                "earlier_tx_hashes",
                "signed_at_us",
            )
        }
        stmt = update(ANCHORS).where(ANCHORS.c.id == a.id).values(values)
        self.write(lambda conn: conn.execute(stmt))

    def pending_anchors(self, chain_name: str) -> list[StoredAnchor]:
        """The chain's PENDING attempts, smallest tree size first."""
        c = ANCHORS.c
        stmt = (
            select(ANCHORS)
            .where(c.chain_name == chain_name, c.status == str(AnchorStatus.PENDING))
            .order_by(c.tree_size, c.id)
            .limit(_MAX_LIST)
        )
        return [_anchor(r._mapping) for r in self._rows(stmt)]

    def latest_anchor(self, chain_name: str, confirmed_only: bool = True) -> StoredAnchor | None:
        """The chain's anchor of the largest tree size: CONFIRMED (or also PENDING)."""
        c = ANCHORS.c
        statuses = [str(AnchorStatus.CONFIRMED)]
        if not confirmed_only:
            statuses.append(str(AnchorStatus.PENDING))
        found: list[StoredAnchor] = []
        for status in statuses:  # one index descent per status
            stmt = (
                select(ANCHORS)
                .where(c.chain_name == chain_name, c.status == status)
                .order_by(c.tree_size.desc(), c.id.desc())
                .limit(1)
            )
            found += [_anchor(r._mapping) for r in self._rows(stmt)]
        return max(found, key=lambda a: (a.tree_size, a.id or 0), default=None)

    def anchor_covering(self, size: int, chain_name: str | None = None) -> StoredAnchor | None:
        """The first CONFIRMED anchor with ``tree_size >= size`` (of ``chain_name``, or of
        any chain: the smallest such size, then the earliest stored)."""
        params: dict[str, Any] = {"status": str(AnchorStatus.CONFIRMED), "size": size}
        if chain_name is None:
            rows = self._rows(_COVERING, params)
        else:
            rows = self._rows(_COVERING_ON_CHAIN, {**params, "chain": chain_name})
        return _anchor(rows[0]._mapping) if rows else None

    def anchor_chain_names(self, limit: int = 16) -> list[str]:
        """The names of the chains that have anchors stored, sorted, at most ``limit``:
        one index search (``ix_anchors_chain``) per name, never a scan."""
        c = ANCHORS.c
        names: list[str] = []
        while len(names) < limit:
            after = names[-1] if names else ""
            rows = self._rows(select(func.min(c.chain_name)).where(c.chain_name > after))
            if not rows or rows[0][0] is None:
                break
            names.append(str(rows[0][0]))
        return names

    def first_checkpoint_after(self, size: int) -> tuple[int, datetime] | None:
        """The size and signing time of the first checkpoint larger than ``size``: the
        oldest checkpoint an anchor of ``size`` does not cover (None: all covered)."""
        c = _CHECKPOINTS.c
        smallest = select(func.min(c.size)).where(c.size > size).scalar_subquery()
        rows = self._rows(select(c.size, c.created_at_us).where(c.size == smallest))
        if not rows:
            return None
        at = _time(rows[0][1])
        assert at is not None
        return int(rows[0][0]), at
