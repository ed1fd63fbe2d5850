"""Institutions registered as ``gateway admin`` would: each with a client certificate
issued by the test PKI, in a registry the gateway takes callers' roles from.

For the service tests on the real server (tests/unit/gateway/api): the certificates
are issued once per module, the registry is made anew for each test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from gateway.authz.roles import Role
from gateway.institutions import registered_certificate
from gateway.store.institutions import SqlInstitutions
from gateway.store.sql import SqlStore
from notary.client_certs import issue_client_certificate
from notary.pki import pki_paths


def issue_certificates(pki: Path, who: Mapping[str, Role]) -> dict[str, bytes]:
    """A client certificate (PEM) for each institution, with its role, valid 30 days."""
    return {
        name: issue_client_certificate(pki, name, role.value, days=30).pem
        for name, role in who.items()
    }


@contextmanager
def registered_institutions(
    pki: Path, who: Mapping[str, Role], certificates: Mapping[str, bytes]
) -> Iterator[SqlInstitutions]:
    """A registry (SQLite in memory) holding each institution of ``who``, active, with
    its certificate; closed on leaving."""
    store = SqlStore.open("sqlite://")
    registry = SqlInstitutions(store)
    roots = [x509.load_pem_x509_certificate(pki_paths(pki).root.read_bytes())]
    now = datetime.now(UTC)
    for name, role in who.items():
        registered = registered_certificate(certificates[name], name, roots, now)
        registry.create(name, role, registered, now)
    try:
        yield registry
    finally:
        store.close()


def as_institution(name: str) -> tuple[tuple[str, str], ...]:
    """The development header naming the caller; its role comes from the registry."""
    return (("x-institution", name),)
