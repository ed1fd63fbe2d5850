"""Which of the certificates the gateway's tokens depend on expire soon.

Every token the gateway hands out must verify against the TSA's certificate
chain. When the TSA certificate or its root expires, new tokens stop
verifying (the in-process TSA refuses to sign), so the operator needs to
hear about it weeks before: :func:`expiring` lists the certificates whose
``notAfter`` falls within the warning window, and :func:`describe` says it
in one line for the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

__all__ = ["Expiry", "describe", "expiring"]


@dataclass(frozen=True)
class Expiry:
    """A certificate that expires within the warning window (or has expired)."""

    role: str  # "TSA certificate", "root certificate"
    subject: str
    not_after: datetime


def expiring(
    certificates: Sequence[tuple[str, x509.Certificate]], now: datetime, within: timedelta
) -> list[Expiry]:
    """The ``(role, certificate)`` pairs whose validity ends before ``now + within``."""
    return [
        Expiry(role, cert.subject.rfc4514_string(), cert.not_valid_after_utc)
        for role, cert in certificates
        if cert.not_valid_after_utc <= now + within
    ]


def describe(expiry: Expiry, now: datetime) -> str:
    """One line for the operator: which certificate, when, and what to do."""
    when = expiry.not_after.strftime("%Y-%m-%d %H:%M UTC")
    left = expiry.not_after - now
    if left <= timedelta(0):
        return (
            f"the {expiry.role} {expiry.subject} expired on {when}: tokens no longer "
            "verify; renew it and restart the gateway"
        )
    return (
        f"the {expiry.role} {expiry.subject} expires on {when} (in {left.days} days "
        f"{left.seconds // 3600} hours): renew it before then"
    )
