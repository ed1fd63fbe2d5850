"""What the gateway keeps of its anchors, and how a submitted anchor is judged (pure).

An anchor is one transaction on one chain that appends (tree size, root hash,
SHA-256 of the signed checkpoint note) to the log's sequence in the
``EvidenceAnchor`` contract. The gateway stores each attempt as a
:class:`StoredAnchor`: PENDING once sent, CONFIRMED once its block has
``confirmations`` blocks on top (itself included), DROPPED when the chain no
longer has it (a nonce used by another transaction, a confirmed anchor's block
reorganised away); a dropped anchor is replaced by a new attempt.

An attempt is stored with its signed transaction (``raw_tx``) *before* that
is broadcast, so a crash in between leaves a PENDING row, never an anchor on
chain without one: a PENDING transaction the node does not know, whose nonce
is still free, is broadcast again, byte for byte (:attr:`Verdict.REBROADCAST`).
A transaction stuck in the pool is replaced by one with the same nonce and a
higher gas price: the row then names the new transaction, and keeps the
hashes of the ones it replaced (``earlier_tx_hashes``), since any of them may
still be the one mined.

:func:`judge` is the worker's decision for one PENDING or CONFIRMED anchor,
given what the chain says now; it does no I/O.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

__all__ = [
    "UNSEEN_GRACE_SECONDS",
    "AnchorStatus",
    "Observation",
    "StoredAnchor",
    "Verdict",
    "checkpoint_hash",
    "judge",
    "mined",
]


#: A pending transaction the node does not know is dropped only once it is this old.
UNSEEN_GRACE_SECONDS = 15.0


class AnchorStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DROPPED = "dropped"


def checkpoint_hash(note: str) -> bytes:
    """What the contract keeps of a checkpoint: SHA-256 of the signed note's bytes."""
    return hashlib.sha256(note.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class StoredAnchor:
    """One anchoring attempt on one chain (``id`` is None until stored).

    ``consistency_proof`` goes from ``previous_size`` (the size the chain's
    latest anchor had when this one was sent; 0 for the first, with an empty
    proof) to ``tree_size``. ``block_number``, ``block_hash`` and
    ``anchor_number`` (the contract's sequence number, from 0) are known once
    the transaction is mined; ``confirmed_at`` once it has its confirmations.
    """

    id: int | None
    chain_name: str
    chain_id: int
    contract: str
    log_id: bytes
    tree_size: int
    root_hash: bytes
    checkpoint_note: str
    checkpoint_hash: bytes
    previous_size: int
    consistency_proof: tuple[bytes, ...]
    tx_hash: bytes
    nonce: int
    status: AnchorStatus
    submitted_at: datetime
    block_number: int | None = None
    block_hash: bytes | None = None
    anchor_number: int | None = None
    confirmed_at: datetime | None = None
    raw_tx: bytes | None = None  # the signed transaction tx_hash names (None: older rows)
    gas_price: int | None = None  # its gas price, wei
    earlier_tx_hashes: tuple[bytes, ...] = ()  # the transactions it replaced, oldest first
    signed_at: datetime | None = None  # when tx_hash was signed (None: at submitted_at)

    @property
    def tx_hashes(self) -> tuple[bytes, ...]:
        """Every transaction of this attempt, the current one first."""
        return (self.tx_hash, *self.earlier_tx_hashes)

    @property
    def version_time(self) -> datetime:
        """When the current transaction was signed."""
        return self.submitted_at if self.signed_at is None else self.signed_at


@dataclass(frozen=True, slots=True)
class Observation:
    """What the chain says of one anchor's transaction now.

    ``found``: the node knows the transaction (in its pool or in a block);
    ``block_number``/``block_hash``/``success``/``anchor_number``: its receipt,
    if mined; ``canonical_hash``: the hash of the chain's block at the stored
    ``block_number`` (None if the chain is shorter); ``head``: the chain's
    latest block number; ``age``: seconds since the anchor was sent;
    ``account_nonce``: the submitter's mined transaction count (its next
    nonce), when the transaction was not found; ``tx_hash``: which of the
    attempt's transactions was found (None: the current one, or none).
    """

    found: bool
    head: int
    age: float = 0.0
    account_nonce: int | None = None
    block_number: int | None = None
    block_hash: bytes | None = None
    success: bool | None = None
    anchor_number: int | None = None
    canonical_hash: bytes | None = None
    tx_hash: bytes | None = None


class Verdict(enum.Enum):
    WAIT = "wait"  # still pending, or mined without enough confirmations yet
    MINED = "mined"  # mined (first seen, or in another block after a reorganisation)
    CONFIRMED = "confirmed"  # mined with enough confirmations
    STILL_CONFIRMED = "still confirmed"  # a confirmed anchor is still in the chain
    DROPPED = "dropped"  # gone: resubmit
    FAILED = "failed"  # mined but reverted: the contract refused it
    REBROADCAST = "rebroadcast"  # unknown to the node, its nonce free: send raw_tx again


def judge(anchor: StoredAnchor, seen: Observation, confirmations: int) -> Verdict:
    """The worker's decision for ``anchor`` (PENDING or CONFIRMED) given ``seen``."""
    if anchor.status is AnchorStatus.CONFIRMED:
        if anchor.block_hash is not None and seen.canonical_hash == anchor.block_hash:
            return Verdict.STILL_CONFIRMED
        # Its block left the chain: the transaction is either in another block now,
        # back in the pool, or gone.
        if not seen.found:
            return Verdict.DROPPED
    if (
        not seen.found
        and anchor.raw_tx is not None
        and seen.account_nonce is not None
        and seen.account_nonce <= anchor.nonce
    ):
        # Never broadcast (a crash after it was stored), or lost by the node (a
        # restart, an eviction, a reorganisation): its nonce is still free.
        return Verdict.REBROADCAST
    if not seen.found and seen.age < UNSEEN_GRACE_SECONDS:
        return Verdict.WAIT  # a node may not show a transaction it just accepted
    if not seen.found:
        # Not in the pool and not mined. If the account's nonce moved past the
        # anchor's, another transaction took that nonce (a replacement); if it did
        # not, the node dropped the transaction (restart, eviction, reorganisation).
        return Verdict.DROPPED
    if seen.block_number is None:
        return Verdict.WAIT
    if seen.success is False:
        return Verdict.FAILED
    depth = seen.head - seen.block_number + 1
    if depth >= confirmations:
        return Verdict.CONFIRMED
    moved = anchor.block_number != seen.block_number or anchor.block_hash != seen.block_hash
    return Verdict.MINED if moved else Verdict.WAIT


def mined(anchor: StoredAnchor, seen: Observation) -> StoredAnchor:
    """``anchor`` with the block of ``seen`` (still PENDING), naming the transaction
    that was mined (one it replaced, possibly)."""
    current = anchor.tx_hash if seen.tx_hash is None else seen.tx_hash
    return replace(
        anchor,
        tx_hash=current,
        earlier_tx_hashes=tuple(h for h in anchor.tx_hashes if h != current),
        status=AnchorStatus.PENDING,
        block_number=seen.block_number,
        block_hash=seen.block_hash,
        anchor_number=seen.anchor_number,
        confirmed_at=None,
    )
