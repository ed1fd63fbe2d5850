"""The institutions registry as the gateway reads it on every call: remembered, and
forgotten at every change.

The identity (:mod:`gateway.api.identity`) looks every call's certificate up in
the registry, and a read of the store blocks (PostgreSQL across a network, or
any store under load). :class:`CachedRegistry` sits in front of the store and
remembers each answer by fingerprint (and, in development mode, by name), so a
known caller costs no query; the identity reads the store in a worker thread
when the answer is not remembered, never on the event loop.

"Changes take effect on the next call" stays true: every change goes through
this object (the AdminService's registrations, suspensions, reinstatements,
revocations, added and revoked certificates), and each one forgets everything
remembered once the store has committed it. Nothing else changes the registry:
one gateway serves a store (:mod:`gateway.writer_lock`, :mod:`gateway.store.lock`)
and registers the operator before it serves. A lookup that began before a change
and ends after it is not remembered (a generation counter), so a stale answer
never outlives the change that made it stale. What depends on the time (a
certificate's expiry, the end of a rotation's overlap) is judged at each call
from the remembered certificate (:func:`gateway.institutions.refusal`), so it is
not remembered either. A failed read (the store is down) is not remembered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Final, TypeVar

from gateway.authz.roles import Role
from gateway.institutions import Institution, RegisteredCertificate, Status
from gateway.store.base import InstitutionStore

__all__ = ["CachedRegistry", "Found", "Standing"]

#: What the registry says of a fingerprint: (institution, role, status, certificate).
Found = tuple[str, Role, Status, RegisteredCertificate]
#: What it says of a name: (role, status).
Standing = tuple[Role, Status]

#: Answers remembered at most (of each kind); beyond, all are forgotten at once.
MAX_REMEMBERED: Final = 4096
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


class CachedRegistry:
    """An :class:`~gateway.store.base.InstitutionStore` that remembers the lookups of
    every call and forgets them at every change made through it (thread-safe)."""

    def __init__(self, store: InstitutionStore, max_remembered: int = MAX_REMEMBERED) -> None:
        self._store = store
        self._max = max_remembered
        self._lock = threading.Lock()
        self._generation = 0
        self._fingerprints: dict[bytes, Found | None] = {}
        self._standings: dict[str, Standing | None] = {}

    # ---------------------------------------------------------------- remembered reads

    def remembered_fingerprint(self, sha256: bytes) -> tuple[bool, Found | None]:
        """``(True, answer)`` when the answer for ``sha256`` is remembered, else
        ``(False, None)``; never reads the store (safe on the event loop)."""
        with self._lock:
            if sha256 in self._fingerprints:
                return True, self._fingerprints[sha256]
        return False, None

    def remembered_standing(self, name: str) -> tuple[bool, Standing | None]:
        """As :meth:`remembered_fingerprint`, for the standing of the institution ``name``."""
        with self._lock:
            if name in self._standings:
                return True, self._standings[name]
        return False, None

    def by_fingerprint(self, sha256: bytes) -> Found | None:
        return self._remember(self._fingerprints, sha256, self._store.by_fingerprint)

    def standing(self, name: str) -> Standing | None:
        return self._remember(self._standings, name, self._store.standing)

    def _remember(self, memory: dict[K, V], key: K, read: Callable[[K], V]) -> V:
        with self._lock:
            if key in memory:
                return memory[key]
            generation = self._generation
        value = read(key)  # blocking: a worker thread's job
        with self._lock:
            if generation == self._generation:  # no change since the read began
                if len(memory) >= self._max:
                    memory.clear()
                memory[key] = value
        return value

    def _forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._fingerprints.clear()
            self._standings.clear()

    def _change(self, write: Callable[[], T]) -> T:
        """Run a change of the store, then forget everything (also when it failed:
        it may have committed before failing)."""
        try:
            return write()
        finally:
            self._forget()

    # ---------------------------------------------------------------- reads not remembered

    def get(self, name: str) -> Institution | None:
        return self._store.get(name)

    def list(self, after: str, limit: int) -> list[Institution]:
        return self._store.list(after, limit)

    # ---------------------------------------------------------------- changes

    def create(
        self, name: str, role: Role, certificate: RegisteredCertificate, now: datetime
    ) -> Institution:
        return self._change(lambda: self._store.create(name, role, certificate, now))

    def set_status(self, name: str, status: Status, now: datetime) -> Institution:
        return self._change(lambda: self._store.set_status(name, status, now))

    def add_certificate(
        self, certificate: RegisteredCertificate, retire_others_at: datetime | None
    ) -> Institution:
        return self._change(lambda: self._store.add_certificate(certificate, retire_others_at))

    def revoke_certificate(self, name: str, sha256: bytes, now: datetime) -> Institution:
        return self._change(lambda: self._store.revoke_certificate(name, sha256, now))
