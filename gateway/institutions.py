"""The institutions registry's rules, pure: who is registered, and when a certificate counts.

An institution has a name (the id its records carry), one role
(:class:`gateway.authz.roles.Role`) and a status. It is known by the SHA-256
fingerprints of its client certificates; each registered certificate counts
from its notBefore until ``valid_until`` (its notAfter, or the end of the
overlap after a rotation) unless revoked. A call is accepted when its
certificate counts *and* its institution is active; :func:`refusal` says why
not, for the gateway's log (the caller only learns that it is not
authenticated).

The gateway judges every call against the registry (its answers remembered
only until the next change: :mod:`gateway.registry_cache`), so a change (a
suspension, a revocation, a rotation's end) applies to the next call, also on
a connection that was opened before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.authz.roles import Role
from gateway.errors import InvalidArgument
from gateway.model import validate_institution

__all__ = [
    "MAX_CERTIFICATE_BYTES",
    "MAX_ROTATION_OVERLAP",
    "Institution",
    "RegisteredCertificate",
    "Status",
    "fingerprint",
    "parse_role",
    "refusal",
    "registered_certificate",
    "validate_name",
]

#: Registration requests carry at most this much certificate (PEM or DER).
MAX_CERTIFICATE_BYTES: Final = 16 * 1024
#: A rotated-out certificate counts at most this long after the rotation.
MAX_ROTATION_OVERLAP: Final = timedelta(days=90)
#: An error shows at most this much of a certificate's common name.
MAX_NAME_SHOWN: Final = 64


class Status(StrEnum):
    """An institution's standing: active, suspended (reversible) or revoked (final)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


@dataclass(frozen=True)
class RegisteredCertificate:
    """A client certificate an institution is known by."""

    sha256: bytes
    institution: str
    subject: str  # RFC 4514
    serial: str  # lowercase hex
    not_before: datetime
    not_after: datetime
    valid_until: datetime  # not_after, or the end of a rotation's overlap
    added_at: datetime
    revoked_at: datetime | None = None

    def refusal(self, now: datetime) -> str | None:
        """Why this certificate does not count at ``now``, or ``None`` when it does."""
        if self.revoked_at is not None:
            return f"certificate revoked at {self.revoked_at.isoformat()}"
        if now < self.not_before:
            return f"certificate not valid before {self.not_before.isoformat()}"
        if now >= self.not_after:
            return f"certificate expired at {self.not_after.isoformat()}"
        if now >= self.valid_until:
            return f"certificate retired by a rotation at {self.valid_until.isoformat()}"
        return None

    def counts(self, now: datetime) -> bool:
        return self.refusal(now) is None


@dataclass(frozen=True)
class Institution:
    """A registered institution and its certificates (oldest first)."""

    name: str
    role: Role
    status: Status
    created_at: datetime
    updated_at: datetime
    certificates: tuple[RegisteredCertificate, ...] = ()


def refusal(status: Status, certificate: RegisteredCertificate, now: datetime) -> str | None:
    """Why a call with ``certificate`` of an institution in ``status`` is refused, or ``None``."""
    if status is not Status.ACTIVE:
        return f"institution {status.value}"
    return certificate.refusal(now)


def fingerprint(certificate: x509.Certificate) -> bytes:
    """The SHA-256 fingerprint of the certificate's DER encoding."""
    return certificate.fingerprint(hashes.SHA256())


def validate_name(name: str, field: str = "name") -> None:
    """Raise INVALID_ARGUMENT unless ``name`` is an institution id."""
    problems = validate_institution(name, field)
    if problems:
        raise InvalidArgument(problems)


def parse_role(value: str, field: str = "role") -> Role:
    """The role named ``value``; INVALID_ARGUMENT naming the roles otherwise."""
    try:
        return Role(value)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InvalidArgument([(field, f"must be one of {roles}")]) from None


def _load(data: bytes, field: str) -> x509.Certificate:
    if not data:
        raise InvalidArgument([(field, "is required (the client certificate, PEM or DER)")])
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise InvalidArgument(
            [(field, f"must be at most {MAX_CERTIFICATE_BYTES:,} bytes, got {len(data):,}")]
        )
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            found = x509.load_pem_x509_certificates(data)
            if len(found) != 1:
                raise InvalidArgument([(field, f"must hold one certificate, got {len(found)}")])
            return found[0]
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise InvalidArgument([(field, "is not an X.509 certificate (PEM or DER)")]) from None


def _check_common_name(cert: x509.Certificate, institution: str, field: str) -> None:
    """The subject must hold one common name (CN), the institution's name: the
    certificate then says whom it was issued for, and one issued for another
    institution (a mix-up of files) is not registered under this one."""
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names == [institution]:
        return
    if not names:
        found = "has no common name (CN) in its subject"
    elif len(names) > 1:
        found = f"has {len(names)} common names (CN) in its subject"
    else:
        found = f"is issued for CN={str(names[0])[:MAX_NAME_SHOWN]!r}"
    raise InvalidArgument(
        [(field, f"{found}; its subject's CN must be the institution's name, {institution}")]
    )


def registered_certificate(
    data: bytes,
    institution: str,
    client_cas: Sequence[x509.Certificate],
    now: datetime,
    field: str = "certificate",
) -> RegisteredCertificate:
    """Check a client certificate for registration and describe it.

    It must be issued directly by one of ``client_cas`` (the CAs whose
    certificates the gateway's TLS accepts: anything else could never
    connect), be an end-entity certificate allowed for TLS client
    authentication, be valid now, and name the institution as its subject's
    common name (``CN=<institution>``, as ``notary institution add`` issues it).
    """
    cert = _load(data, field)
    issuer = None
    for ca in client_cas:
        if ca.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        issuer = ca
        break
    if issuer is None:
        raise InvalidArgument(
            [(field, "is not issued by a client CA of this gateway ([tls] client_ca_files)")]
        )
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise InvalidArgument([(field, "is a CA certificate; register a client certificate")])
    except x509.ExtensionNotFound:
        pass
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
            raise InvalidArgument(
                [(field, "does not allow TLS client authentication (extended key usage)")]
            )
    except x509.ExtensionNotFound:
        pass
    if now >= cert.not_valid_after_utc:
        raise InvalidArgument([(field, f"expired at {cert.not_valid_after_utc.isoformat()}")])
    _check_common_name(cert, institution, field)
    return RegisteredCertificate(
        sha256=fingerprint(cert),
        institution=institution,
        subject=cert.subject.rfc4514_string(),
        serial=f"{cert.serial_number:x}",
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        valid_until=cert.not_valid_after_utc,
        added_at=now,
    )
