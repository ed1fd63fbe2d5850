"""The TSA certificates a bundle carries: what a verifier needs besides its trusted root.

A bundle's ``tsa_certificates`` (docs/bundles.md) are the certificates from
which the chain of each token's signer to a trusted root is built: the
signer's certificate and its intermediates. The gateway knows them from two
places, the same as its own token check and ``GetTrustInfo``:

* the certificates configured beside the roots (``tsa_untrusted``: the
  in-process TSA's certificate and its intermediates);
* the certificates a token carries itself (``certReq``: every token the
  gateway asks for carries its signer's certificate; an external TSA's may
  carry its intermediates too).

Roots are never included: a verifier trusts its own copy, never one from the
file. Each certificate appears once, however many tokens of one TSA a dossier
holds. Finding a token's certificates is a walk of a few DER headers
(:mod:`court.der`), not a parse of the token: a dossier holds up to 10,000.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from court.der import DerError, read_header

__all__ = ["TsaCertificates", "embedded_certificates"]

_SEQUENCE = 0x30
_CERTIFICATES = 0xA0  # SignedData's [0] IMPLICIT CertificateSet
_MAX_KNOWN = 256  # distinct certificates remembered as root or not


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The elements inside ``data[start:end]`` as (identifier, offset, contents start,
    contents end): :func:`court.der.read_children`'s walk, by offsets, copying nothing."""
    out = []
    pos = start
    while pos < end:
        identifier, number, first, stop = read_header(data, pos, end)
        if number >= 0x1F:
            raise DerError("high tag numbers are not expected here")
        out.append((identifier, pos, first, stop))
        pos = stop
    return out


def embedded_certificates(token: bytes) -> tuple[bytes, ...]:
    """The DER certificates a TimeStampToken (a CMS ContentInfo of SignedData) carries;
    none for anything that does not have that shape (the verifier judges the token)."""
    try:
        _, number, start, stop = read_header(token, 0, len(token))  # ContentInfo
        if number >= 0x1F:
            return ()
        fields = _children(token, start, stop)
        if len(fields) < 2:
            return ()
        ((_, _, start, stop),) = _children(token, fields[1][2], fields[1][3])  # SignedData
        for identifier, _, first, last in _children(token, start, stop)[3:]:
            if identifier == _CERTIFICATES:
                return tuple(
                    token[pos:end]
                    for tag, pos, _, end in _children(token, first, last)
                    if tag == _SEQUENCE
                )
    except (DerError, ValueError, IndexError):
        return ()
    return ()


class TsaCertificates:
    """The certificates of the gateway's TSAs, without their roots (see the module doc)."""

    def __init__(
        self, roots: Sequence[x509.Certificate], untrusted: Sequence[x509.Certificate] = ()
    ) -> None:
        self._roots = frozenset(c.public_bytes(Encoding.DER) for c in roots)
        self._configured = tuple(
            dict.fromkeys(
                der
                for der in (c.public_bytes(Encoding.DER) for c in untrusted)
                if der not in self._roots
            )
        )
        self._self_signed: dict[bytes, bool] = {}

    def _is_root(self, der: bytes) -> bool:
        """A configured root, or a self-signed certificate (a root the token carries)."""
        if der in self._roots:
            return True
        known = self._self_signed.get(der)
        if known is None:
            try:
                cert = x509.load_der_x509_certificate(der)
                known = cert.issuer == cert.subject
            except (ValueError, x509.InvalidVersion):  # InvalidVersion is no ValueError
                known = False  # not a certificate: the verifier will say so
            if len(self._self_signed) >= _MAX_KNOWN:
                self._self_signed.clear()
            self._self_signed[der] = known
        return known

    def for_tokens(self, tokens: Iterable[bytes]) -> tuple[bytes, ...]:
        """The certificates for these tokens, each once: the configured ones, then those
        the tokens carry, in the order first seen; no root."""
        out = dict.fromkeys(self._configured)
        for token in tokens:
            for der in embedded_certificates(token):
                if der not in out and not self._is_root(der):
                    out[der] = None
        return tuple(out)
