"""`notary anchor init|deploy|now|status`: the chain side of anchoring.

* ``init`` makes the submitter's secp256k1 key file (mode 0600) and prints its
  address (fund it on the chain).
* ``deploy`` deploys the ``EvidenceAnchor`` contract with a key (which becomes
  the contract's admin) and registers the log (its verifier key, from the PKI)
  with the submitter's address. With ``--address-file`` it deploys once: a
  contract recorded there that already holds this log is kept.
* ``now`` asks the running gateway (on the same data folder) to anchor now:
  it creates the request file the worker takes
  (:data:`gateway.anchor.worker.NOW_FILE`) and waits until the worker's
  anchors are confirmed.
* ``status`` reads the gateway's store and each configured chain: latest
  anchored size, lag in entries and seconds, pending anchors, chain head,
  the chain's own latest anchor of the log, the submitter's balance.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from notary.errors import NotaryError, UsageError

__all__ = ["add_anchor_commands"]

_WEI = Decimal(10) ** 18


class AnchorCommandError(NotaryError):
    """The chain or the gateway refused, or could not be reached."""


def _gateway_error(exc: Exception) -> AnchorCommandError:
    return AnchorCommandError(getattr(exc, "message", None) or str(exc))


def _cmd_init(args: argparse.Namespace) -> int:
    from gateway.anchor.keys import create_key_file
    from gateway.errors import GatewayError

    try:
        address = create_key_file(args.out)
    except GatewayError as exc:
        raise UsageError(exc.message) from None
    print(f"submitter key written to {args.out} (mode 0600, never commit it)")
    print(f"  address {address}")
    print(
        "fund this address on the chain, then register it with `notary anchor deploy` "
        "(or setSubmitter on an existing contract)"
    )
    return 0


def _set_dev_balance(rpc_url: str, address: str, ether: Decimal) -> None:
    """Development chains only (anvil): give ``address`` a balance."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "anvil_setBalance",
            "params": [address, hex(int(ether * _WEI))],
        }
    ).encode()
    request = urllib.request.Request(
        rpc_url, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read(1 << 20))
    except (OSError, ValueError) as exc:
        raise AnchorCommandError(f"cannot set the balance at {rpc_url}: {exc}") from None
    if "error" in answer:
        raise AnchorCommandError(
            "--dev-balance needs a development node that has anvil_setBalance (anvil); "
            f"the node said: {str(answer['error'])[:200]}"
        )


def _wait_for_node(rpc_url: str, wait: float, timeout: float) -> None:
    """Wait up to ``wait`` seconds for the node to answer (a node just started)."""
    from gateway.anchor.chain import ChainClient, ChainUnavailable

    deadline = time.monotonic() + wait
    client = ChainClient(rpc_url, timeout=timeout)
    while True:
        try:
            client.chain_id()
            return
        except ChainUnavailable as exc:
            if time.monotonic() > deadline:
                raise AnchorCommandError(
                    f"{exc.message}; is the node running at {rpc_url}? (--wait SECONDS waits "
                    "for a node that is starting)"
                ) from None
            time.sleep(0.2)


def _cmd_deploy(args: argparse.Namespace) -> int:
    from gateway.anchor.chain import ChainClient, ChainError, ChainUnavailable, log_id_of
    from gateway.anchor.keys import load_account
    from gateway.errors import GatewayError
    from notary.pki import load_log_verifier_key

    vkey = load_log_verifier_key(args.pki).line
    log_id = log_id_of(vkey)
    try:
        account = load_account(args.key)
    except GatewayError as exc:
        raise UsageError(exc.message) from None
    submitter = args.submitter or account.address
    recorded = args.address_file
    _wait_for_node(args.rpc, args.wait, args.timeout)
    try:
        if recorded is not None and recorded.exists():
            address = recorded.read_text(encoding="ascii").strip()
            try:
                pinned = ChainClient(args.rpc, address, timeout=args.timeout).verifier_key_of(
                    log_id
                )
            except ChainUnavailable:
                raise
            except ChainError:
                pinned = ""
            if pinned == vkey:
                print(f"contract {address} (from {recorded}) already anchors this log")
                return 0
            print(f"no contract holding this log at {address} (from {recorded}): deploying")
        if args.dev_balance is not None:
            _set_dev_balance(args.rpc, account.address, args.dev_balance)
        client = ChainClient(args.rpc, account=account, timeout=args.timeout)
        address = client.deploy()
        client.register_log(vkey, submitter)
        chain_id = client.chain_id()
    except GatewayError as exc:
        raise _gateway_error(exc) from None
    if recorded is not None:
        recorded.parent.mkdir(parents=True, exist_ok=True)
        recorded.write_text(address + "\n", encoding="ascii")
    print(f"contract deployed at {address} (chain id {chain_id}); admin {account.address}")
    print(f"log registered: id 0x{log_id.hex()}, submitter {submitter}")
    print("configure the gateway with an [[anchor.chains]] table (docs/anchoring.md):")
    print(f'  rpc_url = "{args.rpc}"\n  contract = "{address}"\n  chain_id = {chain_id}')
    return 0


def _cmd_now(args: argparse.Namespace) -> int:
    from gateway.anchor.worker import NOW_FILE

    request = args.data_dir / NOW_FILE
    if not args.data_dir.is_dir():
        raise UsageError(f"{args.data_dir} is not a folder: pass the gateway's data_dir")
    request.write_text(datetime.now(UTC).isoformat() + "\n", encoding="ascii")
    deadline = time.monotonic() + args.timeout
    while request.exists():
        if time.monotonic() > deadline:
            request.unlink(missing_ok=True)
            raise AnchorCommandError(
                f"no anchor was sent in {args.timeout:g} s: is `gateway serve` running on "
                f"{args.data_dir} with anchor.enabled = true, and are its chains reachable? "
                "(`notary anchor status` says)"
            )
        time.sleep(0.1)
    print(
        "the gateway's anchors are confirmed (or there was nothing new to anchor); see them "
        "with `notary anchor status`"
    )
    return 0


