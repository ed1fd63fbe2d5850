"""The institutions registry on the SQL store (SQLite and PostgreSQL).

:class:`SqlInstitutions` implements :class:`gateway.store.base.InstitutionStore`
over the tables ``institutions`` and ``institution_certificates``
(:mod:`gateway.store.tables`). Every change is one transaction through the
store's writer lock; the lookup by fingerprint is one primary-key search
joined to the institution's row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, update

from gateway.authz.roles import Role
from gateway.errors import AlreadyExists, NotFound, Unavailable
from gateway.institutions import Institution, RegisteredCertificate, Status
from gateway.store.base import StoreError
from gateway.store.sql import SqlStore, from_us, to_us
from gateway.store.tables import InstitutionCertificateRow, InstitutionRow, metadata

__all__ = ["SqlInstitutions"]

_INSTITUTIONS = metadata.tables[str(InstitutionRow.__tablename__)]
_CERTIFICATES = metadata.tables[str(InstitutionCertificateRow.__tablename__)]
_MAX_LIST = 1000
T = TypeVar("T")


def _certificate(m: Any) -> RegisteredCertificate:
    revoked = m["revoked_at_us"]
    return RegisteredCertificate(
        sha256=bytes(m["sha256"]),
        institution=m["institution"],
        subject=m["subject"],
        serial=m["serial"],
        not_before=from_us(m["not_before_us"]),
        not_after=from_us(m["not_after_us"]),
        valid_until=from_us(m["valid_until_us"]),
        added_at=from_us(m["added_at_us"]),
        revoked_at=None if revoked is None else from_us(revoked),
    )


def _certificate_row(c: RegisteredCertificate) -> dict[str, Any]:
    return {
        "sha256": c.sha256,
        "institution": c.institution,
        "subject": c.subject,
        "serial": c.serial,
        "not_before_us": to_us(c.not_before),
        "not_after_us": to_us(c.not_after),
        "valid_until_us": to_us(c.valid_until),
        "added_at_us": to_us(c.added_at),
        "revoked_at_us": None if c.revoked_at is None else to_us(c.revoked_at),
    }


def _load(conn: Any, names: list[str]) -> list[Institution]:
    """The institutions named, with their certificates, in the order of ``names``."""
    if not names:
        return []
    rows = {
        r._mapping["name"]: r._mapping
        for r in conn.execute(select(_INSTITUTIONS).where(_INSTITUTIONS.c.name.in_(names)))
    }
    certs: dict[str, list[RegisteredCertificate]] = {}
    stmt = (
        select(_CERTIFICATES)
        .where(_CERTIFICATES.c.institution.in_(names))
        .order_by(_CERTIFICATES.c.added_at_us, _CERTIFICATES.c.sha256)
    )
    for r in conn.execute(stmt):
        c = _certificate(r._mapping)
        certs.setdefault(c.institution, []).append(c)
    return [
        Institution(
            name=m["name"],
            role=Role(m["role"]),
            status=Status(m["status"]),
            created_at=from_us(m["created_at_us"]),
            updated_at=from_us(m["updated_at_us"]),
            certificates=tuple(certs.get(name, ())),
        )
        for name in names
        if (m := rows.get(name)) is not None
    ]


def _one(conn: Any, name: str) -> Institution:
    found = _load(conn, [name])
    if not found:
        raise NotFound(f"no institution named {name!r} is registered")
    return found[0]


def _fingerprint_taken(conn: Any, sha256: bytes) -> None:
    if conn.execute(
        select(_CERTIFICATES.c.institution).where(_CERTIFICATES.c.sha256 == sha256)
    ).first():
        raise AlreadyExists(
            "this certificate is already registered (certificates are never reused): "
            "issue a new one"
        )


class SqlInstitutions:
    """:class:`gateway.store.base.InstitutionStore` on a :class:`SqlStore`."""

    def __init__(self, store: SqlStore) -> None:
        self._sql = store

    def _read(self, fn: Callable[[Any], T]) -> T:
        try:
            return self._sql.read(fn)
        except StoreError as exc:
            raise Unavailable(f"the institutions registry is unavailable ({exc}); retry") from exc

    def _write(self, fn: Callable[[Any], T]) -> T:
        try:
            return self._sql.write(fn)
        except StoreError as exc:
            raise Unavailable(f"the institutions registry is unavailable ({exc}); retry") from exc

    def create(
        self, name: str, role: Role, certificate: RegisteredCertificate, now: datetime
    ) -> Institution:
        def write(conn: Any) -> Institution:
            c = _INSTITUTIONS.c
            if conn.execute(select(c.name).where(c.name == name)).first():
                raise AlreadyExists(f"an institution named {name!r} is already registered")
            _fingerprint_taken(conn, certificate.sha256)
            conn.execute(
                _INSTITUTIONS.insert().values(
                    name=name,
                    role=role.value,
                    status=Status.ACTIVE.value,
                    created_at_us=to_us(now),
                    updated_at_us=to_us(now),
                )
            )
            conn.execute(_CERTIFICATES.insert().values(**_certificate_row(certificate)))
            return _one(conn, name)

        return self._write(write)

    def get(self, name: str) -> Institution | None:
        found = self._read(lambda conn: _load(conn, [name]))
        return found[0] if found else None

    def list(self, after: str, limit: int) -> list[Institution]:
        limit = max(1, min(limit, _MAX_LIST))

        def read(conn: Any) -> list[Institution]:
            c = _INSTITUTIONS.c
            stmt = select(c.name).where(c.name > after).order_by(c.name).limit(limit)
            return _load(conn, [r[0] for r in conn.execute(stmt)])

        return self._read(read)

    def set_status(self, name: str, status: Status, now: datetime) -> Institution:
        def write(conn: Any) -> Institution:
            current = _one(conn, name)
            if current.status is Status.REVOKED and status is not Status.REVOKED:
                raise AlreadyExists(
                    f"institution {name!r} is revoked, which is final: register it anew "
                    "under another name"
                )
            conn.execute(
                update(_INSTITUTIONS)
                .where(_INSTITUTIONS.c.name == name)
                .values(status=status.value, updated_at_us=to_us(now))
            )
            if status is Status.REVOKED:
                cc = _CERTIFICATES.c
                conn.execute(
                    update(_CERTIFICATES)
                    .where(cc.institution == name, cc.revoked_at_us.is_(None))
                    .values(revoked_at_us=to_us(now))
                )
            return _one(conn, name)

        return self._write(write)

    def add_certificate(
        self, certificate: RegisteredCertificate, retire_others_at: datetime | None
    ) -> Institution:
        name = certificate.institution

        def write(conn: Any) -> Institution:
            current = _one(conn, name)
            if current.status is Status.REVOKED:
                raise AlreadyExists(f"institution {name!r} is revoked, which is final")
            _fingerprint_taken(conn, certificate.sha256)
            if retire_others_at is not None:
                cc = _CERTIFICATES.c
                until = to_us(retire_others_at)
                conn.execute(
                    update(_CERTIFICATES)
                    .where(cc.institution == name, cc.valid_until_us > until)
                    .values(valid_until_us=until)
                )
            conn.execute(_CERTIFICATES.insert().values(**_certificate_row(certificate)))
            conn.execute(
                update(_INSTITUTIONS)
                .where(_INSTITUTIONS.c.name == name)
                .values(updated_at_us=to_us(certificate.added_at))
            )
            return _one(conn, name)

        return self._write(write)

    def revoke_certificate(self, name: str, sha256: bytes, now: datetime) -> Institution:
        def write(conn: Any) -> Institution:
            _one(conn, name)
            cc = _CERTIFICATES.c
            found = conn.execute(
                select(cc.revoked_at_us).where(cc.sha256 == sha256, cc.institution == name)
            ).first()
            if found is None:
                raise NotFound(f"institution {name!r} has no certificate with that fingerprint")
            if found[0] is None:
                conn.execute(
                    update(_CERTIFICATES)
                    .where(cc.sha256 == sha256)
                    .values(revoked_at_us=to_us(now))
                )
                conn.execute(
                    update(_INSTITUTIONS)
                    .where(_INSTITUTIONS.c.name == name)
                    .values(updated_at_us=to_us(now))
                )
            return _one(conn, name)

        return self._write(write)

    def standing(self, name: str) -> tuple[Role, Status] | None:
        c = _INSTITUTIONS.c
        stmt = select(c.role, c.status).where(c.name == name)
        rows = self._read(lambda conn: list(conn.execute(stmt)))
        return (Role(rows[0][0]), Status(rows[0][1])) if rows else None

    def by_fingerprint(
        self, sha256: bytes
    ) -> tuple[str, Role, Status, RegisteredCertificate] | None:
        stmt = (
            select(_CERTIFICATES, _INSTITUTIONS.c.role, _INSTITUTIONS.c.status)
            .join(_INSTITUTIONS, _INSTITUTIONS.c.name == _CERTIFICATES.c.institution)
            .where(_CERTIFICATES.c.sha256 == sha256)
        )
        rows = self._read(lambda conn: list(conn.execute(stmt)))
        if not rows:
            return None
        m = rows[0]._mapping
        cert = _certificate(m)
        return cert.institution, Role(m["role"]), Status(m["status"]), cert
