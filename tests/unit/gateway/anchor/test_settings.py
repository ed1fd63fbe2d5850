"""The [anchor] section of the gateway's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.anchor.settings import gwei_to_wei
from gateway.config import ChainConfig, ConfigError, load_config

ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN = f"""
[[anchor.chains]]
name = "local"
rpc_url = "http://127.0.0.1:8545"
contract = "{ADDRESS}"
key_file = "anchor/submitter.key"
chain_id = 31337
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_defaults_anchor_nothing() -> None:
    config = load_config(None, environ={})
    assert config.anchor_enabled is False and config.anchor_chains == ()
    assert (config.anchor_interval_seconds, config.anchor_min_new_entries) == (60.0, 1)
    assert (config.anchor_confirmations, config.anchor_max_lag_seconds) == (1, 600.0)
    assert (config.anchor_replace_after_seconds, config.anchor_max_gas_price_gwei) == (120, 500)


def test_the_gas_price_cap_in_wei() -> None:
    assert gwei_to_wei(500) == 500 * 10**9
    assert gwei_to_wei(0.1) == 10**8 and gwei_to_wei(0) == 0


def test_chains_from_the_file_and_settings_from_the_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[anchor]\nenabled = true\ninterval_seconds = 5\n"
        + CHAIN
        + CHAIN.replace('"local"', '"second"').replace("8545", "8546"),
    )
    config = load_config(path, environ={"GATEWAY_ANCHOR_CONFIRMATIONS": "3"})
    assert config.anchor_enabled and config.anchor_interval_seconds == 5.0
    assert config.anchor_confirmations == 3
    assert config.anchor_chains == (
        ChainConfig(
            "local", "http://127.0.0.1:8545", ADDRESS, tmp_path / "anchor/submitter.key", 31337
        ),
        ChainConfig(
            "second", "http://127.0.0.1:8546", ADDRESS, tmp_path / "anchor/submitter.key", 31337
        ),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[anchor]\nenabled = true\n", "no chain is configured"),
        ("[anchor]\ninterval_seconds = 0\n", "interval_seconds must be positive"),
        ("[anchor]\nmin_new_entries = 0\n", "min_new_entries must be at least 1"),
        ("[anchor]\nconfirmations = 0\n", "confirmations must be at least 1"),
        ("[anchor]\nmax_lag_seconds = -1\n", "max_lag_seconds must be positive"),
        ("[anchor]\nreplace_after_seconds = 0\n", "replace_after_seconds must be positive"),
        ("[anchor]\nmax_gas_price_gwei = -1\n", "max_gas_price_gwei must be 0"),
        (CHAIN + CHAIN, "two chains have this name"),
        (CHAIN.replace('"local"', '"a b"'), "letters, digits"),
        (CHAIN.replace("http://", "ftp://"), "is not an http(s):// URL"),
        (CHAIN.replace(ADDRESS, "0x12"), "notary anchor deploy"),
        (CHAIN.replace("31337", "0"), "chain_id must be positive"),
        (CHAIN.replace("chain_id = 31337\n", ""), "missing keys ['chain_id']"),
        (CHAIN + "colour = 1\n", "unknown keys ['colour']"),
        (CHAIN.replace("31337", '"x"'), "chain_id must be a number"),
        ("[anchor]\nchains = 3\n", "must be [[anchor.chains]] tables"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    assert message in caught.value.message


def test_chains_are_not_taken_from_the_environment() -> None:
    with pytest.raises(ConfigError, match=r"\[\[anchor.chains\]\] tables in the config file"):
        load_config(None, environ={"GATEWAY_ANCHOR_CHAINS": "local"})


def test_the_configuration_table_of_the_docs_has_every_anchor_key_with_its_variable() -> None:
    """docs/gateway.md's configuration table: each [anchor] key, its GATEWAY_ANCHOR_*
    variable (which sets it) and its default (which is the default)."""
    import re
    from dataclasses import fields

    from gateway.config import GatewayConfig

    doc = (Path(__file__).resolve().parents[4] / "docs" / "gateway.md").read_text()
    rows = re.findall(
        r"^\| `\[anchor\] (\w+)` \| `(GATEWAY_ANCHOR_\w+)` \| `([^`]*)` \|", doc, re.M
    )
    keys = {
        f.name.removeprefix("anchor_")
        for f in fields(GatewayConfig)
        if f.name.startswith("anchor_")
    }
    assert {key for key, _, _ in rows} == keys - {"chains"}
    defaults = GatewayConfig()
    for key, variable, default in rows:
        assert variable == f"GATEWAY_ANCHOR_{key.upper()}"
        assert str(getattr(defaults, f"anchor_{key}")).lower().removesuffix(".0") == default
        if key != "enabled":  # enabled needs a chain, which only a file can name
            config = load_config(None, environ={variable: "7"})
            assert str(getattr(config, f"anchor_{key}")).startswith("7")
    assert "| `[[anchor.chains]]` | — (file only) |" in doc
