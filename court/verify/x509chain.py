"""Certificate path building and validation at a given time (pure, with bounded work).

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
  ``cryptography`` does not understand;
* issuing keys are RSA of at most :data:`MAX_RSA_BITS` bits with a public
  exponent of at most :data:`MAX_RSA_EXPONENT_BITS` bits, EC, Ed25519 or Ed448
  (:func:`key_problem`; the token's signer key obeys the same rule). A public
  exponent as long as the modulus makes one RSA verification as costly as a
  private-key operation: a 3072-bit key with a 3071-bit exponent took 45 ms per
  check, so 16 such would-be issuers took 0.5 s.

The anchor is any certificate passed in ``roots`` (compared by DER): it ends
the path, its own issuer is not looked for. A leaf that is itself a root is a
path of length one.

The certificates come from the token, i.e. from whoever hands it over, so the
search is bounded whatever they are (a token with 8 self-issued CA
certificates sharing one name and key once took 18 s, every ordering of them
being a path to try):

* certificates are deduplicated by DER, and at most :data:`MAX_CERTIFICATES`
  distinct ones are considered (the anchors first);
* a path never holds two certificates with the same subject and key (a
  path through both has a shorter equivalent without the ones between), so
  certificates that only re-certify one key add one step, not a permutation;
* a signature is checked at most once per (certificate, issuing key), each
  certificate's own checks (validity, extensions, CA rules) at most once;
* a search tries at most :data:`MAX_ISSUER_TRIES` candidate issuers and
  makes at most :data:`MAX_SIGNATURE_CHECKS` signature checks, then fails,
  naming the limit.

:class:`ChainResult` reports the work done (``issuers_tried``,
``signatures_checked``).

A :class:`ChainMemo` passed to several searches shares what does not depend
on the reference time (the CA rules of a certificate, whether its key is
accepted, and every signature check by (certificate, issuing key)): the
tokens of one TSA in a dossier then check its chain's signatures once, and
only the validity periods at each token's genTime.

A :class:`ChainCache` (bounded, for a long-lived verifier) keeps the paths
found, by the exact DER of the leaf, the anchors and the other certificates:
a search depends on its reference time only through which certificates it
looked at are within their validity periods then, so a path found is handed
back for any time at which exactly those certificates are valid and the
others not (the same certificates, within the same validity window), without
searching again. A failed search is not kept.

Not checked: revocation (CRL/OCSP), name constraints, certificate policies.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from court.der import DerError, read_children, read_tlv
from court.verify.bounded import BoundedCache

__all__ = [
    "MAX_CERTIFICATES",
    "MAX_DEPTH",
    "MAX_ISSUER_TRIES",
    "MAX_RSA_BITS",
    "MAX_RSA_EXPONENT_BITS",
    "MAX_SIGNATURE_CHECKS",
    "ChainCache",
    "ChainMemo",
    "ChainResult",
    "build_chain",
    "der_of",
    "describe",
    "key_problem",
    "valid_at",
]

#: Most certificates on a path, the leaf and the anchor included.
MAX_DEPTH: Final = 8
#: Most distinct certificates (anchors and others) one search considers.
MAX_CERTIFICATES: Final = 32
#: Most candidate issuers one search tries.
MAX_ISSUER_TRIES: Final = 64
#: Most signature verifications one search makes.
MAX_SIGNATURE_CHECKS: Final = 16
#: Largest RSA issuing key accepted.
MAX_RSA_BITS: Final = 8192
#: Longest RSA public exponent accepted (65537 has 17 bits; Go and BoringSSL cap it near 32).
MAX_RSA_EXPONENT_BITS: Final = 32


@dataclass(frozen=True, slots=True)
class ChainResult:
    """Outcome of path building: the path from the leaf to its anchor if ``ok``,
    and the work it took."""

    ok: bool
    path: tuple[x509.Certificate, ...]
    detail: str
    issuers_tried: int = 0
    signatures_checked: int = 0


@dataclass(slots=True)
class ChainMemo:
    """What path searches learn that does not depend on the reference time, shared.

    ``signatures_checked`` counts the signature verifications made through it
    (each (certificate, issuing key) pair at most once, whatever the number of
    searches).
    """

    ca: dict[bytes, tuple[str | None, int | None]] = field(default_factory=dict)
    keys: dict[bytes, str | None] = field(default_factory=dict)
    signatures: dict[tuple[bytes, bytes], str | None] = field(default_factory=dict)
    signatures_checked: int = 0


# The exact DER of the leaf, of the anchors and of the other certificates, in order.
_ChainKey = tuple[bytes, tuple[bytes, ...], tuple[bytes, ...]]


@dataclass(frozen=True, slots=True)
class _Found:
    """A path a search found, and the validity periods its answer depended on."""

    path: tuple[x509.Certificate, ...]
    names: str
    # (notBefore, notAfter, valid at the search's time) of each certificate whose
    # validity the search looked at.
    periods: tuple[tuple[datetime, datetime, bool], ...]

    def holds_at(self, at: datetime) -> bool:
        """Whether a search at ``at`` sees every certificate it looks at as this one did."""
        return all((nb <= at <= na) is valid for nb, na, valid in self.periods)


class ChainCache:
    """Paths found by :func:`build_chain`, by the exact DER of its certificates; bounded.

    At most ``max_entries`` paths and ``max_key_bytes`` bytes of certificates
    in their keys (:class:`court.verify.bounded.BoundedCache`). Shared by the
    threads of a verifier. A path handed back reports no work done
    (``issuers_tried`` and ``signatures_checked`` 0).
    """

    def __init__(self, max_entries: int = 256, max_key_bytes: int = 1 << 20) -> None:
        self._paths: BoundedCache[_Found] = BoundedCache(max_entries, max_key_bytes)

    def find(self, key: _ChainKey, at: datetime) -> ChainResult | None:
        """The path kept for ``key`` if its search would find it again at ``at``."""
        found = self._paths.get(key)
        if found is None or not found.holds_at(at):
            return None
        return ChainResult(True, found.path, f"{found.names} (anchor), valid at {at.isoformat()}")

    def keep(self, key: _ChainKey, found: _Found) -> None:
        size = len(key[0]) + sum(map(len, key[1])) + sum(map(len, key[2]))
        self._paths.put(key, found, size)

    def __len__(self) -> int:
        return len(self._paths)


@functools.lru_cache(maxsize=1024)
def der_of(cert: x509.Certificate) -> bytes:
    """The DER of a certificate; cached (the same TSA certificates come with every token)."""
    return cert.public_bytes(Encoding.DER)


@functools.lru_cache(maxsize=1024)
def describe(cert: x509.Certificate) -> str:
    """Short human-readable name of a certificate (RFC 4514 subject); cached (certificates
    hash and compare by their DER)."""
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


def _unknown_critical(cert: x509.Certificate) -> str | None:
    try:
        extensions = cert.extensions
    except Exception as exc:
        return f"{describe(cert)}: extensions cannot be parsed ({exc})"
    for ext in extensions:
        if ext.critical and isinstance(ext.value, x509.UnrecognizedExtension):
            return f"{describe(cert)}: unrecognised critical extension {ext.oid.dotted_string}"
    return None


def _ca_problem(issuer: x509.Certificate) -> tuple[str | None, int | None]:
    """Why ``issuer`` may not issue certificates at all, and its pathLenConstraint."""
    try:
        bc = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return f"{describe(issuer)} issues certificates but has no basicConstraints", None
    if not bc.ca:
        return f"{describe(issuer)} issues certificates but basicConstraints cA is false", None
    try:
        ku = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None, bc.path_length
    if not ku.key_cert_sign:
        return f"{describe(issuer)} keyUsage does not allow keyCertSign", None
    return None, bc.path_length


def key_problem(cert: x509.Certificate) -> str | None:
    """Why ``cert``'s key is not accepted to check signatures (bounded cost per check)."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"the key of {describe(cert)} cannot be loaded: {exc}"
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size > MAX_RSA_BITS:
            return (
                f"{describe(cert)} has an RSA key of {key.key_size} bits (at most {MAX_RSA_BITS})"
            )
        exponent_bits = key.public_numbers().e.bit_length()
        if exponent_bits > MAX_RSA_EXPONENT_BITS:
            return (
                f"{describe(cert)} has an RSA public exponent of {exponent_bits} bits "
                f"(at most {MAX_RSA_EXPONENT_BITS})"
            )
        return None
    if isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return None
    return f"{describe(cert)} has a {type(key).__name__} key, not RSA, EC, Ed25519 or Ed448"


