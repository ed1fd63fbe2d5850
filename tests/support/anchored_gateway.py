"""A `gateway serve` over mutual TLS that anchors on a real anvil node, set up the way an
operator does it: `notary pki init`, `notary anchor init`, `notary anchor deploy`, then an
``[[anchor.chains]]`` table in the gateway's configuration."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.anvil import Anvil
from tests.support.gateway_proc import GatewayProcess, make_pki, notary, write_config

CHAIN_NAME = "local"
CHAIN_ID = 31337


@dataclass(frozen=True)
class AnchoredGateway:
    """The gateway (not started) and the address of the contract it anchors on."""

    process: GatewayProcess
    contract: str


def anchoring_gateway(folder: Path, anvil: Anvil, **anchor: object) -> AnchoredGateway:
    """A gateway (mutual TLS, not started) in ``folder`` anchoring on ``anvil``'s freshly
    deployed contract as chain "local", with these [anchor] settings."""
    pki = folder / "data" / "pki"
    make_pki(pki)
    key = folder / "submitter.key"
    notary("anchor", "init", "--out", str(key))
    deployed = notary(
        "anchor",
        "deploy",
        "--rpc",
        anvil.rpc_url,
        "--key",
        str(key),
        "--pki",
        str(pki),
        "--dev-balance",
        "5",
    ).stdout
    found = re.search(r"deployed at (0x[0-9a-fA-F]{40})", deployed)
    assert found, deployed
    config = write_config(folder, sections={"anchor": {"enabled": True, **anchor}})
    with config.open("a") as out:
        out.write(
            f'[[anchor.chains]]\nname = "{CHAIN_NAME}"\nrpc_url = "{anvil.rpc_url}"\n'
            f'contract = "{found.group(1)}"\nkey_file = "submitter.key"\n'
            f"chain_id = {CHAIN_ID}\n"
        )
    return AnchoredGateway(GatewayProcess(config, folder, mtls=True), found.group(1))
