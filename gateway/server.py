"""The gRPC server: the three services, health checking and reflection.

``run`` opens the ledger from the configuration, serves until SIGTERM or
SIGINT, then stops accepting calls, lets running ones finish (a few seconds of
grace) and closes the ledger, so every acknowledged entry stays durable.

Health (``grpc.health.v1``): the overall service ``""`` and each API service
report SERVING while every dependency of the ledger (store, time-stamp
authority) is up, NOT_SERVING otherwise; ``ledger.health()`` is polled every
``health_poll_seconds``. Server reflection lists every service.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from evidence_gateway.v1 import (
    evidence_service_pb2,
    evidence_service_pb2_grpc,
    log_service_pb2,
    log_service_pb2_grpc,
    verification_service_pb2,
    verification_service_pb2_grpc,
)
from gateway.api.caller import DevCallers
from gateway.api.evidence import EvidenceServicer
from gateway.api.log import LogServicer, TrustInfo, TsaSource, TsaTrust
from gateway.api.ports import LedgerPort
from gateway.api.verification import VerificationServicer
from gateway.config import ConfigError, GatewayConfig, parse_listen
from gateway.writer_lock import acquire_writer_lock

__all__ = [
    "API_SERVICES",
    "GatewayServer",
    "ServingInfo",
    "load_tsa_trust",
    "open_ledger",
    "run",
    "trust_info",
]

log = logging.getLogger(__name__)

#: Full names of the API services (for health and reflection).
API_SERVICES: tuple[str, ...] = (
    evidence_service_pb2.DESCRIPTOR.services_by_name["EvidenceService"].full_name,
    log_service_pb2.DESCRIPTOR.services_by_name["LogService"].full_name,
    verification_service_pb2.DESCRIPTOR.services_by_name["VerificationService"].full_name,
)
_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class ServingInfo:
    """Where the server listens and what a client needs to check its answers."""

    address: str
    port: int
    log_vkey_path: Path
    log_verifier_key: str
    insecure: bool


def _read_certificates(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read certificate file {path}: {exc.strerror}") from None
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ConfigError(f"{path} holds no readable certificate: {exc}") from None


def load_tsa_trust(config: GatewayConfig) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """Trust anchors and extra certificates for checking the TSA's tokens.

    In-process TSA: the PKI's root CA, and the TSA certificate as an extra.
    HTTP TSAs: the configured ``tsa.ca_files`` (all of them are anchors).
    """
    if config.tsa_urls:
        if not config.tsa_ca_files:
            raise ConfigError(
                "tsa.urls is set but tsa.ca_files is empty: give the trust anchors (PEM) of "
                "the time-stamp authorities, so that their tokens can be verified"
            )
        roots = [c for path in config.tsa_ca_files for c in _read_certificates(path)]
        return roots, []
    pki = config.pki_dir
    return _read_certificates(pki / "root-ca.pem"), _read_certificates(pki / "tsa.pem")


def trust_info(
    config: GatewayConfig,
    roots: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate],
    log_verifier_key: str,
) -> TrustInfo:
    """What LogService.GetTrustInfo answers: the log's key, each TSA's chain and policy.

    ``roots`` and ``untrusted`` are :func:`load_tsa_trust`'s. Each root is one
    chain; a root that issued the last of ``untrusted`` (the in-process TSA's
    certificate) gets it, and what precedes it, in front.
    """
    from court.verify.checkpoint import parse_verifier_key
    from gateway.model import HASH_ALGORITHMS
    from notary.tsa.config import DEFAULT_POLICY_OID

    source = TsaSource.HTTP if config.tsa_urls else TsaSource.IN_PROCESS
    # The in-process TSA is built by open_ledger with the engine's default policy.
    policies = (DEFAULT_POLICY_OID,) if source is TsaSource.IN_PROCESS else ()
    der = [c.public_bytes(Encoding.DER) for c in untrusted]
    tsas = []
    for root in roots:
        issued = bool(untrusted) and untrusted[-1].issuer == root.subject
        chain = (
            (*der, root.public_bytes(Encoding.DER))
            if issued
            else (root.public_bytes(Encoding.DER),)
        )
        tsas.append(TsaTrust(source=source, chain=chain, policies=policies))
    return TrustInfo(
        log_origin=parse_verifier_key(log_verifier_key).name,
        log_verifier_key=log_verifier_key,
        tsas=tuple(tsas),
        hash_algorithms=HASH_ALGORITHMS,
    )


def _check_pki(config: GatewayConfig) -> None:
    if not (config.pki_dir / "tsa.pem").exists() or not config.log_vkey_path.exists():
        raise ConfigError(
            f"no PKI in {config.pki_dir}: create one with `notary pki init --out "
            f"{config.pki_dir}` (or set tsa.pki_dir)"
        )


def open_ledger(config: GatewayConfig) -> LedgerPort:
    """Open the store, the TSA and the ledger the configuration describes."""
    from gateway.ledger import Ledger
    from gateway.store import SqlStore, StoreError
    from gateway.tsa import EngineTokenSource, HttpTokenSource, ProcessEngineTokenSource
    from notary.errors import NotaryError
    from notary.pki import load_log_signing_key, load_log_verifier_key
    from notary.serve import build_authority

    _check_pki(config)
    roots, _ = load_tsa_trust(config)
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        log_key = load_log_signing_key(config.pki_dir)
        log_origin = load_log_verifier_key(config.pki_dir).origin
        tsa: Any
        if config.tsa_urls:
            tsa = HttpTokenSource(list(config.tsa_urls), roots)
        else:
            config.tsa_state_dir.mkdir(parents=True, exist_ok=True)
            if config.tsa_processes > 0:
                factory = functools.partial(
                    build_authority, config.pki_dir, config.tsa_state_dir, accept_sm3=True
                )
                tsa = ProcessEngineTokenSource(factory, roots, processes=config.tsa_processes)
            else:
                authority = build_authority(config.pki_dir, config.tsa_state_dir, accept_sm3=True)
                tsa = EngineTokenSource(authority, roots)
    except (NotaryError, ValueError, OSError) as exc:
        raise ConfigError(f"cannot set up the time-stamp authority or the log key: {exc}") from exc
    try:
        store = (
            SqlStore.open(config.store_url)
            if config.store_url
            else SqlStore.in_data_dir(config.data_dir)
        )
    except (StoreError, ValueError, OSError) as exc:
        raise ConfigError(f"cannot open the store {config.database_url}: {exc}") from exc
    ledger: LedgerPort = Ledger.open(
        store=store,
        tsa=tsa,
        log_key=log_key,
        log_origin=log_origin,
        max_batch=config.log_max_batch,
        max_wait_ms=config.log_max_wait_ms,
        max_queue=config.log_max_queue,
    )
    return ledger


class GatewayServer:
    """A grpc.aio server wired to one ledger."""

    def __init__(
        self,
        config: GatewayConfig,
        ledger: LedgerPort,
        *,
        tsa_roots: Sequence[x509.Certificate],
        tsa_untrusted: Sequence[x509.Certificate],
        log_verifier_key: str,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.health = health.aio.HealthServicer()
        callers = DevCallers(config.dev_institution)
        options = [
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        self.server = grpc.aio.server(
            options=options, maximum_concurrent_rpcs=config.max_concurrent_rpcs
        )
        verification = VerificationServicer(
            ledger,
            callers,
            tsa_roots=tsa_roots,
            tsa_untrusted=tsa_untrusted,
            log_verifier_key=log_verifier_key,
        )
        for add, servicer in (
            (
                evidence_service_pb2_grpc.add_EvidenceServiceServicer_to_server,
                EvidenceServicer(ledger, callers),
            ),
            (
                log_service_pb2_grpc.add_LogServiceServicer_to_server,
                LogServicer(
                    ledger,
                    callers,
                    trust_info(config, tsa_roots, tsa_untrusted, log_verifier_key),
                ),
            ),
            (
                verification_service_pb2_grpc.add_VerificationServiceServicer_to_server,
                verification,
            ),
        ):
            add(servicer, self.server)  # type: ignore[no-untyped-call]
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*API_SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self._poller: asyncio.Task[None] | None = None
        self.port = 0
        self.serving: bool | None = None

    async def start(self) -> int:
        """Bind, start serving and start the health poller; returns the bound port."""
        self.config.check_serving()
        host, port = parse_listen(self.config.listen)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            self.port = self.server.add_insecure_port(address)
        except RuntimeError as exc:
            raise ConfigError(f"cannot listen on {self.config.listen}: {exc}") from None
        if self.port == 0:
            raise ConfigError(f"cannot listen on {self.config.listen} (address in use?)")
        await self.update_health()
        await self.server.start()
        self._poller = asyncio.create_task(self._poll_health())
        return self.port

    async def update_health(self) -> dict[str, bool]:
        """Probe the ledger's dependencies once and publish the result."""
        try:
            # A probe may block (an HTTP TSA, a database): keep it off the event loop.
            status = await asyncio.to_thread(self.ledger.health)
        except Exception:
            log.exception("health probe failed")
            status = {"ledger": False}
        up = bool(status) and all(status.values())
        if up != self.serving:
            if self.serving is not None:
                down = ", ".join(sorted(k for k, v in status.items() if not v))
                log.warning("health: %s", "SERVING" if up else f"NOT_SERVING ({down} down)")
            self.serving = up
            value = (
                health_pb2.HealthCheckResponse.SERVING
                if up
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            for name in ("", *API_SERVICES):
                await self.health.set(name, value)
        return status

    async def _poll_health(self) -> None:
        while True:
            await asyncio.sleep(self.config.health_poll_seconds)
            await self.update_health()

    async def stop(self, grace: float = _GRACE_SECONDS) -> None:
        """Stop serving (running calls get ``grace`` seconds), then close the ledger."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.ledger.close()


async def run(
    config: GatewayConfig,
    announce: Callable[[ServingInfo], None] = lambda info: None,
    *,
    ledger_factory: Callable[[GatewayConfig], LedgerPort] = open_ledger,
) -> None:
    """Serve ``config`` until SIGTERM or SIGINT."""
    from notary.errors import NotaryError
    from notary.pki import load_log_verifier_key

    config.check_serving()
    _check_pki(config)
    roots, untrusted = load_tsa_trust(config)
    try:
        vkey = load_log_verifier_key(config.pki_dir).line
    except NotaryError as exc:
        raise ConfigError(str(exc)) from exc
    writer = acquire_writer_lock(config)
    try:
        ledger = ledger_factory(config)
    except BaseException:
        writer.release()
        raise
    server = GatewayServer(
        config, ledger, tsa_roots=roots, tsa_untrusted=untrusted, log_verifier_key=vkey
    )
    try:
        port = await server.start()
    except BaseException:
        await ledger.close()
        writer.release()
        raise
    host, _ = parse_listen(config.listen)
    announce(
        ServingInfo(
            address=f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            port=port,
            log_vkey_path=config.log_vkey_path,
            log_verifier_key=vkey,
            insecure=True,
        )
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("stopping: finishing running calls, then closing the ledger")
        try:
            await server.stop()
        finally:
            writer.release()
