"""The ``[anchor]`` settings of the gateway's configuration (see :mod:`gateway.config`):
the chains the worker anchors to, parsed from ``[[anchor.chains]]`` tables, and
the checks of every anchoring setting."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from court.urls import public_url

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

__all__ = [
    "CHAIN_NAME",
    "CHAIN_NAME_RULE",
    "ChainConfig",
    "check_anchor",
    "gwei_to_wei",
    "parse_chains",
]

_CHAIN_KEYS = ("name", "rpc_url", "contract", "key_file", "chain_id")
#: A chain's name (``[[anchor.chains]] name``, ``GetAnchorRequest.chain``).
CHAIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
CHAIN_NAME_RULE = "1 to 64 letters, digits, '-' or '_'"
_MAX_GWEI = 10**9  # 1 ether per unit of gas: far above any sane price
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


@dataclass(frozen=True)
class ChainConfig:
    """One chain the gateway anchors to (``[[anchor.chains]]``)."""

    name: str
    rpc_url: str
    contract: str
    key_file: Path
    chain_id: int


def parse_chains(
    value: Any, where: str, base: Path | None, convert: Callable[[Any, str, str, Path | None], Any]
) -> tuple[ChainConfig, ...]:
    """``[[anchor.chains]]``: a list of tables of the keys of :class:`ChainConfig`."""
    from gateway.config import ConfigError

    if base is None:
        raise ConfigError(f"{where}: set the chains as [[anchor.chains]] tables in the config file")
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where} must be [[anchor.chains]] tables")
    chains = []
    for i, table in enumerate(value):
        at = f"{where}[{i}]"
        unknown = sorted(set(table) - set(_CHAIN_KEYS))
        missing = [k for k in _CHAIN_KEYS if k not in table]
        if unknown or missing:
            raise ConfigError(
                f"{at}: "
                + (f"unknown keys {unknown} " if unknown else "")
                + (f"missing keys {missing} " if missing else "")
                + f"(each chain has {', '.join(_CHAIN_KEYS)})"
            )
        chain_id = convert(table["chain_id"], "int", f"{at}.chain_id", base)
        chains.append(
            ChainConfig(
                name=convert(table["name"], "str", f"{at}.name", base),
                rpc_url=convert(table["rpc_url"], "str", f"{at}.rpc_url", base),
                contract=convert(table["contract"], "str", f"{at}.contract", base),
                key_file=convert(table["key_file"], "path", f"{at}.key_file", base),
                chain_id=chain_id,
            )
        )
    return tuple(chains)


def gwei_to_wei(gwei: float) -> int:
    """A gas price in gwei (as configured) in wei, rounded down."""
    return int(Decimal(repr(gwei)) * 10**9)


def check_anchor(config: GatewayConfig) -> None:
    """Refuse [anchor] settings the worker cannot run with."""
    from gateway.config import ConfigError

    if config.anchor_interval_seconds <= 0:
        raise ConfigError("anchor.interval_seconds must be positive")
    if config.anchor_min_new_entries < 1:
        raise ConfigError(
            "anchor.min_new_entries must be at least 1 (an anchor needs a larger tree size)"
        )
    if config.anchor_confirmations < 1:
        raise ConfigError("anchor.confirmations must be at least 1 (the anchor's own block)")
    if config.anchor_max_lag_seconds <= 0:
        raise ConfigError("anchor.max_lag_seconds must be positive")
    if config.anchor_replace_after_seconds <= 0:
        raise ConfigError("anchor.replace_after_seconds must be positive")
    if not 0 <= config.anchor_max_gas_price_gwei <= _MAX_GWEI:
        raise ConfigError(
            f"anchor.max_gas_price_gwei must be 0 (a free gas chain) to {_MAX_GWEI:,}"
        )
    names: set[str] = set()
    for chain in config.anchor_chains:
        where = f"anchor.chains {chain.name!r}"
        if not CHAIN_NAME.fullmatch(chain.name):
            raise ConfigError(f"{where}: a name is {CHAIN_NAME_RULE}")
        if chain.name in names:
            raise ConfigError(f"{where}: two chains have this name; give each its own")
        names.add(chain.name)
        if not chain.rpc_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{where}: rpc_url {public_url(chain.rpc_url)} is not an http(s):// URL"
            )
        if not _ADDRESS.fullmatch(chain.contract):
            raise ConfigError(
                f"{where}: contract {chain.contract!r} is not an address (0x and 40 hex "
                "digits); deploy one with `notary anchor deploy`"
            )
        if chain.chain_id < 1:
            raise ConfigError(f"{where}: chain_id must be positive (the node's eth_chainId)")
    if config.anchor_enabled and not config.anchor_chains:
        raise ConfigError(
            "anchor.enabled is true but no chain is configured: add an [[anchor.chains]] table"
        )
