"""`notary anchor init|deploy|now|status`: the chain side of anchoring.

* ``init`` makes the submitter's secp256k1 key file (mode 0600) and prints its
  address (fund it on the chain).
* ``deploy`` deploys the ``EvidenceAnchor`` contract with a key (which becomes
  the contract's admin) and registers the log (its verifier key, from the PKI)
  with the submitter's address. With ``--address-file`` it deploys once: a
  contract recorded there is kept when its code on chain is the artifact's
  and it already holds this log; other code there is an error (a look-alike
  contract is never taken for ours); no code there (a new chain) or another
  log: a new contract is deployed.
* ``now`` asks the running gateway to anchor now on every chain and to wait
  (``--wait``) for the confirmations (``AdminService.AnchorNow``).
* ``status`` asks the running gateway, per chain: latest anchored size, lag
  in entries and seconds, pending anchors, chain head, the submitter's
  balance, the last error (``AdminService.GetAnchoringStatus``).

``now`` and ``status`` are clients of the gateway's AdminService over mutual
TLS, authenticated with the PKI's operator certificate (:mod:`notary.admin`),
so they work from any host that has the PKI folder.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from court.report.escape import escape_text
from court.rpchttp import RpcTransportError, post
from court.urls import public_url
from notary.errors import NotaryError, UsageError
from notary.institution_cmd import DEFAULT_GATEWAY

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
    try:
        answer = json.loads(post(rpc_url, body, timeout=10.0, max_bytes=1 << 20))
    except (RpcTransportError, ValueError, RecursionError) as exc:
        raise AnchorCommandError(
            f"cannot set the balance at {public_url(rpc_url)}: {escape_text(str(exc))[:200]}"
        ) from None
    if not isinstance(answer, dict) or "error" in answer:
        said = answer.get("error") if isinstance(answer, dict) else answer
        raise AnchorCommandError(
            "--dev-balance needs a development node that has anvil_setBalance (anvil); "
            f"the node said: {escape_text(str(said))[:200]}"
        )


def _wait_for_node(rpc_url: str, wait: float, timeout: float) -> None:
    """Wait up to ``wait`` seconds for the node to answer (a node just started)."""
    from gateway.anchor.chain import ChainClient, ChainError, ChainUnavailable

    deadline = time.monotonic() + wait
    try:
        client = ChainClient(rpc_url, timeout=timeout)
    except ChainError as exc:
        raise UsageError(f"--rpc: {exc.message}") from None
    while True:
        try:
            client.chain_id()
            return
        except ChainUnavailable as exc:
            if time.monotonic() > deadline:
                raise AnchorCommandError(
                    f"{exc.message}; is the node running at {public_url(rpc_url)}? "
                    "(--wait SECONDS waits for a node that is starting)"
                ) from None
            time.sleep(0.2)


def _cmd_deploy(args: argparse.Namespace) -> int:
    from gateway.anchor.chain import ChainClient, log_id_of
    from gateway.anchor.keys import load_account
    from gateway.anchor.settings import CHAIN_NAME, CHAIN_NAME_RULE
    from gateway.errors import GatewayError
    from notary.pki import load_log_verifier_key

    if args.name is not None and not CHAIN_NAME.fullmatch(args.name):
        raise UsageError(
            f"--name {escape_text(repr(args.name))}: a chain name is {CHAIN_NAME_RULE}"
        )
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
        kept = None
        if recorded is not None and recorded.exists():
            kept = _keep_recorded(args, recorded, vkey)
        if kept is not None:
            chain_id = ChainClient(args.rpc, timeout=args.timeout).chain_id()
            _print_chain_table(args, kept, chain_id, submitter == account.address)
            return 0
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
    _print_chain_table(args, address, chain_id, submitter == account.address)
    return 0


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's


def _print_chain_table(
    args: argparse.Namespace, address: str, chain_id: int, own_key: bool
) -> None:
    """The complete [[anchor.chains]] table of this chain, for the gateway's config file."""
    name = args.name or f"chain-{chain_id}"
    key_file = str(args.key.resolve()) if own_key else "SUBMITTER.key"
    note = "" if own_key else "   # the file of the --submitter's key (notary anchor init)"
    print("configure the gateway with this table in its config file (docs/anchoring.md):")
    print("[[anchor.chains]]")
    print(f"name = {_toml_string(name)}")
    if _bare(args.rpc):
        print(f"rpc_url = {_toml_string(args.rpc)}")
    else:  # its password, API key or path are not printed
        print(
            f'rpc_url = "..."   # your --rpc URL ({public_url(args.rpc)}/...), written out in full'
        )
    print(f"contract = {_toml_string(address)}")
    print(f"key_file = {_toml_string(key_file)}{note}")
    print(f"chain_id = {chain_id}")


def _bare(url: str) -> bool:
    """Whether ``url`` is only scheme, host and port (nothing that could be a secret)."""
    parts = urlsplit(url)
    return not (
        parts.username or parts.password or parts.path.strip("/") or parts.query or parts.fragment
    )


