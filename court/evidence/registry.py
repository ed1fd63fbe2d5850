"""The document an operator's record of a registry change stands for.

Each change the operator makes to the gateway's institutions registry (a
registration, suspension, reinstatement, revocation, a certificate added or
revoked) is a record of kind ``institution_changed`` whose digest is the
SHA-256 of :func:`change_document`, built from the record's metadata
(``institution``, ``change``). Whoever holds the record rebuilds the
document, and `court-verify receipt RECEIPT --file DOCUMENT` checks it.
"""

from __future__ import annotations

__all__ = ["change_document"]


def change_document(institution: str, change: str) -> bytes:
    """The document an institution change record's digest is the SHA-256 of."""
    return (
        f"evidence-gateway institution change v1\ninstitution={institution}\nchange={change}\n"
    ).encode()
