"""Who is calling: the caller of a request, from its client certificate.

With mutual TLS (the default), the caller is the institution registered for
the SHA-256 fingerprint of the client's leaf certificate, as gRPC's auth
context presents it (``x509_pem_cert``); headers are ignored. The registry is
consulted on every call, so a suspension, a revocation or the end of a
rotation's overlap applies to the next call, also on a connection opened
before it. The interceptor calls :meth:`Identity.authenticate`, which never
blocks the event loop: with a :class:`~gateway.registry_cache.CachedRegistry`
(as the server wires it) a known certificate's answer is remembered until the
registry next changes, and an unknown one is read in a worker thread.

TLS itself already refuses a client without a certificate, with one from
another CA or with an expired one (the handshake fails; see
``docs/onboarding.md``). What TLS accepts but the registry does not (an
unregistered, revoked, retired or expired certificate, or a suspended or
revoked institution) is refused here: :class:`Unauthenticated` with one
generic message for every reason, so that a caller learns nothing about the
registry; the reason goes to the gateway's log with the fingerprint, once:
this module logs every refusal it makes, and nothing else logs it again.

In development mode (``--insecure-dev``, plaintext on loopback) there are no
certificates: the caller is the ``x-institution`` header, else the
configured ``dev_institution``, with the role it is registered with, else
``lender``; the ``x-role`` header overrides the role (development only).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

from cryptography import x509

from gateway.api.caller import ROLE_HEADER, DevCallers, Unauthenticated
from gateway.api.errors import shown
from gateway.authz.roles import Caller, Role
from gateway.institutions import Status, fingerprint, refusal
from gateway.registry_cache import CachedRegistry, Found, Standing
from gateway.store.base import InstitutionStore

__all__ = ["NOT_AUTHENTICATED", "ROLE_HEADER", "Identity"]

log = logging.getLogger(__name__)

#: Development mode only: the role the call acts in.
#: What a refused caller is told, whatever the reason (the log has the reason).
NOT_AUTHENTICATED: Final = (
    "not authenticated: the client certificate is not registered with this gateway or no "
    "longer valid; ask the gateway's operator"
)
_FINGERPRINTS_CACHED = 1024


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Identity:
    """Resolves each call's :class:`Caller` (mutual TLS, or development headers)."""

    def __init__(
        self,
        registry: InstitutionStore | None,
        *,
        insecure_dev: bool,
        dev_institution: str = "dev-bank",
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if not insecure_dev and registry is None:
            raise ValueError("mutual TLS needs the institutions registry")
        self._registry = registry
        self._dev = DevCallers(dev_institution) if insecure_dev else None
        self._clock = clock
        # PEM of a connection's certificate -> its fingerprint (parsing costs more than
        # the lookup). The registry's answers are remembered by a CachedRegistry only,
        # which forgets them at every change.
        self._fingerprints: dict[bytes, bytes] = {}

    @property
    def insecure_dev(self) -> bool:
        return self._dev is not None

    async def authenticate(self, context: Any, rpc: str = "") -> Caller:
        """:meth:`resolve` without blocking the event loop (the interceptor's resolver):
        the registry's answer comes from the cache, or from a worker thread."""
        if self._dev is not None:
            name = self._dev_institution(context, rpc)
            standing = None
            if self._registry is not None:
                standing = await self._standing_off_loop(self._registry, name)
            return self._dev_caller(context, rpc, name, standing)
        assert self._registry is not None
        sha256 = self._peer_fingerprint(context, rpc)
        found = await self._found_off_loop(self._registry, sha256)
        return self._caller(context, rpc, sha256, found)

    @staticmethod
    async def _found_off_loop(registry: InstitutionStore, sha256: bytes) -> Found | None:
        if isinstance(registry, CachedRegistry):
            known, found = registry.remembered_fingerprint(sha256)
            if known:
                return found
        return await asyncio.to_thread(registry.by_fingerprint, sha256)

    @staticmethod
    async def _standing_off_loop(registry: InstitutionStore, name: str) -> Standing | None:
        if isinstance(registry, CachedRegistry):
            known, standing = registry.remembered_standing(name)
            if known:
                return standing
        return await asyncio.to_thread(registry.standing, name)

    def resolve(self, context: Any, rpc: str = "") -> Caller:
        """The caller of the call ``context``; raises :class:`Unauthenticated`.

        Blocks while the registry is read (for threads and tests; the server uses
        :meth:`authenticate`). ``rpc`` (the full method name, if the caller knows
        it) goes into the log.
        """
        if self._dev is not None:
            name = self._dev_institution(context, rpc)
            standing = self._registry.standing(name) if self._registry is not None else None
            return self._dev_caller(context, rpc, name, standing)
        assert self._registry is not None
        sha256 = self._peer_fingerprint(context, rpc)
        return self._caller(context, rpc, sha256, self._registry.by_fingerprint(sha256))

    def institution(self, context: Any) -> str:
        """The institution of the call (what the servicers record as the submitter)."""
        return self.resolve(context).institution

    def _caller(self, context: Any, rpc: str, sha256: bytes, found: Found | None) -> Caller:
        """The caller the registry's answer ``found`` for ``sha256`` names, or refused."""
        if found is None:
            self._refuse(context, sha256, "certificate not registered", rpc)
        name, role, status, certificate = found
        reason = refusal(status, certificate, self._clock())
        if reason is not None:
            self._refuse(context, sha256, f"{reason} (institution {name})", rpc)
        return Caller(institution=name, role=role)

    def _peer_fingerprint(self, context: Any, rpc: str) -> bytes:
        pems: list[bytes] = list((context.auth_context() or {}).get("x509_pem_cert") or [])
        if not pems:
            self._refuse(context, b"", "no client certificate", rpc)
        pem = bytes(pems[0])
        sha256 = self._fingerprints.get(pem)
        if sha256 is None:
            try:
                sha256 = fingerprint(x509.load_pem_x509_certificate(pem))
            except ValueError:
                self._refuse(context, b"", "unreadable client certificate", rpc)
            if len(self._fingerprints) >= _FINGERPRINTS_CACHED:
                self._fingerprints.clear()
            self._fingerprints[pem] = sha256
        return sha256

    def _refuse(self, context: Any, sha256: bytes, reason: str, rpc: str) -> NoReturn:
        self._log_refusal(context, sha256, reason, rpc)
        raise Unauthenticated(NOT_AUTHENTICATED)

    @staticmethod
    def _log_refusal(context: Any, sha256: bytes, reason: str, rpc: str) -> None:
        """The one log line of a refused call (the interceptor does not log it again)."""
        peer = context.peer() if hasattr(context, "peer") else "?"
        log.warning(
            "unauthenticated call%s from %s refused: %s (certificate sha256 %s)",
            f" to {rpc}" if rpc else "",
            peer,
            shown(reason),
            sha256.hex() or "-",
        )

    def _dev_institution(self, context: Any, rpc: str) -> str:
        assert self._dev is not None
        try:
            return self._dev.institution(context)
        except Unauthenticated as exc:
            self._log_refusal(context, b"", exc.message, rpc)
            raise

    def _dev_caller(self, context: Any, rpc: str, name: str, standing: Standing | None) -> Caller:
        assert self._dev is not None
        role = Role.LENDER
        if standing is not None:
            role, status = standing
            if status is not Status.ACTIVE:
                self._refuse(context, b"", f"institution {name} {status.value}", rpc)
        try:
            chosen = self._dev.role(context)
        except Unauthenticated as exc:
            self._log_refusal(context, b"", exc.message, rpc)
            raise
        return Caller(institution=name, role=chosen or role)