def _keep_recorded(args: argparse.Namespace, recorded: Path, vkey: str) -> str | None:
    """The address recorded in ``recorded`` if that contract is kept (it is
    ``EvidenceAnchor``, holding this log), else ``None``. Raises
    :class:`AnchorCommandError` when other code is there."""
    from gateway.anchor.chain import ChainClient, ChainError, log_id_of

    text = recorded.read_text(encoding="ascii", errors="replace").strip()
    try:
        client = ChainClient(args.rpc, text, timeout=args.timeout)
    except ChainError as exc:
        raise AnchorCommandError(
            f"{recorded}: {exc.message}; remove the file to deploy a new contract"
        ) from None
    address = client.address
    ours = client.holds_artifact()
    if ours is None:
        print(f"no contract at {address} (from {recorded}) on this chain: deploying")
        return None
    if not ours:
        raise AnchorCommandError(
            f"the contract at {address} (from {recorded}) is not the EvidenceAnchor contract "
            "of this notary (its code on chain is different): it is not used. Check --rpc "
            "and the file; to deploy a new contract, remove the file or give another "
            "--address-file"
        )
    if client.verifier_key_of(log_id_of(vkey)) == vkey:
        print(f"contract {address} (from {recorded}) already anchors this log")
        return address
    print(f"the contract at {address} (from {recorded}) does not hold this log: deploying")
    return None


def _ether(wei: str) -> str:
    return f"{Decimal(wei) / _WEI:.6f}" if wei.isdigit() else "unknown"


def _when(ts: Any) -> str:
    return datetime.fromtimestamp(ts.seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _cmd_now(args: argparse.Namespace) -> int:
    from notary.admin import AdminClient

    if not 0 <= args.wait <= 300:
        raise UsageError("--wait must be 0 to 300 seconds")
    with AdminClient(args.gateway, args.pki) as admin:
        answer = admin.anchor_now(args.wait)
    missing = [c for c in answer.chains if not c.anchored]
    print(f"log size {answer.log_size}")
    for c in answer.chains:
        name = escape_text(c.chain)
        if c.anchored:
            print(
                f"chain {name}: anchored size {c.anchored_size}, transaction "
                f"0x{c.transaction_hash.hex()}, block {c.block_number}"
            )
        else:
            print(f"chain {name}: not anchored yet: {escape_text(c.reason)}")
    if missing:
        raise AnchorCommandError(
            f"{len(missing)} of {len(answer.chains)} chain(s) have no confirmed anchor of size "
            f"{answer.log_size} yet; see `notary anchor status`"
        )
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from notary.admin import AdminClient

    with AdminClient(args.gateway, args.pki) as admin:
        answer = admin.anchoring_status()
    for c in answer.chains:
        print(
            f"chain {escape_text(c.chain)} (contract {escape_text(c.contract)}, "
            f"chain id {c.chain_id})"
        )
        when = f" at {_when(c.anchored_at)}" if c.HasField("anchored_at") else ""
        print(f"  anchored size    {c.anchored_size}{when}")
        print(f"  log size         {c.log_size}")
        flag = "  (past the bound)" if c.lagging else ""
        print(f"  lag              {c.lag_entries} entries, {c.lag.seconds} s{flag}")
        print(f"  pending          {c.pending}")
        if c.HasField("pending_confirmations"):
            print(
                f"  confirmations    waiting for confirmations "
                f"{c.pending_confirmations}/{c.confirmations_required}"
            )
        elif c.confirmations_required:
            print(f"  confirmations    {c.confirmations_required} required")
        if c.HasField("chain_head"):
            print(f"  chain head       {c.chain_head}")
        if c.submitter:
            balance = _ether(c.submitter_balance_wei)
            print(f"  submitter        {escape_text(c.submitter)}, {balance} ether")
        if c.chain_error:
            print(f"  chain            unreachable or refused: {escape_text(c.chain_error)}")
        if c.last_error:
            print(f"  last error       {escape_text(c.last_error)}")
        if c.capped:
            print(f"  gas price cap    {escape_text(c.capped)}")
    return 0


def _gateway_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gateway", default=DEFAULT_GATEWAY, help=f"HOST:PORT of the gateway ({DEFAULT_GATEWAY})"
    )
    parser.add_argument(
        "--pki", type=Path, required=True, help="the gateway's PKI folder (operator.pem)"
    )


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
        "--name",
        help="the chain's name in the printed [[anchor.chains]] table (1 to 64 letters, "
        "digits, '-' or '_'; default chain-CHAIN_ID)",
    )
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

    now = group.add_parser("now", help="anchor on every chain now (the gateway's AdminService)")
    _gateway_options(now)
    now.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds the gateway waits for the confirmations (0 to 300; default 60)",
    )
    now.set_defaults(handler=_cmd_now)

    status = group.add_parser(
        "status", help="anchored size, lag, chain head, balance (the gateway's AdminService)"
    )
    _gateway_options(status)
    status.set_defaults(handler=_cmd_status)
