"""Where the gateway's time-stamp tokens come from, and how each is checked.

A :class:`TokenSource` turns a document digest into a bare RFC 3161
``TimeStampToken`` (a DER CMS ContentInfo) whose message imprint is that
digest itself. Every token is verified before the ledger accepts it:

* :class:`HttpTokenSource` (external RFC 3161 TSAs over HTTP, with fail-over
  across several URLs) runs the court's complete check,
  :func:`court.verify.token.verify_timestamp`, on every token: DER, content
  type, signer, signed attributes, signature, ESSCertIDv2, chain to the
  configured roots at genTime, EKU, TSA name, imprint and nonce.
* :class:`EngineTokenSource` (the in-process notary engine, the default)
  cannot afford that per token: the full check costs milliseconds per token
  (path building and the typed walk of every element in pure Python), far
  too slow for the 5,000 entries/s the batch path must reach. So the
  engine's certificate, chain and EKU are verified once, at start-up, by
  running the full court check on a probe token, which becomes the template
  of every later token; then every token gets the cheap check of
  :mod:`gateway.engine_check`: it is the template with only its TSTInfo,
  messageDigest and signature replaced (so it is exactly as strict on
  structure as the court's check), its TSTInfo passes the court's TSTInfo
  structure check, the imprint is exactly the submitted algorithm and
  digest, the messageDigest is the hash of the TSTInfo, the signature over
  the signed attributes verifies with the engine's certificate key, and
  genTime lies within the validity of the whole chain, root included.
  Chain, EKU, ESSCertID and TSA name are not re-evaluated per token: they are
  constant for the engine's lifetime and were covered at start-up.
* :class:`ProcessEngineTokenSource` does the same in worker processes, so
  that signing and checking tokens run beside the ledger's Python code
  instead of sharing its GIL (about 1.4x the ledger's throughput on this
  2-core machine, see ``bench/ledger.py``).

Each source tells its ``observer`` (:mod:`gateway.metrics`) how many tokens it
issued and which requests failed, by TSA: ``in-process``, or an HTTP TSA's
``host:port``.

Errors: a digest or algorithm the TSA refuses is :class:`InvalidArgument`
(field ``hash_algorithm`` or ``digest``); anything else (TSA unreachable,
refusing for system reasons, a token that fails its check) is
:class:`Unavailable`.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import secrets
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from court.der import TAG_SEQUENCE, expect, read_children, read_tlv
from court.verify.token import verify_timestamp
from gateway.engine_check import EngineTemplate, check_engine_token, engine_template
from gateway.errors import GatewayError, InvalidArgument, Unavailable
from gateway.metrics import NO_OBSERVER, Observer
from gateway.parent_death import die_with_parent
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.status import FailInfo, Rejection

__all__ = [
    "MAX_REPLY_BYTES",
    "EngineTokenSource",
    "HttpTokenSource",
    "ProcessEngineTokenSource",
    "TokenSource",
    "check_engine_token",
]

log = logging.getLogger(__name__)


@runtime_checkable
class TokenSource(Protocol):
    """A time-stamp authority as the ledger sees it."""

    def stamp(self, hash_algorithm: str, digest: bytes) -> bytes:
        """Return a verified bare TimeStampToken over ``digest``.

        Raises :class:`InvalidArgument` when the TSA refuses the algorithm or
        digest, :class:`Unavailable` for every other failure.
        """
        ...

    def stamp_batch(self, items: Sequence[tuple[str, bytes]]) -> list[bytes | GatewayError]:
        """Stamp several ``(hash_algorithm, digest)`` pairs; one token or error each."""
        ...

    def healthy(self) -> bool:
        """Whether the TSA can issue tokens now."""
        ...


#: The TSA label of the in-process engine's tokens in the metrics.
IN_PROCESS = "in-process"


def _count(observer: Observer, results: Sequence[bytes | GatewayError]) -> None:
    """Report a batch of the in-process engine's results to ``observer``."""
    if observer is NO_OBSERVER:
        return
    failed = sum(1 for r in results if isinstance(r, GatewayError))
    observer.tsa_tokens(IN_PROCESS, len(results) - failed)
    observer.tsa_failure(IN_PROCESS, "failed", failed)