def _subject_key(der: bytes) -> tuple[bytes, bytes]:
    """The raw subject and subjectPublicKeyInfo of a certificate's DER (RFC 5280 4.1)."""
    certificate, _ = read_tlv(der)
    tbs = read_children(read_children(certificate.contents)[0].contents)
    first = 1 if tbs[0].tag == 0xA0 else 0  # [0] EXPLICIT version
    return tbs[first + 4].encoded, tbs[first + 5].encoded


class _Node:
    """One distinct certificate of a search."""

    __slots__ = ("anchor", "cert", "der", "identity", "issuer", "subject")

    def __init__(self, cert: x509.Certificate, der: bytes, anchor: bool) -> None:
        self.cert = cert
        self.der = der
        self.anchor = anchor
        try:
            self.identity: tuple[bytes, bytes] = _subject_key(der)
        except (DerError, IndexError):  # pragma: no cover - cryptography parsed it already
            self.identity = (der, der)
        # Names whose values cryptography cannot decode (e.g. bad UTF-8) are None.
        self.subject: x509.Name | None = _name(lambda: cert.subject)
        self.issuer: x509.Name | None = _name(lambda: cert.issuer)

    @property
    def self_issued(self) -> bool:
        return self.subject is not None and self.subject == self.issuer


def _name(read: Callable[[], x509.Name]) -> x509.Name | None:
    try:
        return read()
    except ValueError:
        return None


