"""The metrics listener: Prometheus' text format over HTTP, apart from the gRPC port.

Off by default (``[metrics] listen`` empty). On a loopback address it serves
plain HTTP, for a scraper on the same host; on any other address it serves
HTTPS with mutual TLS only, with the gateway's own server certificate and
client CAs (``[tls]``): a scraper presents a certificate of a client CA, as a
health check does (it need not be registered). Development mode
(``insecure_dev``, no TLS material) refuses a non-loopback address
(:mod:`gateway.config`).

Hostile or idle clients cannot hold it: at most :data:`MAX_CONNECTIONS`
connections are served at once (more are closed at once), each is shut
:data:`TIMEOUT_SECONDS` after it was accepted whatever it is doing (a client
trickling its handshake or request a byte at a time included), and nothing is
logged per scrape.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import CollectorRegistry, make_wsgi_app

from gateway.config import ConfigError, GatewayConfig, is_loopback, parse_listen

__all__ = ["MAX_CONNECTIONS", "TIMEOUT_SECONDS", "MetricsServer"]

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 8
TIMEOUT_SECONDS = 10.0


class _Handler(WSGIRequestHandler):
    timeout = TIMEOUT_SECONDS  # every read of a connection

    def log_message(self, format: str, *args: Any) -> None:
        """No line per scrape."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], family: int, tls: ssl.SSLContext | None) -> None:
        self.address_family = family
        self._tls = tls
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # busy: the scraper retries at its next interval
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The whole connection gets TIMEOUT_SECONDS, not each read: shutting the socket
        # down (through a second handle: wrapping it in TLS detaches the first) wakes
        # this thread from any read or write.
        watched = request.dup()
        deadline = threading.Timer(TIMEOUT_SECONDS, _shut, (watched,))
        deadline.daemon = True
        deadline.start()
        try:
            if self._tls is None:
                super().finish_request(request, client_address)
                return
            request.settimeout(TIMEOUT_SECONDS)  # the handshake, in this connection's thread
            with self._tls.wrap_socket(request, server_side=True) as tls:
                super().finish_request(tls, client_address)
        finally:
            deadline.cancel()
            watched.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("metrics: a connection from %s failed", client_address[0], exc_info=True)


def _shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by its client
        connection.shutdown(socket.SHUT_RDWR)


def _tls_context(config: GatewayConfig) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        for ca in config.tls_client_ca_paths:
            context.load_verify_locations(cafile=str(ca))
        context.load_cert_chain(str(config.tls_cert_path), str(config.tls_key_path))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"metrics: cannot load the TLS files of [tls]: {exc}") from None
    return context


class MetricsServer:
    """The listener serving ``registry`` at ``config.metrics_listen`` (in a thread)."""

    def __init__(self, registry: CollectorRegistry, config: GatewayConfig) -> None:
        host, port = parse_listen(config.metrics_listen)
        tls = None if is_loopback(host) else _tls_context(config)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self._server = _Server((host, port), family, tls)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen for metrics on {config.metrics_listen}: {exc.strerror}"
            ) from None
        self._server.set_app(make_wsgi_app(registry))
        self.port: int = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{config.metrics_listen.rsplit(':', 1)[0]}"
        self.url += f":{self.port}/metrics"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-http", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
