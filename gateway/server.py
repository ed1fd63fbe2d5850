"""The gRPC server: the API's services, health checking and reflection.

Every API call goes through four interceptors: :class:`gateway.api.observe.Observe`
(request id, metrics, the per-call log line), :class:`CallLimit` (the cap on
calls at once), then :class:`gateway.api.authz.Authorization` (who calls, and
whether the authorization table lets its role make the call; see
docs/access.md), then :class:`InstitutionCallLimit` (the cap on one
institution's calls at once).

``run`` opens the ledger from the configuration and serves until SIGTERM or
SIGINT; then :meth:`GatewayServer.drain` says NOT_SERVING, refuses new calls
with UNAVAILABLE (:class:`gateway.api.shutdown.ShutdownGate`, the first
interceptor), lets the streams answer what they read and end, and waits up to
``shutdown.grace_seconds`` for the calls running; :meth:`GatewayServer.stop`
then ends what is left, stops the anchoring worker and closes the ledger
(which commits whatever is queued). A second signal stops the wait at once, a
third exits at once. See docs/gateway.md ("Stopping the gateway").

Health (``grpc.health.v1``): the overall service ``""`` and each API service
report SERVING while every dependency of the ledger (store, time-stamp
authority) is up and its oldest queued item is younger than
``log.max_queue_age_seconds``, NOT_SERVING otherwise; ``ledger.health()`` is polled every
``health_poll_seconds``. The service ``evidence_gateway.certificates`` is
NOT_SERVING while the TSA certificate or its root expires within
``certificate_warning_days`` (a warning is logged at start, when that
changes, and once a day while it lasts); it does not affect the others.
Server reflection lists every service. With anchoring on (``[anchor]``), the
service ``evidence_gateway.anchoring`` is NOT_SERVING while a chain's
confirmed anchors lag the log by more than ``anchor.max_lag_seconds``, or
its pending anchor is held at ``anchor.max_gas_price_gwei`` (a warning names
the chain, the lag and the cap); submissions go on, the others stay
SERVING.

Under load: the API's calls are capped at ``max_concurrent_rpcs``
(:class:`gateway.api.call_limit.CallLimit`), and each institution's at
``max_calls_per_institution`` (by default a quarter of that, so one institution
holding idle streams cannot lock the others out); health and reflection are not
counted, so they answer whatever the load. Each connection carries at most
``grpc.max_concurrent_streams`` calls at once; keepalive pings, idle and age
limits close connections that are dead, idle or old, and a submission stream
that sends nothing is closed after ``stream.idle_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from cryptography import x509
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from evidence_gateway.v1 import (
    access_service_pb2,
    access_service_pb2_grpc,
    admin_service_pb2,
    admin_service_pb2_grpc,
    case_service_pb2,
    case_service_pb2_grpc,
    evidence_service_pb2,
    evidence_service_pb2_grpc,
    log_service_pb2,
    log_service_pb2_grpc,
    verification_service_pb2,
    verification_service_pb2_grpc,
)
from gateway.anchor.worker import AnchorWorker, ChainLag
from gateway.api.access import AccessServicer
from gateway.api.admin import AdminServicer
from gateway.api.authz import Authorization
from gateway.api.call_limit import CallLimit, InstitutionCallLimit, per_institution_default
from gateway.api.caller import Resolver
from gateway.api.cases import serve_cases
from gateway.api.evidence import EvidenceServicer
from gateway.api.identity import Identity
from gateway.api.log import LogServicer
from gateway.api.observe import Observe
from gateway.api.ports import LedgerPort
from gateway.api.shutdown import ShutdownGate
from gateway.api.stream_budget import ByteBudget
from gateway.api.verification import VerificationServicer
from gateway.authz.roles import Role
from gateway.certificates import Expiry, describe, expiring
from gateway.components import (
    check_pki,
    institutions_registry,
    load_tsa_trust,
    open_anchoring,
    open_ledger,
    register_operator,
    trust_info,
)
from gateway.config import ConfigError, GatewayConfig, parse_listen
from gateway.institutions import Status
from gateway.metrics import metrics_for
from gateway.metrics_http import MetricsServer
from gateway.registry_cache import CachedRegistry
from gateway.stopping import serve_until_signalled
from gateway.store.base import InstitutionStore
from gateway.tls import load_client_cas, server_credentials
from gateway.writer_lock import acquire_writer_lock

__all__ = [
    "ADMIN_SERVICE",
    "ANCHORING_SERVICE",
    "API_SERVICES",
    "CASE_SERVICE",
    "CERTIFICATES_SERVICE",
    "GatewayServer",
    "ServingInfo",
    "load_tsa_trust",
    "open_ledger",
    "run",
    "server_options",
    "trust_info",
]

log = logging.getLogger(__name__)

#: Full names of the API services (for health and reflection).
API_SERVICES: tuple[str, ...] = (
    evidence_service_pb2.DESCRIPTOR.services_by_name["EvidenceService"].full_name,
    log_service_pb2.DESCRIPTOR.services_by_name["LogService"].full_name,
    verification_service_pb2.DESCRIPTOR.services_by_name["VerificationService"].full_name,
    access_service_pb2.DESCRIPTOR.services_by_name["AccessService"].full_name,
)
#: Served when the gateway has the institutions registry (``gateway serve`` always).
ADMIN_SERVICE = admin_service_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name
#: Served when the ledger's store keeps the cases' tables and there is a registry.
CASE_SERVICE = case_service_pb2.DESCRIPTOR.services_by_name["CaseService"].full_name
#: The health service that warns of certificates about to expire.
CERTIFICATES_SERVICE = "evidence_gateway.certificates"
#: The health service that says the anchors lag the log too much (anchoring on).
ANCHORING_SERVICE = "evidence_gateway.anchoring"
#: Services whose calls are never refused for load (health checks, reflection).
UNLIMITED_SERVICES = (
    health.SERVICE_NAME,
    reflection.SERVICE_NAME,
    "grpc.reflection.v1.ServerReflection",
)
_GRACE_SECONDS = 5.0
#: After the drain: how long the calls' last answers get to reach their clients.
_FLUSH_SECONDS = 1.0
_CERTIFICATE_WARNING_REPEAT = 24 * 3600.0  # seconds between repeated expiry warnings


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def server_options(config: GatewayConfig) -> list[tuple[str, int]]:
    """The grpc.aio server's channel arguments for ``config``."""
    options = [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.so_reuseport", 0),
        ("grpc.max_concurrent_streams", config.grpc_max_concurrent_streams),
        ("grpc.keepalive_time_ms", _ms(config.grpc_keepalive_time_seconds)),
        ("grpc.keepalive_timeout_ms", _ms(config.grpc_keepalive_timeout_seconds)),
        ("grpc.keepalive_permit_without_calls", int(config.grpc_client_ping_without_calls)),
        (
            "grpc.http2.min_recv_ping_interval_without_data_ms",
            round(config.grpc_min_client_ping_interval_seconds * 1000),
        ),
        ("grpc.http2.max_ping_strikes", 2),
    ]
    if config.grpc_max_connection_idle_seconds:
        options.append(
            ("grpc.max_connection_idle_ms", _ms(config.grpc_max_connection_idle_seconds))
        )
    if config.grpc_max_connection_age_seconds:
        options.append(("grpc.max_connection_age_ms", _ms(config.grpc_max_connection_age_seconds)))
        options.append(
            (
                "grpc.max_connection_age_grace_ms",
                round(config.grpc_max_connection_age_grace_seconds * 1000),
            )
        )
    return options


