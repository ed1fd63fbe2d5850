"""The operator's view and control of anchoring (``AdminService.AnchorNow`` and
``GetAnchoringStatus``, through :mod:`gateway.api.admin_anchor`).

:func:`anchor_now` asks the running worker to anchor the latest checkpoint on
every chain at once, then waits, at most ``wait`` seconds, until each chain
has a confirmed anchor that covers it; the answer says per chain what is
anchored, or why not yet. :func:`anchoring_status` reads the store and each
chain node (its head, the submitter's balance). Both block (store and chain
calls, each with its time-out): call them off the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.anchor.model import StoredAnchor
from gateway.anchor.worker import AnchorWorker, ChainLag, WorkerChain

__all__ = ["ChainNow", "ChainStatus", "anchor_now", "anchoring_status"]

_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class ChainNow:
    """What :func:`anchor_now` got on one chain."""

    chain_name: str
    anchored: bool  # a confirmed anchor covers the log size of the request
    latest: StoredAnchor | None  # the chain's latest confirmed anchor
    reason: str  # why not anchored (empty when anchored)


@dataclass(frozen=True)
class ChainStatus:
    """The state of anchoring on one chain."""

    chain: WorkerChain
    lag: ChainLag
    lagging: bool
    latest: StoredAnchor | None
    pending: int
    head: int | None  # None: the node could not be read (chain_error says why)
    submitter: str
    balance: int | None
    chain_error: str
    required: int = 1  # the confirmations an anchor waits for
    depth: int | None = None  # confirmations of the latest mined pending anchor so far


def _covered(worker: AnchorWorker, chain: WorkerChain, size: int) -> StoredAnchor | None:
    latest = worker.store.latest_anchor(chain.name)
    return latest if latest is not None and latest.tree_size >= size else None


def _why_not(worker: AnchorWorker, chain: WorkerChain, wait: float) -> str:
    if chain.capped:
        return chain.capped
    if chain.error:
        return chain.error
    pending = worker.store.pending_anchors(chain.name)
    if pending:
        a = pending[-1]
        return (
            f"the anchor of size {a.tree_size} was sent (transaction 0x{a.tx_hash.hex()}) "
            f"and is not confirmed after {wait:g} s; it goes on: ask the status later"
        )
    return f"no anchor was sent in {wait:g} s; it goes on: ask the status later"


def anchor_now(
    worker: AnchorWorker,
    wait: float,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, list[ChainNow]]:
    """Anchor the latest checkpoint on every chain now; wait up to ``wait`` seconds for
    the confirmations. Returns the log size asked for and the outcome per chain."""
    checkpoint = worker.store.latest_checkpoint()
    size = 0 if checkpoint is None else int(checkpoint.size)
    if size == 0:
        empty = "the log is empty: nothing to anchor"
        return 0, [ChainNow(c.name, False, None, empty) for c in worker.chains]
    worker.request_now()
    deadline = monotonic() + wait
    while True:
        done = {c.name: _covered(worker, c, size) for c in worker.chains}
        if all(done.values()) or monotonic() >= deadline:
            break
        sleep(_POLL_SECONDS)
    out = []
    for chain in worker.chains:
        covering = done[chain.name]
        if covering is not None:
            out.append(ChainNow(chain.name, True, covering, ""))
        else:
            latest = worker.store.latest_anchor(chain.name)
            out.append(ChainNow(chain.name, False, latest, _why_not(worker, chain, wait)))
    return size, out


def anchoring_status(worker: AnchorWorker) -> list[ChainStatus]:
    """Each chain's anchoring state, from the store and the chain node."""
    from gateway.anchor.chain import ChainError

    out = []
    for chain, lag in zip(worker.chains, worker.lag(), strict=True):
        client = chain.client
        submitter = client.submitter or ""
        head = balance = None
        error = ""
        try:
            head = client.head()
            if submitter:
                balance = client.balance(submitter)
        except ChainError as exc:
            error = exc.message
        pending = worker.store.pending_anchors(chain.name)
        mined = [a.block_number for a in pending if a.block_number is not None]
        depth = None if head is None or not mined else max(head - mined[-1] + 1, 0)
        out.append(
            ChainStatus(
                chain=chain,
                lag=lag,
                lagging=lag.seconds > worker.max_lag_seconds or bool(lag.capped),
                latest=worker.store.latest_anchor(chain.name),
                pending=len(pending),
                head=head,
                submitter=submitter,
                balance=balance,
                chain_error=error,
                required=worker.confirmations,
                depth=depth,
            )
        )
    return out
