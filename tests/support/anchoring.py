"""A ledger, a real anvil chain with the anchor contract, and an anchoring worker between
them, for the worker's integration tests and the lag benchmark."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gateway.anchor.chain import ChainClient, ChainError, ChainUnavailable, log_id_of
from gateway.anchor.ethlibs import LocalAccount
from gateway.anchor.keys import create_key_file
from gateway.anchor.worker import AnchorWorker, WorkerChain
from gateway.ledger import Ledger
from tests.support.anvil import Anvil
from tests.support.gateway_proc import GatewayProcess, write_config
from tests.support.ledger_env import Env

CHAIN = "local"


def deploy(chain: Anvil, verifier_key: str, submitter: str) -> str:
    """Deploy the contract with anvil's first development key and register the log."""
    admin = ChainClient(chain.rpc_url, account=chain.dev_accounts[0])
    address = admin.deploy()
    admin.register_log(verifier_key, submitter)
    return address


def anchoring_config(
    folder: Path, chain: Anvil, contract: str, key: Path, *, min_new_entries: int = 1
) -> Path:
    """A `gateway serve` config (:func:`write_config`) anchoring on ``chain`` every 0.2 s
    once ``min_new_entries`` entries are new, with the submitter key file ``key``."""
    path = write_config(
        folder,
        sections={
            "anchor": {
                "enabled": True,
                "interval_seconds": 0.2,
                "min_new_entries": min_new_entries,
                "confirmations": 1,
                "max_lag_seconds": 600,
            }
        },
    )
    with path.open("a") as out:
        out.write(
            "[[anchor.chains]]\n"
            f'name = "{CHAIN}"\n'
            f'rpc_url = "{chain.rpc_url}"\n'
            f'contract = "{contract}"\n'
            f'key_file = "{key}"\n'
            "chain_id = 31337\n"
        )
    return path


def anchoring_gateway_on(
    chain: Anvil, folder: Path, verifier_key: str, *, min_new_entries: int = 1
) -> tuple[GatewayProcess, str]:
    """A `gateway serve` in ``folder`` (not started) anchoring on ``chain``
    (:func:`anchoring_config`) with a funded submitter key in ``folder/anchor``, and the
    address of the contract :func:`deploy` made for it with the log registered."""
    key = folder / "anchor" / "submitter.key"
    submitter = create_key_file(key)
    chain.set_balance(submitter, 10**20)
    contract = deploy(chain, verifier_key, submitter)
    config = anchoring_config(folder, chain, contract, key, min_new_entries=min_new_entries)
    return GatewayProcess(config, folder), contract


class Anchoring:
    """``env``'s ledger anchored on ``chain`` by a worker with ``key`` (not started)."""

    def __init__(
        self,
        env: Env,
        chain: Anvil,
        *,
        key: LocalAccount | None = None,
        registered: str | None = None,
        confirmations: int = 1,
        interval: float = 0.2,
        max_lag_seconds: float = 60.0,
        ledger_options: dict[str, Any] | None = None,
        fault: Callable[[str], None] | None = None,
    ) -> None:
        self.env = env
        self.chain = chain
        self.key = key or chain.new_account()
        self.log_id = log_id_of(env.vkey)
        self.contract = deploy(chain, env.vkey, registered or self.key.address)
        self.ledger: Ledger = env.open(**(ledger_options or {}))
        self.store: Any = self.ledger.store
        # Short time-outs: a stopped node is noticed at once.
        self.client = ChainClient(chain.rpc_url, self.contract, self.key, timeout=2.0)
        self.reader = ChainClient(chain.rpc_url, self.contract, timeout=5.0)
        self._options: dict[str, Any] = {
            "interval_seconds": interval,
            "min_new_entries": 1,
            "confirmations": confirmations,
            "max_lag_seconds": max_lag_seconds,
        }
        self.worker = self.new_worker(fault=fault)

    def new_worker(self, **options: Any) -> AnchorWorker:
        """A worker on this ledger and chain (a restart of the gateway's worker: the
        previous one, if started, must be stopped first); ``self.worker`` is it now."""
        self.worker_chain = WorkerChain(CHAIN, self.client, 31337, self.contract)
        if options.get("fault") is None:
            options.pop("fault", None)
        self.worker = AnchorWorker(
            self.store,
            self.log_id,
            [self.worker_chain],
            poll_seconds=0.05,
            unavailable=(ChainUnavailable,),
            refused=(ChainError,),
            **{**self._options, **options},
        )
        return self.worker

    def anchored_size(self) -> int:
        """The tree size of the chain's latest anchor of the log (0: none)."""
        latest = self.reader.latest_anchor(self.log_id)
        return 0 if latest is None else latest.tree_size

    def confirmed_size(self) -> int:
        latest = self.store.latest_anchor(CHAIN)
        return 0 if latest is None else int(latest.tree_size)

    def close(self) -> None:
        self.worker.stop()
        self.env.close(self.ledger)


def submit_calls(ledger: Ledger, calls: Sequence[Sequence[Any]]) -> list[Any]:
    """Each call in turn (one commit each, so one checkpoint each)."""

    async def go() -> list[Any]:
        out = []
        for items in calls:
            out += await ledger.submit(items)
        return out

    return asyncio.run(go())


__all__ = ["CHAIN", "Anchoring", "anchoring_config", "deploy", "submit_calls"]