def _tsa_label(url: str) -> str:
    """``host:port`` of a TSA URL (no credentials nor path: a metrics label)."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # not a port number: the label says so, the request will fail
        port = 0
    host = parts.hostname or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------- engine


def _rejection_error(hash_algorithm: str, rejection: Rejection) -> GatewayError:
    if rejection.fail_info is FailInfo.BAD_ALG:
        return InvalidArgument(
            [
                (
                    "hash_algorithm",
                    f"the time-stamp authority does not accept {hash_algorithm}: {rejection.text}",
                )
            ]
        )
    if rejection.fail_info is FailInfo.BAD_DATA_FORMAT:
        return InvalidArgument([("digest", rejection.text)])
    return Unavailable(f"the time-stamp authority refused to stamp: {rejection.text}; retry later")


class EngineTokenSource:
    """Tokens from the in-process notary engine (the default TSA).

    When ``roots`` is given, a probe token is verified with the court's full
    check at construction (chain to ``roots``, EKU, ESSCertIDv2, ...), and a
    :class:`ValueError` is raised if it fails. Every token is then checked
    with :func:`check_engine_token` before it is returned.
    """

    observer: Observer = NO_OBSERVER

    def __init__(
        self,
        authority: TimeStampAuthority,
        roots: Sequence[x509.Certificate] = (),
        *,
        workers: int = 2,
    ) -> None:
        self._tsa = authority
        cert = authority.signer.certificate
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise ValueError("the engine's certificate must hold an ECDSA or RSA key")
        self._public_key = key
        self._sign_hash = authority.signer.digest_algorithm
        self._not_after = cert.not_valid_after_utc.timestamp()
        self._not_before = cert.not_valid_before_utc.timestamp()
        # Signing and verifying release the GIL: two threads use both cores.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tsa-engine")
        self._workers = workers
        self._template: EngineTemplate | None = None
        if roots:
            probe = hashlib.sha256(b"gateway start-up probe").digest()
            token = self.stamp("sha256", probe)
            result = verify_timestamp(token, roots=roots, digest=probe, hash_algorithm="sha256")
            if not result.ok:
                failure = result.first_failure
                raise ValueError(
                    "the in-process TSA's tokens do not verify against the configured roots "
                    f"({failure.name if failure else '?'}: {failure.detail if failure else ''}); "
                    "check the TSA certificate and the trust roots"
                )
            self._template = engine_template(token, result.chain)

    def stamp(self, hash_algorithm: str, digest: bytes) -> bytes:
        try:
            token = self._tsa.issue(hash_algorithm, digest).token
        except Rejection as rejection:
            raise _rejection_error(hash_algorithm, rejection) from None
        except Exception as exc:
            log.exception("in-process TSA failed")
            raise Unavailable(f"the time-stamp authority failed ({exc}); retry later") from exc
        try:
            check_engine_token(
                token, hash_algorithm, digest, self._public_key, self._sign_hash, self._template
            )
        except ValueError as exc:
            log.error("in-process TSA produced a token that fails its check: %s", exc)
            raise Unavailable(
                "the time-stamp authority produced a token that fails verification; "
                "the operators must check the TSA"
            ) from exc
        return token

    def _stamp_chunk(self, items: Sequence[tuple[str, bytes]]) -> list[bytes | GatewayError]:
        out: list[bytes | GatewayError] = []
        for alg, digest in items:
            try:
                out.append(self.stamp(alg, digest))
            except GatewayError as exc:
                out.append(exc)
        return out

    def stamp_batch(self, items: Sequence[tuple[str, bytes]]) -> list[bytes | GatewayError]:
        if len(items) < 64 or self._workers < 2:
            out = self._stamp_chunk(items)
        else:
            step = -(-len(items) // self._workers)
            chunks = [items[i : i + step] for i in range(0, len(items), step)]
            out = []
            for part in self._pool.map(self._stamp_chunk, chunks):
                out.extend(part)
        _count(self.observer, out)
        return out

    def healthy(self) -> bool:
        return self._not_before <= time.time() <= self._not_after

    def close(self) -> None:
        self._pool.shutdown(wait=False)


# ---------------------------------------------------------------- engine in processes

_worker: dict[str, EngineTokenSource] = {}


def _worker_init(
    parent_pid: int, factory: Callable[[], TimeStampAuthority], roots_der: list[bytes]
) -> None:
    die_with_parent(parent_pid)  # no orphan holding the TSA key after a gateway crash
    # Ctrl-C reaches the whole foreground process group: the gateway stops gracefully
    # (its drain still needs the workers) and closes the pool itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    roots = [x509.load_der_x509_certificate(der) for der in roots_der]
    _worker["source"] = EngineTokenSource(factory(), roots, workers=1)


def _worker_stamp(items: Sequence[tuple[str, bytes]]) -> list[tuple[int, Any]]:
    """Stamp in a worker process; results as picklable ``(kind, value)`` pairs."""
    source = _worker["source"]
    out: list[tuple[int, Any]] = []
    for alg, digest in items:
        try:
            out.append((0, source.stamp(alg, digest)))
        except InvalidArgument as exc:
            out.append((1, exc.violations))
        except GatewayError as exc:
            out.append((2, exc.message))
    return out


class ProcessEngineTokenSource:
    """The in-process engine's tokens, made in a pool of worker processes.

    Each worker builds its own engine with ``factory`` (a picklable callable,
    e.g. ``functools.partial(notary.serve.build_authority, pki_dir, state_dir)``;
    the serial source leases blocks of serials under a file lock, so workers
    never reuse a serial), runs the full court check of a probe token against
    ``roots`` at start, then signs and checks every token exactly as
    :class:`EngineTokenSource` does. Token work then runs on other cores than
    the ledger's Python code, which the GIL would otherwise serialise.

    When a worker dies (crash, OOM kill, SIGKILL) the pool is broken: the
    next batch starts a new pool (under a lock, with the same start-up probe)
    and is tried once more on it. Only if that fails are its items
    :class:`Unavailable`.

    When the gateway dies, even by SIGKILL, its workers die with it
    (:func:`gateway.parent_death.die_with_parent`). The kernel ties that to
    the thread that started a worker, so every pool is started, and its
    workers spawned (by the start-up probe, one task per worker), on one
    thread of this source's that lives until :meth:`close`.
    """

    observer: Observer = NO_OBSERVER

    def __init__(
        self,
        factory: Callable[[], TimeStampAuthority],
        roots: Sequence[x509.Certificate],
        *,
        processes: int = 1,
        health_ttl: float = 5.0,
    ) -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1")
        self._factory = factory
        self._roots_der = [r.public_bytes(Encoding.DER) for r in roots]
        self._processes = processes
        self._health_ttl = health_ttl
        self._health: tuple[float, bool] = (0.0, False)
        self._pool_lock = threading.Lock()
        self._closed = False
        self._restart_after = 0.0  # no new restart before this (monotonic) time
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tsa-spawner")
        try:
            self._pool = self._start_pool()
        except BaseException:
            self._spawner.shutdown()
            raise

    def _start_pool(self) -> ProcessPoolExecutor:
        """A new pool whose every worker has stamped and checked the start-up probe.

        Raises :class:`ValueError` when the workers cannot start or stamp (a bad PKI
        fails here, not on a request).
        """
        return self._spawner.submit(self._new_pool).result()

    def _new_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(), self._factory, self._roots_der),
        )
        probe = ("sha256", hashlib.sha256(b"gateway start-up probe").digest())
        try:
            started = list(pool.map(_worker_stamp, [[probe]] * self._processes))
        except Exception as exc:
            pool.shutdown(wait=False, cancel_futures=True)
            raise ValueError(f"the TSA worker processes cannot start: {exc}") from exc
        for [(kind, value)] in started:
            if kind != 0:
                pool.shutdown(wait=False, cancel_futures=True)
                raise ValueError(f"the TSA worker processes cannot stamp: {value}")
        return pool

    def _restart(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """Replace the broken pool (once, whichever thread gets here first).

        A failed restart is not retried for ``health_ttl`` seconds, so that a
        PKI that no longer loads does not cost every batch a start attempt.
        """
        with self._pool_lock:
            if self._pool is not broken:  # another caller has replaced it already
                return self._pool
            if self._closed:
                raise RuntimeError("the token source is closed")
            if time.monotonic() < self._restart_after:
                raise RuntimeError("restarting them failed moments ago")
            log.warning("TSA worker processes died; starting new ones")
            try:
                pool = self._start_pool()
            except ValueError:
                self._restart_after = time.monotonic() + self._health_ttl
                raise
            self._pool = pool
            self._health = (0.0, False)  # probe again on the next healthy()
        broken.shutdown(wait=False, cancel_futures=True)
        log.warning("TSA worker processes restarted")
        return pool

    def stamp(self, hash_algorithm: str, digest: bytes) -> bytes:
        [result] = self.stamp_batch([(hash_algorithm, digest)])
        if isinstance(result, GatewayError):
            raise result
        return result

    @staticmethod
    def _run(
        pool: ProcessPoolExecutor, chunks: list[list[tuple[str, bytes]]]
    ) -> list[bytes | GatewayError]:
        out: list[bytes | GatewayError] = []
        for chunk in pool.map(_worker_stamp, chunks):
            for kind, value in chunk:
                if kind == 0:
                    out.append(value)
                elif kind == 1:
                    out.append(InvalidArgument(value))
                else:
                    out.append(Unavailable(value))
        return out

    def stamp_batch(self, items: Sequence[tuple[str, bytes]]) -> list[bytes | GatewayError]:
        if not items:
            return []
        parts = self._processes if len(items) >= 32 * self._processes else 1
        step = -(-len(items) // parts)
        chunks = [list(items[i : i + step]) for i in range(0, len(items), step)]
        pool = self._pool
        try:
            try:
                out = self._run(pool, chunks)
            except BrokenProcessPool as exc:  # a worker died: new workers, one more try
                log.error("TSA worker processes failed: %s", exc)
                self.observer.tsa_failure(IN_PROCESS, "workers_died", len(items))
                out = self._run(self._restart(pool), chunks)
        except Exception as exc:
            log.error("TSA worker processes failed: %s", exc)
            self._health = (time.monotonic(), False)
            error = Unavailable(f"the time-stamp authority's workers failed ({exc}); retry later")
            self.observer.tsa_failure(IN_PROCESS, "workers_failed", len(items))
            return [error] * len(items)
        _count(self.observer, out)
        return out

    def healthy(self) -> bool:
        checked, ok = self._health
        if time.monotonic() - checked < self._health_ttl:
            return ok
        result = self.stamp_batch([("sha256", hashlib.sha256(b"gateway health probe").digest())])
        ok = isinstance(result[0], bytes)
        self._health = (time.monotonic(), ok)
        return ok

    def close(self) -> None:
        with self._pool_lock:
            self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._spawner.shutdown()


# ---------------------------------------------------------------- HTTP

_QUERY_TYPE = "application/timestamp-query"
_REPLY_TYPE = "application/timestamp-reply"
#: Largest TimeStampResp read from a TSA. The court's verifier is bounded for tokens
#: up to 64 KiB (and VerifyEvidence refuses a larger receipt token); a reply that is
#: larger is refused before it is read further.
MAX_REPLY_BYTES = 64 * 1024
_HTTP_HASHES = ("sha256", "sha384", "sha512")
#: What a caller learns when no HTTP TSA could stamp (the details are logged).
_HTTP_UNAVAILABLE = "time-stamp authority unavailable; retry later"


class HttpTokenSource:
    """Tokens from one or more RFC 3161 TSAs over HTTP, with fail-over.

    Requests are built with rfc3161ng (``digest=``, never ``data=``; see
    DESIGN.md) and carry a random 64-bit nonce. Each token is verified with
    :func:`court.verify.token.verify_timestamp` against ``roots`` (imprint
    and nonce included); a TSA that does not answer, refuses for system
    reasons or returns a token that fails verification is skipped for the
    next URL. The last URL that worked is tried first.

    Each URL has a circuit breaker: once it fails to answer (time-out,
    connection or HTTP error) or answers with a bad reply or token, no item
    of any batch tries it for ``cooldown`` seconds; then a single item tries
    it again while the others keep using the other URLs. An item whose URLs
    are all in their cool-down fails at once with :class:`Unavailable`, so a
    hung TSA costs a batch about one ``timeout``, not one per item. (A TSA
    that answers with a refusal is up: that does not trip its breaker.)

    That :class:`Unavailable` says only "time-stamp authority unavailable":
    the URLs tried and what each answered (host, port, connection error,
    refusal text) are logged, never sent to the caller.
    """

    observer: Observer = NO_OBSERVER

    def __init__(
        self,
        urls: Sequence[str],
        roots: Sequence[x509.Certificate],
        *,
        timeout: float = 10.0,
        workers: int = 8,
        health_ttl: float = 5.0,
        cooldown: float = 5.0,
    ) -> None:
        if not urls:
            raise ValueError("give at least one TSA URL")
        if not roots:
            raise ValueError("give the TSA's trust roots: every token is verified against them")
        self._urls = list(urls)
        self._roots = list(roots)
        self._timeout = timeout
        self._preferred = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tsa-http")
        self._health_ttl = health_ttl
        self._health: tuple[float, bool] = (0.0, False)
        self._cooldown = cooldown
        # Per URL, under self._lock: not tried before this (monotonic) time, and why.
        self._open_until = [0.0] * len(self._urls)
        self._failure: list[str | None] = [None] * len(self._urls)
        self._labels = [_tsa_label(url) for url in self._urls]

    def _claim(self, at: int) -> str | None:
        """May this item try URL ``at`` now? ``None`` if so, else why not.

        A URL whose cool-down is over is tried by the first item that asks;
        its breaker stays open for the others until that attempt ends.
        """
        with self._lock:
            now = time.monotonic()
            if now < self._open_until[at]:
                why = self._failure[at] or "another request is trying it"
                return f"not tried for {self._open_until[at] - now:.1f} s after it failed: {why}"
            if self._failure[at] is not None:
                self._open_until[at] = now + self._timeout + self._cooldown
            return None

    def _settle(self, at: int, failure: str | None) -> None:
        """Close URL ``at``'s breaker (``failure`` None) or open it for the cool-down."""
        with self._lock:
            self._failure[at] = failure
            self._open_until[at] = 0.0 if failure is None else time.monotonic() + self._cooldown

    def _post(self, url: str, request: bytes) -> bytes:
        http_request = urllib.request.Request(
            url, data=request, method="POST", headers={"Content-Type": _QUERY_TYPE}
        )
        with urllib.request.urlopen(http_request, timeout=self._timeout) as reply:
            if reply.headers.get_content_type() != _REPLY_TYPE:
                raise ValueError(f"answered {reply.headers.get_content_type()}")
            body: bytes = reply.read(MAX_REPLY_BYTES + 1)
        if len(body) > MAX_REPLY_BYTES:
            raise ValueError(f"answered more than {MAX_REPLY_BYTES} bytes")
        return body

    def _try(self, url: str, hash_algorithm: str, digest: bytes) -> bytes:
        """One TSA: return the verified token or raise (GatewayError for a refusal)."""
        import rfc3161ng  # local: only HTTP deployments need it loaded

        nonce = secrets.randbits(63)
        request = bytes(
            rfc3161ng.encode_timestamp_request(
                rfc3161ng.make_timestamp_request(
                    digest=digest,
                    hashname=hash_algorithm,
                    include_tsa_certificate=True,
                    nonce=nonce,
                )
            )
        )
        body = self._post(url, request)
        response, end = read_tlv(body)
        if end != len(body) or response.tag != TAG_SEQUENCE:
            raise ValueError("the reply is not a DER TimeStampResp")
        parts = read_children(response.contents)
        status = read_children(expect(parts[0], TAG_SEQUENCE, "PKIStatusInfo").contents)
        code = int.from_bytes(status[0].contents, "big")
        if code not in (0, 1) or len(parts) < 2:
            text = " ".join(
                e.contents.decode("utf-8", "replace")
                for s in status[1:2]
                if s.tag == TAG_SEQUENCE
                for e in read_children(s.contents)
            )
            raise Unavailable(f"the TSA at {url} refused the request (status {code}): {text}")
        token = parts[1].encoded
        result = verify_timestamp(
            token, roots=self._roots, digest=digest, hash_algorithm=hash_algorithm, nonce=nonce
        )
        if not result.ok:
            failure = result.first_failure
            raise ValueError(
                f"token fails verification ({failure.name if failure else '?'}: "
                f"{failure.detail if failure else ''})"
            )
        return token

    def stamp(self, hash_algorithm: str, digest: bytes) -> bytes:
        if hash_algorithm not in _HTTP_HASHES:
            raise InvalidArgument(
                [
                    (
                        "hash_algorithm",
                        f"the configured time-stamp authorities do not accept {hash_algorithm}; "
                        "use SHA-256, SHA-384 or SHA-512",
                    )
                ]
            )
        with self._lock:
            start = self._preferred
        problems: list[str] = []
        for step in range(len(self._urls)):
            at = (start + step) % len(self._urls)
            url = self._urls[at]
            skipped = self._claim(at)
            if skipped is not None:
                problems.append(f"{url}: {skipped}")
                continue
            try:
                token = self._try(url, hash_algorithm, digest)
            except GatewayError as exc:  # it answered, with a refusal: it is up
                self._settle(at, None)
                self.observer.tsa_failure(self._labels[at], "refused")
                log.warning("TSA %s refused: %s", url, exc)
                problems.append(f"{url}: {exc}")
                continue
            except (urllib.error.URLError, OSError, ValueError, IndexError) as exc:
                self._settle(at, str(exc))
                reason = "bad_reply" if isinstance(exc, ValueError | IndexError) else "unreachable"
                self.observer.tsa_failure(self._labels[at], reason)
                log.warning("TSA %s failed: %s; not tried for %.1f s", url, exc, self._cooldown)
                problems.append(f"{url}: {exc}")
                continue
            self._settle(at, None)
            self.observer.tsa_tokens(self._labels[at], 1)
            with self._lock:
                self._preferred = at
            self._health = (time.monotonic(), True)
            return token
        self._health = (time.monotonic(), False)
        # The URLs and the errors (hosts, ports, errno texts) are the operator's business:
        # they go to the log, the caller gets a generic text.
        log.error("no time-stamp authority could stamp a digest: %s", "; ".join(problems))
        raise Unavailable(_HTTP_UNAVAILABLE)

    def _stamp_one(self, item: tuple[str, bytes]) -> bytes | GatewayError:
        try:
            return self.stamp(*item)
        except GatewayError as exc:
            return exc

    def stamp_batch(self, items: Sequence[tuple[str, bytes]]) -> list[bytes | GatewayError]:
        return list(self._pool.map(self._stamp_one, items))

    def healthy(self) -> bool:
        checked, ok = self._health
        if time.monotonic() - checked < self._health_ttl:
            return ok
        try:
            self.stamp("sha256", hashlib.sha256(b"gateway health probe").digest())
        except GatewayError:
            return False
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=False)
