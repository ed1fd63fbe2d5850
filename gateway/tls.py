"""Mutual TLS of the gateway: its credentials and the CAs of client certificates.

``gateway serve`` serves TLS 1.2+ with ``require_client_auth``: a client
without a certificate, or with one that no CA of ``[tls] client_ca_files``
issued, or an expired one, fails the handshake before any call is made.
Which institution a valid certificate belongs to is the registry's answer,
judged on every call (:mod:`gateway.api.identity`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from gateway.components import read_certificates
from gateway.config import ConfigError, GatewayConfig

__all__ = ["load_client_cas", "server_credentials"]

log = logging.getLogger(__name__)


def _read(path: Path, what: str, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"the gateway's {what} {path} does not exist: set [tls] {setting}, or create the "
            f"development PKI with `notary pki init --out {path.parent}` (plaintext without "
            "TLS is only for development: --insecure-dev on a loopback address)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the gateway's {what} {path}: {exc.strerror}") from None


def _spki(key: object) -> bytes:
    public_bytes = getattr(key, "public_bytes", None)
    if public_bytes is None:
        raise ConfigError(f"unsupported TLS key type {type(key).__name__}")
    return bytes(public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


def load_client_cas(config: GatewayConfig) -> list[x509.Certificate]:
    """The CAs whose client certificates the gateway accepts (``[tls] client_ca_files``)."""
    cas: list[x509.Certificate] = []
    for path in config.tls_client_ca_paths:
        _read(path, "client CA file", "client_ca_files")
        cas.extend(read_certificates(path))
    return cas


def server_credentials(config: GatewayConfig) -> grpc.ServerCredentials:
    """The server's mutual-TLS credentials from ``[tls]``; ConfigError says what is wrong."""
    cert = _read(config.tls_cert_path, "TLS certificate", "cert_file")
    key = _read(config.tls_key_path, "TLS private key", "key_file")
    chain = read_certificates(config.tls_cert_path)
    cas = load_client_cas(config)
    try:
        private = load_pem_private_key(key, password=None)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{config.tls_key_path} is not an unencrypted PEM private key ({exc}): set [tls] "
            "key_file to the key of [tls] cert_file"
        ) from None
    if _spki(private.public_key()) != _spki(chain[0].public_key()):
        raise ConfigError(
            f"{config.tls_key_path} is not the key of {config.tls_cert_path}: set [tls] "
            "cert_file and key_file to a matching pair"
        )
    roots = b"".join(c.public_bytes(Encoding.PEM) for c in cas)
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=roots, require_client_auth=True
    )
