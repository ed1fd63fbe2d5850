"""The gateway's mutual-TLS files: each problem is a ConfigError that says what to set."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from gateway.config import ConfigError, GatewayConfig
from gateway.tls import load_client_cas, server_credentials


def _config(pki: Path, **tls: object) -> GatewayConfig:
    return GatewayConfig(tsa_pki_dir=pki, **tls)  # type: ignore[arg-type]


def test_the_pki_defaults_make_credentials(pki_p256: Path) -> None:
    assert isinstance(server_credentials(_config(pki_p256)), grpc.ServerCredentials)
    (root,) = load_client_cas(_config(pki_p256))
    assert root.subject.rfc4514_string().startswith("CN=Court Evidence Gateway Development Root")


def test_each_wrong_file_is_named(pki_p256: Path, pki_rsa3072: Path, tmp_path: Path) -> None:
    missing = tmp_path / "none.pem"
    with pytest.raises(
        ConfigError, match=r"TLS certificate .*none.pem does not exist: set \[tls\] cert_file"
    ):
        server_credentials(_config(pki_p256, tls_cert_file=missing))
    with pytest.raises(ConfigError, match=r"client CA file .*none.pem does not exist"):
        server_credentials(_config(pki_p256, tls_client_ca_files=(missing,)))
    with pytest.raises(ConfigError, match=r"is not the key of .*server.pem"):
        server_credentials(_config(pki_p256, tls_key_file=pki_rsa3072 / "server.key"))
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    with pytest.raises(ConfigError, match="is not an unencrypted PEM private key"):
        server_credentials(_config(pki_p256, tls_key_file=garbage))
    with pytest.raises(ConfigError, match="holds no readable certificate"):
        server_credentials(_config(pki_p256, tls_cert_file=garbage))
