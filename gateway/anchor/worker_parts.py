"""The anchoring worker's view of its parts (:mod:`gateway.anchor.worker`): what it uses
of the chain client and of the store, the state it keeps per chain, and the lag it
reports."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gateway.anchor.model import StoredAnchor

__all__ = ["AnchorStore", "ChainLag", "ChainPort", "WorkerChain"]


class ChainPort(Protocol):
    """What the worker uses of :class:`gateway.anchor.chain.ChainClient`."""

    def chain_id(self) -> int: ...
    def head(self) -> int: ...
    def balance(self, address: str) -> int: ...
    @property
    def submitter(self) -> str | None: ...
    def block_hash(self, number: int) -> bytes | None: ...
    def nonce(self, pending: bool = False) -> int: ...
    def sign_anchor(
        self,
        log_id: bytes,
        tree_size: int,
        root_hash: bytes,
        checkpoint_hash: bytes,
        consistency_proof: Sequence[bytes],
        *,
        nonce: int | None = None,
        gas_price: int | None = None,
    ) -> Any: ...
    def broadcast(self, raw: bytes) -> None: ...
    def gas_price(self) -> int: ...
    def abort_on(self, event: threading.Event | None) -> None: ...
    def tx_state(self, tx_hash: bytes) -> Any: ...
    def latest_anchor(self, log_id: bytes) -> Any: ...


class AnchorStore(Protocol):
    """What the worker uses of the SQL store."""

    def add_anchor(self, a: StoredAnchor) -> StoredAnchor: ...
    def update_anchor(self, a: StoredAnchor) -> None: ...
    def pending_anchors(self, chain_name: str) -> list[StoredAnchor]: ...
    def latest_anchor(
        self, chain_name: str, confirmed_only: bool = True
    ) -> StoredAnchor | None: ...
    def first_checkpoint_after(self, size: int) -> tuple[int, datetime] | None: ...
    def latest_checkpoint(self) -> Any: ...
    def checkpoint_at(self, size: int) -> Any: ...
    def get_nodes(self, ids: Any) -> list[bytes]: ...


@dataclass
class WorkerChain:
    """One chain the worker anchors to, and its state in this process."""

    name: str
    client: ChainPort
    chain_id: int
    contract: str
    checked: bool = False  # the node's chain id was checked
    last_sent: float = 0.0  # wall-clock time the latest anchor was sent
    replace_now: bool = False  # an anchor was dropped: send its replacement at once
    down_since: float | None = None
    backoff: float = 0.0
    next_try: float = 0.0
    error: str = ""
    capped: str = ""  # why the pending anchor cannot be priced higher (the cap), if so
    sent: int = field(default=0)  # anchors sent by this process
    waiting: tuple[int | None, int] = (None, 0)  # (anchor id, depth) last logged as waiting


@dataclass(frozen=True)
class ChainLag:
    """How far one chain's confirmed anchors are behind the log."""

    chain_name: str
    log_size: int
    anchored_size: int
    entries: int
    seconds: float
    down: bool
    error: str
    capped: str = ""  # the pending anchor is held at anchor.max_gas_price_gwei: why
