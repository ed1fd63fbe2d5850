"""Calls to an evidence gateway over gRPC (`court-verify fetch` and `audit-log`).

The only part of :mod:`court` that talks to the gateway, and the only one that
needs grpcio: it is imported here, inside :func:`grpc_module`, so that every
offline check works without it (the ``court-verify`` distribution installs
grpcio only with its ``fetch`` extra).

Connections are mutual TLS, as the gateway serves them: ``--ca`` is the CA
that issued the gateway's server certificate (a development PKI's
``root-ca.pem``), ``--cert`` and ``--key`` the institution's client
certificate and key (``notary institution add`` writes ``NAME.pem`` and
``NAME.key``). ``--insecure-loopback`` is plaintext for a gateway in
development mode (``gateway serve --insecure-dev``), refused for any address
that is not loopback.

A gateway's refusal becomes :class:`GatewayError` (exit 1) naming the gRPC
status code, except INVALID_ARGUMENT and OUT_OF_RANGE, which say the request
was wrong: :class:`GatewayInputError` (an :class:`InputError`, exit 2). Its
text quotes the gateway's message, which the caller prints escaped.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from court.errors import CourtError
from court.files import InputError, read_file

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_MESSAGE_BYTES",
    "GatewayConnection",
    "GatewayError",
    "GatewayInputError",
    "GatewayTarget",
    "add_gateway_options",
    "grpc_module",
    "is_loopback",
    "split_address",
    "target_from_args",
]

T = TypeVar("T")
DEFAULT_TIMEOUT = 60.0
#: The largest answer accepted: a dossier of 10,000 records (the gateway's maximum)
#: stays well below it.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_DETAIL_LIMIT = 500
_INPUT_CODES = frozenset({"INVALID_ARGUMENT", "OUT_OF_RANGE"})
#: How gRPC's UNAVAILABLE details begin when it made no connection (lowercase).
_TRANSPORT_FAILURES = (
    "failed to connect",
    "dns resolution failed",
    "errors resolving",
    "socket closed",
    "connection",
)
INSTALL_HINT = (
    "calling a gateway needs grpcio, which this installation lacks: install the verifier "
    "with its fetch extra, `pip install 'court-verify[fetch]'` (the court-verify wheel: "
    "'court_verify-VERSION-py3-none-any.whl[fetch]')"
)


class GatewayError(CourtError):
    """The gateway refused the call or could not be reached."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class GatewayInputError(InputError):
    """The gateway refused the request as malformed (INVALID_ARGUMENT, OUT_OF_RANGE)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def grpc_module() -> ModuleType:
    """grpcio, or :class:`InputError` telling how to install it.

    gRPC's C core logs to stderr by itself (e.g. ``I1201 … Handshake failed …`` on a TLS
    failure), beside the message this module gives; unless the user set
    ``GRPC_VERBOSITY``, only its errors are kept. The variable is read when grpc is first
    imported, hence here, before that import.
    """
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    try:
        import grpc
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    module: ModuleType = grpc
    return module


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` -> (host, port); :class:`InputError` otherwise."""
    text = address.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
        if ":" in host:
            raise InputError(f"--gateway {address!r}: write an IPv6 address as [ADDRESS]:PORT")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--gateway must be HOST:PORT (e.g. 127.0.0.1:50051), got {address!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class GatewayTarget:
    """Where the gateway is and how to authenticate to it."""

    address: str
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    insecure_loopback: bool = False
    timeout: float = DEFAULT_TIMEOUT


def add_gateway_options(parser: argparse.ArgumentParser) -> None:
    """--gateway and the connection options (shared by fetch and audit-log)."""
    parser.add_argument(
        "--gateway", required=True, metavar="HOST:PORT", help="the gateway's gRPC address"
    )
    tls = parser.add_argument_group(
        "mutual TLS", "how the gateway is reached (all three unless --insecure-loopback)"
    )
    tls.add_argument(
        "--ca",
        type=Path,
        metavar="ROOT.pem",
        help="CA certificate(s) that issued the gateway's server certificate (PEM)",
    )
    tls.add_argument(
        "--cert",
        type=Path,
        metavar="NAME.pem",
        help="your institution's client certificate (PEM, from `notary institution add`)",
    )
    tls.add_argument("--key", type=Path, metavar="NAME.key", help="its private key (PEM)")
    tls.add_argument(
        "--insecure-loopback",
        action="store_true",
        help="development only: plaintext to a gateway started with --insecure-dev on this "
        "machine; refused for an address that is not loopback",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"deadline of each call (default {DEFAULT_TIMEOUT:g})",
    )


def target_from_args(args: argparse.Namespace) -> GatewayTarget:
    """The options as a :class:`GatewayTarget`; :class:`InputError` names a wrong one."""
    host, _ = split_address(args.gateway)
    given = [n for n, v in (("--ca", args.ca), ("--cert", args.cert), ("--key", args.key)) if v]
    if not args.timeout > 0:
        raise InputError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.insecure_loopback:
        if given:
            raise InputError(f"--insecure-loopback is plaintext: it takes no {', '.join(given)}")
        if not is_loopback(host):
            raise InputError(
                f"refusing plaintext to {args.gateway!r}: --insecure-loopback is only for a "
                "gateway on this machine (localhost, 127.0.0.1 or ::1); over a network use "
                "mutual TLS (--ca, --cert, --key)"
            )
    elif len(given) < 3:
        missing = [n for n in ("--ca", "--cert", "--key") if n not in given]
        raise InputError(
            f"the gateway is reached over mutual TLS: give {' and '.join(missing)} (the CA of "
            "its server certificate, your client certificate and key), or --insecure-loopback "
            "for a development gateway on this machine"
        )
    return GatewayTarget(
        args.gateway, args.ca, args.cert, args.key, args.insecure_loopback, args.timeout
    )


class GatewayConnection:
    """One channel to the gateway; :meth:`call` runs an RPC and translates its errors."""

    def __init__(self, target: GatewayTarget) -> None:
        grpc = grpc_module()
        self._grpc = grpc
        self.target = target
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.enable_retries", 0),
        ]
        if target.insecure_loopback:
            self.channel: Any = grpc.insecure_channel(target.address, options=options)
        else:
            assert target.ca and target.cert and target.key  # target_from_args checked
            credentials = grpc.ssl_channel_credentials(
                root_certificates=read_file(target.ca, "--ca file"),
                private_key=read_file(target.key, "--key file"),
                certificate_chain=read_file(target.cert, "--cert file"),
            )
            self.channel = grpc.secure_channel(target.address, credentials, options=options)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> GatewayConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: Callable[..., T], request: object) -> T:
        """``method(request)`` with the deadline; gRPC errors become GatewayError."""
        try:
            return method(request, timeout=self.target.timeout)
        except self._grpc.RpcError as exc:
            raise self._error(exc) from None

    def _error(self, exc: Any) -> CourtError:
        code = exc.code()
        name = code.name if code is not None else "UNKNOWN"
        details = str(exc.details() or "")
        if len(details) > _DETAIL_LIMIT:
            details = details[:_DETAIL_LIMIT] + "..."
        where = f"the gateway at {self.target.address}"
        if name == "UNAVAILABLE":
            return GatewayError(name, self._unavailable(details))
        if name == "UNAUTHENTICATED":
            return GatewayError(
                name,
                f"{where} does not accept your client certificate (UNAUTHENTICATED: {details}): "
                "is --cert an active institution's certificate and --key its key?",
            )
        text = f"{where} answered {name}: {details}"
        if name in _INPUT_CODES:
            return GatewayInputError(name, text)
        return GatewayError(name, text)

    def _unavailable(self, details: str) -> str:
        """What failed and what to check, for UNAVAILABLE: a TLS handshake that failed, a
        connection that could not be made, or the gateway itself unavailable."""
        target = self.target
        how = "plaintext" if target.insecure_loopback else "mutual TLS"
        said = details.removesuffix(": OK")  # gRPC's detail can end with its own ": OK"
        low = said.lower()
        address = f"--gateway {target.address} is the gateway's address (HOST:PORT)"
        # gRPC's own text when no connection was made (a gateway's own UNAVAILABLE, e.g.
        # its store down, says something else and may quote a database's connection error).
        transport = low.startswith(_TRANSPORT_FAILURES)
        if transport and not target.insecure_loopback and "handshake" in low:
            what = f"the TLS handshake with the gateway at {target.address} failed"
            check = (
                "check that --ca is the CA that issued the gateway's server certificate "
                "(a development PKI's root-ca.pem), that --cert and --key are your "
                f"institution's certificate and its key, and that {address}"
            )
        elif transport:
            what = f"could not connect to the gateway at {target.address} over {how}"
            check = f"check that the gateway is running and that {address}"
            if target.insecure_loopback:
                check += (
                    ", started with --insecure-dev (a gateway serving mutual TLS needs --ca, "
                    "--cert and --key instead of --insecure-loopback)"
                )
            else:
                check += (
                    ", that --ca is the CA that issued its server certificate, and that "
                    "--cert and --key are your institution's certificate and its key"
                )
        else:
            what = f"the gateway at {target.address} is unavailable"
            check = "retry later"
        return f"{what}; {check} (gRPC: UNAVAILABLE: {said})"
