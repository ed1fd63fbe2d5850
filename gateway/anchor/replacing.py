"""Pricing anchor transactions, and replacing one that waits in the pool too long.

A transaction the chain does not take at its gas price (the price rose after
it was signed: a higher base fee, a node's minimum) waits in the pool for
ever. Once it has waited ``replace_after_seconds`` since it was signed, the
worker signs a replacement: the same nonce, a gas price at least 12.5% above
its own (nodes such as geth and Besu refuse a replacement less than 10%
dearer) and at least the node's ``eth_gasPrice``, never above the cap
(``anchor.max_gas_price_gwei``). The replacement is stored (the row keeps the
hashes of the transactions it replaced: any of them may still be mined) and
then broadcast. When even the smallest acceptable price is above the cap,
nothing is sent and ``WorkerChain.capped`` says why (health reports it).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from gateway.anchor.model import AnchorStatus, StoredAnchor

if TYPE_CHECKING:
    from gateway.anchor.worker import AnchorWorker, WorkerChain

__all__ = ["gas_price", "gwei", "replace_transaction", "stuck"]

log = logging.getLogger("gateway.anchor.worker")

_BUMP_NUM, _BUMP_DEN = 9, 8  # a replacement's gas price: at least 12.5% more


def gwei(wei: int) -> str:
    """``wei`` in gwei, exactly."""
    return f"{Decimal(wei) / 10**9:f}"


def stuck(worker: AnchorWorker, a: StoredAnchor) -> bool:
    """``a`` is PENDING, not mined, and its transaction was signed long enough ago."""
    return (
        a.status is AnchorStatus.PENDING
        and a.block_number is None
        and a.raw_tx is not None
        and a.gas_price is not None
        and worker.clock() - a.version_time.timestamp() >= worker.replace_after
    )


def _say_capped(chain: WorkerChain, text: str) -> None:
    if text != chain.capped:
        log.warning("anchoring on %s: %s", chain.name, text)
    chain.capped = text


def gas_price(worker: AnchorWorker, chain: WorkerChain, least: int, what: str) -> int | None:
    """The gas price of a new transaction: the node's, at least ``least``, at most the
    cap (None: ``least`` is above the cap; ``chain.capped`` then says so)."""
    want = max(least, chain.client.gas_price())
    cap = worker.max_gas_price
    if cap is None or want <= cap:
        chain.capped = ""
        return want
    if least > cap:
        _say_capped(
            chain,
            f"{what} needs a gas price of at least {gwei(least)} gwei, above "
            f"anchor.max_gas_price_gwei ({gwei(cap)}): it waits in the pool; raise "
            "the cap or wait for the chain's price to fall",
        )
        return None
    _say_capped(
        chain,
        f"{what} is priced at anchor.max_gas_price_gwei ({gwei(cap)} gwei), below the "
        f"node's {gwei(want)} gwei: it may wait in the pool",
    )
    return cap


def replace_transaction(worker: AnchorWorker, chain: WorkerChain, a: StoredAnchor) -> None:
    """Replace ``a``'s transaction by one with its nonce and a higher gas price (see the
    module docstring); stored, then broadcast."""
    assert a.gas_price is not None
    old = a.gas_price
    least = max(-(-old * _BUMP_NUM // _BUMP_DEN), old + 1)
    what = f"the replacement of the anchor of size {a.tree_size} (nonce {a.nonce})"
    price = gas_price(worker, chain, least, what)
    if price is None:
        return
    signed = chain.client.sign_anchor(
        worker.log_id,
        a.tree_size,
        a.root_hash,
        a.checkpoint_hash,
        a.consistency_proof,
        nonce=a.nonce,
        gas_price=price,
    )
    new = replace(
        a,
        tx_hash=bytes(signed.tx_hash),
        raw_tx=bytes(signed.raw),
        gas_price=price,
        earlier_tx_hashes=(*a.earlier_tx_hashes, a.tx_hash),
        signed_at=datetime.fromtimestamp(worker.clock(), UTC),
    )
    worker.store.update_anchor(new)  # stored first, as a new anchor is
    worker.fault("replaced")
    log.warning(
        "anchoring: the anchor of size %d on %s was not mined in %.0f s at %s gwei; "
        "replaced (nonce %d) at %s gwei by transaction %s",
        a.tree_size,
        chain.name,
        worker.clock() - a.version_time.timestamp(),
        gwei(old),
        a.nonce,
        gwei(price),
        "0x" + new.tx_hash.hex(),
    )
    chain.client.broadcast(signed.raw)
