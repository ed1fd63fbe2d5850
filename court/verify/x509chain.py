"""Certificate path building and validation at a given time (pure).

Used by the time-stamp token verifier to check the TSA's chain **at the
token's genTime**, not at "now": a token made while the TSA certificate was
valid stays valid after that certificate expires.

What is checked on a path ``leaf -> ... -> anchor``:

* every certificate is directly issued by the next one: names chain and the
  signature verifies (``cryptography``'s ``verify_directly_issued_by``);
* every certificate, the anchor included, is within its validity period at
  the reference time;
* every issuing certificate is a CA: basicConstraints present with cA true,
  and keyUsage (when present) allows keyCertSign;
* pathLenConstraint of every issuing certificate is respected (self-issued
  intermediates are not counted, RFC 5280 6.1.4 (l));
* no certificate on the path carries a critical extension that
  ``cryptography`` does not understand.

The anchor is any certificate passed in ``roots`` (compared by DER): it ends
the path, its own issuer is not looked for. A leaf that is itself a root is a
path of length one.

Not checked: revocation (CRL/OCSP), name constraints, certificate policies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = ["ChainResult", "build_chain", "describe", "valid_at"]

MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class ChainResult:
    """Outcome of path building: the path from the leaf to its anchor if ``ok``."""

    ok: bool
    path: tuple[x509.Certificate, ...]
    detail: str


def describe(cert: x509.Certificate) -> str:
    """Short human-readable name of a certificate (RFC 4514 subject)."""
    try:
        subject = cert.subject.rfc4514_string()
    except ValueError:  # pragma: no cover - malformed names cryptography cannot print
        subject = "<unprintable subject>"
    return subject or f"<empty subject, serial {cert.serial_number:x}>"


def valid_at(cert: x509.Certificate, at: datetime) -> str | None:
    """``None`` if ``cert`` is valid at ``at``, else why not."""
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    if at < not_before:
        return (
            f"{describe(cert)} is not yet valid at {at.isoformat()} "
            f"(notBefore {not_before.isoformat()})"
        )
    if at > not_after:
        return (
            f"{describe(cert)} has expired at {at.isoformat()} (notAfter {not_after.isoformat()})"
        )
    return None


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _self_issued(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer


def _unknown_critical(cert: x509.Certificate) -> str | None:
    try:
        extensions = cert.extensions
    except Exception as exc:
        return f"{describe(cert)}: extensions cannot be parsed ({exc})"
    for ext in extensions:
        if ext.critical and isinstance(ext.value, x509.UnrecognizedExtension):
            return f"{describe(cert)}: unrecognised critical extension {ext.oid.dotted_string}"
    return None


def _ca_problem(issuer: x509.Certificate, below: int) -> str | None:
    """Why ``issuer`` may not issue with ``below`` non-self-issued intermediates under it."""
    try:
        bc = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return f"{describe(issuer)} issues certificates but has no basicConstraints"
    if not bc.ca:
        return f"{describe(issuer)} issues certificates but basicConstraints cA is false"
    if bc.path_length is not None and below > bc.path_length:
        return (
            f"{describe(issuer)} has pathLenConstraint {bc.path_length} "
            f"but {below} intermediate certificate(s) follow it"
        )
    try:
        ku = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not ku.key_cert_sign:
        return f"{describe(issuer)} keyUsage does not allow keyCertSign"
    return None


def _validate_path(path: Sequence[x509.Certificate], at: datetime) -> str | None:
    for cert in path:
        problem = valid_at(cert, at) or _unknown_critical(cert)
        if problem:
            return problem
    below = 0
    for index in range(1, len(path)):
        problem = _ca_problem(path[index], below)
        if problem:
            return problem
        if not _self_issued(path[index]):
            below += 1
    return None


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> str | None:
    try:
        child.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return f"signature on {describe(child)} does not verify with the key of {describe(issuer)}"
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return f"{describe(child)} cannot be checked against {describe(issuer)}: {exc}"
    return None


def _aki_matches(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """False only when both key identifiers are present and differ (a cheap filter)."""
    try:
        aki = child.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except Exception:  # absent or unparsable: no filtering, the signature decides
        return True
    return aki.key_identifier is None or aki.key_identifier == ski.digest


def build_chain(
    leaf: x509.Certificate,
    *,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate] = (),
    at: datetime,
) -> ChainResult:
    """Find a path from ``leaf`` to one of ``roots`` that is valid at ``at``.

    ``at`` must be timezone-aware. Every candidate path is tried (depth-first,
    anchors first); the first valid one is returned. When none is valid the
    detail explains the failure of the longest path tried.
    """
    if at.tzinfo is None:
        raise ValueError("reference time must be timezone-aware")
    root_ders = {_der(r) for r in roots}
    pool: list[x509.Certificate] = []
    seen: set[bytes] = set()
    for cert in (*roots, *intermediates):
        der = _der(cert)
        if der not in seen:
            seen.add(der)
            pool.append(cert)

    best: tuple[int, str] = (-1, "")

    def note(depth: int, problem: str) -> None:
        nonlocal best
        if depth > best[0]:
            best = (depth, problem)

    def search(path: list[x509.Certificate], ders: set[bytes]) -> tuple[x509.Certificate, ...]:
        current = path[-1]
        if _der(current) in root_ders:
            problem = _validate_path(path, at)
            if problem is None:
                return tuple(path)
            note(len(path), problem)
            return ()
        if len(path) > MAX_DEPTH:
            note(len(path), f"no trust anchor within {MAX_DEPTH} certificates")
            return ()
        candidates = [
            c
            for c in pool
            if c.subject == current.issuer and _der(c) not in ders and _aki_matches(current, c)
        ]
        if not candidates:
            note(
                len(path),
                f"issuer {current.issuer.rfc4514_string()!r} of {describe(current)} "
                "is neither a trust anchor nor among the supplied certificates",
            )
            return ()
        for issuer in candidates:
            problem = _issued_by(current, issuer)
            if problem is not None:
                note(len(path), problem)
                continue
            der = _der(issuer)
            found = search([*path, issuer], ders | {der})
            if found:
                return found
        return ()

    path = search([leaf], {_der(leaf)})
    if path:
        names = " <- ".join(describe(c) for c in path)
        return ChainResult(True, path, f"{names} (anchor), valid at {at.isoformat()}")
    return ChainResult(False, (), best[1] or "no path to a trust anchor")
