"""Institutions registry checks shared by the SQLite unit tests and the PostgreSQL test.

Each ``case_*`` function takes a fresh, empty :class:`SqlStore` and asserts one
behaviour of :class:`gateway.store.institutions.SqlInstitutions`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from gateway.authz.roles import Role
from gateway.errors import AlreadyExists, NotFound
from gateway.institutions import RegisteredCertificate, Status, refusal
from gateway.store.institutions import SqlInstitutions
from gateway.store.sql import SqlStore
from tests.support.read_path import Statement, captured

T0 = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)


def certificate(name: str, tag: str, *, days: int = 365) -> RegisteredCertificate:
    return RegisteredCertificate(
        sha256=hashlib.sha256(f"{name}/{tag}".encode()).digest(),
        institution=name,
        subject=f"CN={name},OU=中文",
        serial=hashlib.sha256(tag.encode()).hexdigest()[:40],
        not_before=T0 - timedelta(minutes=5),
        not_after=T0 + timedelta(days=days),
        valid_until=T0 + timedelta(days=days),
        added_at=T0,
    )


def case_register_and_look_up(store: SqlStore) -> None:
    registry = SqlInstitutions(store)
    cert = certificate("bank-a", "1")
    made = registry.create("bank-a", Role.LENDER, cert, T0)
    assert made.status is Status.ACTIVE and made.role is Role.LENDER
    assert made.certificates == (cert,)  # every field round-trips, times to the microsecond
    assert registry.get("bank-a") == made
    assert registry.get("bank-b") is None
    assert registry.by_fingerprint(cert.sha256) == ("bank-a", Role.LENDER, Status.ACTIVE, cert)
    assert registry.by_fingerprint(b"\x00" * 32) is None
    assert registry.standing("bank-a") == (Role.LENDER, Status.ACTIVE)
    assert registry.standing("bank-b") is None


def case_names_and_fingerprints_are_unique(store: SqlStore) -> None:
    registry = SqlInstitutions(store)
    cert = certificate("bank-a", "1")
    registry.create("bank-a", Role.LENDER, cert, T0)
    with pytest.raises(AlreadyExists, match="named 'bank-a'"):
        registry.create("bank-a", Role.COURT, certificate("bank-a", "2"), T0)
    with pytest.raises(AlreadyExists, match="already registered"):
        registry.create("bank-b", Role.LENDER, cert, T0)
    assert registry.get("bank-b") is None  # the refused registration left nothing
    assert registry.get("bank-a").role is Role.LENDER  # type: ignore[union-attr]


def case_status_changes_and_revocation_is_final(store: SqlStore) -> None:
    registry = SqlInstitutions(store)
    cert = certificate("bank-a", "1")
    registry.create("bank-a", Role.LENDER, cert, T0)
    later = T0 + timedelta(hours=1)
    assert registry.set_status("bank-a", Status.SUSPENDED, later).status is Status.SUSPENDED
    found = registry.by_fingerprint(cert.sha256)
    assert found is not None and refusal(found[2], found[3], later) == "institution suspended"
    assert registry.set_status("bank-a", Status.ACTIVE, later).status is Status.ACTIVE
    revoked = registry.set_status("bank-a", Status.REVOKED, later)
    assert revoked.status is Status.REVOKED
    assert [c.revoked_at for c in revoked.certificates] == [later]
    with pytest.raises(AlreadyExists, match="final"):
        registry.set_status("bank-a", Status.ACTIVE, later)
    with pytest.raises(NotFound):
        registry.set_status("bank-z", Status.SUSPENDED, later)


def case_rotation_retires_the_others_after_the_overlap(store: SqlStore) -> None:
    registry = SqlInstitutions(store)
    old = certificate("bank-a", "1")
    registry.create("bank-a", Role.LENDER, old, T0)
    new = certificate("bank-a", "2")
    end = T0 + timedelta(hours=24)
    rotated = registry.add_certificate(new, end)
    by_fp = {c.sha256: c for c in rotated.certificates}
    assert by_fp[old.sha256].valid_until == end and by_fp[new.sha256] == new
    assert by_fp[old.sha256].counts(end - timedelta(seconds=1))
    assert not by_fp[old.sha256].counts(end)
    assert by_fp[new.sha256].counts(end)
    with pytest.raises(AlreadyExists):
        registry.add_certificate(new, None)
    with pytest.raises(NotFound):
        registry.add_certificate(certificate("bank-z", "1"), None)


def case_revoking_one_certificate(store: SqlStore) -> None:
    registry = SqlInstitutions(store)
    first, second = certificate("bank-a", "1"), certificate("bank-a", "2")
    registry.create("bank-a", Role.LENDER, first, T0)
    registry.add_certificate(second, None)
    later = T0 + timedelta(minutes=1)
    after = registry.revoke_certificate("bank-a", first.sha256, later)
    states = {c.sha256: c.refusal(later) for c in after.certificates}
    assert states == {
        first.sha256: f"certificate revoked at {later.isoformat()}",
        second.sha256: None,
    }
    with pytest.raises(NotFound, match="no certificate"):
        registry.revoke_certificate("bank-a", b"\x07" * 32, later)
    registry.create("bank-b", Role.LENDER, certificate("bank-b", "1"), T0)
    with pytest.raises(NotFound, match="no certificate"):  # not another institution's
        registry.revoke_certificate("bank-b", second.sha256, later)


def case_list_pages_by_name(store: SqlStore) -> None:
    registry = SqlInstitutions(store)
    names = [f"inst-{i:02d}" for i in range(7)]
    for name in reversed(names):
        registry.create(name, Role.COURT, certificate(name, "1"), T0)
    first = registry.list("", 3)
    assert [i.name for i in first] == names[:3]
    rest = registry.list(first[-1].name, 10)
    assert [i.name for i in rest] == names[3:]
    assert all(len(i.certificates) == 1 for i in first + rest)


ALL_CASES: list[Callable[[SqlStore], None]] = [
    case_register_and_look_up,
    case_names_and_fingerprints_are_unique,
    case_status_changes_and_revocation_is_final,
    case_rotation_retires_the_others_after_the_overlap,
    case_revoking_one_certificate,
    case_list_pages_by_name,
]


REGISTRY_READS = frozenset({"by_fingerprint", "standing", "get", "list"})
REGISTRY_WRITES = frozenset({"create", "set_status", "add_certificate", "revoke_certificate"})


def registry_read_statements(store: SqlStore) -> list[Statement]:
    """Fill the registry (300 institutions, some with two certificates), then run every
    read of :class:`SqlInstitutions` on rows that exist and that do not; their SQL."""
    public = {n for n in dir(SqlInstitutions) if not n.startswith("_")}
    assert public == REGISTRY_READS | REGISTRY_WRITES, "add the new method to the plan check"
    registry = SqlInstitutions(store)
    for i in range(300):
        name = f"inst-{i:03d}"
        registry.create(name, Role.LENDER, certificate(name, "1"), T0)
        if i % 3 == 0:
            registry.add_certificate(certificate(name, "2"), None)
    with captured(store.engine) as statements:
        assert registry.by_fingerprint(certificate("inst-150", "2").sha256) is not None
        assert registry.by_fingerprint(b"\x00" * 32) is None
        assert registry.standing("inst-007") is not None
        assert registry.standing("nobody") is None
        assert registry.get("inst-201") is not None
        assert len(registry.list("inst-100", 20)) == 20
    return statements
