"""The anchoring worker of a configuration, opened for serving (``gateway serve``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.config import ConfigError, GatewayConfig
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.anchor.worker import AnchorStore, AnchorWorker

__all__ = ["open_worker"]


def open_worker(config: GatewayConfig, store: AnchorStore, log_verifier_key: str) -> AnchorWorker:
    """The worker of ``config``'s chains (each submitter key loaded; nothing is sent yet).

    Raises :class:`ConfigError` when a key file cannot be used. A chain that
    cannot be reached is not an error here: the worker retries it.
    """
    from gateway.anchor.chain import ChainClient, ChainError, ChainUnavailable, log_id_of
    from gateway.anchor.keys import load_account
    from gateway.anchor.settings import gwei_to_wei
    from gateway.anchor.worker import AnchorWorker, WorkerChain

    chains = []
    for chain in config.anchor_chains:
        try:
            account = load_account(chain.key_file)
            client = ChainClient(chain.rpc_url, chain.contract, account)
        except GatewayError as exc:
            raise ConfigError(f"anchor.chains {chain.name!r}: {exc.message}") from exc
        chains.append(WorkerChain(chain.name, client, chain.chain_id, chain.contract))
    return AnchorWorker(
        store,
        log_id_of(log_verifier_key),
        chains,
        interval_seconds=config.anchor_interval_seconds,
        min_new_entries=config.anchor_min_new_entries,
        confirmations=config.anchor_confirmations,
        max_lag_seconds=config.anchor_max_lag_seconds,
        replace_after_seconds=config.anchor_replace_after_seconds,
        max_gas_price=gwei_to_wei(config.anchor_max_gas_price_gwei),
        unavailable=(ChainUnavailable,),
        refused=(ChainError,),
    )