@dataclass(frozen=True)
class ServingInfo:
    """Where the server listens and what a client needs to check its answers."""

    address: str
    port: int
    log_vkey_path: Path
    log_verifier_key: str
    insecure: bool
    #: The PKI folder (`notary institution ... --pki`: the operator's certificate).
    pki_dir: Path
    #: Where the start-up hint's `notary institution add --out` puts certificates and keys.
    institutions_dir: Path
    #: The server's TLS certificate (mutual TLS), which clients check against its CA.
    server_cert_path: Path | None = None


def _active_role(registry: InstitutionStore | None) -> Callable[[str], Role | None] | None:
    """The role of an active registered institution (``None`` for any other name)."""
    if registry is None:
        return None

    def role_of(name: str) -> Role | None:
        standing = registry.standing(name)
        if standing is None or standing[1] is not Status.ACTIVE:
            return None
        return standing[0]

    return role_of


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
        resolver: Resolver | None = None,
        registry: InstitutionStore | None = None,
        client_cas: Sequence[x509.Certificate] = (),
        credentials: grpc.ServerCredentials | None = None,
        anchoring: AnchorWorker | None = None,
    ) -> None:
        """``credentials``: mutual TLS (needs ``registry``); ``None``: plaintext (dev mode).

        With a ``registry`` the AdminService is served; development mode then
        also takes each institution's registered role. ``resolver`` replaces
        the identity's (tests). The server reads and changes ``registry``
        through a :class:`~gateway.registry_cache.CachedRegistry`: nothing else
        may change it while the server runs.
        """
        if credentials is None and not config.insecure_dev:
            raise ConfigError("serving without TLS credentials needs insecure_dev")
        if registry is not None and not isinstance(registry, CachedRegistry):
            registry = CachedRegistry(registry)
        #: The institutions registry the identity, AccessService and AdminService share.
        self.registry = registry
        self.config = config
        self.ledger = ledger
        #: The anchoring worker (started with the server, stopped before the ledger closes).
        self.anchoring = anchoring
        self._lagging: list[ChainLag] | None = None
        self.health = health.aio.HealthServicer()
        self._credentials = credentials
        self.identity = Identity(
            registry,
            insecure_dev=credentials is None,
            dev_institution=config.dev_institution,
        )
        #: Counts and caps the API's calls (not health checks nor reflection).
        self.calls = CallLimit(config.max_concurrent_rpcs, UNLIMITED_SERVICES)
        #: Who calls, and whether the authorization table lets it (same exemptions).
        self.authorization = Authorization(
            resolver or self.identity.authenticate, UNLIMITED_SERVICES
        )
        #: Caps each institution's calls (after authorization has identified it).
        self.institution_calls = InstitutionCallLimit(
            config.max_calls_per_institution or per_institution_default(config.max_concurrent_rpcs),
            UNLIMITED_SERVICES,
        )
        #: Request ids, metrics and the per-call log line (first: it sees every refusal).
        self.observe = Observe(UNLIMITED_SERVICES, log_calls=config.logging_calls)
        #: The Prometheus metrics (None unless ``[metrics] listen``), served by ``start``.
        self.metrics = metrics_for(config, ledger, anchoring)
        if self.metrics is not None:
            self.observe.observer = self.metrics
        self.metrics_server: MetricsServer | None = None
        #: Refuses new API calls once the gateway stops, counts those running (see drain).
        self.gate = ShutdownGate(UNLIMITED_SERVICES)
        self.server = grpc.aio.server(
            options=server_options(config),
            interceptors=[
                self.observe,
                self.gate,
                self.calls,
                self.authorization,
                self.institution_calls,
            ],
        )
        self.evidence = EvidenceServicer(
            ledger,
            stream_budget=ByteBudget(
                config.stream_buffer_bytes, config.stream_buffer_bytes_per_institution
            ),
            stream_idle_seconds=config.stream_idle_seconds,
            stream_stalled_write_seconds=config.stream_stalled_write_seconds,
            min_occurred_at=config.min_occurred_at,
            recheck=resolver or self.identity.authenticate,
        )
        if self.metrics is not None:
            self.evidence.observer = self.metrics
        # The certificates the tokens depend on: the TSA's (in-process TSA) and the roots.
        self._certificates = [("TSA certificate", c) for c in tsa_untrusted] + [
            ("root certificate", c) for c in tsa_roots
        ]
        self._expiring: list[Expiry] | None = None
        self._warned_at = 0.0
        verification = VerificationServicer(
            ledger,
            tsa_roots=tsa_roots,
            tsa_untrusted=tsa_untrusted,
            log_verifier_key=log_verifier_key,
            max_message_bytes=config.max_message_bytes,
        )
        for add, servicer in (
            (evidence_service_pb2_grpc.add_EvidenceServiceServicer_to_server, self.evidence),
            (
                log_service_pb2_grpc.add_LogServiceServicer_to_server,
                LogServicer(
                    ledger,
                    trust_info(config, tsa_roots, tsa_untrusted, log_verifier_key),
                    chains=tuple(c.name for c in config.anchor_chains),
                ),
            ),
            (
                verification_service_pb2_grpc.add_VerificationServiceServicer_to_server,
                verification,
            ),
            (
                access_service_pb2_grpc.add_AccessServiceServicer_to_server,
                AccessServicer(ledger, role_of=_active_role(registry)),
            ),
        ):
            add(servicer, self.server)  # type: ignore[no-untyped-call]
        #: The services health reports on and reflection lists (besides its own).
        self.services = API_SERVICES
        if registry is not None:
            admin_service_pb2_grpc.add_AdminServiceServicer_to_server(  # type: ignore[no-untyped-call]
                AdminServicer(
                    registry,
                    client_cas,
                    record=ledger.record_institution_change,
                    anchoring=anchoring,
                ),
                self.server,
            )
            self.services = (*API_SERVICES, ADMIN_SERVICE)
        #: CaseService (None without the registry or a SQL store: tests' fakes).
        self.cases = serve_cases(
            ledger,
            _active_role(registry),
            heartbeat_seconds=config.cases_heartbeat_seconds,
            stalled_write_seconds=config.stream_stalled_write_seconds,
        )
        if self.cases is not None and self.metrics is not None:
            self.cases.observe(self.metrics)
            self.metrics.watch_cases(self.cases)
        if self.cases is not None:
            case_service_pb2_grpc.add_CaseServiceServicer_to_server(self.cases, self.server)  # type: ignore[no-untyped-call]
            self.services = (*self.services, CASE_SERVICE)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*self.services, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self._poller: asyncio.Task[None] | None = None
        self._probe: asyncio.Future[dict[str, bool]] | None = None
        self.port = 0
        self.serving: bool | None = None

    async def start(self) -> int:
        """Bind, start serving and start the health poller; returns the bound port."""
        self.config.check_serving()
        host, port = parse_listen(self.config.listen)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            if self._credentials is None:
                self.port = self.server.add_insecure_port(address)
            else:
                self.port = self.server.add_secure_port(address, self._credentials)
        except RuntimeError as exc:
            raise ConfigError(f"cannot listen on {self.config.listen}: {exc}") from None
        if self.port == 0:
            raise ConfigError(f"cannot listen on {self.config.listen} (address in use?)")
        await self.update_health()
        if self.metrics is not None:
            self.metrics_server = MetricsServer(self.metrics.registry, self.config)
            log.info("metrics: serving %s", self.metrics_server.url)
        await self.server.start()
        if self.anchoring is not None:
            self.anchoring.start()
        self._poller = asyncio.create_task(self._poll_health())
        return self.port

    async def update_certificates(self) -> list[Expiry]:
        """Publish whether a certificate expires within the warning window; warn in the log."""
        now = datetime.now(UTC)
        soon = expiring(
            self._certificates, now, timedelta(days=self.config.certificate_warning_days)
        )
        repeat = time.monotonic() - self._warned_at >= _CERTIFICATE_WARNING_REPEAT
        if soon and (soon != self._expiring or repeat):
            for expiry in soon:
                log.warning("certificates: %s", describe(expiry, now))
            self._warned_at = time.monotonic()
        if soon != self._expiring:
            if not soon and self._expiring:
                log.warning("certificates: none expires within the warning window any more")
            value = (
                health_pb2.HealthCheckResponse.NOT_SERVING
                if soon
                else health_pb2.HealthCheckResponse.SERVING
            )
            await self.health.set(CERTIFICATES_SERVICE, value)
            self._expiring = soon
        return soon

    async def update_anchoring(self) -> list[ChainLag] | None:
        """Publish whether a chain's anchors lag past the bound; warn in the log."""
        worker = self.anchoring
        if worker is None:
            return None
        try:
            lagging = await asyncio.get_running_loop().run_in_executor(None, worker.lagging)
        except Exception:
            log.warning("anchoring: cannot read the lag from the store", exc_info=True)
            return self._lagging
        before = None if self._lagging is None else [lag.chain_name for lag in self._lagging]
        if before != [lag.chain_name for lag in lagging]:
            for lag in lagging:
                log.warning(
                    "anchoring: chain %s lags %d entries, %.0f s (bound %.0f s)%s%s",
                    lag.chain_name,
                    lag.entries,
                    lag.seconds,
                    worker.max_lag_seconds,
                    f"; {lag.error}" if lag.error else "",
                    f"; capped: {lag.capped}" if lag.capped else "",
                )
            if not lagging and self._lagging:
                log.warning("anchoring: every chain is within the lag bound again")
            value = (
                health_pb2.HealthCheckResponse.NOT_SERVING
                if lagging
                else health_pb2.HealthCheckResponse.SERVING
            )
            await self.health.set(ANCHORING_SERVICE, value)
        self._lagging = lagging
        return lagging

    async def update_health(self) -> dict[str, bool]:
        """Probe the ledger's dependencies once and publish the result."""
        await self.update_certificates()
        await self.update_anchoring()
        try:
            # A probe may block (an HTTP TSA, a database): keep it off the event loop.
            # The probe's thread runs on even if this task is cancelled: stop() waits
            # for it before closing the ledger under it.
            self._probe = asyncio.get_running_loop().run_in_executor(None, self.ledger.health)
            status = await asyncio.shield(self._probe)
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
            for name in ("", *self.services):
                await self.health.set(name, value)
        return status

    async def _poll_health(self) -> None:
        while True:
            await asyncio.sleep(self.config.health_poll_seconds)
            await self.update_health()

    async def drain(self, grace: float, hurry: asyncio.Event | None = None) -> bool:
        """Begin stopping: NOT_SERVING, new API calls refused (UNAVAILABLE), streams told
        to answer what they read and end; then wait up to ``grace`` seconds (less once
        ``hurry`` is set) for the API calls running. True when they all ended in time.

        The ledger keeps committing meanwhile, so every item already accepted is
        registered and answered; :meth:`stop` comes next.
        """
        await self.health.enter_graceful_shutdown()
        self.gate.close()
        self.evidence.drain()
        if self.cases is not None:
            self.cases.drain()
        log.info(
            "stopping: health NOT_SERVING, new calls refused; waiting up to %g s for "
            "%d running calls (streams end once they have answered what they read)",
            grace,
            self.gate.active,
        )
        if await self.gate.wait_idle(grace, hurry):
            log.info("stopping: every call has ended")
            return True
        log.warning(
            "stopping: %d calls still running %s; ending them now (their items may be "
            "registered or not: resubmitting with the same request_id is safe)",
            self.gate.active,
            "at a second signal" if hurry is not None and hurry.is_set() else f"after {grace:g} s",
        )
        return False

    async def stop(self, grace: float = _GRACE_SECONDS) -> None:
        """Stop serving (running calls get ``grace`` seconds), then close the ledger."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._probe is not None:
            await asyncio.wait([self._probe])  # a probe still running in its thread
            if not self._probe.cancelled():
                self._probe.exception()  # seen: a failed probe was logged or is moot now
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.anchoring is not None:
            await asyncio.to_thread(self.anchoring.stop)
        await self.ledger.close()
        if self.metrics_server is not None:
            self.metrics_server.close()


def freeze_start_up_heap() -> None:
    """Keep what start-up built out of the cyclic garbage collector's full passes.

    Modules, protobuf descriptors, the loaded tree, loan map and registry live as
    long as the process; left in the collector's oldest generation, every full
    collection walked them all while it held the interpreter lock, stopping the
    event loop and the ledger's threads together (58-86 ms per pass under load: the
    tail of unary calls, docs/performance/unary-latency.md). Garbage is collected first, so none
    of it is kept for ever; what serving creates is still collected as before.
    """
    gc.collect()
    gc.freeze()


async def run(
    config: GatewayConfig,
    announce: Callable[[ServingInfo], None] = lambda info: None,
    *,
    ledger_factory: Callable[[GatewayConfig], LedgerPort] = open_ledger,
    hard_exit_seconds: float | None = None,
) -> bool:
    """Serve ``config`` until SIGTERM or SIGINT, then stop gracefully (see the module).

    Returns True when every call ended within the grace period, False when some
    had to be ended (grace ran out, or a second signal). ``hard_exit_seconds``:
    once the calls have ended, the process exits (code 3, :mod:`gateway.stopping`) if
    closing takes longer than that (``gateway serve``; never in tests in-process).
    """
    from notary.errors import NotaryError
    from notary.pki import load_log_verifier_key

    config.check_serving()
    check_pki(config)
    roots, untrusted = load_tsa_trust(config)
    try:
        vkey = load_log_verifier_key(config.pki_dir).line
    except NotaryError as exc:
        raise ConfigError(str(exc)) from exc
    credentials = None if config.insecure_dev else server_credentials(config)
    try:
        client_cas = load_client_cas(config)
    except ConfigError as exc:
        if not config.insecure_dev:
            raise
        log.warning("development mode: no client CA (%s); AdminService registers nothing", exc)
        client_cas = []
    writer = acquire_writer_lock(config)
    try:
        ledger = ledger_factory(config)
    except BaseException:
        writer.release()
        raise
    try:
        registry = institutions_registry(ledger)
        if registry is not None:
            await register_operator(registry, config, client_cas, ledger.record_institution_change)
        anchoring = open_anchoring(config, ledger, vkey)
        server = GatewayServer(
            config,
            ledger,
            tsa_roots=roots,
            tsa_untrusted=untrusted,
            log_verifier_key=vkey,
            registry=registry,
            client_cas=client_cas,
            credentials=credentials,
            anchoring=anchoring,
        )
        port = await server.start()
    except BaseException:
        await ledger.close()
        writer.release()
        raise
    freeze_start_up_heap()
    host, _ = parse_listen(config.listen)
    announce(
        ServingInfo(
            address=f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            port=port,
            log_vkey_path=config.log_vkey_path,
            log_verifier_key=vkey,
            insecure=credentials is None,
            server_cert_path=None if credentials is None else config.tls_cert_path,
            pki_dir=config.pki_dir,
            institutions_dir=config.data_dir / "institutions",
        )
    )
    try:
        return await serve_until_signalled(
            server, config.shutdown_grace_seconds, hard_exit_seconds, _FLUSH_SECONDS
        )
    finally:
        writer.release()