def _ether(wei: int) -> str:
    return f"{Decimal(wei) / _WEI:.6f}"


def _cmd_status(args: argparse.Namespace) -> int:
    from gateway.anchor.chain import ChainClient, log_id_of
    from gateway.anchor.keys import load_account
    from gateway.anchor.worker import AnchorWorker, WorkerChain
    from gateway.config import load_config
    from gateway.errors import GatewayError
    from gateway.store import SqlStore, StoreError
    from notary.pki import load_log_verifier_key

    try:
        config = load_config(args.config)
    except GatewayError as exc:
        raise UsageError(exc.message) from None
    if not config.anchor_chains:
        raise UsageError("no [[anchor.chains]] in the configuration: pass --config FILE")
    vkey = load_log_verifier_key(config.pki_dir).line
    log_id = log_id_of(vkey)
    try:
        store = SqlStore.open(config.database_url)
    except (StoreError, ValueError) as exc:
        raise AnchorCommandError(f"cannot open the store {config.database_url}: {exc}") from None
    try:
        chains = []
        submitters: dict[str, str] = {}
        for c in config.anchor_chains:
            try:
                account: Any = load_account(c.key_file)
            except GatewayError as exc:
                print(f"{c.name}: {exc.message}")
                account = None
            if account is not None:
                submitters[c.name] = account.address
            client = ChainClient(c.rpc_url, c.contract, account, timeout=args.timeout)
            chains.append(WorkerChain(c.name, client, c.chain_id, c.contract))
        worker = AnchorWorker(
            store,
            log_id,
            chains,
            interval_seconds=config.anchor_interval_seconds,
            min_new_entries=config.anchor_min_new_entries,
            confirmations=config.anchor_confirmations,
            max_lag_seconds=config.anchor_max_lag_seconds,
        )
        lags = worker.lag()
        for chain, lag in zip(chains, lags, strict=True):
            submitter = submitters.get(chain.name)
            _print_chain(chain, lag, store, log_id, worker.max_lag_seconds, submitter)
    except StoreError as exc:
        raise AnchorCommandError(f"the store failed: {exc}") from None
    finally:
        store.close()
    return 0


def _print_chain(
    chain: Any, lag: Any, store: Any, log_id: bytes, bound: float, submitter: str | None
) -> None:
    from gateway.anchor.chain import ChainError

    latest = store.latest_anchor(chain.name)
    pending = store.pending_anchors(chain.name)
    print(f"chain {chain.name} (contract {chain.contract}, chain id {chain.chain_id})")
    when = "" if latest is None or latest.confirmed_at is None else f" at {latest.confirmed_at}"
    print(f"  anchored size    {lag.anchored_size}{when}")
    print(f"  log size         {lag.log_size}")
    flag = "  (past the bound)" if lag.seconds > bound else ""
    print(f"  lag              {lag.entries} entries, {lag.seconds:.0f} s{flag}")
    print(f"  pending          {len(pending)}")
    client = chain.client
    try:
        head = client.head()
        on_chain = client.latest_anchor(log_id)
        print(f"  chain head       {head}")
        size = "none" if on_chain is None else f"size {on_chain.tree_size} (#{on_chain.number})"
        print(f"  chain's latest   {size}")
        if submitter is not None:
            print(f"  submitter        {submitter}, {_ether(client.balance(submitter))} ether")
    except ChainError as exc:
        print(f"  chain            unreachable or refused: {exc.message}")


def add_anchor_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `notary anchor ...` to the CLI's subcommands."""
    group = commands.add_parser(
        "anchor", help="anchoring on EVM chains: submitter key, contract, status"
    ).add_subparsers(dest="anchor_command", required=True, metavar="ANCHOR_COMMAND")

    init = group.add_parser("init", help="make the submitter's key file (mode 0600)")
    init.add_argument("--out", type=Path, required=True, help="the key file to create")
    init.set_defaults(handler=_cmd_init)

    deploy = group.add_parser("deploy", help="deploy the contract and register the log")
    deploy.add_argument("--rpc", required=True, help="the chain node's JSON-RPC URL")
    deploy.add_argument("--key", type=Path, required=True, help="the deployer's key file")
    deploy.add_argument("--pki", type=Path, required=True, help="PKI folder (log.vkey)")
    deploy.add_argument("--submitter", help="the submitter's address (default: the key's)")
    deploy.add_argument(
        "--address-file",
        type=Path,
        help="record the address here; deploy once: keep the "
        "contract it names if it already holds this log",
    )
    deploy.add_argument(
        "--dev-balance",
        type=Decimal,
        help="development chains only (anvil): give the key this many ether first",
    )
    deploy.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    deploy.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for the node to come up"
    )
    deploy.set_defaults(handler=_cmd_deploy)

    now = group.add_parser("now", help="ask the running gateway to anchor now")
    now.add_argument("--data-dir", type=Path, required=True, help="the gateway's data_dir")
    now.add_argument("--timeout", type=float, default=60.0, help="seconds to wait")
    now.set_defaults(handler=_cmd_now)

    status = group.add_parser("status", help="anchored size, lag, chain head, balance")
    status.add_argument(
        "--config", type=Path, help="the gateway's TOML config (GATEWAY_* variables apply)"
    )
    status.add_argument("--timeout", type=float, default=5.0, help="seconds per chain request")
    status.set_defaults(handler=_cmd_status)
