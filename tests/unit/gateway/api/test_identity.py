"""The caller of a call: the registered institution of its client certificate, every call."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from gateway.api.caller import Unauthenticated
from gateway.api.identity import NOT_AUTHENTICATED, Identity
from gateway.authz.roles import Caller, Role
from gateway.errors import Unavailable
from gateway.institutions import Status, registered_certificate
from gateway.registry_cache import CachedRegistry
from gateway.store.institutions import SqlInstitutions
from gateway.store.sql import SqlStore
from notary.client_certs import issue_client_certificate
from notary.pki import pki_paths
from tests.unit.gateway.api.conftest import Harness


@dataclass
class Context:
    """What the resolver reads of a grpc.aio ServicerContext."""

    pem: bytes | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    peer_address: str = "ipv4:127.0.0.1:40000"
    calls: list[str] = field(default_factory=list)

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_pem_cert": [self.pem]} if self.pem is not None else {}

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def peer(self) -> str:
        return self.peer_address


@pytest.fixture
def registry() -> Iterator[SqlInstitutions]:
    store = SqlStore.open("sqlite://")
    try:
        yield SqlInstitutions(store)
    finally:
        store.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _register(registry: SqlInstitutions, pki: Path, name: str, role: Role, now: datetime) -> bytes:
    issued = issue_client_certificate(pki, name, role.value, days=30)
    roots = [x509.load_pem_x509_certificate(pki_paths(pki).root.read_bytes())]
    registry.create(name, role, registered_certificate(issued.pem, name, roots, now), now)
    return issued.pem


def _refused(
    identity: Identity, context: Context, caplog: pytest.LogCaptureFixture, rpc: str = ""
) -> str:
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="gateway.api.identity"),
        pytest.raises(Unauthenticated) as info,
    ):
        identity.resolve(context, rpc)
    assert info.value.message == NOT_AUTHENTICATED  # the same words whatever the reason
    return caplog.text


def test_the_certificate_names_the_caller_and_headers_do_not(
    registry: SqlInstitutions, pki_p256: Path
) -> None:
    clock = Clock()
    pem = _register(registry, pki_p256, "court-1", Role.COURT, clock.now)
    identity = Identity(registry, insecure_dev=False, clock=clock)
    context = Context(pem, metadata=(("x-institution", "bank-a"), ("x-role", "admin")))
    assert identity.resolve(context) == Caller("court-1", Role.COURT)
    assert identity.institution(context) == "court-1"


def test_changes_apply_to_the_next_call(
    registry: SqlInstitutions, pki_p256: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    pem = _register(registry, pki_p256, "bank-a", Role.LENDER, clock.now)
    identity = Identity(registry, insecure_dev=False, clock=clock)
    context = Context(pem)
    assert identity.resolve(context).institution == "bank-a"
    registry.set_status("bank-a", Status.SUSPENDED, clock.now)
    assert "institution suspended (institution bank-a)" in _refused(identity, context, caplog)
    registry.set_status("bank-a", Status.ACTIVE, clock.now)
    assert identity.resolve(context).institution == "bank-a"
    registry.set_status("bank-a", Status.REVOKED, clock.now)
    assert "institution revoked" in _refused(identity, context, caplog)


def test_expiry_and_rotation_count_on_an_open_connection(
    registry: SqlInstitutions, pki_p256: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # TLS checks the certificate when the connection opens only: the resolver checks
    # its validity at every call.
    clock = Clock()
    pem = _register(registry, pki_p256, "bank-a", Role.LENDER, clock.now)
    identity = Identity(registry, insecure_dev=False, clock=clock)
    context = Context(pem)
    clock.now += timedelta(days=31)
    assert "certificate expired at" in _refused(identity, context, caplog)
    clock.now -= timedelta(days=31)
    roots = [x509.load_pem_x509_certificate(pki_paths(pki_p256).root.read_bytes())]
    new = issue_client_certificate(pki_p256, "bank-a", "lender").pem
    registry.add_certificate(
        registered_certificate(new, "bank-a", roots, clock.now), clock.now + timedelta(hours=1)
    )
    assert identity.resolve(context).institution == "bank-a"  # within the overlap
    clock.now += timedelta(hours=1)
    assert "retired by a rotation" in _refused(identity, context, caplog)
    assert identity.resolve(Context(new)).institution == "bank-a"


def test_unknown_or_missing_certificates_are_refused_with_the_reason_logged(
    registry: SqlInstitutions, pki_p256: Path, caplog: pytest.LogCaptureFixture
) -> None:
    identity = Identity(registry, insecure_dev=False)
    stranger = issue_client_certificate(pki_p256, "bank-x", "lender")
    text = _refused(identity, Context(stranger.pem), caplog)
    assert f"certificate not registered (certificate sha256 {stranger.sha256.hex()})" in text
    assert "ipv4:127.0.0.1:40000" in text
    rpc = "/evidence_gateway.v1.LogService/GetCheckpoint"
    assert f"call to {rpc} from" in _refused(identity, Context(stranger.pem), caplog, rpc)
    assert "no client certificate" in _refused(identity, Context(None), caplog)
    garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert "unreadable client certificate" in _refused(identity, Context(garbage), caplog)


def test_development_mode_takes_headers_and_registered_roles(
    registry: SqlInstitutions, pki_p256: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _register(registry, pki_p256, "court-1", Role.COURT, datetime.now(UTC))
    identity = Identity(registry, insecure_dev=True, dev_institution="dev-bank")
    assert identity.resolve(Context()) == Caller("dev-bank", Role.LENDER)
    assert identity.resolve(Context(metadata=(("x-institution", "court-1"),))) == Caller(
        "court-1", Role.COURT
    )
    assert identity.resolve(Context(metadata=(("x-role", "regulator"),))) == Caller(
        "dev-bank", Role.REGULATOR
    )
    with pytest.raises(Unauthenticated, match="x-role header names no role"):
        identity.resolve(Context(metadata=(("x-role", "root"),)))
    registry.set_status("court-1", Status.SUSPENDED, datetime.now(UTC))
    _refused(identity, Context(metadata=(("x-institution", "court-1"),)), caplog)


def test_mutual_tls_needs_the_registry() -> None:
    with pytest.raises(ValueError, match="registry"):
        Identity(None, insecure_dev=False)


def test_a_registry_that_fails_makes_the_call_unavailable(pki_p256: Path) -> None:
    store = SqlStore.open("sqlite://")
    try:
        registry = SqlInstitutions(store)
        pem = _register(registry, pki_p256, "bank-a", Role.LENDER, datetime.now(UTC))
        identity = Identity(registry, insecure_dev=False)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE institution_certificates")
        with pytest.raises(Unavailable, match="institutions registry is unavailable") as info:
            identity.resolve(Context(pem))
        assert "SELECT" not in info.value.message  # the SQL stays in the log
    finally:
        store.close()


class Watched(SqlInstitutions):
    """The registry on SQL, noting the thread of each lookup a call makes; ``during``
    runs inside the next lookup, after its read (a change racing the lookup)."""

    def __init__(self, store: SqlStore) -> None:
        super().__init__(store)
        self.threads: list[int] = []
        self.during: Callable[[], None] | None = None

    def _noted(self) -> None:
        self.threads.append(threading.get_ident())

    def by_fingerprint(self, sha256: bytes) -> Any:
        self._noted()
        found = super().by_fingerprint(sha256)
        during, self.during = self.during, None
        if during is not None:
            during()
        return found

    def standing(self, name: str) -> Any:
        self._noted()
        return super().standing(name)


@pytest.fixture
def watched() -> Iterator[Watched]:
    store = SqlStore.open("sqlite://")
    try:
        yield Watched(store)
    finally:
        store.close()


def test_a_known_certificate_is_remembered_until_the_registry_changes(
    watched: Watched, pki_p256: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    pem = _register(watched, pki_p256, "bank-a", Role.LENDER, clock.now)
    cached = CachedRegistry(watched)
    identity = Identity(cached, insecure_dev=False, clock=clock)

    async def calls(n: int) -> tuple[int, list[Caller]]:
        return threading.get_ident(), [await identity.authenticate(Context(pem)) for _ in range(n)]

    loop_thread, callers = asyncio.run(calls(3))
    assert callers == [Caller("bank-a", Role.LENDER)] * 3
    assert len(watched.threads) == 1  # one read of the store for three calls ...
    assert loop_thread not in watched.threads  # ... in a worker thread, not on the loop
    cached.set_status("bank-a", Status.SUSPENDED, clock.now)  # as AdminService does
    with caplog.at_level(logging.WARNING), pytest.raises(Unauthenticated):
        asyncio.run(identity.authenticate(Context(pem)))
    assert "institution suspended (institution bank-a)" in caplog.text
    assert len(watched.threads) == 2
    cached.set_status("bank-a", Status.ACTIVE, clock.now)
    assert asyncio.run(calls(1))[1] == [Caller("bank-a", Role.LENDER)]
    clock.now += timedelta(days=31)  # time is judged at every call, remembered or not
    with pytest.raises(Unauthenticated):
        asyncio.run(identity.authenticate(Context(pem)))
    assert len(watched.threads) == 3


def test_a_lookup_that_races_a_change_is_not_remembered(watched: Watched, pki_p256: Path) -> None:
    clock = Clock()
    pem = _register(watched, pki_p256, "bank-a", Role.LENDER, clock.now)
    cached = CachedRegistry(watched)
    identity = Identity(cached, insecure_dev=False, clock=clock)
    # The lookup reads "active"; the revocation commits before the lookup ends.
    watched.during = lambda: cached.set_status("bank-a", Status.REVOKED, clock.now)
    assert asyncio.run(identity.authenticate(Context(pem))).institution == "bank-a"
    with pytest.raises(Unauthenticated):  # the stale answer was not kept
        asyncio.run(identity.authenticate(Context(pem)))


def test_the_server_reads_the_registry_off_its_loop_and_logs_a_refusal_once(
    watched: Watched,
    pki_p256: Path,
    start_harness: Callable[..., Harness],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import grpc

    from evidence_gateway.v1 import log_service_pb2 as lg

    _register(watched, pki_p256, "court-1", Role.COURT, datetime.now(UTC))
    h = start_harness(registry=watched)

    async def loop_thread() -> int:
        return threading.get_ident()

    as_court = (("x-institution", "court-1"),)
    for _ in range(3):
        h.log.GetCheckpoint(lg.GetCheckpointRequest(), metadata=as_court, timeout=10)
    assert len(watched.threads) == 1 and h.run(loop_thread()) not in watched.threads
    assert h.server.registry is not None
    h.server.registry.set_status("court-1", Status.SUSPENDED, datetime.now(UTC))
    caplog.clear()
    with caplog.at_level(logging.WARNING), pytest.raises(grpc.RpcError) as info:
        h.log.GetCheckpoint(lg.GetCheckpointRequest(), metadata=as_court, timeout=10)
    assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1, refusals  # logged once, by the identity
    assert "to /evidence_gateway.v1.LogService/GetCheckpoint" in refusals[0]
    assert "institution court-1 suspended" in refusals[0]