class _LimitReached(Exception):
    pass


class _Search:
    def __init__(
        self,
        roots: Sequence[x509.Certificate],
        others: Sequence[x509.Certificate],
        at: datetime,
        memo: ChainMemo | None = None,
    ) -> None:
        self.at = at
        self.memo = memo if memo is not None else ChainMemo()
        self.nodes: list[_Node] = []
        self.by_subject: dict[x509.Name, list[_Node]] = {}
        self.ignored = 0
        seen: set[bytes] = set()
        for cert, anchor in [*((r, True) for r in roots), *((c, False) for c in others)]:
            der = der_of(cert)
            if der in seen:
                continue
            seen.add(der)
            if len(self.nodes) >= MAX_CERTIFICATES:
                self.ignored += 1
                continue
            node = _Node(cert, der, anchor)
            self.nodes.append(node)
            if node.subject is not None:
                self.by_subject.setdefault(node.subject, []).append(node)
        # What is learnt about a certificate (by DER) or a pair, each thing once.
        # (the time-independent ones in the memo, shared with other searches).
        self.own: dict[bytes, str | None] = {}
        self.looked_at: list[_Node] = []  # whose validity at ``at`` was checked, in order
        self.ca = self.memo.ca
        self.keys = self.memo.keys
        self.signatures = self.memo.signatures
        self.tries = 0
        self.checks = 0
        self.best: tuple[int, str] = (-1, "")

    def periods(self) -> tuple[tuple[datetime, datetime, bool], ...]:
        """(notBefore, notAfter, valid at ``at``) of each certificate looked at."""
        out = []
        for node in self.looked_at:
            nb, na = node.cert.not_valid_before_utc, node.cert.not_valid_after_utc
            out.append((nb, na, nb <= self.at <= na))  # as valid_at decides
        return tuple(out)

    def note(self, depth: int, problem: str) -> None:
        if depth > self.best[0]:
            self.best = (depth, problem)

    def own_problem(self, node: _Node) -> str | None:
        if node.der not in self.own:
            self.looked_at.append(node)
            self.own[node.der] = valid_at(node.cert, self.at) or _unknown_critical(node.cert)
        return self.own[node.der]

    def issuer_problem(self, node: _Node, below: int) -> str | None:
        """Why ``node`` may not issue with ``below`` non-self-issued intermediates under it."""
        if node.der not in self.ca:
            self.ca[node.der] = _ca_problem(node.cert)
        problem, path_length = self.ca[node.der]
        if problem is not None:
            return problem
        if path_length is not None and below > path_length:
            return (
                f"{describe(node.cert)} has pathLenConstraint {path_length} "
                f"but {below} intermediate certificate(s) follow it"
            )
        return None

    def signature_problem(self, child: _Node, issuer: _Node) -> str | None:
        if issuer.der not in self.keys:
            self.keys[issuer.der] = key_problem(issuer.cert)
        if self.keys[issuer.der] is not None:
            return self.keys[issuer.der]
        memo = (child.der, issuer.identity[1])
        if memo in self.signatures:
            return self.signatures[memo]
        if self.checks >= MAX_SIGNATURE_CHECKS:
            raise _LimitReached(f"{MAX_SIGNATURE_CHECKS} signature checks")
        self.checks += 1
        self.memo.signatures_checked += 1
        try:
            child.cert.verify_directly_issued_by(issuer.cert)
            problem = None
        except InvalidSignature:
            problem = (
                f"signature on {describe(child.cert)} does not verify with the key of "
                f"{describe(issuer.cert)}"
            )
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            problem = (
                f"{describe(child.cert)} cannot be checked against {describe(issuer.cert)}: {exc}"
            )
        self.signatures[memo] = problem
        return problem

    def extend(self, path: list[_Node], below: int) -> list[_Node] | None:
        """A path to an anchor that continues ``path`` (whose last certificate is no anchor)."""
        current = path[-1]
        depth = len(path) + 1
        if len(path) >= MAX_DEPTH:
            self.note(depth, f"no trust anchor within {MAX_DEPTH} certificates")
            return None
        if current.issuer is None:
            self.note(depth, f"the issuer name of {describe(current.cert)} cannot be read")
            return None
        on_path = {node.identity for node in path}
        candidates = [
            node
            for node in self.by_subject.get(current.issuer, ())
            if node.identity not in on_path and _aki_matches(current.cert, node.cert)
        ]
        candidates.sort(key=lambda node: not node.anchor)  # anchors first, stable
        if not candidates:
            self.note(
                depth,
                f"issuer {current.issuer.rfc4514_string()!r} of {describe(current.cert)} "
                "is neither a trust anchor nor among the supplied certificates",
            )
            return None
        for issuer in candidates:
            if self.tries >= MAX_ISSUER_TRIES:
                raise _LimitReached(f"{MAX_ISSUER_TRIES} candidate issuers")
            self.tries += 1
            problem = (
                self.own_problem(issuer)
                or self.issuer_problem(issuer, below)
                or self.signature_problem(current, issuer)
            )
            if problem is not None:
                self.note(depth, problem)
                continue
            if issuer.anchor:
                return [*path, issuer]
            found = self.extend([*path, issuer], below if issuer.self_issued else below + 1)
            if found:
                return found
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
    memo: ChainMemo | None = None,
    cache: ChainCache | None = None,
) -> ChainResult:
    """Find a path from ``leaf`` to one of ``roots`` that is valid at ``at``.

    ``at`` must be timezone-aware. Paths are searched depth-first, anchors
    first, within the bounds of the module docstring; the first valid one is
    returned. When none is valid the detail explains the failure of the
    longest path tried, or names the limit that stopped the search. ``memo``
    shares the time-independent checks with other searches (:class:`ChainMemo`);
    ``cache`` hands back a path found before for the same certificates, within
    the same validity window, with no work done (:class:`ChainCache`).
    """
    if at.tzinfo is None:
        raise ValueError("reference time must be timezone-aware")
    key: _ChainKey | None = None
    if cache is not None:
        key = (der_of(leaf), tuple(map(der_of, roots)), tuple(map(der_of, intermediates)))
        hit = cache.find(key, at)
        if hit is not None:
            return hit
    search = _Search(roots, intermediates, at, memo)
    der = der_of(leaf)
    start = next((node for node in search.nodes if node.der == der), None) or _Node(
        leaf, der, False
    )
    path: list[_Node] | None = None
    stopped = ""
    problem = search.own_problem(start)
    if problem is not None:
        search.note(1, problem)
    elif start.anchor:
        path = [start]
    else:
        try:
            path = search.extend([start], 0)
        except _LimitReached as limit:
            stopped = str(limit)

    def result(ok: bool, detail: str) -> ChainResult:
        chain = tuple(node.cert for node in path) if ok and path else ()
        return ChainResult(ok, chain, detail, search.tries, search.checks)

    if path:
        names = " <- ".join(describe(node.cert) for node in path)
        if cache is not None and key is not None:
            cache.keep(key, _Found(result(True, "").path, names, search.periods()))
        return result(True, f"{names} (anchor), valid at {at.isoformat()}")
    detail = search.best[1] or "no path to a trust anchor"
    if stopped:
        detail = (
            f"path search stopped at its limit of {stopped}, with no valid path found "
            f"(the certificates could issue each other in too many ways); last problem: {detail}"
        )
    if search.ignored:
        detail += (
            f"; {search.ignored} certificate(s) beyond the first {MAX_CERTIFICATES} "
            "were not considered"
        )
    return result(False, detail)
